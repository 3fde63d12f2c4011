from __future__ import annotations

import pytest

from stratus.accounts.models import Organization, User
from stratus.accounts.services import organization_create
from stratus.crm import services as crm


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user("owner@example.com", "pw-123456789", full_name="Olive Owner")


@pytest.fixture
def org(owner: User) -> Organization:
    return organization_create(name="Acme", owner=owner)


@pytest.fixture
def vip_contacts(org: Organization, owner: User) -> list:
    company = crm.company_create(org=org, actor=owner, name="Analytical Engines", domain="engines.example")
    contacts = [
        crm.contact_create(
            org=org,
            actor=owner,
            first_name=f"Person{i}",
            email=f"person{i}@example.com",
            tags=["vip"],
            company=company.pk,
        )
        for i in range(5)
    ]
    crm.contact_create(org=org, actor=owner, first_name="Other", email="other@example.com", tags=["cold"])
    crm.contact_create(org=org, actor=owner, first_name="NoMail", tags=["vip"])
    return contacts


@pytest.fixture(autouse=True)
def _fast_sending(settings) -> None:
    settings.CAMPAIGN_RATE_LIMIT = 0
    settings.PUBLIC_BASE_URL = "https://crm.example.com"
