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


DATES = (
    Filter("created_after", _("Created from"), "date", more=True),
    Filter("created_before", _("Created until"), "date", more=True),
    Filter("updated_after", _("Updated from"), "date", more=True),
    Filter("updated_before", _("Updated until"), "date", more=True),
)
OWNER = Filter("owner", _("Owner"), "member")
TAG_FILTERS = (
    Filter("tag", _("Has all tags"), "text"),
    Filter("tags_any", _("Has any tag"), "text", more=True),
)
STAMPS = (
    Column("created_at", _("Created"), ordering="created_at"),
    Column("updated_at", _("Updated"), ordering="updated_at"),
)


CONTACTS = ListSpec(
    kind=ListKind.CONTACTS,
    title=_("Contacts"),
    noun=_("contacts"),
    entity=CustomFieldEntity.CONTACT,
    list_selector=selectors.contact_list,
    get_selector=selectors.contact_get,
    update_service=services.contact_update,
    delete_service=services.contact_delete,
    record_argument="contact",
    orderings=selectors.CONTACT_ORDERINGS,
    columns=(
        Column("name", _("Name"), ordering="name"),
        Column("first_name", _("First name"), edit="text"),
        Column("last_name", _("Last name"), edit="text"),
        Column("email", _("E-mail"), edit="email"),
        Column("job_title", _("Job title"), edit="text"),
        Column("phones", _("Phones")),
        Column("company", _("Company")),
        Column("owner", _("Owner"), edit="member"),
        Column("tags", _("Tags"), edit="tags"),
        *STAMPS,
    ),
    default_columns=("name", "email", "company", "owner", "tags", "created_at"),
    filters=(
        OWNER,
        *TAG_FILTERS,
        Filter("email", _("E-mail is"), "email", more=True),
        Filter("has_email", _("Has an e-mail"), "flag", more=True),
        Filter("company", _("Company id"), "id", more=True),
        Filter("deal", _("Contact of deal id"), "id", more=True),
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
    list_selector=selectors.company_list,
    get_selector=selectors.company_get,
    update_service=services.company_update,
    delete_service=services.company_delete,
    record_argument="company",
    orderings=selectors.COMPANY_ORDERINGS,
    columns=(
        Column("name", _("Name"), ordering="name", edit="text"),
        Column("domain", _("Domain"), edit="text"),
        Column("website", _("Website"), edit="text"),
        Column("phone", _("Phone"), edit="text"),
        Column("industry", _("Industry"), edit="text"),
        Column("city", _("City"), edit="text"),
        Column("country", _("Country"), edit="text"),
        Column("owner", _("Owner"), edit="member"),
        Column("tags", _("Tags"), edit="tags"),
        *STAMPS,
    ),
    default_columns=("name", "domain", "industry", "country", "owner", "tags"),
    filters=(
        OWNER,
        *TAG_FILTERS,
        Filter("industry", _("Industry"), "text"),
        Filter("country", _("Country code"), "text", more=True),
        Filter("domain", _("Domain"), "text", more=True),
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
    list_selector=selectors.deal_list,
    get_selector=selectors.deal_get,
    update_service=services.deal_update,
    delete_service=services.deal_delete,
    record_argument="deal",
    orderings=selectors.DEAL_ORDERINGS,
    columns=(
        Column("title", _("Title"), edit="text"),
        Column("value", _("Value"), ordering="value", edit="decimal"),
        Column("currency", _("Currency"), edit="text"),
        Column("stage", _("Stage"), edit="stage"),
        Column("company", _("Company")),
        Column("owner", _("Owner"), edit="member"),
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
        Filter("pipeline", _("Pipeline"), "pipeline", more=True),
        Filter("value_min", _("Value at least"), "decimal", more=True),
        Filter("value_max", _("Value at most"), "decimal", more=True),
        Filter("currency", _("Currency"), "text", more=True),
        Filter("expected_close_after", _("Closing from"), "date", more=True),
        Filter("expected_close_before", _("Closing until"), "date", more=True),
        Filter("closed_after", _("Closed from"), "date", more=True),
        Filter("closed_before", _("Closed until"), "date", more=True),
        Filter("company", _("Company id"), "id", more=True),
        Filter("contact", _("Contact id"), "id", more=True),
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
    list_selector=selectors.activity_list,
    get_selector=selectors.activity_get,
    update_service=services.activity_update,
    delete_service=services.activity_delete,
    record_argument="activity",
    orderings=selectors.ACTIVITY_ORDERINGS,
    columns=(
        Column("subject", _("Subject"), edit="text"),
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
        Filter("overdue", _("Overdue"), "flag", more=True),
        Filter("due_after", _("Due from"), "date", more=True),
        Filter("due_before", _("Due until"), "date", more=True),
        Filter("contact", _("Contact id"), "id", more=True),
        Filter("company", _("Company id"), "id", more=True),
        Filter("deal", _("Deal id"), "id", more=True),
        Filter("created_after", _("Created from"), "date", more=True),
        Filter("created_before", _("Created until"), "date", more=True),
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
