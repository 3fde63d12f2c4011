from __future__ import annotations

import pytest

from stratus.accounts.demo import demo_load
from stratus.crm import selectors
from stratus.crm.demo import crm_demo_load
from stratus.crm.models import Activity, Company, Contact, Deal, Pipeline, TimelineEntry

pytestmark = pytest.mark.django_db


def test_demo_crm_is_complete_and_loading_twice_changes_nothing() -> None:
    demo = demo_load()
    first = crm_demo_load(organization=demo.organization, user=demo.user)
    org = demo.organization
    sizes = [m.objects.filter(organization=org).count() for m in (Pipeline, Company, Contact, Deal, Activity)]
    assert sizes == [1, 5, 10, 6, 7]
    assert first.created == sum(sizes) + 3  # and three custom fields
    entries = TimelineEntry.objects.filter(organization=org).count()
    assert crm_demo_load(organization=org, user=demo.user).created == 0
    assert TimelineEntry.objects.filter(organization=org).count() == entries
    statuses = {d.stage.kind for d in selectors.deal_list(org=org)}
    assert statuses == {"open", "won", "lost"}
    assert selectors.contact_list(org=org, filters={"custom_fields.lead_source": "Website"}).count() == 4
