"""What each list page shows: its selector, columns, filters, orderings and services.

Filters carry the API's query-parameter names (``stratus.crm.selectors.*_FILTERS``) and
orderings the API's ordering values (``*_ORDERINGS``), so a list page's URL filters exactly
as the API does. The columns name the fields the CRM services take, so an inline edit is the
API's PATCH of one field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _

from stratus.crm import selectors, services
from stratus.crm.models import ActivityKind, CustomFieldEntity, CustomFieldType
from stratus.web.models import BulkAction, ListKind

PAGE_SIZE = 50
COUNT_BOUND = 10_000


@dataclass(frozen=True)
class Column:
    """A column of a list; ``edit`` is the input an inline edit uses (None: not editable)."""

    key: str
    label: Any
    ordering: str | None = None
    edit: str | None = None
    # The service argument this column writes (the key itself unless said otherwise).
    field: str = ""
    choices: tuple[tuple[str, Any], ...] = ()
    custom_type: str | None = None

    @property
    def service_field(self) -> str:
        return self.field or self.key


@dataclass(frozen=True)
class Filter:
    """A filter input: ``name`` is the API's query parameter; ``input`` says how it is asked."""

    name: str
    label: Any
    input: str = "text"
    choices: tuple[tuple[str, Any], ...] = ()
    more: bool = False  # shown under "More filters"


@dataclass(frozen=True)
class ListSpec:
    kind: str
    title: Any
    noun: Any
    entity: str | None  # the custom field entity, if the records have custom fields
    list_selector: Callable[..., QuerySet[Any]]
    get_selector: Callable[..., Model]
    update_service: Callable[..., Model]
    delete_service: Callable[..., None]
    record_argument: str
    orderings: Mapping[str, tuple[str, ...]]
    columns: tuple[Column, ...]
    default_columns: tuple[str, ...]
    filters: tuple[Filter, ...]
    related: tuple[str, ...] = ()
    bulk_actions: tuple[str, ...] = field(default=())
    record_path: str = ""  # "/contacts/" (the record page is record_path + id)

    def column_map(self) -> dict[str, Column]:
        return {c.key: c for c in self.columns}


def _more(*filters: tuple[str, Any, str]) -> tuple[Filter, ...]:
    """Filters shown under "More filters": ``(name, label, input)`` each."""
    return tuple(Filter(name, label, kind, more=True) for name, label, kind in filters)


CREATED = _more(("created_after", _("Created from"), "date"), ("created_before", _("Created until"), "date"))
DATES = (
    *CREATED,
    *_more(("updated_after", _("Updated from"), "date"), ("updated_before", _("Updated until"), "date")),
)
OWNER = Filter("owner", _("Owner"), "member")
TAG_FILTERS = (Filter("tag", _("Has all tags"), "text"), *_more(("tags_any", _("Has any tag"), "text")))
COMPANY_ID = ("company", _("Company id"), "id")
CONTACT_ID = ("contact", _("Contact id"), "id")
STAMPS = (
    Column("created_at", _("Created"), ordering="created_at"),
    Column("updated_at", _("Updated"), ordering="updated_at"),
)
OWNER_COLUMN = Column("owner", _("Owner"), edit="member")
TAGS_COLUMN = Column("tags", _("Tags"), edit="tags")
COMPANY_COLUMN = Column("company", _("Company"))


def _edited_as_text(*fields: tuple[str, Any]) -> tuple[Column, ...]:
    """Columns of plain text fields, edited in a text input: ``(key, label)`` each."""
    return tuple(Column(key, label, edit="text") for key, label in fields)


def _crm(record: str) -> dict[str, Any]:
    """What a list of ``record``s calls: the CRM selectors and services named after the record
    (``contact_list``, ``contact_get``, ``contact_update``, ``contact_delete``), the argument
    that names the record in those services and the API's orderings (``CONTACT_ORDERINGS``)."""
    return {
        "list_selector": getattr(selectors, f"{record}_list"),
        "get_selector": getattr(selectors, f"{record}_get"),
        "update_service": getattr(services, f"{record}_update"),
        "delete_service": getattr(services, f"{record}_delete"),
        "record_argument": record,
        "orderings": getattr(selectors, f"{record.upper()}_ORDERINGS"),
    }


CONTACTS = ListSpec(
    kind=ListKind.CONTACTS,
    title=_("Contacts"),
    noun=_("contacts"),
    entity=CustomFieldEntity.CONTACT,
    **_crm("contact"),
    columns=(
        Column("name", _("Name"), ordering="name"),
        *_edited_as_text(("first_name", _("First name")), ("last_name", _("Last name"))),
        Column("email", _("E-mail"), edit="email"),
        *_edited_as_text(("job_title", _("Job title"))),
        Column("phones", _("Phones")),
        COMPANY_COLUMN,
        OWNER_COLUMN,
        TAGS_COLUMN,
        *STAMPS,
    ),
    default_columns=("name", "email", "company", "owner", "tags", "created_at"),
    filters=(
        OWNER,
        *TAG_FILTERS,
        *_more(
            ("email", _("E-mail is"), "email"),
            ("has_email", _("Has an e-mail"), "flag"),
            COMPANY_ID,
            ("deal", _("Contact of deal id"), "id"),
            ("import", _("Imported by import id"), "id"),
        ),
        *DATES,
    ),
    related=("company",),
    bulk_actions=(BulkAction.OWNER, BulkAction.TAGS, BulkAction.DELETE),
    record_path="/contacts/",
)

COMPANIES = ListSpec(
    kind=ListKind.COMPANIES,
    title=_("Companies"),
    noun=_("companies"),
    entity=CustomFieldEntity.COMPANY,
    **_crm("company"),
    columns=(
        Column("name", _("Name"), ordering="name", edit="text"),
        *_edited_as_text(
            ("domain", _("Domain")),
            ("website", _("Website")),
            ("phone", _("Phone")),
            ("industry", _("Industry")),
            ("city", _("City")),
            ("country", _("Country")),
        ),
        OWNER_COLUMN,
        TAGS_COLUMN,
        *STAMPS,
    ),
    default_columns=("name", "domain", "industry", "country", "owner", "tags"),
    filters=(
        OWNER,
        *TAG_FILTERS,
        Filter("industry", _("Industry"), "text"),
        *_more(
            ("country", _("Country code"), "text"),
            ("domain", _("Domain"), "text"),
            ("import", _("Imported by import id"), "id"),
        ),
        *DATES,
    ),
    bulk_actions=(BulkAction.OWNER, BulkAction.TAGS, BulkAction.DELETE),
    record_path="/companies/",
)

DEALS = ListSpec(
    kind=ListKind.DEALS,
    title=_("Deals"),
    noun=_("deals"),
    entity=CustomFieldEntity.DEAL,
    **_crm("deal"),
    columns=(
        *_edited_as_text(("title", _("Title"))),
        Column("value", _("Value"), ordering="value", edit="decimal"),
        *_edited_as_text(("currency", _("Currency"))),
        Column("stage", _("Stage"), edit="stage"),
        COMPANY_COLUMN,
        OWNER_COLUMN,
        Column("expected_close_date", _("Expected close"), ordering="expected_close_date", edit="date"),
        Column("closed_at", _("Closed")),
        Column("tags", _("Tags"), edit="tags"),
        *STAMPS,
    ),
    default_columns=("title", "value", "stage", "company", "owner", "expected_close_date"),
    filters=(
        OWNER,
        Filter("stage", _("Stage"), "stage"),
        *TAG_FILTERS,
        Filter(
            "status",
            _("Status"),
            "choice",
            choices=(("open", _("Open")), ("won", _("Won")), ("lost", _("Lost"))),
        ),
        *_more(
            ("pipeline", _("Pipeline"), "pipeline"),
            ("value_min", _("Value at least"), "decimal"),
            ("value_max", _("Value at most"), "decimal"),
            ("currency", _("Currency"), "text"),
            ("expected_close_after", _("Closing from"), "date"),
            ("expected_close_before", _("Closing until"), "date"),
            ("closed_after", _("Closed from"), "date"),
            ("closed_before", _("Closed until"), "date"),
            COMPANY_ID,
            CONTACT_ID,
        ),
        *DATES,
    ),
    related=("company",),
    bulk_actions=(BulkAction.OWNER, BulkAction.TAGS, BulkAction.STAGE, BulkAction.DELETE),
    record_path="/deals/",
)

ACTIVITIES = ListSpec(
    kind=ListKind.ACTIVITIES,
    title=_("Activities"),
    noun=_("activities"),
    entity=None,
    **_crm("activity"),
    columns=(
        *_edited_as_text(("subject", _("Subject"))),
        Column("kind", _("Kind"), edit="choice", choices=tuple(ActivityKind.choices)),
        Column("target", _("About")),
        Column("due_at", _("Due"), ordering="due_at", edit="datetime"),
        Column("done", _("Done"), edit="flag"),
        Column("assignee", _("Assignee"), edit="member"),
        Column("created_at", _("Created"), ordering="created_at"),
    ),
    default_columns=("subject", "kind", "target", "due_at", "done", "assignee"),
    filters=(
        Filter("assignee", _("Assignee"), "member"),
        Filter("kind", _("Kind"), "choice", choices=tuple(ActivityKind.choices)),
        Filter("done", _("Done"), "flag"),
        *_more(
            ("overdue", _("Overdue"), "flag"),
            ("due_after", _("Due from"), "date"),
            ("due_before", _("Due until"), "date"),
            CONTACT_ID,
            COMPANY_ID,
            ("deal", _("Deal id"), "id"),
        ),
        *CREATED,
    ),
    related=("contact", "company", "deal"),
    bulk_actions=(BulkAction.OWNER, BulkAction.DELETE),
)

SPECS: dict[str, ListSpec] = {spec.kind: spec for spec in (CONTACTS, COMPANIES, DEALS, ACTIVITIES)}

CUSTOM_PREFIX = "custom_fields."
CUSTOM_EDIT = {
    CustomFieldType.TEXT: "text",
    CustomFieldType.NUMBER: "number",
    CustomFieldType.DATE: "date",
    CustomFieldType.CHOICE: "choice",
    CustomFieldType.BOOLEAN: "flag",
}
