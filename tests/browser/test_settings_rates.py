"""Exchange rates in a browser: an admin adds a rate, is refused beside the field, and the page
passes axe-core on a desktop and on a phone in dark mode."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from stratus.accounts.models import Role
from stratus.reports.models import ExchangeRate
from stratus.reports.services import exchange_rate_create
from tests.browser.conftest import Visitor
from tests.browser.test_settings import _sign_in, _user
from testsupport.factories import make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_an_admin_adds_a_rate_and_is_refused_beside_the_field(visitor: Visitor) -> None:
    org = make_organization("Acme")
    admin = _user(org, Role.ADMIN)
    page = visitor.page
    _sign_in(visitor, admin)
    visitor.goto("/settings/members")
    page.get_by_role("link", name="Exchange rates").click()
    page.get_by_role("heading", name="New exchange rate").wait_for()
    assert page.title() == "Exchange rates · Settings · Stratus"
    visitor.check_accessibility()

    form = page.get_by_test_id("rate-form")
    form.get_by_label("From currency").fill("USD")
    form.get_by_label("To reporting currency").fill("EUR")
    form.get_by_label("Rate").fill("0")
    form.get_by_label("Valid from").fill("2026-01-01")
    form.get_by_role("button", name="Add rate").click()
    error = page.get_by_test_id("rate-form").get_by_test_id("field-error")
    expect(error).to_have_text("Must be greater than 0.")
    expect(page.get_by_test_id("rate-form").get_by_label("Rate")).to_have_attribute("aria-invalid", "true")
    assert page.get_by_test_id("rate-form").get_by_label("From currency").input_value() == "USD"
    assert not ExchangeRate.objects.exists()
    visitor.check_accessibility()

    page.get_by_test_id("rate-form").get_by_label("Rate").fill("0.9234")
    page.get_by_test_id("rate-form").get_by_role("button", name="Add rate").click()
    rate = None
    for _ in range(50):
        rate = ExchangeRate.objects.filter(organization=org).first()
        if rate is not None:
            break
        page.wait_for_timeout(100)
    assert rate is not None
    assert (rate.currency, rate.currency_to, rate.rate, rate.valid_from) == (
        "USD",
        "EUR",
        Decimal("0.9234"),
        datetime.date(2026, 1, 1),
    )
    expect(page.get_by_test_id(f"rate-{rate.pk}")).to_contain_text("1 USD = 0.9234 EUR")
    visitor.check_accessibility()


def test_the_rates_page_fits_a_phone_in_dark_mode(phone: Visitor) -> None:
    org = make_organization("Acme")
    admin = _user(org, Role.ADMIN)
    exchange_rate_create(
        org=org,
        actor=None,
        currency="GBP",
        currency_to="EUR",
        rate="1.1675",
        valid_from=datetime.date(2026, 1, 15),
    )
    _sign_in(phone, admin)
    phone.goto("/settings/rates")
    expect(phone.page.get_by_test_id("rates")).to_contain_text("1 GBP = 1.1675 EUR")
    assert phone.page.evaluate("document.documentElement.scrollWidth") <= 375
    phone.check_accessibility()
    viewer = _user(org, Role.VIEWER)
    phone.page.context.clear_cookies()
    _sign_in(phone, viewer)
    phone.goto("/settings/rates")
    assert phone.page.get_by_test_id("read-only").is_visible()
    assert phone.page.locator("main form").count() == 0
    phone.check_accessibility()
