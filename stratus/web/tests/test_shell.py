"""The app shell's pages through Django's test client: palette search, profile, notifications,
the organization a page acts in, and sessions that end under an htmx request."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.crm import selectors as crm_selectors
from stratus.crm import services as crm_services
from stratus.crm.models import Company, Contact, Deal, Pipeline
from stratus.reminders.models import Notification, NotificationPreference
from stratus.web.context import SESSION_ORGANIZATION
from testsupport.factories import make_member, make_member_who_signs_in, make_organization

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


def _member(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _notification(org: Organization, user: User, title: str, *, read: bool = False) -> Notification:
    return Notification.objects.create(
        organization=org, user=user, title=title, read_at=timezone.now() if read else None
    )


def _deal(org: Organization, title: str) -> Deal:
    pipeline = Pipeline.objects.filter(organization=org).first() or crm_services.pipeline_create(
        org=org, actor=None, name="Sales"
    )
    stage = pipeline.stages.order_by("position").first()
    assert stage is not None
    return Deal.objects.create(organization=org, pipeline=pipeline, stage=stage, title=title)


# --- the palette's search ---------------------------------------------------------------------


def test_palette_search_finds_contacts_companies_and_deals_of_this_organization_only() -> None:
    acme, globex = make_organization("Acme"), make_organization("Globex")
    user = _member(acme)
    ours = Contact.objects.create(organization=acme, first_name="Ada", last_name="Zebrafield")
    company = Company.objects.create(organization=acme, name="Zebrafield Ltd")
    deal = _deal(acme, "Zebrafield renewal")
    theirs = Contact.objects.create(organization=globex, first_name="Eve", last_name="Zebrafield")
    Company.objects.create(organization=globex, name="Zebrafield Globex")

    response = _signed_in(user).get(reverse("web:search"), {"q": "zebrafield"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # the palette gets the fragment
    assert 'role="option"' in body
    assert f'href="/contacts/{ours.pk}"' in body
    assert f'href="/companies/{company.pk}"' in body
    assert f'href="/deals/{deal.pk}"' in body
    assert f"/contacts/{theirs.pk}" not in body
    assert "Zebrafield Globex" not in body
    assert "Eve" not in body


def test_palette_search_lists_pages_and_actions_and_escapes_what_it_shows() -> None:
    acme = make_organization("Acme")
    user = _member(acme)
    Contact.objects.create(organization=acme, first_name=XSS, last_name="Quixote")

    client = _signed_in(user)
    actions = client.get(reverse("web:search"), {"q": "new contact"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'href="/contacts/new"' in actions
    assert "New contact" in actions
    assert "New deal" not in actions

    found = client.get(reverse("web:search"), {"q": "quixote"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Quixote" in found
    assert "<script>alert(2)" not in found
    assert "<img src=x" not in found


def test_palette_search_makes_the_same_number_of_queries_for_one_match_or_many() -> None:
    acme = make_organization("Acme")
    user = _member(acme)
    client = _signed_in(user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("web:search"), {"q": "pemberton"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        return len(captured)

    Contact.objects.create(organization=acme, first_name="Ann", last_name="Pemberton")
    Company.objects.create(organization=acme, name="Pemberton 0")
    _deal(acme, "Pemberton deal 0")
    queries()  # the first request of a session reads what later ones find cached
    few = queries()
    for n in range(1, 25):
        Contact.objects.create(organization=acme, first_name=f"Ann{n}", last_name="Pemberton")
        Company.objects.create(organization=acme, name=f"Pemberton {n}")
        _deal(acme, f"Pemberton deal {n}")
    many = queries()
    assert many == few
    body = client.get(reverse("web:search"), {"q": "pemberton"}, HTTP_HX_REQUEST="true").content.decode()
    assert body.count("/contacts/") == 5  # a few per kind, never the whole table


def test_palette_search_reads_the_membership_once_and_no_tags() -> None:
    acme = make_organization("Acme")
    user = _member(acme)
    Contact.objects.create(organization=acme, first_name="Ann", last_name="Pemberton")
    client = _signed_in(user)
    client.get(reverse("web:search"), {"q": "pemberton"}, HTTP_HX_REQUEST="true")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("web:search"), {"q": "pemberton"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Pemberton" in response.content.decode()
    sql = [query["sql"] for query in captured]
    assert sum('FROM "accounts_membership"' in statement for statement in sql) == 1
    assert not any("_tags" in statement for statement in sql)  # the palette shows no tags


def test_palette_search_shows_the_first_matches_in_the_order_of_the_lists() -> None:
    acme = make_organization("Acme")
    user = _member(acme)
    for n in range(8):
        Contact.objects.create(organization=acme, first_name=f"Ann{n}", last_name="Pemberton")
        Company.objects.create(organization=acme, name=f"Pemberton {n}")
        _deal(acme, f"Pemberton deal {n}")
    filters = {"q": "pemberton"}
    expected = [
        *(f"/contacts/{c.pk}" for c in crm_selectors.contact_list(org=acme, filters=filters)[:5]),
        *(f"/companies/{c.pk}" for c in crm_selectors.company_list(org=acme, filters=filters)[:5]),
        *(f"/deals/{d.pk}" for d in crm_selectors.deal_list(org=acme, filters=filters)[:5]),
    ]

    body = _signed_in(user).get(reverse("web:search"), filters, HTTP_HX_REQUEST="true").content.decode()

    shown = re.findall(r'href="(/(?:contacts|companies|deals)/\d+)"', body)
    assert shown == expected


def test_palette_search_offers_no_new_records_to_a_viewer() -> None:
    acme = make_organization("Acme")
    viewer = _member(acme, Role.VIEWER)
    body = (
        _signed_in(viewer).get(reverse("web:search"), {"q": "new"}, HTTP_HX_REQUEST="true").content.decode()
    )
    assert 'href="/contacts/new"' not in body
    member = _member(acme)
    body = (
        _signed_in(member).get(reverse("web:search"), {"q": "new"}, HTTP_HX_REQUEST="true").content.decode()
    )
    assert 'href="/contacts/new"' in body


def test_search_without_javascript_is_a_page_of_the_app() -> None:
    acme = make_organization("Acme")
    user = _member(acme)
    Company.objects.create(organization=acme, name="Initech")
    response = _signed_in(user).get(reverse("web:search"), {"q": "initech"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<title>Search: initech · Stratus</title>" in body
    assert 'data-testid="search-results"' in body
    assert "Initech" in body


def test_search_requires_signing_in() -> None:
    response = Client().get(reverse("web:search"), {"q": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")


# --- profile ------------------------------------------------------------------------------------


def test_profile_password_change_with_a_wrong_current_password_is_refused_beside_the_field() -> None:
    user = _member(make_organization())
    response = _signed_in(user).post(
        reverse("web:profile"),
        {
            "section": "password",
            "password-current_password": "not it",
            "password-new_password": "a new long passphrase 42",
        },
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="error-current_password"' in body
    assert "The current password is wrong." in body
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_profile_password_change_refuses_a_weak_password_and_keeps_the_old_one() -> None:
    user = _member(make_organization())
    response = _signed_in(user).post(
        reverse("web:profile"),
        {"section": "password", "password-current_password": PASSWORD, "password-new_password": "123"},
    )
    assert response.status_code == 400
    assert 'data-testid="error-new_password"' in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_profile_password_change_keeps_this_session_signed_in() -> None:
    user = _member(make_organization())
    client = _signed_in(user)
    response = client.post(
        reverse("web:profile"),
        {
            "section": "password",
            "password-current_password": PASSWORD,
            "password-new_password": "a new long passphrase 42",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a new long passphrase 42")
    assert client.get(reverse("web:profile")).status_code == 200


def test_profile_saves_the_name_and_the_reminder_email_choice() -> None:
    user = _member(make_organization())
    client = _signed_in(user)
    assert (
        client.post(
            reverse("web:profile"), {"section": "name", "name-full_name": "  Grace Hopper "}
        ).status_code
        == 302
    )
    assert (
        client.post(
            reverse("web:profile"), {"section": "reminders", "reminders-email_reminders": "on"}
        ).status_code
        == 302
    )
    user.refresh_from_db()
    assert user.full_name == "Grace Hopper"
    assert NotificationPreference.objects.get(user=user).email_reminders is True
    page = client.get(reverse("web:profile")).content.decode()
    assert "<title>Profile · Stratus</title>" in page
    assert 'name="reminders-email_reminders" id="id_reminders-email_reminders" checked' in page

    client.post(reverse("web:profile"), {"section": "reminders"})
    assert NotificationPreference.objects.get(user=user).email_reminders is False


def test_profile_refuses_a_name_too_long_and_saves_nothing() -> None:
    user = _member(make_organization())
    response = _signed_in(user).post(reverse("web:profile"), {"section": "name", "name-full_name": "x" * 201})
    assert response.status_code == 400
    assert 'data-testid="error-full_name"' in response.content.decode()
    user.refresh_from_db()
    assert user.full_name == ""


# --- notifications ------------------------------------------------------------------------------


def test_notifications_show_only_the_users_own_in_this_organization() -> None:
    acme, globex = make_organization("Acme"), make_organization("Globex")
    user = _member(acme)
    make_member(globex, Role.MEMBER)
    colleague = _member(acme)
    mine = _notification(acme, user, "Call Ada back")
    _notification(acme, colleague, "Colleague's reminder")
    _notification(globex, user, "Elsewhere")  # not a member there: never shown here

    response = _signed_in(user).get(reverse("web:notifications"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<title>Notifications · Stratus</title>" in body
    assert "Call Ada back" in body
    assert "Colleague&#x27;s reminder" not in body
    assert "Colleague's reminder" not in body
    assert "Elsewhere" not in body
    assert f'data-testid="notification-{mine.pk}"' in body
    assert 'data-unread="1"' in body  # the sidebar's badge


def test_marking_a_notification_read_is_refused_for_someone_elses() -> None:
    acme = make_organization("Acme")
    user, colleague = _member(acme), _member(acme)
    theirs = _notification(acme, colleague, "Not yours")
    mine = _notification(acme, user, "Yours")
    client = _signed_in(user)

    assert client.post(reverse("web:notification-read", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None

    response = client.post(reverse("web:notification-read", args=[mine.pk]))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.read_at is not None


def test_mark_all_read_touches_only_the_users_notifications() -> None:
    acme = make_organization("Acme")
    user, colleague = _member(acme), _member(acme)
    mine = [_notification(acme, user, f"Mine {n}") for n in range(3)]
    theirs = _notification(acme, colleague, "Theirs")
    client = _signed_in(user)
    client.post(reverse("web:notifications-read-all"))
    assert Notification.objects.filter(pk__in=[n.pk for n in mine], read_at__isnull=True).count() == 0
    theirs.refresh_from_db()
    assert theirs.read_at is None
    badge = client.get(reverse("web:notifications-badge")).content.decode()
    assert 'data-unread="0"' in badge


def test_notification_inbox_queries_do_not_grow_with_the_number_of_notifications() -> None:
    acme = make_organization("Acme")
    user = _member(acme)
    client = _signed_in(user)
    _notification(acme, user, "One")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("web:notifications")).status_code == 200
        return len(captured)

    few = queries()
    for n in range(30):
        _notification(acme, user, f"More {n}", read=n % 2 == 0)
    assert queries() == few


# --- the organization a page acts in; sessions that end --------------------------------------


def test_the_users_default_organization_is_used_when_the_session_chose_none() -> None:
    first, second = make_organization("Aardvark"), make_organization("Zulu")
    user = _member(first)
    Membership.objects.create(organization=second, user=user, role=Role.MEMBER)
    user.default_organization = second
    user.save(update_fields=["default_organization"])
    client = _signed_in(user)
    page = client.get(reverse("web:home")).content.decode()
    assert f'data-organization="{second.slug}"' in page

    session = client.session
    session[SESSION_ORGANIZATION] = first.pk
    session.save()
    page = client.get(reverse("web:home")).content.decode()
    assert f'data-organization="{first.slug}"' in page


def test_a_shell_page_reads_the_memberships_once_and_the_next_request_reads_them_again() -> None:
    acme, globex = make_organization("Acme"), make_organization("Globex")
    user = _member(acme)
    client = _signed_in(user)
    client.get(reverse("web:notifications"))
    with CaptureQueriesContext(connection) as captured:
        page = client.get(reverse("web:notifications")).content.decode()
    assert sum('FROM "accounts_membership"' in query["sql"] for query in captured) == 1
    assert 'id="organization-switch"' not in page  # one organization: nothing to switch to

    Membership.objects.create(organization=globex, user=user, role=Role.MEMBER)
    page = client.get(reverse("web:notifications")).content.decode()
    assert 'id="organization-switch"' in page
    assert f'data-organization="{acme.slug}"' in page
    client.post(reverse("web:switch-organization"), {"organization": globex.pk})
    page = client.get(reverse("web:notifications")).content.decode()
    assert f'data-organization="{globex.slug}"' in page


def test_an_htmx_request_after_the_session_ended_sends_the_page_to_sign_in_and_back() -> None:
    response = Client().get(
        reverse("web:notifications-badge"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/notifications?before=40",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login?next=%2Fnotifications%3Fbefore%3D40"

    boosted = Client().get(reverse("web:profile"), HTTP_HX_REQUEST="true", HTTP_HX_BOOSTED="true")
    assert boosted["HX-Redirect"] == "/login?next=%2Fprofile"

    foreign = Client().get(
        reverse("web:search"), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/steal"
    )
    assert foreign["HX-Redirect"] == "/login?next=%2F"


def test_signing_in_after_an_expired_session_returns_to_the_page() -> None:
    user = _member(make_organization())
    client = Client()
    response = client.post(
        reverse("web:login"), {"email": user.email, "password": PASSWORD, "next": "/notifications"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/notifications"


def test_notification_text_is_escaped() -> None:
    acme = make_organization("Acme")
    user = _member(acme)
    Notification.objects.create(organization=acme, user=user, title=XSS, body=XSS)
    body = _signed_in(user).get(reverse("web:notifications")).content.decode()
    assert "<script>alert(2)" not in body
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
