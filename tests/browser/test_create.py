"""Creating a record as a person in a browser: `n` on a list opens the creation page."""

from __future__ import annotations

import re

import pytest

from stratus.accounts.models import Role
from stratus.crm.models import Contact, TimelineEntry
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"


def test_n_on_the_contacts_list_opens_the_form_and_saving_lands_on_the_new_record(visitor: Visitor) -> None:
    org = make_organization()
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    visitor.goto("/contacts")
    page = visitor.page
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(visitor.base_url + "/contacts")
    page.get_by_test_id("new-record").wait_for()

    page.locator("body").focus()
    page.keyboard.press("n")
    page.wait_for_url(visitor.base_url + "/contacts/new")
    page.get_by_role("heading", name="New contact").wait_for()
    visitor.check_accessibility()

    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("E-mail", exact=True).fill("grace@example.com")
    page.get_by_test_id("record-new-save").click()

    page.wait_for_url(re.compile(r".*/contacts/\d+$"))
    contact = Contact.objects.get(organization=org)
    assert page.url == f"{visitor.base_url}/contacts/{contact.pk}"
    assert (contact.first_name, contact.last_name, contact.email) == ("Grace", "Hopper", "grace@example.com")
    assert TimelineEntry.objects.filter(
        target_type="contact", target_id=contact.pk, action="created"
    ).exists()
    page.get_by_test_id("record").wait_for()
    visitor.check_accessibility()
