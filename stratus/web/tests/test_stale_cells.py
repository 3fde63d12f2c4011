"""A list cell edited while a colleague changes the same record: the editor comes with the record's
version (ETag), the save sends it back (If-Match, as lists.ts does) and the crm service refuses a
version that is no longer the stored one. Nothing is overwritten; what was typed stays."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from stratus.crm import services as crm_services
from stratus.crm import versions
from stratus.crm.models import Contact, TimelineEntry
from testsupport.factories import make_member, make_organization

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def test_a_stale_cell_save_is_refused_keeps_what_was_typed_and_names_the_new_value() -> None:
    org = make_organization()
    me, colleague = make_member(org).user, make_member(org).user
    contact = crm_services.contact_create(org=org, actor=None, first_name="Ada", job_title="Analyst")
    client = Client()
    client.force_login(me)
    url = reverse("web:list-cell-edit", args=["contacts", contact.pk, "job_title"])

    editor = client.get(url, headers=HX)
    assert editor.status_code == 200
    opened = editor["ETag"]
    assert opened == versions.etag(Contact.objects.get(pk=contact.pk))

    crm_services.contact_update(org=org, actor=colleague, contact=contact.pk, job_title="Chemist")
    updates = TimelineEntry.objects.filter(target_type="contact", action="updated").count()

    refused = client.post(url, {"value": "Poet"}, headers={**HX, "If-Match": opened})
    body = refused.content.decode()
    assert 'data-testid="cell-error"' in body
    assert "Someone else changed this since you opened it; it is now “Chemist”." in body
    assert 'value="Poet"' in body  # what the user typed stays in the editor
    stored = Contact.objects.get(pk=contact.pk)
    assert stored.job_title == "Chemist"
    assert TimelineEntry.objects.filter(target_type="contact", action="updated").count() == updates
    # The editor now carries the new version: saving again knowingly replaces the colleague's value.
    assert refused["ETag"] == versions.etag(stored)

    saved = client.post(url, {"value": "Poet"}, headers={**HX, "If-Match": refused["ETag"]})
    assert 'data-testid="cell-error"' not in saved.content.decode()
    assert Contact.objects.get(pk=contact.pk).job_title == "Poet"
