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
org = Organization.objects.get(slug="demo")
print(json.dumps({
    "prefix": [c.email for c in selectors.contact_list(org=org, filters={"q": "ada mor"})],
    "email": [c.email for c in selectors.contact_list(org=org, filters={"q": "@globex"}, ordering="name")],
    "list_q": selectors.contact_list(org=org, filters={"q": "WEBER"}).count(),
    "custom": selectors.contact_list(org=org, filters={"custom_fields.lead_source": "Event"}).count(),
    "company": [c.name for c in selectors.company_list(org=org, filters={"q": "initech"})],
}))
"""


@pytest.mark.subprocess
def test_sqlite_migrate_demo_and_search(tmp_path) -> None:
    env = {"DATA_DIR": str(tmp_path)}
    for command in (("migrate", "--noinput"), ("load_demo",)):
        result = manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    result = run_python(SEARCH, env=env)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {
        "prefix": ["ada.moreno@northwind.example"],
        "email": [
            "david.keller@globex.example",
            "clara.schmidt@globex.example",
            "jonas.weber@globex.example",
        ],  # by last name
        "list_q": 1,
        "custom": 2,
        "company": ["Initech"],
    }
