"""The lists' FilterSets: one declaration checks the query, builds the queryset, documents the
parameters in the schema and in docs/api/lists.md, and gives the browser a form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.http import QueryDict
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

from stratus.crm import filters, selectors, services
from stratus.platform.errors import ApplicationError, status_of
from testsupport.factories import make_member
from testsupport.factories import make_organization as make_org

pytestmark = pytest.mark.django_db

PAGINATION = {"cursor", "limit", "ordering"}
LIST_PATHS = {
    "/api/v1/companies": filters.CompanyFilterSet,
    "/api/v1/contacts": filters.ContactFilterSet,
    "/api/v1/deals": filters.DealFilterSet,
    "/api/v1/activities": filters.ActivityFilterSet,
    "/api/v1/timeline": filters.TimelineFilterSet,
    "/api/v1/custom-fields": filters.CustomFieldFilterSet,
    "/api/v1/exports/companies.csv": filters.CompanyFilterSet,
    "/api/v1/exports/contacts.csv": filters.ContactFilterSet,
    "/api/v1/exports/deals.csv": filters.DealFilterSet,
}
LISTS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "api" / "lists.md"


def test_the_schema_documents_exactly_each_lists_filters() -> None:
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, filterset in LIST_PATHS.items():
        parameters = schema["paths"][path]["get"]["parameters"]
        documented = {p["name"] for p in parameters if p["in"] == "query"} - PAGINATION
        assert documented == set(filterset.base_filters), path
    contacts = {p["name"]: p for p in schema["paths"]["/api/v1/contacts"]["get"]["parameters"]}
    assert contacts["tags"]["description"] == "Has all of these tags (repeat or comma separate)."
    assert re.search(contacts["owner"]["schema"]["pattern"], "none")


def test_the_lists_page_names_each_lists_filters() -> None:
    section = LISTS_PAGE.read_text().split("## Filters", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| ([a-z-]+) \| (`.*`) \|$", section, re.MULTILINE))
    for name, filterset in filters.FILTERSETS.items():
        assert re.findall(r"`([a-z_]+)`", rows[name]) == list(filterset.base_filters), name


@pytest.fixture
def contacts():
    org = make_org()
    owner = make_member(org).user
    other = make_member(org).user
    services.contact_create(org=org, actor=None, email="a@example.com", owner=owner, tags=["vip", "lead"])
    services.contact_create(org=org, actor=None, email="b@example.com", owner=other, tags=["vip"])
    services.contact_create(org=org, actor=None, email="c@example.com")
    return org, owner, other


def emails(queryset) -> list[str]:
    return sorted(c.email for c in queryset)


def test_a_query_string_filters_as_the_api_reads_it(contacts) -> None:
    org, owner, other = contacts
    # Repeats mean several values, empty values and paging parameters are no filters.
    query = QueryDict(f"owner={owner.pk}&owner={other.pk}&created_after=&ordering=name&cursor=x&limit=5")
    assert emails(selectors.contact_list(org=org, filters=query)) == ["a@example.com", "b@example.com"]
    assert emails(selectors.contact_list(org=org, filters=QueryDict("tags=VIP&tags=lead"))) == [
        "a@example.com"
    ]
    assert emails(selectors.contact_list(org=org, filters=QueryDict("tags=vip,lead"))) == ["a@example.com"]
    assert emails(selectors.contact_list(org=org, filters=QueryDict("tags_any=lead,nosuch"))) == [
        "a@example.com"
    ]
    assert emails(selectors.contact_list(org=org, filters=QueryDict("owner=none"))) == ["c@example.com"]


def test_typed_values_filter_as_a_saved_segment_holds_them(contacts) -> None:
    org, owner, _ = contacts
    segment = {"owner": [owner], "tags": ["vip"], "has_email": True}
    assert emails(selectors.contact_segment(org=org, filters=segment)) == ["a@example.com"]
    assert emails(selectors.contact_segment(org=org, filters={"owner": None})) == ["c@example.com"]


def test_refused_values_name_each_parameter_and_read_nothing(contacts) -> None:
    org, _, _ = contacts
    query = QueryDict("owner=me&tags=%20,%20&has_email=maybe&colour=red&created_before=2026-13-01")
    with pytest.raises(ApplicationError) as caught:
        selectors.contact_list(org=org, filters=query)
    assert status_of(caught.value) == 400
    assert caught.value.field_errors == {
        "owner": ["Expected an id."],
        "tags": ["Expected tag names."],
        "has_email": ["Expected true or false."],
        "colour": ["Unknown filter."],
        "created_before": ["Expected an ISO date or date-time."],
    }
    with pytest.raises(ApplicationError) as caught:
        selectors.activity_list(org=org, filters={"custom_fields.size": "1", "kind": "chore"})
    assert caught.value.field_errors == {
        "custom_fields.size": ["Unknown filter."],
        "kind": ["Expected one of: task, call, meeting, note."],
    }


def test_the_browser_app_gets_a_form_with_labelled_controls(contacts) -> None:
    org, _, _ = contacts
    filterset = filters.ContactFilterSet(QueryDict("owner=me&q=ann"), org=org)
    assert not filterset.is_valid()
    assert filterset.problems() == {"owner": ["Expected an id."]}
    form = filterset.form
    assert form["owner"].label == "Owner"
    assert form["q"].value() == "ann"
    assert '<option value="true">' in str(form["has_email"])
    assert str(filters.DealFilterSet(None, org=org).form["status"]).count("<option") == 3
