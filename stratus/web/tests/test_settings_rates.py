"""The exchange rates settings page: admins add, change and delete rates through the service the
API calls; refusals beside their field with nothing saved; members and viewers only read."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stratus.accounts.models import Organization, Role, User
from stratus.reports.models import ExchangeRate
from stratus.reports.services import exchange_rate_create
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db

NEW = {
    "rate-currency": "usd",
    "rate-currency_to": "EUR",
    "rate-rate": "0.9234",
    "rate-valid_from": "2026-01-01",
}


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rate(org: Organization, day: int = 1) -> ExchangeRate:
    return exchange_rate_create(
        org=org,
        actor=None,
        currency="USD",
        currency_to="EUR",
        rate="0.9",
        valid_from=datetime.date(2026, 1, day),
    )


def _rows() -> list[tuple]:
    return sorted(
        ExchangeRate.objects.values_list("organization_id", "currency", "currency_to", "rate", "valid_from")
    )


def test_an_admin_adds_changes_and_deletes_a_rate() -> None:
    org = make_organization()
    client = _client(make_member(org, Role.ADMIN).user)
    added = client.post(reverse("web:settings-rate-create"), NEW)
    assert added.status_code == 302
    rate = ExchangeRate.objects.get(organization=org)
    assert (rate.currency, rate.currency_to, rate.rate, rate.valid_from) == (
        "USD",
        "EUR",
        Decimal("0.9234"),
        datetime.date(2026, 1, 1),
    )
    page = client.get(reverse("web:settings-rates")).content.decode()
    assert "1 USD = 0.9234 EUR" in page
    assert "Exchange rate added." in page
    p = f"r{rate.pk}"
    changed = client.post(
        reverse("web:settings-rate-update", args=[rate.pk]),
        {
            f"{p}-currency": "USD",
            f"{p}-currency_to": "EUR",
            f"{p}-rate": "0.95",
            f"{p}-valid_from": "2026-02-01",
        },
    )
    assert changed.status_code == 302
    rate.refresh_from_db()
    assert (rate.rate, rate.valid_from) == (Decimal("0.95"), datetime.date(2026, 2, 1))
    assert client.post(reverse("web:settings-rate-delete", args=[rate.pk])).status_code == 302
    assert not ExchangeRate.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("currency", "XYZ", "XYZ is not an ISO 4217 currency code."),
        ("currency_to", "USD", "Must differ from currency: a currency converts to itself at 1."),
        ("rate", "0", "Must be greater than 0."),
        ("rate", "-2", "Must be greater than 0."),
        ("rate", "abc", 'Must be a decimal number written as a string, e.g. "1.0850".'),
        ("valid_from", "2026-02-30", "Enter a valid date."),
    ],
)
def test_a_refusal_is_shown_beside_its_field_and_nothing_is_saved(
    field: str, value: str, message: str
) -> None:
    org = make_organization()
    client = _client(make_member(org, Role.ADMIN).user)
    response = client.post(reverse("web:settings-rate-create"), {**NEW, f"rate-{field}": value})
    assert response.status_code == 400
    body = response.content.decode()
    control = f'id="id_rate-{field}"'
    assert control in body
    assert 'aria-invalid="true"' in body
    assert f'id="id_rate-{field}-error" data-testid="field-error">{message}' in body.replace("&quot;", '"')
    assert ExchangeRate.objects.count() == 0


def test_a_second_rate_for_the_same_day_is_refused_beside_valid_from() -> None:
    org = make_organization()
    _rate(org)
    client = _client(make_member(org, Role.ADMIN).user)
    response = client.post(reverse("web:settings-rate-create"), {**NEW, "rate-rate": "2"})
    assert response.status_code == 400
    assert 'id="id_rate-valid_from-error"' in response.content.decode()
    assert ExchangeRate.objects.get().rate == Decimal("0.9")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_read_and_the_server_refuses_their_writes(role: Role) -> None:
    org = make_organization()
    rate = _rate(org)
    client = _client(make_member(org, role).user)
    page = client.get(reverse("web:settings-rates"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "1 USD = 0.9 EUR" in body
    assert 'data-testid="rate-form"' not in body
    before = _rows()
    p = f"r{rate.pk}"
    for url, data in (
        (reverse("web:settings-rate-create"), NEW),
        (
            reverse("web:settings-rate-update", args=[rate.pk]),
            {
                f"{p}-currency": "USD",
                f"{p}-currency_to": "EUR",
                f"{p}-rate": "5",
                f"{p}-valid_from": "2026-01-01",
            },
        ),
        (reverse("web:settings-rate-delete", args=[rate.pk]), {}),
    ):
        assert client.post(url, data).status_code == 403
    assert _rows() == before


def test_another_organizations_rate_is_a_404_and_not_shown() -> None:
    theirs = _rate(make_organization("Theirs"))
    org = make_organization()
    client = _client(make_member(org, Role.OWNER).user)
    assert "0.9 EUR" not in client.get(reverse("web:settings-rates")).content.decode()
    before = _rows()
    assert client.post(reverse("web:settings-rate-delete", args=[theirs.pk])).status_code == 404
    p = f"r{theirs.pk}"
    update = {
        f"{p}-currency": "USD",
        f"{p}-currency_to": "EUR",
        f"{p}-rate": "5",
        f"{p}-valid_from": "2026-01-01",
    }
    assert client.post(reverse("web:settings-rate-update", args=[theirs.pk]), update).status_code == 404
    assert _rows() == before


def test_queries_do_not_grow_with_the_rates() -> None:
    org = make_organization()
    client = _client(make_member(org, Role.OWNER).user)
    _rate(org, 1)
    client.get(reverse("web:settings-rates"))
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("web:settings-rates")).status_code == 200
    for day in range(2, 12):
        _rate(org, day)
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("web:settings-rates")).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
