"""The list pages as a person uses them: scrolling, inline edit, saved views, bulk edit, a phone."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import Contact
from stratus.web.models import SavedView
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"
MAX_ROWS_IN_DOM = 200  # lists.ts MAX_PAGES x 50 rows


def _sign_in(visitor: Visitor, user: User, path: str) -> None:
    visitor.goto(f"/login?next={path}")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_selector("[data-testid=list-results]")


def _many_contacts(org: Organization, count: int) -> None:
    now = timezone.now()
    Contact.objects.bulk_create(
        Contact(organization=org, first_name=f"Person{i:04d}", last_name="Doe", created_at=now)
        for i in range(count)
    )


def _named(visitor: Visitor, name: str) -> int:
    return int(visitor.page.locator("a[data-row-link]", has_text=name).count())


def _rows(visitor: Visitor) -> int:
    return int(visitor.page.locator("tr[data-row]").count())


def test_infinite_scroll_loads_more_rows_and_keeps_the_dom_bounded(visitor: Visitor) -> None:
    org = make_organization()
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    _many_contacts(org, 420)

    _sign_in(visitor, user, "/contacts?ordering=name")
    page = visitor.page
    assert page.get_by_test_id("list-count").inner_text() == "420 contacts"
    assert _rows(visitor) == 50
    visitor.check_accessibility()

    first = page.locator("tr[data-row]").first.inner_text()
    most = 0
    for _ in range(40):
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(150)
        most = max(most, _rows(visitor))
        if _named(visitor, "Person0419"):
            break
    assert _named(visitor, "Person0419") == 1, "the last rows were loaded while scrolling"
    assert most <= MAX_ROWS_IN_DOM
    assert _rows(visitor) <= MAX_ROWS_IN_DOM
    assert _named(visitor, "Person0000") == 0, "rows far above were dropped"

    # Scrolling back up fetches the dropped rows again.
    for _ in range(60):
        page.mouse.wheel(0, -4000)
        page.wait_for_timeout(150)
        if _named(visitor, "Person0000"):
            break
    assert page.locator("tr[data-row]").first.inner_text() == first
    assert _rows(visitor) <= MAX_ROWS_IN_DOM
    visitor.check_accessibility()


def test_inline_edit_saves_and_a_refused_value_shows_the_message(visitor: Visitor) -> None:
    org = make_organization()
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    crm_services.contact_create(org=org, actor=None, first_name="Taken", email="taken@example.com")
    ada = crm_services.contact_create(org=org, actor=None, first_name="Ada", email="ada@example.com")

    _sign_in(visitor, user, "/contacts")
    page = visitor.page
    row = page.get_by_test_id(f"row-{ada.pk}")
    row.get_by_role("button", name="Edit E-mail of Ada").click()
    editor = row.get_by_label("E-mail of Ada", exact=True)
    # Typing starts once the editor has the caret: htmx has then taken over its form (Enter
    # before that would be the browser's own submit of the bare form).
    expect(editor).to_be_focused()
    editor.fill("ada@lovelace.example")
    editor.press("Enter")
    row.get_by_text("ada@lovelace.example").wait_for()
    ada.refresh_from_db()
    assert ada.email == "ada@lovelace.example"
    visitor.check_accessibility()

    # A value the service refuses: its message in place, and nothing saved.
    row.get_by_role("button", name="Edit E-mail of Ada").click()
    expect(editor).to_be_focused()
    editor.fill("TAKEN@example.com")
    editor.press("Enter")
    error = row.get_by_test_id("cell-error")
    error.wait_for()
    assert error.inner_text() == "A contact with this email already exists."
    ada.refresh_from_db()
    assert ada.email == "ada@lovelace.example"
    visitor.check_accessibility()

    # Escape gives up the edit and shows the saved value again.
    row.get_by_label("E-mail of Ada").press("Escape")
    row.get_by_test_id("cell-form").wait_for(state="detached")
    assert "ada@lovelace.example" in row.inner_text()
    # The focus goes back to the cell's edit button, for the keyboard.
    expect(row.locator("td[data-column=email] [data-cell-edit]")).to_be_focused()

    # The keyboard: j focuses the first row, e edits its first editable cell.
    page.locator("h1").click()
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("e")
    expect(page.get_by_test_id("cell-form").locator("[name=value]")).to_be_focused()
    page.keyboard.press("Escape")
    page.get_by_test_id("cell-form").wait_for(state="detached")


def test_a_saved_view_keeps_filters_and_columns(visitor: Visitor) -> None:
    org = make_organization()
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    vip = crm_services.contact_create(org=org, actor=None, first_name="Vera", tags=["vip"], job_title="CEO")
    crm_services.contact_create(org=org, actor=None, first_name="Paul")

    _sign_in(visitor, user, "/contacts")
    page = visitor.page
    page.get_by_label("Has all tags").fill("vip")
    page.get_by_test_id("list-filters").get_by_role("button", name="Apply").click()
    page.wait_for_url("**/contacts?*tag=vip*")
    page.get_by_test_id(f"row-{vip.pk}").wait_for()
    assert page.locator("tr[data-row]").count() == 1

    page.get_by_text("Columns", exact=True).click()
    page.get_by_label("Job title").check()
    page.get_by_role("button", name="Show columns").click()
    page.wait_for_url("**columns=*job_title*")
    assert "CEO" in page.get_by_test_id(f"row-{vip.pk}").inner_text()

    page.get_by_text("Save as a view").click()
    page.get_by_label("View name").fill("VIPs")
    page.get_by_label("Open this list with it").check()
    page.get_by_role("button", name="Save view").click()
    page.wait_for_url("**view=*")
    view = SavedView.objects.get(owner=user)
    assert view.filters == {"tag": "vip"}
    assert "job_title" in view.columns
    visitor.check_accessibility()

    # Another list, then back: the list opens with the default view, filtered, with its columns.
    visitor.goto("/companies")
    visitor.goto("/contacts")
    page.wait_for_url(f"**view={view.pk}*")
    assert page.title() == "VIPs · Contacts · Stratus"
    assert page.locator("tr[data-row]").count() == 1
    assert "CEO" in page.get_by_test_id(f"row-{vip.pk}").inner_text()
    visitor.check_accessibility()

    # j focuses the first row, Enter opens its record page.
    page.locator("h1").click()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/contacts/{vip.pk}")


def test_bulk_edit_with_a_shift_click_range_changes_the_database(visitor: Visitor) -> None:
    org = make_organization()
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    owner = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    owner.full_name = "Olivia Owner"
    owner.save(update_fields=["full_name"])
    contacts = [crm_services.contact_create(org=org, actor=None, first_name=f"P{i}") for i in range(5)]

    _sign_in(visitor, user, "/contacts?ordering=name")
    page = visitor.page
    page.get_by_label("Select P1").click()
    page.get_by_label("Select P3").click(modifiers=["Shift"])
    assert page.get_by_text("3 rows selected.").count() == 1
    page.get_by_test_id("bulk-form").get_by_label("Action").select_option("owner")
    page.get_by_label("New owner").select_option(label="Olivia Owner")
    page.get_by_test_id("bulk-apply").click()
    page.get_by_test_id("bulk-progress").wait_for()
    expect(page.get_by_test_id("bulk-progress")).to_have_attribute("data-state", "done")
    changed = set(Contact.objects.filter(owner=owner).values_list("first_name", flat=True))
    assert changed == {"P1", "P2", "P3"}
    # The list refreshed in place and shows the new owner.
    page.get_by_test_id(f"row-{contacts[2].pk}").get_by_text("Olivia Owner").wait_for()
    visitor.check_accessibility()

    # Bulk delete asks first.
    page.get_by_label("Select P0").click()
    page.get_by_test_id("bulk-form").get_by_label("Action").select_option("delete")
    page.get_by_test_id("bulk-apply").click()
    page.get_by_test_id("bulk-confirm").wait_for()
    visitor.check_accessibility()
    page.get_by_test_id("bulk-confirm").get_by_role("button", name="Delete").click()
    page.get_by_test_id(f"row-{contacts[0].pk}").wait_for(state="detached")
    assert not Contact.objects.filter(pk=contacts[0].pk).exists()
    assert Contact.objects.filter(organization=org).count() == 4


def test_a_phone_shows_rows_as_cards_without_sideways_scrolling(phone: Visitor) -> None:
    org = make_organization("A company with a rather long name")
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    crm_services.contact_create(
        org=org, actor=None, first_name="Maximilian", last_name="Longname-Smith", email="max@example.com"
    )
    _sign_in(phone, user, "/contacts")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    wide = phone.page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 376)"
        ".slice(0, 8).map(e => `${e.tagName}.${e.className}#${e.id}`)"
    )
    assert width <= 375, f"the page is {width} px wide on a 375 px screen: {wide}"
    display = phone.page.evaluate("getComputedStyle(document.querySelector('tr[data-row]')).display")
    assert display == "block"
    phone.check_accessibility()
