"""The embedded default (SQLite): migrations apply, the demo loads, search falls back to icontains."""

from __future__ import annotations

import json

import pytest

from testsupport.processes import manage, run_python

SEARCH = """
import django, json
django.setup()
from stratus.accounts.models import Organization
from stratus.crm import selectors
from stratus.crm.models import Company, Contact, Deal, Pipeline
org = Organization.objects.get(slug="demo")
pipeline = Pipeline.objects.get(organization=org, is_default=True)
cards = selectors.deal_board(org=org, pipeline=pipeline, filters={"tag": "hot"}, per_stage=1000)
hot = Deal.objects.filter(organization=org, tags__name="hot")
contacts = list(Contact.objects.filter(organization=org).exclude(email="").order_by("pk"))
target = next(c for c in contacts if c.custom_fields)
domain = target.email.split("@")[1]
key, value = next(iter(target.custom_fields.items()))
company = Company.objects.filter(organization=org).order_by("pk").first()
by_domain = selectors.contact_list(org=org, filters={"q": "@" + domain}, ordering="name")
print(json.dumps({
    "target": target.email,
    "prefix": [c.email for c in selectors.contact_list(
        org=org, filters={"q": f"{target.first_name[:3]} {target.last_name[:3]}".lower()}
    )],
    "email": [c.email for c in by_domain],
    "email_expected": sorted(c.email for c in contacts if c.email.lower().endswith("@" + domain.lower())),
    "email_last_names": [c.last_name.lower() for c in by_domain],
    "list_q": [c.email for c in selectors.contact_list(org=org, filters={"q": target.last_name.upper()})],
    "custom": selectors.contact_list(org=org, filters={f"custom_fields.{key}": value}).count(),
    "custom_expected": sum(
        1 for c in Contact.objects.filter(organization=org) if c.custom_fields.get(key) == value
    ),
    "company": [c.name for c in selectors.company_list(org=org, filters={"q": company.name.lower()})],
    "company_expected": company.name,
    "hot_deals": sorted(d.pk for d in selectors.deal_list(org=org, filters={"tag": "HOT"})),
    "hot_expected": sorted(hot.values_list("pk", flat=True)),
    "hot_cards": sorted(d.pk for column in cards.values() for d in column),
    "card_tags": sorted({n for column in cards.values() for d in column for n in selectors.tag_names(d)}),
}))
"""


@pytest.mark.subprocess
def test_sqlite_migrate_demo_and_search(tmp_path) -> None:
    """Expectations come from the demo data itself, so the demo may change without this test."""
    env = {"DATA_DIR": str(tmp_path)}
    for command in (("migrate", "--noinput"), ("load_demo",)):
        result = manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    result = run_python(SEARCH, env=env)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["target"] in found["prefix"]  # word prefixes of the name
    assert sorted(found["email"]) == found["email_expected"]  # "@domain" matches the e-mail domain
    assert found["email_last_names"] == sorted(found["email_last_names"])  # ordered by name
    assert found["target"] in found["list_q"]  # matching ignores case
    assert found["custom"] == found["custom_expected"] >= 1  # custom-field equality
    assert found["company_expected"] in found["company"]
    # Deal tags: the list filter and the board's cards (tag names loaded without the array subquery).
    assert found["hot_deals"] == found["hot_expected"] == found["hot_cards"]
    assert found["hot_deals"]
    assert "hot" in found["card_tags"]
