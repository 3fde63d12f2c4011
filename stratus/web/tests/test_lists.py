"""List pages through Django's test client: rows, filters, sort, counts, saved views, inline and
bulk edits, permissions and tenant isolation."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    CustomField,
    Deal,
    Stage,
    StageKind,
    TimelineEntry,
)
from stratus.web.lists import services as list_services
from stratus.web.lists import specs
from stratus.web.models import BulkJob, BulkState, DefaultView, SavedView
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


def _org(name: str = "Org") -> Organization:
    """An organization with the standard pipeline (deals need one)."""
    org = make_organization(name)
    crm_services.pipeline_create(org=org, actor=None, name="Sales")
    return org


def _member(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member(org, role).user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _contacts(org: Organization, count: int, **fields: Any) -> list[Contact]:
    return [
        crm_services.contact_create(
            org=org, actor=None, first_name=f"Person{i:04d}", last_name="Doe", **fields
        )
        for i in range(count)
    ]


def _row_ids(body: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-row="(\d+)"', body)]


# --- reading --------------------------------------------------------------------------------------


def test_the_contact_list_shows_this_organizations_rows_only_with_links_to_record_pages() -> None:
    org, other = _org(), _org("Other")
    user = _member(org)
    mine = crm_services.contact_create(org=org, actor=None, first_name="Ada", last_name="Lovelace")
    theirs = crm_services.contact_create(org=other, actor=None, first_name="Foreign", last_name="Person")

    response = _client(user).get("/contacts")

    assert response.status_code == 200
    body = response.content.decode()
    assert "<title>Contacts · Stratus</title>" in body
    assert f'href="/contacts/{mine.pk}"' in body
    assert "Ada Lovelace" in body
    assert "Foreign" not in body
    assert f'data-row="{theirs.pk}"' not in body
    assert ">1 contact<" in body


@pytest.mark.parametrize("path", ["/contacts", "/companies", "/deals", "/activities"])
def test_every_list_needs_a_session(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_filters_use_the_api_names_and_apply() -> None:
    org = _org()
    user = _member(org)
    owner = _member(org)
    vip = crm_services.contact_create(org=org, actor=None, first_name="Vip", owner=owner.pk, tags=["vip"])
    plain = crm_services.contact_create(org=org, actor=None, first_name="Plain")
    client = _client(user)

    by_owner = client.get("/contacts", {"owner": owner.pk}).content.decode()
    by_tag = client.get("/contacts", {"tag": "VIP"}).content.decode()
    nobody = client.get("/contacts", {"owner": "none"}).content.decode()

    assert _row_ids(by_owner) == [vip.pk]
    assert _row_ids(by_tag) == [vip.pk]
    assert _row_ids(nobody) == [plain.pk]


def test_custom_field_filters_and_columns() -> None:
    org = _org()
    user = _member(org)
    crm_services.custom_field_create(
        org=org, actor=None, entity="contact", key="seats", label="Seats", field_type="number"
    )
    small = crm_services.contact_create(org=org, actor=None, first_name="Small", custom_fields={"seats": 3})
    big = crm_services.contact_create(org=org, actor=None, first_name="Big", custom_fields={"seats": 300})

    body = (
        _client(user)
        .get("/contacts", {"custom_fields.seats__gte": "100", "columns": "name,custom_fields.seats"})
        .content.decode()
    )

    assert _row_ids(body) == [big.pk]
    assert small.pk not in _row_ids(body)
    assert ">Seats<" in body or "Seats\n" in body
    assert ">300<" in body


def test_an_invalid_filter_is_a_message_beside_the_field_not_a_500() -> None:
    org = _org()
    user = _member(org)
    _contacts(org, 2)

    response = _client(user).get("/contacts", {"created_after": "yesterday-ish", "owner": "abc"})

    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="filter-created_after-error"' in body
    assert "Expected an ISO date or date-time." in body
    assert 'id="filter-owner-error"' in body
    assert _row_ids(body) == []


def test_an_unknown_column_or_sort_is_refused_with_a_message() -> None:
    org = _org()
    user = _member(org)
    _contacts(org, 1)
    client = _client(user)

    columns = client.get("/contacts", {"columns": "name,shoe_size"})
    ordering = client.get("/contacts", {"ordering": "shoe_size"})

    assert columns.status_code == 400
    assert "There is no column “shoe_size”." in columns.content.decode()
    assert 'data-testid="columns-error"' in columns.content.decode()
    assert ordering.status_code == 400
    assert "Unknown sort" in ordering.content.decode()


def test_sort_by_a_column_header_uses_the_api_ordering() -> None:
    org = _org()
    user = _member(org)
    stage = Stage.objects.filter(organization=org, kind=StageKind.OPEN).first()
    assert stage is not None
    cheap = crm_services.deal_create(org=org, actor=None, title="Cheap", value=Decimal("10"), stage=stage.pk)
    dear = crm_services.deal_create(org=org, actor=None, title="Dear", value=Decimal("900"), stage=stage.pk)
    client = _client(user)

    ascending = client.get("/deals", {"ordering": "value"}).content.decode()
    descending = client.get("/deals", {"ordering": "-value"}).content.decode()

    assert _row_ids(ascending) == [cheap.pk, dear.pk]
    assert _row_ids(descending) == [dear.pk, cheap.pk]
    # The header links to the other direction and says how the list is sorted.
    assert 'aria-sort="ascending"' in ascending
    assert "ordering=-value" in ascending


def test_search_uses_the_api_q() -> None:
    org = _org()
    user = _member(org)
    grace = crm_services.contact_create(org=org, actor=None, first_name="Grace", last_name="Hopper")
    crm_services.contact_create(org=org, actor=None, first_name="Alan", last_name="Turing")
    body = _client(user).get("/contacts", {"q": "Hopper"}).content.decode()
    assert _row_ids(body) == [grace.pk]


def test_keyset_pages_follow_each_other_without_gaps_or_repeats(settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("stratus.web.lists.views.PAGE_SIZE", 5)
    org = _org()
    user = _member(org)
    created = _contacts(org, 12)
    client = _client(user)

    first = client.get("/contacts", {"ordering": "name"}).content.decode()
    seen = _row_ids(first)
    next_url = re.search(r'data-sentinel="next" hx-get="([^"]+)"', first)
    while next_url:
        fragment = client.get(next_url.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
        assert fragment.status_code == 200
        text = fragment.content.decode()
        assert "<html" not in text
        seen += _row_ids(text)
        next_url = re.search(r'data-sentinel="next" hx-get="([^"]+)"', text)

    assert seen == [c.pk for c in created]  # Person0000 ... Person0011, by name
    # Without JavaScript the same pages are plain links.
    assert 'href="/contacts?ordering=name&amp;cursor=' in first


def test_the_count_is_exact_up_to_the_bound_then_says_so(monkeypatch: Any) -> None:
    monkeypatch.setattr("stratus.web.lists.views.COUNT_BOUND", 3)
    org = _org()
    user = _member(org)
    _contacts(org, 3)
    client = _client(user)
    assert "3 contacts" in client.get("/contacts").content.decode()
    _contacts(org, 2)
    assert "3+ contacts" in client.get("/contacts").content.decode()


def test_the_count_query_is_bounded() -> None:
    org = _org()
    user = _member(org)
    _contacts(org, 2)
    with CaptureQueriesContext(connection) as queries:
        _client(user).get("/contacts")
    # The list's own count (the shell also counts unread notifications).
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"].upper() and '"crm_contact"' in q["sql"]
    ]
    assert counts
    assert all(f"LIMIT {specs.COUNT_BOUND + 1}" in sql for sql in counts)


def _fill(org: Organization, owner: User, n: int) -> None:
    """``n`` companies, contacts and deals with an owner and tags, and 2n activities."""
    for i in range(n):
        company = crm_services.company_create(
            org=org, actor=None, name=f"Co {i}", owner=owner.pk, tags=["a", "b"]
        )
        contact = crm_services.contact_create(
            org=org, actor=None, first_name=f"P{i}", company=company.pk, owner=owner.pk, tags=["x"]
        )
        deal = crm_services.deal_create(
            org=org, actor=None, title=f"D{i}", company=company.pk, owner=owner.pk, tags=["d", "e"]
        )
        crm_services.activity_create(org=org, actor=None, subject=f"A{i}", contact=contact.pk)
        crm_services.activity_create(org=org, actor=None, subject=f"B{i}", deal=deal.pk, assignee=owner.pk)


@pytest.mark.parametrize("path", ["/contacts", "/companies", "/deals", "/activities"])
def test_query_counts_do_not_grow_with_the_rows(path: str) -> None:
    org = _org()
    user = _member(org)
    owner = _member(org)
    client = _client(user)

    _fill(org, owner, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    _fill(org, owner, 10)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path)
    assert len(_row_ids(response.content.decode())) >= 12
    assert len(many) == len(few)


@pytest.mark.parametrize("kind", ["contacts", "companies", "deals", "activities"])
def test_the_next_page_of_rows_costs_the_same_queries_whatever_its_rows(kind: str, monkeypatch: Any) -> None:
    monkeypatch.setattr("stratus.web.lists.views.PAGE_SIZE", 4)
    org = _org()
    user = _member(org)
    owner = _member(org)
    client = _client(user)

    def next_page() -> tuple[int, int]:
        query = {"columns": ",".join(c.key for c in specs.SPECS[kind].columns)}
        if kind == "activities":
            query["assignee"] = str(owner.pk)  # one activity of the two of each _fill
        first = client.get(f"/{kind}", query)
        url = re.search(r'data-sentinel="next" hx-get="([^"]+)"', first.content.decode())
        assert url
        with CaptureQueriesContext(connection) as queries:
            page = client.get(url.group(1).replace("&amp;", "&"), HTTP_HX_REQUEST="true")
        assert page.status_code == 200
        return len(_row_ids(page.content.decode())), len(queries.captured_queries)

    _fill(org, owner, 5)  # 4 rows on the first page, 1 on the next
    few_rows, few = next_page()
    _fill(org, owner, 5)
    many_rows, many = next_page()
    assert (few_rows, many_rows) == (1, 4)
    assert many == few
    # The scroll's page reads no count, no saved view and no default view: the user, their
    # memberships, the custom fields, the members (and the stages of deals), the rows.
    assert many <= (6 if kind == "deals" else 5)


def test_user_text_is_escaped_in_rows() -> None:
    org = _org()
    user = _member(org)
    crm_services.company_create(org=org, actor=None, name=XSS, industry=XSS, tags=["<b>t</b>"])
    body = _client(user).get("/companies").content.decode()
    assert XSS not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<b>t</b>" not in body


def test_activities_link_to_the_record_they_are_about() -> None:
    org = _org()
    user = _member(org)
    company = crm_services.company_create(org=org, actor=None, name="Acme")
    crm_services.activity_create(
        org=org, actor=None, subject="Call Acme", company=company.pk, kind=ActivityKind.CALL
    )
    body = _client(user).get("/activities").content.decode()
    assert f'href="/companies/{company.pk}"' in body
    assert "Call Acme" in body


# --- inline edit ----------------------------------------------------------------------------------


def test_inline_edit_saves_through_the_service() -> None:
    org = _org()
    user = _member(org)
    contact = crm_services.contact_create(org=org, actor=None, first_name="Ada", email="ada@example.com")
    client = _client(user)
    url = reverse("web:list-cell-edit", args=["contacts", contact.pk, "email"])

    editor = client.get(url, HTTP_HX_REQUEST="true")
    assert editor.status_code == 200
    assert 'name="value"' in editor.content.decode()
    saved = client.post(url, {"value": "ada@lovelace.example"}, HTTP_HX_REQUEST="true")

    assert saved.status_code == 200
    assert "ada@lovelace.example" in saved.content.decode()
    contact.refresh_from_db()
    assert contact.email == "ada@lovelace.example"
    entry = TimelineEntry.objects.filter(target_type="contact", target_id=contact.pk, action="updated").get()
    assert entry.actor == user
    assert entry.changes is not None
    assert entry.changes["email"] == {"old": "ada@example.com", "new": "ada@lovelace.example"}


def test_a_refused_inline_value_shows_the_services_message_and_saves_nothing() -> None:
    org = _org()
    user = _member(org)
    crm_services.contact_create(org=org, actor=None, first_name="Taken", email="taken@example.com")
    contact = crm_services.contact_create(org=org, actor=None, first_name="Ada", email="ada@example.com")
    url = reverse("web:list-cell-edit", args=["contacts", contact.pk, "email"])

    response = _client(user).post(url, {"value": "TAKEN@example.com"}, HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert 'data-testid="cell-error"' in body
    assert "A contact with this email already exists." in body
    assert 'value="TAKEN@example.com"' in body  # what the user typed stays
    contact.refresh_from_db()
    assert contact.email == "ada@example.com"


def test_inline_edit_of_a_deal_value_and_stage_and_custom_field() -> None:
    org = _org()
    user = _member(org)
    crm_services.custom_field_create(
        org=org,
        actor=None,
        entity="deal",
        key="region",
        label="Region",
        field_type="choice",
        choices=["EU", "US"],
    )
    deal = crm_services.deal_create(org=org, actor=None, title="Big")
    lost = Stage.objects.get(pipeline=deal.pipeline, kind=StageKind.LOST)
    won = Stage.objects.get(pipeline=deal.pipeline, kind=StageKind.WON)
    client = _client(user)

    def post(column: str, value: str) -> str:
        url = reverse("web:list-cell-edit", args=["deals", deal.pk, column])
        return client.post(url, {"value": value}, HTTP_HX_REQUEST="true").content.decode()

    assert "Expected zero or more." in post("value", "-5") or "greater than or equal" in post("value", "-5")
    assert "Say why the deal was lost." in post("stage", str(lost.pk))
    post("value", "1250.50")
    post("stage", str(won.pk))
    refused = post("custom_fields.region", "Mars")
    post("custom_fields.region", "EU")

    deal.refresh_from_db()
    assert deal.value == Decimal("1250.50")
    assert deal.stage_id == won.pk
    assert deal.custom_fields == {"region": "EU"}
    assert 'data-testid="cell-error"' in refused


def test_viewers_get_no_edit_control_and_their_writes_are_refused() -> None:
    org = _org()
    viewer = _member(org, Role.VIEWER)
    contact = crm_services.contact_create(org=org, actor=None, first_name="Ada")
    client = _client(viewer)

    body = client.get("/contacts").content.decode()
    assert "data-cell-edit" not in body
    assert 'id="bulk-form"' not in body
    url = reverse("web:list-cell-edit", args=["contacts", contact.pk, "first_name"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"value": "Eve"}).status_code == 403
    bulk = client.post(
        reverse("web:list-bulk", args=["contacts"]),
        {"action": "delete", "ids": [contact.pk], "confirmed": "1"},
    )
    assert bulk.status_code == 403
    contact.refresh_from_db()
    assert contact.first_name == "Ada"


def test_another_organizations_record_in_a_cell_url_is_a_404() -> None:
    org, other = _org(), _org("Other")
    user = _member(org)
    theirs = crm_services.contact_create(org=other, actor=None, first_name="Foreign")
    client = _client(user)
    for name in ("web:list-cell", "web:list-cell-edit"):
        assert client.get(reverse(name, args=["contacts", theirs.pk, "first_name"])).status_code == 404
    response = client.post(
        reverse("web:list-cell-edit", args=["contacts", theirs.pk, "first_name"]), {"value": "Mine"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.first_name == "Foreign"


# --- saved views ----------------------------------------------------------------------------------


def test_saving_a_view_keeps_filters_sort_and_columns_and_can_be_the_default() -> None:
    org = _org()
    user = _member(org)
    colleague = _member(org)
    client = _client(user)

    response = client.post(
        reverse("web:list-view-save", args=["contacts"]),
        {
            "name": "My VIPs",
            "query": "tag=vip&ordering=name&columns=name,email,tags",
            "shared": "on",
            "default": "on",
        },
    )

    view = SavedView.objects.get(organization=org, owner=user)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/contacts?view={view.pk}")
    assert (view.filters, view.ordering, view.columns, view.shared) == (
        {"tag": "vip"},
        "name",
        ["name", "email", "tags"],
        True,
    )
    assert DefaultView.objects.get(user=user, kind="contacts").view == view
    # The list opens with it; a colleague sees the shared view but does not open with it.
    opened = client.get("/contacts")
    assert opened.status_code == 302
    assert opened["Location"] == response["Location"]
    page = _client(colleague).get("/contacts")
    assert page.status_code == 200
    assert "My VIPs" in page.content.decode()


def test_a_view_with_a_column_that_does_not_exist_is_refused_beside_the_field() -> None:
    org = _org()
    user = _member(org)
    response = _client(user).post(
        reverse("web:list-view-save", args=["contacts"]),
        {"name": "Odd", "query": "columns=name,shoe_size&created_after=nope"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="view-columns-error"' in body
    assert "There is no column “shoe_size”." in body
    assert "Expected an ISO date or date-time." in body
    assert not SavedView.objects.exists()


def test_views_of_other_members_and_organizations_stay_theirs() -> None:
    org, other = _org(), _org("Other")
    user, colleague = _member(org), _member(org)
    stranger = _member(other)
    private = list_services.saved_view_save(
        org=org, actor=colleague, kind="contacts", name="Private", filters={}
    )
    foreign = list_services.saved_view_save(
        org=other, actor=stranger, kind="contacts", name="Foreign", filters={}, shared=True
    )
    client = _client(user)
    body = client.get("/contacts").content.decode()
    assert "Private" not in body
    assert "Foreign" not in body
    assert client.post(reverse("web:list-view-delete", args=["contacts", private.pk])).status_code == 404
    assert (
        client.post(reverse("web:list-view-default", args=["contacts"]), {"view": foreign.pk}).status_code
        == 404
    )
    assert SavedView.objects.count() == 2
    assert not DefaultView.objects.exists()


# --- bulk -----------------------------------------------------------------------------------------


def test_bulk_owner_and_tags_on_chosen_rows() -> None:
    org = _org()
    user = _member(org)
    owner = _member(org)
    chosen = _contacts(org, 3)
    untouched = crm_services.contact_create(org=org, actor=None, first_name="Left")
    client = _client(user)
    url = reverse("web:list-bulk", args=["contacts"])

    response = client.post(
        url, {"action": "owner", "owner": owner.pk, "ids": [c.pk for c in chosen]}, HTTP_HX_REQUEST="true"
    )
    client.post(url, {"action": "tags", "tags": "vip, q3", "ids": [chosen[0].pk]}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Trigger"] == "listChanged"
    assert set(Contact.objects.filter(owner=owner).values_list("pk", flat=True)) == {c.pk for c in chosen}
    assert Contact.objects.get(pk=untouched.pk).owner_id is None
    assert sorted(Contact.objects.get(pk=chosen[0].pk).tags.values_list("name", flat=True)) == ["q3", "vip"]


def test_deals_have_a_tags_column_filter_inline_edit_and_bulk_edit() -> None:
    org, other = _org(), _org("Other")
    user = _member(org)
    hot = crm_services.deal_create(org=org, actor=None, title="Hot deal", tags=["hot"])
    plain = crm_services.deal_create(org=org, actor=None, title="Plain deal")
    crm_services.deal_create(org=other, actor=None, title="Their deal", tags=["hot"])
    client = _client(user)

    by_tag = client.get("/deals", {"tag": "HOT", "columns": "title,tags"}).content.decode()
    assert _row_ids(by_tag) == [hot.pk]
    assert 'name="tag"' in by_tag  # the filter control of the deal list
    assert ">hot<" in by_tag or "hot</" in by_tag
    assert _row_ids(client.get("/deals", {"tags_any": "hot,none"}).content.decode()) == [hot.pk]

    url = reverse("web:list-cell-edit", args=["deals", plain.pk, "tags"])
    saved = client.post(url, {"value": "renewal, hot"}, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200, saved.content.decode()[:300]
    assert sorted(plain.tags.values_list("name", flat=True)) == ["hot", "renewal"]
    refused = client.post(url, {"value": "x" * 61}, HTTP_HX_REQUEST="true")
    assert 'data-testid="cell-error"' in refused.content.decode()
    assert sorted(plain.tags.values_list("name", flat=True)) == ["hot", "renewal"]

    bulk = reverse("web:list-bulk", args=["deals"])
    response = client.post(bulk, {"action": "tags", "tags": "q3", "ids": [hot.pk]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert sorted(hot.tags.values_list("name", flat=True)) == ["hot", "q3"]
    assert not plain.tags.filter(name="q3").exists()
    # Every matching deal: this organization's only.
    client.post(
        bulk, {"action": "tags", "tags": "all", "all": "1", "query": "tag=hot"}, HTTP_HX_REQUEST="true"
    )
    tagged = set(Deal.objects.filter(tags__name="all").values_list("pk", flat=True))
    assert tagged == {hot.pk, plain.pk}
    entry = TimelineEntry.objects.filter(target_type="deal", target_id=hot.pk, action="updated").latest("id")
    assert entry.actor == user
    assert entry.changes == {"tags": {"old": ["hot", "q3"], "new": ["all", "hot", "q3"]}}


def test_bulk_delete_asks_for_confirmation_first() -> None:
    org = _org()
    user = _member(org)
    rows = _contacts(org, 2)
    client = _client(user)
    url = reverse("web:list-bulk", args=["contacts"])

    asked = client.post(url, {"action": "delete", "ids": [r.pk for r in rows]}, HTTP_HX_REQUEST="true")
    assert 'data-testid="bulk-confirm"' in asked.content.decode()
    assert Contact.objects.filter(organization=org).count() == 2
    client.post(
        url, {"action": "delete", "ids": [r.pk for r in rows], "confirmed": "1"}, HTTP_HX_REQUEST="true"
    )
    assert not Contact.objects.filter(organization=org).exists()


def test_bulk_on_all_matching_rows_never_touches_another_organization() -> None:
    org, other = _org(), _org("Other")
    user = _member(org)
    owner = _member(org)
    vip = _contacts(org, 2)
    for c in vip:
        crm_services.contact_update(org=org, actor=None, contact=c.pk, tags=["vip"])
    plain = crm_services.contact_create(org=org, actor=None, first_name="Plain")
    foreign = crm_services.contact_create(org=other, actor=None, first_name="Foreign", tags=["vip"])
    _client(user).post(
        reverse("web:list-bulk", args=["contacts"]),
        {"action": "owner", "owner": owner.pk, "all": "1", "query": "tag=vip", "ids": [foreign.pk]},
    )
    assert set(Contact.objects.filter(owner=owner).values_list("pk", flat=True)) == {c.pk for c in vip}
    assert Contact.objects.get(pk=plain.pk).owner_id is None
    assert Contact.objects.get(pk=foreign.pk).owner_id is None


def test_a_large_bulk_action_is_a_background_job_that_resumes(
    monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    monkeypatch.setattr(list_services, "BULK_INLINE_LIMIT", 3)
    monkeypatch.setattr(list_services, "BULK_CHUNK", 2)
    org = _org()
    user = _member(org)
    deals = [crm_services.deal_create(org=org, actor=None, title=f"D{i}") for i in range(5)]
    won = Stage.objects.get(pipeline=deals[0].pipeline, kind=StageKind.WON)
    sent: list[Any] = []
    monkeypatch.setattr("stratus.web.tasks.bulk_run.apply_async", lambda args: sent.append(args))
    client = _client(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("web:list-bulk", args=["deals"]),
            {"action": "stage", "stage": won.pk, "all": "1", "query": ""},
            HTTP_HX_REQUEST="true",
        )

    job = BulkJob.objects.get(organization=org)
    assert job.state == BulkState.QUEUED
    assert job.total is None  # the request counted no further than the limit; the worker counts
    assert sent == [(job.pk,)]
    body = response.content.decode()
    assert "<progress" in body
    assert 'hx-trigger="every 1s"' in body
    assert not Deal.objects.filter(stage=won).exists()  # nothing done in the request

    list_services.bulk_run(job_id=job.pk)  # what the worker does
    list_services.bulk_run(job_id=job.pk)  # a repeated message finds nothing left to do

    job.refresh_from_db()
    assert (job.state, job.done, job.failed, job.total) == (BulkState.DONE, 5, 0, 5)
    assert Deal.objects.filter(stage=won).count() == 5
    progress = client.get(reverse("web:list-bulk-progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert 'value="100"' in progress.content.decode()
    assert "every 1s" not in progress.content.decode()
    other_user = _member(_org("Other"))
    assert _client(other_user).get(reverse("web:list-bulk-progress", args=[job.pk])).status_code == 404


def test_a_bulk_refusal_is_reported_per_row_and_the_rest_is_done() -> None:
    org = _org()
    user = _member(org)
    deals = [crm_services.deal_create(org=org, actor=None, title=f"D{i}") for i in range(2)]
    lost = Stage.objects.get(pipeline=deals[0].pipeline, kind=StageKind.LOST)
    response = _client(user).post(
        reverse("web:list-bulk", args=["deals"]),
        {"action": "stage", "stage": lost.pk, "ids": [d.pk for d in deals]},
        HTTP_HX_REQUEST="true",
    )
    assert "Say why the deal was lost." in response.content.decode()
    assert not Deal.objects.filter(stage=lost).exists()
    job = BulkJob.objects.get()
    assert (job.done, job.failed) == (0, 2)


def test_phone_numbers_and_companies_show_in_contact_rows() -> None:
    org = _org()
    user = _member(org)
    company = Company.objects.create(organization=org, name="Acme Corp")
    crm_services.contact_create(
        org=org, actor=None, first_name="Ada", company=company.pk, phones=["+1 555 0100"]
    )
    body = _client(user).get("/contacts", {"columns": "name,company,phones"}).content.decode()
    assert "Acme Corp" in body
    assert "+1 555 0100" in body


def test_activity_inline_edit_of_done_and_due_time() -> None:
    org = _org()
    user = _member(org)
    contact = crm_services.contact_create(org=org, actor=None, first_name="Ada")
    task = crm_services.activity_create(org=org, actor=None, subject="Call", contact=contact.pk)
    client = _client(user)
    client.post(reverse("web:list-cell-edit", args=["activities", task.pk, "done"]), {"value": "true"})
    client.post(
        reverse("web:list-cell-edit", args=["activities", task.pk, "due_at"]), {"value": "2030-05-01T09:30"}
    )
    task = Activity.objects.get(pk=task.pk)
    assert task.done
    assert task.due_at is not None
    assert task.due_at.year == 2030
    assert CustomField.objects.count() == 0


def test_the_sweep_queues_again_a_bulk_job_whose_message_was_lost(monkeypatch: Any) -> None:
    org = _org()
    user = _member(org)
    lost = BulkJob.objects.create(
        organization=org,
        created_by=user,
        kind="contacts",
        action="delete",
        ids=[1],
        total=1,
        created_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    fresh = {"organization": org, "created_by": user, "kind": "contacts", "action": "delete", "ids": [1]}
    BulkJob.objects.create(**fresh, total=1)  # just queued: its message is still on the way
    sent: list[Any] = []
    monkeypatch.setattr("stratus.web.tasks.bulk_run.apply_async", lambda args: sent.append(args))
    assert list_services.bulk_jobs_sweep() == [lost.pk]
    assert sent == [(lost.pk,)]


def test_the_owner_changes_a_view_and_nobody_else_can() -> None:
    org = _org()
    user, colleague = _member(org), _member(org)
    view = list_services.saved_view_save(
        org=org, actor=user, kind="deals", name="Open", filters={"status": "open"}, shared=True
    )
    url = reverse("web:list-view-save", args=["deals"])
    wanted = {"view": view.pk, "name": "Open", "query": "status=won&ordering=-value"}
    changed = _client(user).post(url, wanted)
    refused = _client(colleague).post(url, {"view": view.pk, "name": "Mine", "query": "status=lost"})
    view.refresh_from_db()
    assert changed.status_code == 302
    assert refused.status_code == 404
    assert (view.name, view.filters, view.ordering) == ("Open", {"status": "won"}, "-value")
    assert SavedView.objects.count() == 1


def test_choosing_a_default_view_goes_back_to_the_list_never_to_another_site() -> None:
    org = _org()
    user = _member(org)
    view = list_services.saved_view_save(org=org, actor=user, kind="contacts", name="Mine", filters={})
    client = _client(user)
    url = reverse("web:list-view-default", args=["contacts"])
    away = client.post(url, {"view": view.pk, "next": "https://evil.example/"})
    assert away["Location"] == "/contacts"
    assert DefaultView.objects.get(user=user).view == view
    back = client.post(url, {"view": "", "next": f"/contacts?view={view.pk}"})
    assert back["Location"] == f"/contacts?view={view.pk}"
    assert not DefaultView.objects.exists()


# --- live updates: one row again -------------------------------------------------------------------


def test_one_row_comes_back_with_the_lists_columns_and_filters_for_a_live_update() -> None:
    org, other = _org(), _org("Other")
    member, viewer = _member(org), _member(org, Role.VIEWER)
    contact = crm_services.contact_create(
        org=org, actor=None, first_name="Ada", last_name="Lovelace", job_title=XSS, tags=["vip"]
    )
    foreign = crm_services.contact_create(org=other, actor=None, first_name="Foreign")
    url = reverse("web:list-row", args=["contacts", contact.pk])

    body = _client(member).get(url, {"columns": "name,job_title", "tag": "vip"}).content.decode()
    assert _row_ids(body) == [contact.pk]
    assert 'data-column="job_title"' in body
    assert 'data-column="email"' not in body
    assert "<script>alert(2)" not in body
    assert "&lt;script&gt;alert(2)" in body
    assert "data-row-select" in body  # a member may select and edit it
    viewer_body = _client(viewer).get(url, {"columns": "name"}).content.decode()
    assert _row_ids(viewer_body) == [contact.pk]
    assert "data-row-select" not in viewer_body

    # No longer matching the filter: 204 (the page drops the row); another organization's: 404.
    assert _client(member).get(url, {"tag": "customer"}).status_code == 204
    assert _client(member).get(reverse("web:list-row", args=["contacts", foreign.pk])).status_code == 404
    assert _client(member).get(reverse("web:list-row", args=["nothing", contact.pk])).status_code == 404


def test_the_list_page_carries_what_live_updates_need() -> None:
    org = _org()
    member = _member(org)
    _contacts(org, 1)
    body = _client(member).get(reverse("web:list-contacts"), {"q": "Person"}).content.decode()
    assert 'data-live-list="contacts"' in body
    assert f'data-row-url="{reverse("web:list-row", args=["contacts", 0])}?q=Person"' in body
    assert 'data-one="{count} new contact"' in body
    assert 'data-many="{count} new contacts"' in body


def test_one_row_costs_the_same_queries_whatever_the_number_of_rows() -> None:
    org = _org()
    member = _member(org)
    client = _client(member)
    first = _contacts(org, 1, tags=["vip"])[0]
    url = reverse("web:list-row", args=["contacts", first.pk])
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, {"columns": "name,tags,owner"}).status_code == 200
    _contacts(org, 30, tags=["vip", "lead"])
    with CaptureQueriesContext(connection) as many:
        assert client.get(url, {"columns": "name,tags,owner"}).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
