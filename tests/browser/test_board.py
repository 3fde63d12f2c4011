"""The pipeline board and my tasks, as a person in a browser: drag, the lost reason, refusals."""

from __future__ import annotations

import datetime
import decimal

import pytest
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.crm import services
from stratus.crm.models import Activity, ActivityKind, Contact, Deal, Pipeline, Stage
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"


def _user(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _sign_in(visitor: Visitor, user: User, path: str) -> None:
    visitor.goto(f"/login?next={path}")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + path)


STAGES = [
    {"name": "Lead", "probability": 10, "kind": "open"},
    {"name": "Proposal", "probability": 50, "kind": "open"},
    {"name": "Won", "probability": 100, "kind": "won"},
    {"name": "Lost", "probability": 0, "kind": "lost"},
]


def _pipeline(org: Organization) -> tuple[Pipeline, dict[str, Stage]]:
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales", stages=STAGES)
    return pipeline, {stage.name: stage for stage in Stage.objects.filter(pipeline=pipeline)}


def _deal(stage: Stage, title: str, owner: User | None = None) -> Deal:
    return Deal.objects.create(
        organization_id=stage.organization_id,
        pipeline_id=stage.pipeline_id,
        stage=stage,
        title=title,
        value=decimal.Decimal("1200"),
        currency="EUR",
        owner=owner,
    )


def _drag(visitor: Visitor, deal: Deal, stage: Stage) -> None:
    """Press on the card, move past the threshold and over the column, release: a mouse drag."""
    card = visitor.page.get_by_test_id(f"deal-{deal.pk}").locator(".deal-value")
    column = visitor.page.get_by_test_id(f"stage-{stage.pk}").locator(".column-header")
    column.scroll_into_view_if_needed()
    start, end = card.bounding_box(), column.bounding_box()
    assert start is not None
    assert end is not None
    mouse = visitor.page.mouse
    mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    mouse.down()
    mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    mouse.up()


def _in_column(visitor: Visitor, deal: Deal, stage: Stage) -> bool:
    column = visitor.page.get_by_test_id(f"stage-{stage.pk}")
    return column.get_by_test_id(f"deal-{deal.pk}").count() == 1


def test_drag_a_card_to_another_stage(visitor: Visitor) -> None:
    org = make_organization("Acme")
    user = _user(org)
    pipeline, stages = _pipeline(org)
    deal = _deal(stages["Lead"], "Acme renewal", owner=user)
    _sign_in(visitor, user, f"/pipeline/{pipeline.pk}")
    assert visitor.page.title() == "Sales · Pipeline · Stratus"
    qualified = stages["Proposal"]
    assert visitor.page.get_by_test_id(f"stage-{qualified.pk}-count").inner_text() == "0 deals"
    visitor.check_accessibility()

    _drag(visitor, deal, qualified)

    count = visitor.page.get_by_test_id(f"stage-{qualified.pk}-count")
    count.filter(has_text="1 deal").wait_for()
    assert "1,200.00 EUR" in visitor.page.get_by_test_id(f"stage-{qualified.pk}-summary").inner_text()
    assert visitor.page.get_by_test_id(f"stage-{stages['Lead'].pk}-count").inner_text() == "0 deals"
    assert _in_column(visitor, deal, qualified)
    assert visitor.page.locator("#board-status").text_content() == "Acme renewal moved to Proposal."
    deal.refresh_from_db()
    assert deal.stage == qualified
    assert visitor.page.url == f"{visitor.base_url}/pipeline/{pipeline.pk}"  # no navigation to the deal
    visitor.check_accessibility()


def test_a_move_to_a_lost_stage_asks_the_reason(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    pipeline, stages = _pipeline(org)
    deal = _deal(stages["Lead"], "Globex pilot")
    lost = stages["Lost"]
    _sign_in(visitor, user, f"/pipeline/{pipeline.pk}")

    _drag(visitor, deal, lost)
    dialog = visitor.page.get_by_test_id("move-dialog")
    dialog.wait_for(state="visible")
    reason = dialog.get_by_label("Why was it lost?")
    assert reason.is_visible()
    visitor.check_accessibility()

    # No reason: the server's message beside the field, and the deal has not moved.
    dialog.get_by_role("button", name="Move").click()
    error = visitor.page.locator("#move-lost-reason-error")
    error.filter(has_text="Say why the deal was lost.").wait_for()
    assert reason.get_attribute("aria-invalid") == "true"
    deal.refresh_from_db()
    assert deal.stage == stages["Lead"]
    assert _in_column(visitor, deal, stages["Lead"])
    visitor.check_accessibility()

    reason.fill("Chose a cheaper offer")
    dialog.get_by_role("button", name="Move").click()
    dialog.wait_for(state="hidden")
    visitor.page.get_by_test_id(f"stage-{lost.pk}-count").filter(has_text="1 deal").wait_for()
    deal.refresh_from_db()
    assert (deal.stage, deal.lost_reason) == (lost, "Chose a cheaper offer")
    assert _in_column(visitor, deal, lost)
    visitor.check_accessibility()


def test_a_refused_move_puts_the_card_back_with_a_message(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    pipeline, stages = _pipeline(org)
    deal = _deal(stages["Lead"], "Initech upgrade")
    _sign_in(visitor, user, f"/pipeline/{pipeline.pk}")
    # Demoted while the board is open: the page still offers the move, the server refuses it.
    Membership.objects.filter(organization=org, user=user).update(role=Role.VIEWER)

    _drag(visitor, deal, stages["Won"])
    message = visitor.page.get_by_test_id("board-message")
    message.filter(has_text="Viewers cannot move deals.").wait_for()
    assert _in_column(visitor, deal, stages["Lead"])
    assert not _in_column(visitor, deal, stages["Won"])
    deal.refresh_from_db()
    assert deal.stage == stages["Lead"]
    visitor.check_accessibility()

    # The same with the keyboard: "Move to…" opens the dialog, the refusal puts the card back.
    visitor.page.get_by_role("link", name="Move to… Initech upgrade").focus()
    visitor.page.keyboard.press("Enter")
    dialog = visitor.page.get_by_test_id("move-dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_label("Stage").select_option(label="Proposal")
    visitor.page.keyboard.press("Tab")
    dialog.get_by_role("button", name="Move").press("Enter")
    dialog.wait_for(state="hidden")
    message.filter(has_text="Viewers cannot move deals.").wait_for()
    assert _in_column(visitor, deal, stages["Lead"])
    deal.refresh_from_db()
    assert deal.stage == stages["Lead"]
    visitor.check_accessibility()


def test_move_with_the_keyboard_only(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    pipeline, stages = _pipeline(org)
    deal = _deal(stages["Lead"], "Umbrella contract")
    _sign_in(visitor, user, f"/pipeline/{pipeline.pk}")
    visitor.page.get_by_role("link", name="Move to… Umbrella contract").focus()
    visitor.page.keyboard.press("Enter")
    dialog = visitor.page.get_by_test_id("move-dialog")
    dialog.wait_for(state="visible")
    assert not dialog.get_by_label("Why was it lost?").is_visible()  # asked for a lost stage only
    dialog.get_by_label("Stage").select_option(label="Won")
    dialog.get_by_role("button", name="Move").press("Enter")
    dialog.wait_for(state="hidden")
    visitor.page.get_by_test_id(f"stage-{stages['Won'].pk}-count").filter(has_text="1 deal").wait_for()
    deal.refresh_from_db()
    assert deal.stage == stages["Won"]
    assert deal.closed_at is not None
    visitor.check_accessibility()


def test_mark_a_task_done_and_reschedule_one(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    contact = Contact.objects.create(organization=org, first_name="Grace", last_name="Hopper")
    due = timezone.now() + datetime.timedelta(hours=-2)
    done, later = (
        Activity.objects.create(
            organization=org, kind=ActivityKind.TASK, subject=s, assignee=user, contact=contact, due_at=due
        )
        for s in ("Send the quote", "Call Grace")
    )
    _sign_in(visitor, user, "/")
    visitor.check_accessibility()

    visitor.page.get_by_test_id(f"task-{done.pk}").get_by_role("button", name="Mark done").click()
    visitor.page.get_by_test_id(f"task-{done.pk}").wait_for(state="detached")
    done.refresh_from_db()
    assert done.done

    # An empty due time is refused: the message beside the field, nothing saved.
    row = visitor.page.get_by_test_id(f"task-{later.pk}")
    row.get_by_label("Due Call Grace").fill("")
    row.get_by_role("button", name="Reschedule").click()
    visitor.page.locator(f"#task-{later.pk}-due-error").filter(has_text="Give the new due time.").wait_for()
    later.refresh_from_db()
    assert later.due_at == due
    visitor.check_accessibility()

    row = visitor.page.get_by_test_id(f"task-{later.pk}")
    row.get_by_label("Due Call Grace").fill("2031-05-04T09:30")
    row.get_by_role("button", name="Reschedule").click()
    visitor.page.locator("#tasks-upcoming").wait_for()
    later.refresh_from_db()
    assert timezone.localtime(later.due_at).replace(tzinfo=None) == datetime.datetime(2031, 5, 4, 9, 30)
    visitor.check_accessibility()


def test_the_board_scrolls_sideways_on_a_phone(phone: Visitor) -> None:
    org = make_organization("A company with a rather long name")
    user = _user(org)
    pipeline, stages = _pipeline(org)
    _deal(stages["Won"], "A deal with a long title that has to wrap on a small screen")
    _sign_in(phone, user, f"/pipeline/{pipeline.pk}")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen"
    board = phone.page.get_by_test_id("board")
    assert board.evaluate("b => b.scrollWidth > b.clientWidth")
    board.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
    assert board.evaluate("b => b.scrollLeft") > 0
    phone.check_accessibility()


def test_a_long_column_loads_more_cards_on_demand(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    pipeline, stages = _pipeline(org)
    lead = stages["Lead"]
    Deal.objects.bulk_create(
        Deal(organization=org, pipeline=pipeline, stage=lead, title=f"Lead {n}", value=1) for n in range(40)
    )
    _sign_in(visitor, user, f"/pipeline/{pipeline.pk}")
    column = visitor.page.get_by_test_id(f"stage-{lead.pk}")
    assert column.locator(".deal-card").count() == 25
    assert visitor.page.get_by_test_id(f"stage-{lead.pk}-count").inner_text() == "40 deals"
    # Scrolling the column to its end brings the next cards (htmx), without leaving the page.
    visitor.page.get_by_test_id(f"stage-{lead.pk}-more").scroll_into_view_if_needed()
    column.locator(".deal-card").nth(39).wait_for()
    assert column.locator(".deal-card").count() == 40
    assert visitor.page.get_by_test_id(f"stage-{lead.pk}-more").count() == 0
    assert visitor.page.url == f"{visitor.base_url}/pipeline/{pipeline.pk}"
    visitor.check_accessibility()


def test_filter_the_board_by_tag(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    pipeline, stages = _pipeline(org)
    lead, proposal = stages["Lead"], stages["Proposal"]
    hot_lead = services.deal_create(
        org=org, actor=None, title="Hot lead", value=300, currency="EUR", stage=lead, tags=["hot"]
    )
    hot_offer = services.deal_create(
        org=org, actor=None, title="Hot offer", value=40, currency="USD", stage=proposal, tags=["hot", "q3"]
    )
    cold = services.deal_create(
        org=org, actor=None, title="Cold lead", value=5000, currency="EUR", stage=lead, tags=["q3"]
    )
    board = f"/pipeline/{pipeline.pk}"
    _sign_in(visitor, user, board)
    page = visitor.page
    assert page.get_by_test_id(f"stage-{lead.pk}-count").inner_text() == "2 deals"
    assert "5,300.00 EUR" in page.get_by_test_id(f"stage-{lead.pk}-summary").inner_text()

    page.get_by_label("Tag", exact=True).select_option("hot")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.wait_for_url(f"{visitor.base_url}{board}?*tag=hot*")
    page.get_by_test_id(f"stage-{lead.pk}-count").filter(has_text="1 deal").wait_for()
    # Only the tagged deals' cards, and the column totals of the filter (computed by the server).
    assert page.get_by_test_id(f"deal-{cold.pk}").count() == 0
    assert _in_column(visitor, hot_lead, lead)
    assert _in_column(visitor, hot_offer, proposal)
    assert page.locator(".deal-card").count() == 2
    lead_summary = page.get_by_test_id(f"stage-{lead.pk}-summary").inner_text()
    assert "300.00 EUR" in lead_summary
    assert "5,300.00" not in lead_summary
    assert "40.00 USD" in page.get_by_test_id(f"stage-{proposal.pk}-summary").inner_text()
    assert page.get_by_test_id(f"deal-{hot_offer.pk}-tags").inner_text().split() == ["hot", "q3"]
    visitor.check_accessibility()

    # The filter is in the URL: a reload keeps it, back goes to the whole board.
    page.reload()
    assert page.get_by_label("Tag", exact=True).input_value() == "hot"
    assert page.get_by_test_id(f"stage-{lead.pk}-count").inner_text() == "1 deal"
    assert page.get_by_test_id(f"deal-{cold.pk}").count() == 0
    page.go_back()
    page.wait_for_url(f"{visitor.base_url}{board}")
    page.get_by_test_id(f"deal-{cold.pk}").wait_for()
    assert page.get_by_test_id(f"stage-{lead.pk}-count").inner_text() == "2 deals"
    assert page.get_by_label("Tag", exact=True).input_value() == ""
