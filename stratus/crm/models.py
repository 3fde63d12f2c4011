"""The CRM records of an organization: companies, contacts, pipelines, deals, activities.

Every row carries its ``organization``; nothing is ever read by a bare id (see selectors).
Indexes lead with ``organization_id`` and end with ``id`` so that list pages ordered by
``(field, id)`` are keyset-paginated by an index range scan however deep the page.
Full-text and trigram indexes for search are PostgreSQL-only and live in migration 0002.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from stratus.accounts.models import Organization


class TenantModel(models.Model):
    # Not indexed alone: every model's composite indexes lead with organization_id.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        self.updated_at = timezone.now()
        if update_fields is not None and "updated_at" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "updated_at"]
        super().save(*args, **kwargs)


class Tag(models.Model):
    """A label on contacts, companies and deals; names are unique per organization, ignoring case."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("name"), "organization", name="crm_tag_name_unique_ci"),
            models.CheckConstraint(condition=~Q(name=""), name="crm_tag_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class Company(TenantModel):
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True, help_text="Web domain, e.g. example.com.")
    website = models.URLField(max_length=500, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code.")
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="companies")
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "companies"
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(name=""), name="crm_company_name_not_empty"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "created_at", "id"], name="crm_company_org_created"),
            models.Index(fields=["organization", "updated_at", "id"], name="crm_company_org_updated"),
            models.Index(fields=["organization", "name", "id"], name="crm_company_org_name"),
            models.Index(Lower("domain"), "organization", name="crm_company_org_domain"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(TenantModel):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(
        max_length=254, blank=True, help_text="Unique within the organization, ignoring case."
    )
    phones = models.JSONField(default=list, blank=True, help_text="Phone numbers, as a list of strings.")
    job_title = models.CharField(max_length=150, blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                Lower("email"),
                "organization",
                condition=~Q(email=""),
                name="crm_contact_email_unique_ci",
                violation_error_message="A contact with this email already exists.",
            ),
            models.CheckConstraint(
                condition=~Q(first_name="") | ~Q(last_name="") | ~Q(email=""),
                name="crm_contact_has_identity",
                violation_error_message="A contact needs a first name, a last name or an email.",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "created_at", "id"], name="crm_contact_org_created"),
            models.Index(fields=["organization", "updated_at", "id"], name="crm_contact_org_updated"),
            models.Index(
                fields=["organization", "last_name", "first_name", "id"], name="crm_contact_org_name"
            ),
            models.Index(fields=["organization", "owner", "created_at", "id"], name="crm_contact_org_owner"),
            models.Index(
                fields=["organization", "company", "created_at", "id"], name="crm_contact_org_company"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Pipeline(TenantModel):
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("name"), "organization", name="crm_pipeline_name_unique_ci"),
            models.UniqueConstraint(
                fields=["organization"], condition=Q(is_default=True), name="crm_pipeline_one_default"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="crm_pipeline_name_not_empty"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "position", "id"], name="crm_pipeline_org_position"),
        ]

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Stage(TenantModel):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField()
    probability = models.PositiveSmallIntegerField(default=0, help_text="Win probability, percent.")
    kind = models.CharField(max_length=4, choices=StageKind.choices, default=StageKind.OPEN)

    class Meta:
        ordering = ("pipeline_id", "position")
        indexes: ClassVar = [models.Index(fields=["organization", "pipeline"], name="crm_stage_org_pipeline")]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["pipeline", "position"], name="crm_stage_position_unique"),
            models.UniqueConstraint(Lower("name"), "pipeline", name="crm_stage_name_unique_ci"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="crm_stage_probability_range"),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in StageKind]), name="crm_stage_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind=StageKind.WON) | Q(probability=100), name="crm_stage_won_is_certain"
            ),
            models.CheckConstraint(
                condition=~Q(kind=StageKind.LOST) | Q(probability=0), name="crm_stage_lost_is_zero"
            ),
            models.CheckConstraint(condition=~Q(name=""), name="crm_stage_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class Deal(TenantModel):
    title = models.CharField(max_length=200)
    value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code.")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    contacts = models.ManyToManyField(Contact, blank=True, related_name="deals")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expected_close_date = models.DateField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="deals")
    lost_reason = models.TextField(blank=True)
    stage_changed_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when moved to a won or lost stage."
    )
    custom_fields = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(value__gte=0), name="crm_deal_value_not_negative"),
            models.CheckConstraint(condition=~Q(title=""), name="crm_deal_title_not_empty"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "created_at", "id"], name="crm_deal_org_created"),
            models.Index(fields=["organization", "updated_at", "id"], name="crm_deal_org_updated"),
            models.Index(fields=["organization", "stage", "created_at", "id"], name="crm_deal_org_stage"),
            models.Index(fields=["organization", "owner", "created_at", "id"], name="crm_deal_org_owner"),
            models.Index(fields=["organization", "expected_close_date", "id"], name="crm_deal_org_close"),
            models.Index(fields=["organization", "value", "id"], name="crm_deal_org_value"),
        ]

    def __str__(self) -> str:
        return self.title


class DealStay(models.Model):
    """A summary the reports read: one row per stay of a deal in a stage, from the stage it was
    created in (``entered_at``: its ``created_at``) to each ``moved`` timeline entry's new stage
    (``entered_at``: the entry's ``created_at``); ``left_at`` is null while the deal is there.

    The deal services write it in the transaction of the stage change (``crm.stays``), so it
    says what the deal's timeline says; ``stage_id`` is kept when the stage is deleted, as the
    timeline keeps it. ``deal_created_at`` is the deal's: the reports' cohort (deals created in
    the date range) reads the stays by it. ``manage.py reports_rebuild_summaries`` rebuilds it
    from the timeline (after timestamps are set after the fact, as the benchmark data does).

    For the velocity's filters and durations without a join: ``pipeline_id``, ``owner_id`` and
    ``currency`` are the deal's now (written with the stay, then copied by the triggers of
    ``crm.reach`` when the deal's change), ``seconds`` is ``left_at - entered_at`` (set when the
    stay ends).
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="+", db_index=False)
    stage_id = models.BigIntegerField(help_text="The stage (kept when the stage is deleted).")
    deal_created_at = models.DateTimeField()
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True, help_text="left_at - entered_at, once ended.")
    pipeline_id = models.BigIntegerField(null=True, blank=True)
    owner_id = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")

    class Meta:
        indexes: ClassVar = [
            # The velocity's read: each stage's ended stays in order of duration (its percentiles
            # sort them again; presorted, that sort is a single pass).
            models.Index(
                fields=["organization", "stage_id", "seconds"],
                include=["deal_created_at", "pipeline_id", "owner_id", "currency"],
                condition=models.Q(left_at__isnull=False),
                name="crm_dealstay_ended",
            ),
            models.Index(fields=["deal", "entered_at", "id"], name="crm_dealstay_deal"),
        ]

    def __str__(self) -> str:
        return f"deal {self.deal_id} in stage {self.stage_id}"


class DealReach(models.Model):
    """A summary the funnel reads: one row per deal with the columns its filters and counts need
    (a copy of the deal's; ``closed_at`` for the velocity's creation to won) and ``reached``, the
    stages the deal has stayed in (ids between commas, ``",3,5,"``; in no order).

    Kept by database triggers on ``crm_deal`` (``crm.reach``): a deal inserted adds its row, a
    change of its creation, pipeline, stage, owner, currency or closing is copied (a new stage is
    added to ``reached``), a deal deleted deletes it; whatever writes the deal. The funnel reads
    it alone (no join): positions and kinds of the stages are applied when the report is
    computed, so renaming, reordering or deleting a stage changes nothing here. ``manage.py
    reports_rebuild_summaries`` rebuilds it from the deals and their stays.
    """

    # (a deal's delete trigger deletes its row: Django's collector has nothing to do)
    deal = models.OneToOneField(Deal, on_delete=models.DO_NOTHING, primary_key=True, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField()
    pipeline_id = models.BigIntegerField()
    stage_id = models.BigIntegerField()
    owner_id = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    closed_at = models.DateTimeField(null=True, blank=True)
    reached = models.TextField()

    class Meta:
        indexes: ClassVar = [
            models.Index(
                fields=["organization", "created_at"],
                include=["pipeline_id", "stage_id", "owner_id", "currency", "closed_at", "reached"],
                name="crm_dealreach_org_created",
            ),
            # The velocity's creation to won: the closed deals created in a range.
            models.Index(
                fields=["organization", "created_at"],
                include=["closed_at", "stage_id", "pipeline_id", "owner_id", "currency"],
                condition=models.Q(closed_at__isnull=False),
                name="crm_dealreach_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"deal {self.deal_id} reached {self.reached}"


class ActivityKind(models.TextChoices):
    TASK = "task", "Task"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"
    NOTE = "note", "Note"


class Activity(TenantModel):
    """A task, call, meeting or note about exactly one contact, company or deal."""

    kind = models.CharField(max_length=10, choices=ActivityKind.choices, default=ActivityKind.TASK)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")

    class Meta:
        verbose_name_plural = "activities"
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=(
                    Q(contact__isnull=False, company__isnull=True, deal__isnull=True)
                    | Q(contact__isnull=True, company__isnull=False, deal__isnull=True)
                    | Q(contact__isnull=True, company__isnull=True, deal__isnull=False)
                ),
                name="crm_activity_one_target",
                violation_error_message="An activity belongs to exactly one contact, company or deal.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in ActivityKind]), name="crm_activity_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(done=False) | Q(done_at__isnull=False), name="crm_activity_done_at"
            ),
            models.CheckConstraint(condition=~Q(subject=""), name="crm_activity_subject_not_empty"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "created_at", "id"], name="crm_activity_org_created"),
            models.Index(fields=["organization", "due_at", "id"], name="crm_activity_org_due"),
            models.Index(
                fields=["organization", "assignee", "done", "due_at"], name="crm_activity_org_assignee"
            ),
            models.Index(fields=["contact", "created_at"], name="crm_activity_contact"),
            models.Index(fields=["company", "created_at"], name="crm_activity_company"),
            models.Index(fields=["deal", "created_at"], name="crm_activity_deal"),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def target(self) -> Contact | Company | Deal:
        target = self.contact or self.company or self.deal
        assert target is not None
        return target


class CustomFieldEntity(models.TextChoices):
    COMPANY = "company", "Company"
    CONTACT = "contact", "Contact"
    DEAL = "deal", "Deal"


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"
    BOOLEAN = "boolean", "Boolean"


class CustomField(TenantModel):
    """An admin-defined typed field; values live in the record's ``custom_fields`` under ``key``."""

    entity = models.CharField(max_length=10, choices=CustomFieldEntity.choices)
    key = models.SlugField(max_length=50, help_text="Lower-case identifier used in the API.")
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=10, choices=CustomFieldType.choices)
    choices = models.JSONField(default=list, blank=True, help_text="Allowed values of a choice field.")
    required = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "entity", "key"], name="crm_customfield_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(entity__in=[e.value for e in CustomFieldEntity]),
                name="crm_customfield_entity_valid",
            ),
            models.CheckConstraint(
                condition=Q(field_type__in=[t.value for t in CustomFieldType]),
                name="crm_customfield_type_valid",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["organization", "entity", "position"], name="crm_customfield_org_entity"),
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.key}"


class TimelineEntry(models.Model):
    """One immutable audit line: who did what to which record, when, and what changed.

    ``target_*`` name the record acted on (kept after it is deleted, with its label);
    ``parent_*`` name the record it hangs under (an activity's contact, company or deal),
    so a record's timeline includes what happened to its activities and documents.
    ``changes`` maps a field name to ``{"old": ..., "new": ...}``.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    target_type = models.CharField(max_length=40)
    target_id = models.BigIntegerField()
    target_label = models.CharField(max_length=200, blank=True)
    parent_type = models.CharField(max_length=40, blank=True)
    parent_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(null=True, blank=True)
    data = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "timeline entries"
        indexes: ClassVar = [
            models.Index(fields=["organization", "created_at", "id"], name="crm_timeline_org_created"),
            models.Index(
                fields=["organization", "target_type", "target_id", "created_at"], name="crm_timeline_target"
            ),
            models.Index(
                fields=["organization", "parent_type", "parent_id", "created_at"],
                name="crm_timeline_parent",
                condition=Q(parent_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


class ActivityDay(models.Model):
    """How many activities an organization created on a UTC day, by assignee and kind.

    A summary of ``Activity`` for the activity report, kept by database triggers in the same
    statement as every write of an activity (``stratus.crm.counters``); ``assignee_key`` is the
    assignee's id, 0 for none. Rows hold a positive ``total``.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    assignee_key = models.BigIntegerField()
    kind = models.CharField(max_length=10)
    total = models.IntegerField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "day", "assignee_key", "kind"], name="crm_activityday_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.assignee_key} {self.kind}: {self.total}"
