"""The dashboard as a person in a browser: its numbers are the database's, a bar opens the list of
exactly its records, the table view, the dark theme, a 375 px phone, axe-core on each."""

from __future__ import annotations

import datetime
import decimal
import json
from collections import defaultdict
from typing import Any

import pytest

from stratus.accounts.models import Role, User
from stratus.crm.models import Deal, Stage, StageKind, TimelineEntry
from stratus.reports.tests.dataset import DataSet, build_dataset
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"


def _sign_in(visitor: Visitor, user: User, path: str) -> None:
    visitor.goto(f"/login?next={path}")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_selector("canvas[data-bars]")


def _reached(ds: DataSet) -> dict[str, set[str]]:
    """From the rows themselves: each Sales stage (not lost), the deals that were in it or in a later
    one, by their current stage and their ``moved`` timeline entries."""
    stages = list(Stage.objects.filter(pipeline=ds.sales).order_by("position"))
    position = {s.pk: s.position for s in stages if s.kind != StageKind.LOST}
    seen: dict[int, set[int]] = defaultdict(set)
    deals = {d.pk: d for d in Deal.objects.filter(organization=ds.org, pipeline=ds.sales)}
    for deal in deals.values():
        seen[deal.pk].add(deal.stage_id)
    for entry in TimelineEntry.objects.filter(organization=ds.org, target_type="deal", action="moved"):
        change = (entry.changes or {}).get("stage") or {}
        if entry.target_id in deals:
            seen[entry.target_id].update(v for v in (change.get("old"), change.get("new")) if v)
    reached: dict[str, set[str]] = {}
    for stage in stages:
        if stage.kind == StageKind.LOST:
            continue
        reached[stage.name] = {
            deals[pk].title
            for pk, ids in seen.items()
            if any(position.get(i, -1) >= stage.position for i in ids)
        }
    return reached


def _won_by_month(ds: DataSet, currency: str) -> dict[str, decimal.Decimal]:
    totals: dict[str, decimal.Decimal] = defaultdict(decimal.Decimal)
    for deal in Deal.objects.filter(organization=ds.org, currency=currency, stage__kind=StageKind.WON):
        assert deal.closed_at is not None
        totals[deal.closed_at.astimezone(datetime.UTC).strftime("%Y-%m")] += deal.value
    return dict(totals)


def _table(visitor: Visitor, chart: str) -> dict[str, list[str]]:
    rows = visitor.page.locator(f"[data-testid=table-{chart}] tbody tr")
    found = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        found[row.locator("th").inner_text()] = [c.strip() for c in row.locator("td").all_inner_texts()]
    return found


def _bars(visitor: Visitor, chart: str) -> list[dict[str, Any]]:
    bars: list[dict[str, Any]] = json.loads(
        visitor.page.get_attribute(f"[data-testid=canvas-{chart}]", "data-bars") or "[]"
    )
    return bars


def test_the_numbers_are_the_databases_and_a_bar_opens_exactly_its_deals(visitor: Visitor) -> None:
    ds = build_dataset()
    admin = make_member_who_signs_in(ds.org, Role.ADMIN, PASSWORD)
    page = visitor.page
    _sign_in(visitor, admin, f"/?pipeline={ds.sales.pk}")
    assert page.title() == "Dashboard · Stratus"

    funnel = f"funnel-{ds.sales.pk}"
    reached = _reached(ds)
    table = _table(visitor, funnel)
    assert {stage: int(cells[0]) for stage, cells in table.items()} == {s: len(d) for s, d in reached.items()}
    won = _table(visitor, "won-EUR")
    assert {m: decimal.Decimal(cells[1]) for m, cells in won.items()} == _won_by_month(ds, "EUR")

    # The table view: hidden on screen until asked for, then shown; the canvas is an image with a name.
    toggle = page.get_by_test_id(f"toggle-{funnel}")
    assert page.get_attribute(f"[data-testid=canvas-{funnel}]", "role") == "img"
    assert "visually-hidden" in (page.get_attribute(f"[data-testid=table-{funnel}]", "class") or "")
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.get_by_test_id(f"table-{funnel}").locator("table").is_visible()
    visitor.check_accessibility()

    # A click on the "Qualified" bar opens the deals that reached it, and only them.
    labels = list(table)
    bar = _bars(visitor, funnel)[labels.index("Qualified")]
    assert bar["value"] == len(reached["Qualified"])
    page.mouse.click(bar["x"], bar["y"])
    page.wait_for_url("**/deals?**")
    page.wait_for_selector("[data-testid=list-results]")
    titles = set(page.locator("tr[data-row] a[data-row-link]").all_inner_texts())
    assert titles == reached["Qualified"]
    assert page.get_by_test_id("list-count").inner_text() == f"{len(reached['Qualified'])} deals"
    visitor.check_accessibility()


def test_the_pickers_keep_their_state_in_the_url_and_the_dark_theme_redraws(visitor: Visitor) -> None:
    ds = build_dataset()
    member = make_member_who_signs_in(ds.org, Role.MEMBER, PASSWORD)
    page = visitor.page
    _sign_in(visitor, member, "/")
    page.get_by_test_id("picker-currency").select_option("EUR")
    page.wait_for_url("**/?**currency=EUR**")
    page.wait_for_selector("[data-testid=canvas-forecast-EUR][data-bars]")
    assert page.locator("[data-testid^=canvas-forecast-]").count() == 1
    page.reload()
    assert page.get_by_test_id("picker-currency").input_value() == "EUR"
    page.wait_for_selector("[data-testid=canvas-won-EUR][data-bars]")

    light = page.get_attribute("[data-testid=canvas-won-EUR]", "data-colour")
    page.get_by_test_id("user-menu").locator("summary").click()
    page.get_by_role("button", name="Dark theme").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.wait_for_function(
        "(before) => document.querySelector('[data-testid=canvas-won-EUR]').dataset.colour !== before",
        arg=light,
    )
    visitor.check_accessibility()


def test_a_phone_shows_the_charts_without_sideways_scrolling(phone: Visitor) -> None:
    ds = build_dataset()
    member = make_member_who_signs_in(ds.org, Role.MEMBER, PASSWORD)
    _sign_in(phone, member, "/")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen"
    canvas = phone.page.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('canvas'))"
        ".map(c => c.getBoundingClientRect().right))"
    )
    assert canvas <= 375
    phone.check_accessibility()


def test_an_admin_makes_a_shared_dashboard_that_a_member_picks(visitor: Visitor, browser: Any) -> None:
    ds = build_dataset()
    admin = make_member_who_signs_in(ds.org, Role.ADMIN, PASSWORD)
    page = visitor.page
    _sign_in(visitor, admin, "/")
    page.get_by_test_id("dashboard-new").click()
    page.wait_for_url("**/dashboards/new")
    page.get_by_label("Name").fill("")
    for label in ("Pipeline funnel", "Won value by month", "Forecast", "Activity", "My open tasks"):
        page.get_by_label(label).uncheck()
    page.get_by_test_id("dashboard-save").click()
    page.wait_for_selector("[data-testid=field-error]")
    errors = page.get_by_test_id("field-error")
    assert errors.all_inner_texts() == ["Give the dashboard a name.", "Pick at least one chart."]
    assert page.get_by_label("Name").get_attribute("aria-invalid") == "true"
    visitor.check_accessibility()

    page.get_by_label("Name").fill("Sales floor")
    page.get_by_label("Forecast").check()
    page.get_by_label("Share with the organization").check()
    page.get_by_test_id("dashboard-save").click()
    page.wait_for_selector("canvas[data-bars]")
    assert page.locator("h1").inner_text() == "Sales floor"
    assert page.get_by_test_id("panel-forecast").count() == 1
    assert page.get_by_test_id("panel-funnel").count() == 0

    member = make_member_who_signs_in(ds.org, Role.MEMBER, PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    other = Visitor(context.new_page(), visitor.base_url)
    try:
        _sign_in(other, member, "/")
        assert other.page.get_by_test_id("dashboard-new").count() == 0
        other.page.get_by_test_id("picker-dashboard").select_option(label="Sales floor")
        other.page.wait_for_url("**dashboard=**")
        other.page.wait_for_selector("[data-testid=panel-forecast] canvas[data-bars]")
        assert other.page.get_by_test_id("panel-funnel").count() == 0
        assert other.page.locator("h1").inner_text() == "Sales floor"
        other.check_accessibility()
    finally:
        context.close()
