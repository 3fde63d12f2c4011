"""Settings in a browser: an owner reorders stages by dragging, is refused beside the field,
creates an API token whose secret shows once; a viewer on a phone sees no edit controls."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from stratus.accounts.models import ApiToken, Organization, Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import Pipeline, Stage, StageKind
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"


def _user(org: Organization, role: str) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _sign_in(visitor: Visitor, user: User) -> None:
    visitor.goto("/")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + "/")


def _order(pipeline: Pipeline) -> list[int]:
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("pk", flat=True))


def test_an_owner_reorders_stages_by_dragging_is_refused_beside_the_field_and_makes_a_token(
    visitor: Visitor,
) -> None:
    org = make_organization("Acme")
    owner = _user(org, Role.OWNER)
    pipeline = crm_services.pipeline_create(org=org, actor=None, name="Sales")
    before = _order(pipeline)
    page = visitor.page
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(visitor, owner)

    page.get_by_role("link", name="Settings").click()
    page.wait_for_url(visitor.base_url + "/settings/members")
    assert page.title() == "Members · Settings · Stratus"
    visitor.check_accessibility()

    page.get_by_role("link", name="Pipelines").click()
    page.wait_for_url(visitor.base_url + "/settings/pipelines")
    visitor.check_accessibility()

    # Drag the second stage above the first: the server keeps the new order.
    first, second = before[0], before[1]
    page.get_by_test_id(f"stage-{second}").locator(".drag-handle").drag_to(
        page.get_by_test_id(f"stage-{first}").locator(".drag-handle"), target_position={"x": 2, "y": 1}
    )
    expect(page.get_by_test_id(f"stages-{pipeline.pk}").locator("[data-stage-id]").first).to_have_attribute(
        "data-stage-id", str(second)
    )
    page.wait_for_function(
        "([list, id]) => document.querySelector(`[data-testid=stages-${list}] [data-stage-id]`)"
        ".dataset.stageId === String(id)",
        arg=[pipeline.pk, second],
    )
    for _ in range(50):
        if _order(pipeline)[:2] == [second, first]:
            break
        page.wait_for_timeout(100)
    assert _order(pipeline) == [second, first, *before[2:]]
    # The reorder refreshes the stage list in place: let it land before editing a row.
    page.wait_for_load_state("networkidle")

    # A won stage must be 100%: the message shows beside the field and nothing is saved.
    won = Stage.objects.get(pipeline=pipeline, kind=StageKind.WON)
    row = page.get_by_test_id(f"stage-{won.pk}")
    row.get_by_label("Name").fill("Signed")
    row.get_by_label("Win probability (%)").fill("40")
    row.get_by_role("button", name="Save").click()
    error = page.get_by_test_id(f"stage-{won.pk}").get_by_test_id("field-error")
    expect(error).to_have_text("A won stage has a probability of 100.")
    assert page.get_by_test_id(f"stage-{won.pk}").get_by_label("Name").input_value() == "Signed"
    won.refresh_from_db()
    assert (won.name, won.probability) == ("Won", 100)
    visitor.check_accessibility()

    # An API token: the secret is shown once, then never again.
    page.get_by_role("link", name="API tokens").click()
    # The link swaps the page in place (boosted): wait for the tokens page before filling it.
    page.get_by_role("heading", name="New token").wait_for()
    page.get_by_label("Name").fill("Nightly export")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("token-secret").locator("input").input_value()
    assert len(secret) > 20
    visitor.check_accessibility()
    token = ApiToken.objects.get(organization=org, name="Nightly export")
    assert token.role == Role.VIEWER
    visitor.goto("/settings/tokens")
    assert page.get_by_test_id("token-secret").count() == 0
    assert secret not in page.content()
    page.get_by_test_id(f"token-{token.pk}").get_by_role("button", name="Revoke").click()
    # The page is swapped in place (boosted): the revoked token leaves the list.
    expect(page.get_by_test_id(f"token-{token.pk}")).to_have_count(0)
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_a_viewer_on_a_phone_reads_settings_without_edit_controls(phone: Visitor) -> None:
    org = make_organization("Acme")
    viewer = _user(org, Role.VIEWER)
    crm_services.pipeline_create(org=org, actor=None, name="Sales")
    _sign_in(phone, viewer)
    for path in (
        "/settings/members",
        "/settings/pipelines",
        "/settings/tokens",
        "/settings/fields",
        "/settings/tags",
    ):
        phone.goto(path)
        assert phone.page.get_by_test_id("read-only").is_visible()
        assert phone.page.locator("main form").count() == 0
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= 375
        phone.check_accessibility()
    # A write sent anyway is refused by the server.
    response = phone.page.request.post(
        phone.base_url + "/settings/pipelines/new",
        form={"pipeline-name": "Sneaky"},
        headers={"X-CSRFToken": phone.page.locator('meta[name="csrf-token"]').get_attribute("content") or ""},
    )
    assert response.status == 403
    assert not Pipeline.objects.filter(name="Sneaky").exists()
