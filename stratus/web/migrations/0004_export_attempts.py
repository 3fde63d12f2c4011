from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("web", "0003_dashboard"),
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
