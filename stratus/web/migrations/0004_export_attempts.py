from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0002_export_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="exportjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="Runs started; the export fails after a bounded number that did not finish."
            ),
        ),
    ]
