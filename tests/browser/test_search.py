"""Search in a browser: the palette's by-meaning mode, the search page (filters kept in the URL,
a refused search beside its field, a phone's width) and a record page's related passages; axe on
each state. The live server runs in this process, on Qdrant Edge in a temporary directory."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from stratus.accounts.models import Organization, Role, User
from stratus.crm.models import Activity, Company
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization
from testsupport.search import index_pending

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.usefixtures("qdrant_in_tmp"),
]

PASSWORD = "correct horse battery staple"
QUESTION = "who complained about slow onboarding?"
# A search by meaning embeds the question and queries the store in this process, beside the
# browser: on a loaded machine its answer can take longer than expect()'s default 5 s.
ANSWER_MS = 20_000


def _knowledge(org: Organization) -> tuple[Company, Activity, Company]:
    acme = Company.objects.create(organization=org, name="Acme Freight")
    note = Activity.objects.create(
        organization=org,
        company=acme,
        kind="note",
        subject="Call with Dana",
        body="Dana was unhappy: getting set up with our product took them almost two months. "
        "Onboarding has to be faster.",
    )
    globex = Company.objects.create(
        organization=org, name="Globex", description="Their team found getting started with us far too slow."
    )
    index_pending()
    return acme, note, globex


def _sign_in(visitor: Visitor, user: User, path: str = "/") -> None:
    visitor.goto(f"/login?next={path}")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(re.compile(re.escape(visitor.base_url + path.split("?")[0])))


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_the_palette_searches_by_meaning_with_alt_m_and_keeps_the_mode(visitor: Visitor) -> None:
    org = make_organization("Acme")
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    acme, _note, _globex = _knowledge(org)
    _sign_in(visitor, user)
    page = visitor.page

    page.keyboard.press("Control+k")
    palette = page.get_by_test_id("palette")
    box = palette.get_by_role("combobox")
    expect(box).to_be_focused()
    toggle = page.get_by_test_id("palette-mode")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    box.press("Alt+m")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(box).to_be_focused()
    box.fill(QUESTION)
    passage = page.get_by_test_id("palette-passage").first
    expect(passage).to_have_attribute("href", f"/companies/{acme.pk}", timeout=ANSWER_MS)
    expect(passage).to_contain_text("Call with Dana")
    expect(passage.locator("mark").first).to_have_text(re.compile("onboarding", re.I))
    expect(passage).to_have_attribute("aria-selected", "true")
    visitor.check_accessibility()

    box.press("Enter")
    page.wait_for_url(visitor.base_url + f"/companies/{acme.pk}")
    expect(palette).to_be_hidden()

    # The mode is kept: the next opening (and after a reload) searches by meaning again.
    page.reload()
    page.keyboard.press("Control+k")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    box.fill("slow setup")
    all_results = page.get_by_test_id("palette-all")
    expect(all_results).to_be_visible(timeout=ANSWER_MS)
    # The toggle is reachable with Tab and switches back to records by name.
    box.press("Tab")
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    box.fill("acme freight")
    expect(page.get_by_role("option", name=re.compile("Acme Freight"))).to_have_attribute(
        "href", f"/companies/{acme.pk}", timeout=ANSWER_MS
    )
    box.press("Alt+m")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    box.fill(QUESTION)
    expect(page.get_by_test_id("palette-passage").first).to_contain_text("Call with Dana", timeout=ANSWER_MS)
    all_results = page.get_by_test_id("palette-all")
    # The results of the question, not those of the name searched by meaning when Alt+M was
    # pressed (that answer may arrive first: it names Dana's call too).
    expect(all_results).to_have_attribute(
        "href", re.compile(r"q=who\+complained.*mode=meaning"), timeout=ANSWER_MS
    )
    all_results.click()
    page.wait_for_url(re.compile(r"/search\?"))
    assert _query(page.url) == {"q": [QUESTION], "mode": ["meaning"]}
    expect(page.get_by_test_id("search-result").first).to_be_visible(timeout=ANSWER_MS)


def test_the_search_page_filters_in_the_url_refuses_beside_the_field_and_works_on_a_phone(
    visitor: Visitor, phone: Visitor
) -> None:
    org = make_organization("Acme")
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    acme, note, globex = _knowledge(org)
    _sign_in(visitor, user, "/search")
    page = visitor.page
    expect(page.get_by_test_id("search-start")).to_be_visible()
    visitor.check_accessibility()

    page.get_by_label("Search for").fill(QUESTION)
    page.get_by_label("By meaning").check()
    page.get_by_role("button", name="Search", exact=True).last.click()
    page.wait_for_url(re.compile(r"mode=meaning"))
    first = page.get_by_test_id("search-result").first
    expect(first).to_be_visible()
    expect(first.locator("mark").first).to_be_visible()
    assert _query(page.url)["q"] == [QUESTION]
    expect(page).to_have_title(f"Search: {QUESTION} · Stratus")
    visitor.check_accessibility()

    # A record-type filter narrows the results and lands in the URL (htmx, no reload).
    page.evaluate("window.__marker = 'same page'")
    page.get_by_label("Activities and notes").check()
    page.wait_for_url(re.compile(r"type=activity"))
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(1)
    expect(results.first).to_have_attribute("data-record", f"activity-{note.pk}")
    assert page.evaluate("window.__marker") == "same page"

    # Back restores the previous state from the URL.
    page.go_back()
    page.wait_for_url(lambda url: "type=activity" not in url)
    expect(page.locator(f'[data-record="company-{globex.pk}"]')).to_be_visible()

    # A refused search: the message beside the field, no error toast.
    page.get_by_label("Created from").fill("2026-03-01")
    page.get_by_label("Created to").fill("2026-01-01")
    page.get_by_role("button", name="Search", exact=True).last.click()
    error = page.get_by_test_id("error-date_to")
    expect(error).to_have_text("Must not be before the “from” date.")
    expect(page.get_by_label("Created to")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("request-error")).to_have_count(0)
    visitor.check_accessibility()

    # An empty result says so.
    page.get_by_label("Created from").fill("")
    page.get_by_label("Created to").fill("2000-01-01")
    page.get_by_role("button", name="Search", exact=True).last.click()
    expect(page.get_by_test_id("search-empty")).to_be_visible()

    # 375 px wide: nothing wider than the screen, still accessible.
    _sign_in(phone, user, f"/search?q={QUESTION}&mode=meaning")
    expect(phone.page.get_by_test_id("search-result").first).to_be_visible()
    overflow = phone.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    phone.check_accessibility()

    # A record page loads its related passages once the panel is shown.
    page.goto(visitor.base_url + f"/companies/{globex.pk}")
    panel = page.get_by_test_id("related-passages")
    panel.scroll_into_view_if_needed()
    related = panel.get_by_test_id("related-passage").first
    expect(related).to_be_visible()
    expect(related.get_by_role("link", name="Call with Dana")).to_have_attribute(
        "href", f"/companies/{acme.pk}"
    )
    visitor.check_accessibility()
