"""Lifting a suppression re-subscribes a person: admins only, and recorded on the timeline."""

from __future__ import annotations

import pytest

from stratus.accounts.models import ApiToken, Organization, Role, User
from stratus.campaigns import selectors, services
from stratus.campaigns.models import Suppression, SuppressionReason
from stratus.crm import services as crm
from stratus.crm.models import TimelineEntry
from stratus.platform.errors import ApplicationError, status_of
from testsupport.factories import make_organization, make_token, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def unsubscribed(org: Organization, owner: User) -> Suppression:
    crm.contact_create(org=org, actor=owner, first_name="Ada", email="Ada@Example.com")
    crm.contact_create(org=org, actor=owner, first_name="Bob", email="bob@example.com")
    return services.suppression_add(org=org, email="ada@example.com", reason=SuppressionReason.UNSUBSCRIBED)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_members_and_viewers_cannot_lift_a_suppression(
    org: Organization, unsubscribed: Suppression, role: Role
) -> None:
    response = token_client(make_token(org, role)).delete(f"/api/v1/suppressions/{unsubscribed.pk}")
    assert response.status_code == 403
    assert "admin role" in response.json()["detail"]
    assert Suppression.objects.filter(pk=unsubscribed.pk).exists()
    assert not TimelineEntry.objects.filter(organization=org, action=services.SUPPRESSION_REMOVED).exists()


def test_an_admin_lifts_it_and_the_timeline_says_who_and_when(
    org: Organization, unsubscribed: Suppression
) -> None:
    client = token_client(make_token(org, Role.ADMIN))
    admin = ApiToken.objects.filter(organization=org, role=Role.ADMIN).get().created_by
    response = client.delete(f"/api/v1/suppressions/{unsubscribed.pk}")
    assert response.status_code == 204
    assert not selectors.suppression_list(org=org).filter(email="ada@example.com").exists()

    entries = TimelineEntry.objects.filter(organization=org, action=services.SUPPRESSION_REMOVED)
    # One entry on the suppression itself, one on the contact with the address (in any case).
    assert sorted((e.target_type, e.target_label) for e in entries) == [
        ("contact", "Ada"),
        ("suppression", "ada@example.com (unsubscribed)"),
    ]
    for entry in entries:
        assert entry.actor == admin
        assert entry.data is not None
        assert entry.data["email"] == "ada@example.com"
        assert entry.data["reason"] == SuppressionReason.UNSUBSCRIBED
        assert entry.data["suppressed_at"] == unsubscribed.created_at.isoformat()
        assert entry.created_at >= unsubscribed.created_at

    # The contact's own timeline, as the API shows it, says who re-subscribed them.
    contact_id = entries.get(target_label="Ada").target_id
    timeline = client.get(f"/api/v1/contacts/{contact_id}/timeline").json()["results"]
    assert timeline[0]["action"] == "suppression.removed"
    assert admin is not None
    assert timeline[0]["actor"] == admin.pk

    # Lifted once: a second request finds nothing to lift.
    assert client.delete(f"/api/v1/suppressions/{unsubscribed.pk}").status_code == 404
    assert entries.count() == 2


def test_the_service_refuses_a_suppression_of_another_organization(
    org: Organization, owner: User, unsubscribed: Suppression
) -> None:
    other = make_organization("Other")
    with pytest.raises(ApplicationError) as refused:
        services.suppression_remove(org=other, actor=owner, suppression=unsubscribed.pk)
    assert status_of(refused.value) == 404
    assert Suppression.objects.filter(pk=unsubscribed.pk).exists()
