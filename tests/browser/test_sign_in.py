"""Getting in and working through the first page, as a person in a browser."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.crm.models import Activity, ActivityKind, Contact
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"


def _user(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _task(org: Organization, user: User, subject: str, hours: int) -> Activity:
    contact = Contact.objects.create(organization=org, first_name="Grace", last_name="Hopper")
    return Activity.objects.create(
        organization=org,
        kind=ActivityKind.TASK,
        subject=subject,
        assignee=user,
        contact=contact,
        due_at=timezone.now() + datetime.timedelta(hours=hours),
    )


def _sign_in(visitor: Visitor, email: str, password: str) -> None:
    visitor.page.get_by_label("E-mail").fill(email)
    visitor.page.get_by_label("Password").fill(password)
    visitor.page.get_by_role("button", name="Sign in").click()


def test_sign_in_see_my_tasks_and_mark_one_done(visitor: Visitor) -> None:
    org = make_organization("Acme")
    user = _user(org)
    overdue = _task(org, user, "Send the Acme proposal", -3)
    _task(org, user, "Plan the renewal call", 30)

    visitor.goto("/")
    assert visitor.page.title() == "Sign in · Stratus"
    visitor.check_accessibility()

    _sign_in(visitor, user.email, "not the password")
    error = visitor.page.get_by_test_id("login-error")
    assert error.inner_text() == "Wrong e-mail or password."
    assert visitor.page.get_by_label("E-mail").input_value() == user.email
    visitor.check_accessibility()

    _sign_in(visitor, user.email, PASSWORD)
    visitor.page.wait_for_url(visitor.base_url + "/")
    assert visitor.page.title() == "Dashboard · Stratus"
    tasks = visitor.page.get_by_test_id("tasks")
    assert "Send the Acme proposal" in tasks.inner_text()
    visitor.check_accessibility()

    # htmx swaps the list in place: no full reload, and the task is done in the database.
    visitor.page.evaluate("window.__marker = 'same page'")
    visitor.page.get_by_test_id(f"task-{overdue.pk}").get_by_role("button", name="Mark done").click()
    visitor.page.get_by_test_id(f"task-{overdue.pk}").wait_for(state="detached")
    assert visitor.page.evaluate("window.__marker") == "same page"
    overdue.refresh_from_db()
    assert overdue.done
    assert "Plan the renewal call" in visitor.page.get_by_test_id("tasks").inner_text()
    visitor.check_accessibility()

    visitor.page.get_by_test_id("user-menu").locator("summary").click()
    visitor.page.get_by_test_id("logout").click()
    visitor.page.wait_for_url(visitor.base_url + "/login")
    visitor.goto("/")
    assert visitor.page.title() == "Sign in · Stratus"


def test_a_phone_gets_the_page_without_sideways_scrolling(phone: Visitor) -> None:
    org = make_organization("A company with a rather long name")
    user = _user(org)
    _task(org, user, "Call the procurement office about the framework agreement", 2)
    phone.goto("/")
    phone.check_accessibility()
    _sign_in(phone, user.email, PASSWORD)
    phone.page.wait_for_url(phone.base_url + "/")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen"
    phone.check_accessibility()


def test_the_theme_toggle_switches_and_remembers_dark_mode(visitor: Visitor) -> None:
    user = _user(make_organization())
    visitor.goto("/")
    _sign_in(visitor, user.email, PASSWORD)
    visitor.page.wait_for_url(visitor.base_url + "/")
    background = "getComputedStyle(document.body).backgroundColor"
    light = visitor.page.evaluate(background)
    visitor.page.get_by_test_id("user-menu").locator("summary").click()
    visitor.page.get_by_role("button", name="Dark theme").click()
    dark = visitor.page.evaluate(background)
    assert dark != light
    visitor.page.reload()
    assert visitor.page.evaluate(background) == dark
    visitor.check_accessibility()
