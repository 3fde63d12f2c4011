"""Two people edit the same field at once, each in a browser context of their own: the first save
wins, the second is refused by the crm service (the version it was opened on is stale), says so and
keeps what its author typed; nothing is overwritten until they save again knowingly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import Contact
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def colleague(browser: Browser, live_server: Any) -> Iterator[Visitor]:
    """A second person's browser (a context of its own: its own cookies and session)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield Visitor(context.new_page(), live_server.url)
    context.close()


def _user(org: Organization, name: str) -> User:
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    user.full_name = name
    user.save(update_fields=["full_name"])
    return user


def _open(visitor: Visitor, user: User, path: str) -> None:
    visitor.goto(f"/login?next={path}")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + path)


def _two_people(visitor: Visitor, colleague: Visitor, path: str) -> tuple[Organization, Contact]:
    org = make_organization("Acme")
    ada, grace = _user(org, "Ada Lovelace"), _user(org, "Grace Hopper")
    contact = crm_services.contact_create(
        org=org, actor=None, first_name="Linus", email="linus@example.com", job_title="Analyst"
    )
    _open(visitor, ada, path.format(pk=contact.pk))
    _open(colleague, grace, path.format(pk=contact.pk))
    return org, contact


def test_the_second_of_two_cell_saves_says_so_and_keeps_what_was_typed(
    visitor: Visitor, colleague: Visitor
) -> None:
    _org, contact = _two_people(visitor, colleague, "/contacts")
    rows = [v.page.get_by_test_id(f"row-{contact.pk}") for v in (visitor, colleague)]
    for row, typed in zip(rows, ("ada@example.com", "grace@example.com"), strict=True):
        row.get_by_role("button", name="Edit E-mail of Linus").click()
        row.get_by_label("E-mail of Linus").fill(typed)
    first, second = rows

    first.get_by_label("E-mail of Linus").press("Enter")
    expect(first.get_by_test_id("cell-form")).to_have_count(0)
    expect(first).to_contain_text("ada@example.com")
    assert Contact.objects.get(pk=contact.pk).email == "ada@example.com"

    second.get_by_label("E-mail of Linus").press("Enter")
    error = second.get_by_test_id("cell-error")
    expect(error).to_have_text(
        "Someone else changed this since you opened it; it is now “ada@example.com”. "
        "Save again to replace it with yours."
    )
    expect(second.get_by_label("E-mail of Linus")).to_have_value("grace@example.com")
    assert Contact.objects.get(pk=contact.pk).email == "ada@example.com"
    colleague.check_accessibility()

    # Saving again, knowing the colleague's value, replaces it.
    second.get_by_label("E-mail of Linus").press("Enter")
    expect(second.get_by_test_id("cell-form")).to_have_count(0)
    expect(second).to_contain_text("grace@example.com")
    assert Contact.objects.get(pk=contact.pk).email == "grace@example.com"


def test_the_second_of_two_record_page_saves_says_so_and_keeps_what_was_typed(
    visitor: Visitor, colleague: Visitor
) -> None:
    _org, contact = _two_people(visitor, colleague, "/contacts/{pk}")
    for person, typed in ((visitor, "Commodore"), (colleague, "Rear admiral")):
        person.page.get_by_test_id("field-job-title-edit").click()
        person.page.get_by_label("Job title", exact=True).fill(typed)

    visitor.page.get_by_role("button", name="Save Job title").click()
    expect(visitor.page.get_by_test_id("field-job-title")).to_contain_text("Commodore")
    assert Contact.objects.get(pk=contact.pk).job_title == "Commodore"

    page = colleague.page
    page.get_by_role("button", name="Save Job title").click()
    expect(page.get_by_test_id("field-conflict")).to_contain_text("Someone else changed this record")
    expect(page.get_by_test_id("field-job-title")).to_contain_text("Commodore")  # the value now
    expect(page.get_by_label("Job title", exact=True)).to_have_value("Rear admiral")
    assert Contact.objects.get(pk=contact.pk).job_title == "Commodore"
    colleague.check_accessibility()

    page.get_by_role("button", name="Save Job title").click()
    expect(page.get_by_test_id("field-conflict")).to_have_count(0)
    expect(page.get_by_test_id("field-job-title")).to_contain_text("Rear admiral")
    assert Contact.objects.get(pk=contact.pk).job_title == "Rear admiral"
