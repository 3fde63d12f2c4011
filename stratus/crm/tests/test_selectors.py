"""Selectors: filters, ordering, search on PostgreSQL, constant query counts."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from stratus.accounts.models import Role
from stratus.crm import filters, search, selectors, services
from stratus.crm.models import Company, Contact, Deal, TimelineEntry
from stratus.platform.errors import ApplicationError, status_of
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db


def emails(queryset) -> list[str]:
    return [c.email for c in queryset]


@pytest.fixture
def crm():
    org = make_organization()
    owner = make_member(org).user
    services.custom_field_create(
        org=org, actor=None, entity="contact", key="seats", label="Seats", field_type="number"
    )
    services.custom_field_create(
        org=org,
        actor=None,
        entity="contact",
        key="plan",
        label="Plan",
        field_type="choice",
        choices=["free", "pro"],
    )
    acme = services.company_create(org=org, actor=None, name="Acme Corporation", domain="acme.example")
    services.contact_create(
        org=org,
        actor=None,
        first_name="John",
        last_name="Smith",
        email="john.smith@acme.example",
        company=acme,
        owner=owner,
        tags=["VIP"],
        custom_fields={"seats": 10, "plan": "pro"},
    )
    services.contact_create(
        org=org,
        actor=None,
        first_name="Jane",
        last_name="Doe",
        email="jane@globex.example",
        tags=["vip", "lead"],
        custom_fields={"seats": 3, "plan": "free"},
    )
    services.contact_create(
        org=org, actor=None, first_name="Johanna", last_name="Berg", email="jb@initech.example"
    )
    other = make_organization()
    services.contact_create(
        org=other, actor=None, first_name="John", last_name="Smith", email="john@other.example"
    )
    return org, owner, acme


def test_list_filters(crm) -> None:
    org, owner, acme = crm
    assert emails(selectors.contact_list(org=org, filters={"owner": owner.pk})) == ["john.smith@acme.example"]
    assert emails(selectors.contact_list(org=org, filters={"owner": "none"}, ordering="name")) == [
        "jb@initech.example",
        "jane@globex.example",
    ]
    assert emails(selectors.contact_list(org=org, filters={"company": str(acme.pk)})) == [
        "john.smith@acme.example"
    ]
    assert len(selectors.contact_list(org=org, filters={"tag": "vip"})) == 2
    assert emails(selectors.contact_list(org=org, filters={"tags": ["VIP", "lead"]})) == [
        "jane@globex.example"
    ]
    assert len(selectors.contact_list(org=org, filters={"tags_any": "lead,vip"})) == 2
    assert emails(selectors.contact_list(org=org, filters={"custom_fields": {"plan": "pro"}})) == [
        "john.smith@acme.example"
    ]
    assert emails(selectors.contact_list(org=org, filters={"custom_fields.seats__gte": "5"})) == [
        "john.smith@acme.example"
    ]
    assert len(selectors.contact_list(org=org, filters={"custom_fields.plan__in": "free,pro"})) == 2
    assert emails(selectors.contact_list(org=org, filters={"custom_fields.plan__isnull": "true"})) == [
        "jb@initech.example"
    ]
    tomorrow = (timezone.now() + datetime.timedelta(days=1)).date().isoformat()
    assert len(selectors.contact_list(org=org, filters={"created_before": tomorrow})) == 3
    assert len(selectors.contact_list(org=org, filters={"created_after": tomorrow})) == 0
    assert len(selectors.contact_segment(org=org, filters={"tags": ["vip"], "has_email": True})) == 2


def test_bad_filters_and_orderings_name_the_parameter(crm) -> None:
    org, _, _ = crm
    with pytest.raises(ApplicationError) as caught:
        selectors.contact_list(
            org=org,
            filters={
                "owner": "me",
                "created_after": "yesterday",
                "colour": "red",
                "custom_fields.plan": "gold",
                "custom_fields.size": 1,
            },
        )
    assert set(caught.value.field_errors) == {
        "owner",
        "created_after",
        "colour",
        "custom_fields.plan",
        "custom_fields.size",
    }
    with pytest.raises(ApplicationError) as caught:
        selectors.contact_list(org=org, ordering="-email")
    assert set(caught.value.field_errors) == {"ordering"}


def test_orderings_end_with_id_for_keyset_pagination(crm) -> None:
    org, _, _ = crm
    queryset = selectors.contact_list(org=org, ordering="-name")
    assert queryset.query.order_by == ("-last_name", "-first_name", "-id")
    assert [c.last_name for c in queryset] == ["Smith", "Doe", "Berg"]


def test_detail_is_scoped_to_the_organization(crm) -> None:
    org, _, _ = crm
    foreign = Contact.objects.exclude(organization=org).get()
    with pytest.raises(ApplicationError) as caught:
        selectors.contact_get(org=org, pk=foreign.pk)
    assert status_of(caught.value) == 404
    with pytest.raises(ApplicationError):
        selectors.contact_get(org=org, pk="1 OR 1=1")


def test_search_prefix_substring_and_scoped(crm) -> None:
    org, _, _ = crm
    assert emails(selectors.contact_list(org=org, filters={"q": "john smi"})) == ["john.smith@acme.example"]
    assert emails(selectors.contact_list(org=org, filters={"q": "@globex"})) == ["jane@globex.example"]
    found = [c.first_name for c in selectors.contact_list(org=org, filters={"q": "joh"})]
    assert sorted(found) == ["Johanna", "John"]
    assert list(selectors.contact_list(org=org, filters={"q": "zzzz"})) == []
    assert emails(selectors.contact_list(org=org, filters={"q": "jane"})) == ["jane@globex.example"]
    assert [c.name for c in selectors.company_list(org=org, filters={"q": "acme corp"})] == [
        "Acme Corporation"
    ]
    for odd in ("%", "_", "'", "a:*|b", "\\", "    "):
        list(selectors.contact_list(org=org, filters={"q": odd}))


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # The tables are tiny: forbid the plans that would hide whether the indexes fit.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def condition(spec, query: str) -> RawSQL:
    """The search condition alone (selectors add the organization), to check its index."""
    found = search._condition(spec, query, False)
    assert found is not None
    return RawSQL(found[0], found[1], output_field=BooleanField())


def test_search_conditions_use_the_gin_indexes(crm) -> None:
    names = plan(Contact.objects.filter(condition(search.CONTACT, "john smith")))
    assert "Bitmap Index Scan on crm_contact_search_fts" in names
    address = plan(Contact.objects.filter(condition(search.CONTACT, "smith@acme")))
    assert "Bitmap Index Scan on crm_contact_search_trgm" in address
    assert "crm_company_search_fts" in plan(Company.objects.filter(condition(search.COMPANY, "acme")))
    assert "crm_deal_search_fts" in plan(Deal.objects.filter(condition(search.DEAL, "renewal")))


def test_list_search_finds_matches_before_ordering(crm) -> None:
    org, _, _ = crm
    sql, _ = selectors.contact_list(org=org, filters={"q": "zzzz"}).query.sql_with_params()
    assert "= ANY(ARRAY(SELECT id FROM crm_contact WHERE organization_id = " in sql
    assert list(selectors.contact_list(org=org, filters={"q": "zzzz"})) == []


def _bulk_contacts(org, names: list[tuple[str, str]]) -> None:
    now = timezone.now()
    Contact.objects.bulk_create(
        [
            Contact(
                organization=org,
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{i}@bulk.example".lower(),
                created_at=now - datetime.timedelta(seconds=i),
                updated_at=now,
            )
            for i, (first, last) in enumerate(names)
        ]
    )


def test_list_search_walks_the_ordering_for_common_words_and_finds_rare_ones_first(crm) -> None:
    org, _, _ = crm
    # "miller" common (every 10th contact); "zappa" unknown to the statistics (added after ANALYZE).
    _bulk_contacts(org, [("Ann", "Miller" if i % 10 == 0 else f"Other{i}") for i in range(119)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_contact")  # the plan choice reads the table's statistics
    services.contact_create(org=org, actor=None, first_name="Frank", last_name="Zappa")
    common = selectors.contact_list(org=org, filters={"q": "miller"})
    common_sql, _ = common.query.sql_with_params()
    assert "ANY(ARRAY(" not in common_sql
    assert '"crm_contact"."search_document" @@' in common_sql
    rare = selectors.contact_list(org=org, filters={"q": "zappa"})
    assert (
        "= ANY(ARRAY(SELECT id FROM crm_contact WHERE organization_id = " in rare.query.sql_with_params()[0]
    )
    assert [c.last_name for c in rare] == ["Zappa"]
    # Ordered by name, a common name's matches sit together: found first, then ordered.
    by_name = selectors.contact_list(org=org, filters={"q": "miller"}, ordering="name")
    assert "= ANY(ARRAY(" in by_name.query.sql_with_params()[0]
    expected = sorted(c.pk for c in Contact.objects.filter(organization=org, last_name="Miller"))
    assert sorted(c.pk for c in common) == expected == sorted(c.pk for c in by_name)
    by_address = selectors.contact_list(org=org, filters={"q": "@bulk.example"})
    assert "ANY(ARRAY(" in by_address.query.sql_with_params()[0]  # no statistics for address fragments
    assert by_address.count() == 119


def test_list_search_pages_through_every_match_in_both_plans(api_client, crm) -> None:
    org, _, _ = crm
    _bulk_contacts(org, [("Ann", "Miller" if i % 3 == 0 else f"Other{i}") for i in range(150)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_contact")
    services.contact_create(org=org, actor=None, first_name="Bo", last_name="Zappa")
    client = api_client(Role.VIEWER, org=org)
    for query, ordering in [("miller", "-created_at"), ("miller", "name"), ("zappa", "created_at")]:
        seen: list[int] = []
        url: str | None = f"/api/v1/contacts?q={query}&ordering={ordering}&limit=7"
        while url:
            page = client.get(url).json()
            seen += [row["id"] for row in page["results"]]
            url = page["next"]
        expected = set(
            Contact.objects.filter(organization=org, last_name__iexact=query).values_list("pk", flat=True)
        )
        assert len(seen) == len(set(seen)) == len(expected)
        assert set(seen) == expected


def test_custom_field_equality_uses_the_jsonb_index(crm) -> None:
    condition = filters.custom_equals_any("plan", ["pro"])
    assert "crm_contact_custom_fields" in plan(Contact.objects.filter(condition))


def serialize_contacts(queryset) -> list[tuple]:
    return [(c.email, c.company_id, c.owner_id, selectors.tag_names(c)) for c in queryset]


def serialize_deals(queryset) -> list[tuple]:
    return [
        (d.title, d.pipeline_id, d.stage.kind, d.company_id, d.owner_id, selectors.contact_ids(d))
        for d in queryset
    ]


def queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def test_list_query_count_is_the_same_for_1_and_50_rows() -> None:
    org = make_organization()
    owner = make_member(org).user
    acme = services.company_create(org=org, actor=None, name="Acme", tags=["x"])
    services.pipeline_create(org=org, actor=None, name="Sales")
    for i in range(50):
        contact = services.contact_create(
            org=org, actor=None, email=f"c{i}@example.com", company=acme, owner=owner, tags=[f"t{i % 3}"]
        )
        services.deal_create(
            org=org, actor=None, title=f"D{i}", company=acme, owner=owner, contacts=[contact]
        )
        services.activity_create(org=org, actor=None, subject=f"A{i}", contact=contact, assignee=owner)

    def run(limit: int) -> list[int]:
        return [
            queries(lambda: serialize_contacts(selectors.contact_list(org=org)[:limit])),
            queries(
                lambda: serialize_contacts(selectors.contact_list(org=org, filters={"q": "example"})[:limit])
            ),
            queries(lambda: serialize_deals(selectors.deal_list(org=org)[:limit])),
            queries(
                lambda: [(c.name, selectors.tag_names(c)) for c in selectors.company_list(org=org)[:limit]]
            ),
            queries(
                lambda: [
                    (a.subject, a.contact_id, a.assignee_id) for a in selectors.activity_list(org=org)[:limit]
                ]
            ),
            queries(
                lambda: [(p.name, [s.name for s in p.stages.all()]) for p in selectors.pipeline_list(org=org)]
            ),
            queries(lambda: [(e.action, e.actor) for e in selectors.timeline_list(org=org)[:limit]]),
        ]

    search._word_shares(search.CONTACT)  # read once, then cached: not a cost of each page
    one, fifty = run(1), run(50)
    assert one == fifty
    assert fifty[0] == 1  # contacts with their tag names (one query on PostgreSQL)


def test_record_timeline_includes_its_activities() -> None:
    org = make_organization()
    contact = services.contact_create(org=org, actor=None, email="a@example.com")
    services.activity_create(org=org, actor=None, subject="Call", contact=contact)
    services.contact_update(org=org, actor=None, contact=contact, first_name="Ann")
    entries = list(selectors.timeline_for_record(org=org, record=contact))
    assert [(e.target_type, e.action) for e in entries] == [
        ("contact", "updated"),
        ("activity", "created"),
        ("contact", "created"),
    ]


def test_search_indexes_keep_small_pending_lists(crm) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class "
            "WHERE relname LIKE 'crm\\_%\\_search\\_%' ORDER BY relname"
        )
        found = dict(cursor.fetchall())
    assert len(found) == 6
    assert all(options == ["gin_pending_list_limit=256"] for options in found.values())


def test_common_queries_are_told_by_the_word_statistics(crm) -> None:
    org, _, _ = crm
    _bulk_contacts(org, [("Al", "Miller" if i % 2 else "Millerton") for i in range(200)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE crm_contact")
    assert search._is_common(search.CONTACT, "al")  # two letters: the whole word only
    assert not search._is_common(search.CONTACT, "a")
    assert search._is_common(search.CONTACT, "mill")  # a prefix: miller and millerton
    assert search._is_common(search.CONTACT, "al miller")
    assert not search._is_common(search.CONTACT, "nosuchname")
    assert not search._is_common(search.CONTACT, "@bulk.example")  # address fragments: no statistics


def test_choice_selectors_read_only_the_organization_s_rows_by_name() -> None:
    org, other = make_organization(), make_organization()
    zeta = services.company_create(org=org, actor=None, name="Zeta")
    alpha = services.company_create(org=org, actor=None, name="Alpha")
    services.company_create(org=other, actor=None, name="Beta")
    assert list(selectors.company_choices(org=org)) == [alpha, zeta]

    smith = services.contact_create(org=org, actor=None, first_name="Ann", last_name="Smith")
    brown = services.contact_create(org=org, actor=None, first_name="Bob", last_name="Brown")
    theirs = services.contact_create(org=other, actor=None, first_name="Cy", last_name="Adams")
    assert list(selectors.contact_choices(org=org)) == [brown, smith]
    assert list(selectors.contact_choices(org=org, ids=[smith.pk, theirs.pk])) == [smith]

    sales = services.pipeline_create(
        org=org, actor=None, name="Sales", stages=[{"name": "New"}, {"name": "Won"}]
    )
    partners = services.pipeline_create(org=org, actor=None, name="Partners", stages=[{"name": "Met"}])
    assert [s.name for s in selectors.stage_list(org=org, pipeline_id=sales.pk)] == ["New", "Won"]
    assert {s.name for s in selectors.stage_list(org=org)} >= {"New", "Won", "Met"}
    assert not selectors.stage_list(org=other, pipeline_id=partners.pk).exists()


def test_record_names_leave_out_another_organization_s_ids() -> None:
    org, other = make_organization(), make_organization()
    mine = services.company_create(org=org, actor=None, name="Mine")
    theirs = services.company_create(org=other, actor=None, name="Theirs")
    ids = [mine.pk, theirs.pk, theirs.pk + 1000]
    assert selectors.record_names(org=org, model=Company, ids=ids) == {mine.pk: "Mine"}
    assert selectors.record_names(org=org, model=Contact, ids=ids) == {}


def test_tag_get_is_scoped_by_organization() -> None:
    org, other = make_organization(), make_organization()
    company = services.company_create(org=org, actor=None, name="Acme", tags=["vip"])
    tag = company.tags.get()
    assert selectors.tag_get(org=org, pk=tag.pk) == tag
    with pytest.raises(ApplicationError) as refused:
        selectors.tag_get(org=other, pk=tag.pk)
    assert status_of(refused.value) == 404


def test_record_timeline_pages_by_keyset() -> None:
    org = make_organization()
    contact = services.contact_create(org=org, actor=None, email="a@example.com")
    for name in ("Ann", "Bea", "Cat"):
        services.contact_update(org=org, actor=None, contact=contact, first_name=name)
    everything = list(selectors.timeline_for_record(org=org, record=contact))
    assert len(everything) == 4
    middle = everything[1]
    before = (middle.created_at, middle.pk)
    assert list(selectors.timeline_for_record(org=org, record=contact, before=before)) == everything[2:]
    # Entries of the same instant are told apart by their id (newest id first).
    moment = timezone.now()
    TimelineEntry.objects.filter(pk__in=[e.pk for e in everything]).update(created_at=moment)
    by_id = sorted((e.pk for e in everything), reverse=True)
    older = selectors.timeline_for_record(org=org, record=contact, before=(moment, by_id[1]))
    assert [e.pk for e in older] == by_id[2:]
