"""The pipeline board and my tasks through Django's test client: totals, isolation, roles, queries."""

from __future__ import annotations

import datetime
import decimal
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services
from stratus.crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    Deal,
    Pipeline,
    Stage,
    StageKind,
    TimelineEntry,
)
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


def _member(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member(org, role).user


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _pipeline(org: Organization, name: str = "Sales") -> Pipeline:
    return services.pipeline_create(org=org, actor=None, name=name)


def _stage(pipeline: Pipeline, name: str) -> Stage:
    return Stage.objects.get(pipeline=pipeline, name=name)


def _deal(stage: Stage, title: str = "Deal", **fields: Any) -> Deal:
    return Deal.objects.create(
        organization_id=stage.organization_id,
        pipeline_id=stage.pipeline_id,
        stage=stage,
        title=title,
        **fields,
    )


def _board(client: Client, pipeline: Pipeline, **query: str) -> str:
    response = client.get(reverse("web:pipeline", args=[pipeline.pk]), query)
    assert response.status_code == 200, response.content.decode()[:500]
    return response.content.decode()


def _summary(body: str, stage: Stage) -> str:
    start = body.index(f'id="stage-{stage.pk}-summary"')
    return body[start : body.index("</p>", start)]


def test_column_totals_are_per_currency_and_follow_the_filter() -> None:
    org = make_organization()
    me, colleague = _member(org), _member(org)
    pipeline = _pipeline(org)
    lead, won = _stage(pipeline, "Lead"), _stage(pipeline, "Won")
    _deal(lead, "A", value=decimal.Decimal("1000.50"), currency="EUR", owner=me)
    _deal(lead, "B", value=decimal.Decimal("2000.25"), currency="EUR", owner=me)
    _deal(lead, "C", value=decimal.Decimal("300"), currency="USD", owner=me)
    _deal(lead, "D", value=decimal.Decimal("99999"), currency="EUR", owner=colleague)
    _deal(won, "E", value=decimal.Decimal("5"), currency="GBP", owner=colleague)
    client = _signed_in(me)

    everyone = _board(client, pipeline)
    assert "4 deals" in _summary(everyone, lead)
    assert "102,999.75 EUR" in _summary(everyone, lead)
    assert "1 deal" in _summary(everyone, won)

    mine = _board(client, pipeline, owner=str(me.pk))
    lead_summary = _summary(mine, lead)
    assert "3 deals" in lead_summary
    assert "3,000.75 EUR" in lead_summary
    assert "300.00 USD" in lead_summary
    assert "3,300" not in lead_summary  # never a sum across currencies
    assert "0 deals" in _summary(mine, won)
    assert "D</a>" not in mine  # the colleague's card is not on the filtered board


def test_totals_count_every_deal_not_only_the_cards_shown() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead = _stage(pipeline, "Lead")
    Deal.objects.bulk_create(
        Deal(organization=org, pipeline=pipeline, stage=lead, title=f"Deal {n}", value=10, currency="USD")
        for n in range(60)
    )
    body = _board(_signed_in(me), pipeline)
    assert "60 deals" in _summary(body, lead)
    assert "600.00 USD" in _summary(body, lead)
    assert body.count('class="deal-card"') == 25
    assert f'data-testid="stage-{lead.pk}-more"' in body


def test_show_more_pages_through_a_column_without_repeats() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead = _stage(pipeline, "Lead")
    deals = Deal.objects.bulk_create(
        Deal(organization=org, pipeline=pipeline, stage=lead, title=f"Deal {n}") for n in range(60)
    )
    client = _signed_in(me)
    seen: list[str] = []
    url = reverse("web:pipeline-column", args=[pipeline.pk, lead.pk])
    after = ""
    for _ in range(5):
        response = client.get(url, {"after": after} if after else {}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        body = response.content.decode()
        ids = [part.split('"')[0] for part in body.split('data-deal="')[1:]]
        seen += ids
        if f'data-testid="stage-{lead.pk}-more"' not in body:
            break
        after = ids[-1]
    assert sorted(seen, key=int) == sorted((str(d.pk) for d in deals), key=int)
    assert len(seen) == len(set(seen)) == 60


def test_the_filter_uses_the_deal_lists_parameters_and_shows_refusals_beside_the_field() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead = _stage(pipeline, "Lead")
    _deal(lead, "Soon", expected_close_date=datetime.date(2026, 3, 1))
    _deal(lead, "Later", expected_close_date=datetime.date(2026, 9, 1))
    client = _signed_in(me)
    body = _board(client, pipeline, expected_close_after="2026-02-01", expected_close_before="2026-04-01")
    assert "Soon" in body
    assert "Later" not in body
    assert "1 deal" in _summary(body, lead)

    refused = client.get(reverse("web:pipeline", args=[pipeline.pk]), {"expected_close_after": "soonish"})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert 'id="filter-close-after-error"' in text
    assert 'value="soonish"' in text  # what the user typed stays


def test_the_tag_filter_narrows_cards_counts_and_sums_and_stays_in_every_link() -> None:
    org, other = make_organization(), make_organization("Other")
    me = _member(org)
    pipeline = _pipeline(org)
    lead, won = _stage(pipeline, "Lead"), _stage(pipeline, "Won")
    hot = services.deal_create(
        org=org, actor=None, title="Hot one", value=100, currency="EUR", stage=lead, tags=["Hot"]
    )
    services.deal_create(
        org=org, actor=None, title="Hot two", value=50, currency="USD", stage=lead, tags=["hot", "big"]
    )
    services.deal_create(org=org, actor=None, title="Cold one", value=7000, currency="EUR", stage=lead)
    services.deal_create(
        org=org, actor=None, title="Big win", value=900, currency="EUR", stage=won, tags=["big"]
    )
    _pipeline(other)
    services.deal_create(org=other, actor=None, title="Their hot", value=1, tags=["hot", "secret"])
    for n in range(30):
        services.deal_create(org=org, actor=None, title=f"Filler {n}", value=1, currency="EUR", stage=lead)
    client = _signed_in(me)

    everyone = _board(client, pipeline)
    assert "33 deals" in _summary(everyone, lead)
    assert "7,130.00 EUR" in _summary(everyone, lead)
    # The tag choices are this organization's tags only.
    assert '<option value="Hot">Hot</option>' in everyone
    assert '<option value="big">big</option>' in everyone
    assert "secret" not in everyone

    tagged = _board(client, pipeline, tag="hot")
    lead_summary = _summary(tagged, lead)
    assert "2 deals" in lead_summary
    assert "100.00 EUR" in lead_summary
    assert "50.00 USD" in lead_summary
    assert "7,130" not in lead_summary
    assert "0 deals" in _summary(tagged, won)
    assert tagged.count('class="deal-card"') == 2
    assert "Cold one" not in tagged
    assert "Their hot" not in tagged
    assert '<option value="Hot" selected>Hot</option>' in tagged  # the choice survives a reload
    assert f'data-live-url="{reverse("web:pipeline-live", args=[pipeline.pk])}?tag=hot"' in tagged
    assert f'data-testid="deal-{hot.pk}-tags"' in tagged

    big = _board(client, pipeline, tag="big", owner="none")
    assert "1 deal" in _summary(big, lead)
    assert "1 deal" in _summary(big, won)
    assert "900.00 EUR" in _summary(big, won)

    # The live endpoint answers under the same filter: an untagged deal has no card on this board.
    live = reverse("web:pipeline-live", args=[pipeline.pk])
    cold = Deal.objects.get(title="Cold one")
    answer = client.get(live, {"deal": str(cold.pk), "tag": "hot"}).json()
    assert answer["card"] == ""
    assert "2 deals" in answer["summaries"][str(lead.pk)]
    answer = client.get(live, {"deal": str(hot.pk), "tag": "hot"}).json()
    assert f'data-deal="{hot.pk}"' in answer["card"]

    # An unknown tag filters everything out; a blank list of names is refused beside the field.
    none = _board(client, pipeline, tag="nothing")
    assert "0 deals" in _summary(none, lead)
    refused = client.get(reverse("web:pipeline", args=[pipeline.pk]), {"tag": ","})
    assert refused.status_code == 400
    assert 'id="filter-tag-error"' in refused.content.decode()


def test_another_organizations_pipeline_stage_or_deal_is_a_404() -> None:
    org, other = make_organization(), make_organization("Other")
    me = _member(org)
    _pipeline(org)
    foreign = _pipeline(other, "Foreign")
    foreign_stage = _stage(foreign, "Lead")
    foreign_deal = _deal(foreign_stage, "Foreign deal")
    client = _signed_in(me)
    assert client.get(reverse("web:pipeline", args=[foreign.pk])).status_code == 404
    column = reverse("web:pipeline-column", args=[foreign.pk, foreign_stage.pk])
    assert client.get(column).status_code == 404
    move = reverse("web:deal-move", args=[foreign_deal.pk])
    assert client.get(move).status_code == 404
    answer = client.post(move, {"stage": _stage(foreign, "Won").pk}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 404
    foreign_deal.refresh_from_db()
    assert foreign_deal.stage == foreign_stage


def test_a_stage_of_another_pipeline_is_not_a_column_of_this_one() -> None:
    org = make_organization()
    me = _member(org)
    first, second = _pipeline(org), _pipeline(org, "Renewals")
    url = reverse("web:pipeline-column", args=[first.pk, _stage(second, "Lead").pk])
    assert _signed_in(me).get(url).status_code == 404


def test_the_default_pipeline_is_shown_and_others_can_be_chosen() -> None:
    org = make_organization()
    me = _member(org)
    first, second = _pipeline(org), _pipeline(org, "Renewals")
    client = _signed_in(me)
    body = client.get(reverse("web:pipeline-default")).content.decode()
    assert f"<title>{first.name} · Pipeline · Stratus</title>" in body
    assert f'href="{reverse("web:pipeline", args=[second.pk])}"' in body


def test_a_member_moves_a_deal_through_the_move_service_and_gets_fresh_totals() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead, proposal = _stage(pipeline, "Lead"), _stage(pipeline, "Proposal")
    deal = _deal(lead, "Big one", value=decimal.Decimal("700"), currency="EUR", owner=me)
    response = _signed_in(me).post(
        reverse("web:deal-move", args=[deal.pk]) + f"?owner={me.pk}",
        {"stage": proposal.pk},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    answer = json.loads(response.content)
    assert answer["stage"] == proposal.pk
    assert "1 deal" in answer["summaries"][str(proposal.pk)]
    assert "700.00 EUR" in answer["summaries"][str(proposal.pk)]
    assert "0 deals" in answer["summaries"][str(lead.pk)]
    deal.refresh_from_db()
    assert deal.stage == proposal
    # The move service's own record: a moved entry by this user.
    assert _last_entry(org, "deal", deal.pk) == ("moved", me.pk)


def _last_entry(org: Organization, target_type: str, target_id: int) -> tuple[str, int | None]:
    last = TimelineEntry.objects.filter(organization=org, target_type=target_type, target_id=target_id)
    entry = last.latest("id")
    return entry.action, entry.actor_id


def test_a_lost_stage_needs_the_reason_and_nothing_moves_without_it() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead, lost = _stage(pipeline, "Lead"), _stage(pipeline, "Lost")
    assert lost.kind == StageKind.LOST
    deal = _deal(lead)
    client = _signed_in(me)
    url = reverse("web:deal-move", args=[deal.pk])
    refused = client.post(url, {"stage": lost.pk}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400
    assert json.loads(refused.content)["errors"] == {"lost_reason": ["Say why the deal was lost."]}
    deal.refresh_from_db()
    assert deal.stage == lead

    # Without JavaScript: the form page shows the message beside the field, then the move works.
    page = client.post(url, {"stage": lost.pk, "lost_reason": ""})
    assert page.status_code == 400
    assert 'id="move-page-lost-reason-error">Say why the deal was lost.<' in page.content.decode()
    done = client.post(url, {"stage": lost.pk, "lost_reason": "Went with a competitor"})
    assert done.status_code == 302
    assert done["Location"] == reverse("web:pipeline", args=[pipeline.pk])
    deal.refresh_from_db()
    assert (deal.stage, deal.lost_reason) == (lost, "Went with a competitor")
    assert deal.closed_at is not None


def test_a_viewer_sees_no_move_controls_and_their_move_is_refused() -> None:
    org = make_organization()
    viewer = _member(org, Role.VIEWER)
    pipeline = _pipeline(org)
    lead, won = _stage(pipeline, "Lead"), _stage(pipeline, "Won")
    deal = _deal(lead, "Read only")
    client = _signed_in(viewer)
    body = _board(client, pipeline)
    assert "Read only" in body
    assert "data-movable" not in body
    assert "data-move-link" not in body
    assert 'id="move-dialog"' not in body
    response = client.post(
        reverse("web:deal-move", args=[deal.pk]), {"stage": won.pk}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 403
    assert json.loads(response.content)["message"] == "Viewers cannot move deals."
    deal.refresh_from_db()
    assert deal.stage == lead
    assert client.post(reverse("web:deal-move", args=[deal.pk]), {"stage": won.pk}).status_code == 403
    deal.refresh_from_db()
    assert deal.stage == lead


def test_the_move_form_refuses_a_stage_id_out_of_range() -> None:
    org = make_organization()
    me = _member(org)
    deal = _deal(_stage(_pipeline(org), "Lead"))
    response = _signed_in(me).post(
        reverse("web:deal-move", args=[deal.pk]),
        {"stage": "99999999999999999999"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert "stage" in json.loads(response.content)["errors"]


def test_text_on_the_board_is_escaped() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    company = Company.objects.create(organization=org, name=XSS)
    _deal(_stage(pipeline, "Lead"), XSS, company=company)
    body = _board(_signed_in(me), pipeline)
    assert XSS not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_the_board_costs_the_same_queries_for_few_or_many_deals_and_stages() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead = _stage(pipeline, "Lead")
    client = _signed_in(me)
    _deal(lead, "one", owner=me, company=Company.objects.create(organization=org, name="Acme"))
    with CaptureQueriesContext(connection) as few:
        _board(client, pipeline)
    for stage in Stage.objects.filter(pipeline=pipeline):
        for n in range(8):
            company = Company.objects.create(organization=org, name=f"Company {stage.pk} {n}")
            _deal(stage, f"deal {n}", owner=_member(org), company=company, currency=("EUR", "USD")[n % 2])
    services.stage_create(org=org, actor=None, pipeline=pipeline.pk, name="Extra", probability=5)
    with CaptureQueriesContext(connection) as many:
        _board(client, pipeline, owner="")
    assert len(many.captured_queries) == len(few.captured_queries)


def _task(org: Organization, assignee: User, subject: str, due_in_hours: float) -> Activity:
    contact = Contact.objects.create(organization=org, first_name="Ada", last_name="Lovelace")
    return Activity.objects.create(
        organization=org,
        kind=ActivityKind.TASK,
        subject=subject,
        assignee=assignee,
        contact=contact,
        due_at=timezone.now() + datetime.timedelta(hours=due_in_hours),
    )


def test_my_tasks_are_grouped_overdue_today_upcoming() -> None:
    org = make_organization()
    me = _member(org)
    now = timezone.localtime()
    end_of_today = now.replace(hour=23, minute=59, second=0, microsecond=0)
    _task(org, me, "Late call", -1)
    today = _task(org, me, "Today visit", 0)
    today.due_at = end_of_today
    today.save()
    _task(org, me, "Next week", 24 * 7)
    body = _signed_in(me).get("/").content.decode()
    overdue, today_at, upcoming = (body.index(f'id="tasks-{n}"') for n in ("overdue", "today", "upcoming"))
    assert overdue < body.index("Late call") < today_at < body.index("Today visit") < upcoming
    assert upcoming < body.index("Next week")


def test_a_member_reschedules_a_task_through_the_activity_service() -> None:
    org = make_organization()
    me = _member(org)
    task = _task(org, me, "Call back", -3)
    response = _signed_in(me).post(
        reverse("web:task-reschedule", args=[task.pk]), {"due_at": "2031-05-04T09:30"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert timezone.localtime(task.due_at).replace(tzinfo=None) == datetime.datetime(2031, 5, 4, 9, 30)
    body = response.content.decode()
    assert body.index('id="tasks-upcoming"') < body.index("Call back")
    assert _last_entry(org, "activity", task.pk) == ("updated", me.pk)


@pytest.mark.parametrize("typed", ["", "next tuesday", "2031-13-40T25:00"])
def test_a_refused_due_time_is_shown_beside_the_field_and_nothing_changes(typed: str) -> None:
    org = make_organization()
    me = _member(org)
    task = _task(org, me, "Call back", 5)
    before = task.due_at
    response = _signed_in(me).post(
        reverse("web:task-reschedule", args=[task.pk]), {"due_at": typed}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert f'id="task-{task.pk}-due-error"' in body
    assert f'aria-describedby="task-{task.pk}-due-error"' in body
    task.refresh_from_db()
    assert task.due_at == before


def test_a_viewer_cannot_reschedule_and_another_organizations_task_is_untouched() -> None:
    org, other = make_organization(), make_organization("Other")
    viewer = _member(org, Role.VIEWER)
    mine = _task(org, viewer, "Mine", 5)
    body = _signed_in(viewer).get("/").content.decode()
    assert "Reschedule" not in body
    response = _signed_in(viewer).post(
        reverse("web:task-reschedule", args=[mine.pk]), {"due_at": "2031-01-01T10:00"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    foreign = _task(other, _member(other), "Foreign", 5)
    member = _member(org)
    response = _signed_in(member).post(
        reverse("web:task-reschedule", args=[foreign.pk]),
        {"due_at": "2031-01-01T10:00"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 404
    for task in (mine, foreign):
        before = task.due_at
        task.refresh_from_db()
        assert task.due_at == before


def test_without_javascript_the_move_and_the_next_cards_are_pages_of_their_own() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead = _stage(pipeline, "Lead")
    deals = Deal.objects.bulk_create(
        Deal(organization=org, pipeline=pipeline, stage=lead, title=f"Deal {n}") for n in range(30)
    )
    client = _signed_in(me)
    page = client.get(reverse("web:deal-move", args=[deals[0].pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="move-page-form"' in body
    assert f'<option value="{lead.pk}" selected>' in body
    column = client.get(reverse("web:pipeline-column", args=[pipeline.pk, lead.pk]), {"after": deals[-1].pk})
    assert column.status_code == 200
    text = column.content.decode()
    assert "<title>Lead · Sales · Stratus</title>" in text
    assert text.count('class="deal-card"') == 25  # the 29 older deals, 25 per page
    assert f'data-testid="stage-{lead.pk}-more"' in text


def test_the_next_cards_of_a_column_cost_the_same_queries_for_few_or_many() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead = _stage(pipeline, "Lead")
    client = _signed_in(me)
    url = reverse("web:pipeline-column", args=[pipeline.pk, lead.pk])
    _deal(lead, "one", owner=me)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200
    for n in range(30):
        company = Company.objects.create(organization=org, name=f"Company {n}")
        _deal(lead, f"deal {n}", owner=_member(org), company=company)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


# --- live updates: one card and the column totals again ---------------------------------------------


def _live(client: Client, pipeline: Pipeline, deal: int | str, **query: str) -> Any:
    return client.get(reverse("web:pipeline-live", args=[pipeline.pk]), {"deal": deal, **query})


def test_a_live_update_brings_the_deals_card_in_its_stage_and_every_column_total() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead, won = _stage(pipeline, "Lead"), _stage(pipeline, "Won")
    deal = _deal(lead, "<b>Fleet</b> renewal", value=decimal.Decimal("1200"), currency="EUR", owner=me)
    _deal(won, "Other", value=decimal.Decimal("5"), currency="USD")
    client = _signed_in(me)

    answer = _live(client, pipeline, deal.pk).json()
    assert answer["stage"] == lead.pk
    assert f'data-deal="{deal.pk}"' in answer["card"]
    assert "&lt;b&gt;Fleet" in answer["card"]
    assert "data-move-link" in answer["card"]
    assert set(answer["summaries"]) == {str(s.pk) for s in pipeline.stages.all()}
    assert "1,200.00 EUR" in answer["summaries"][str(lead.pk)]
    assert "5.00 USD" in answer["summaries"][str(won.pk)]

    # Filtered out (another owner), gone, or another organization's: no card, totals still come.
    filtered = _live(client, pipeline, deal.pk, owner=str(_member(org).pk)).json()
    assert filtered["card"] == ""
    assert filtered["stage"] is None
    assert "0 deals" in filtered["summaries"][str(lead.pk)]
    other = make_organization("Other")
    foreign = _deal(_stage(_pipeline(other, "Foreign"), "Lead"), "Foreign deal")
    assert _live(client, pipeline, foreign.pk).json()["card"] == ""
    assert _live(client, Pipeline.objects.get(organization=other), deal.pk).status_code == 404
    assert _live(client, pipeline, "not-a-number").status_code == 400


def test_a_viewer_gets_the_card_without_move_controls() -> None:
    org = make_organization()
    viewer = _member(org, Role.VIEWER)
    pipeline = _pipeline(org)
    deal = _deal(_stage(pipeline, "Lead"), "Deal")
    answer = _live(_signed_in(viewer), pipeline, deal.pk).json()
    assert f'data-deal="{deal.pk}"' in answer["card"]
    assert "data-move-link" not in answer["card"]


def test_a_live_update_costs_the_same_queries_for_few_or_many_deals() -> None:
    org = make_organization()
    me = _member(org)
    pipeline = _pipeline(org)
    lead = _stage(pipeline, "Lead")
    deal = _deal(lead, "one", owner=me, company=Company.objects.create(organization=org, name="Acme"))
    client = _signed_in(me)
    with CaptureQueriesContext(connection) as few:
        assert _live(client, pipeline, deal.pk).status_code == 200
    for stage in Stage.objects.filter(pipeline=pipeline):
        for n in range(5):
            _deal(stage, f"deal {n}", owner=_member(org), currency=("EUR", "USD")[n % 2])
    with CaptureQueriesContext(connection) as many:
        assert _live(client, pipeline, deal.pk).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
