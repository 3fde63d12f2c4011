from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils.html import escape

from stratus.accounts.demo import DEMO_EMAIL, DEMO_ORG_SLUG, DEMO_PASSWORD, demo_load
from stratus.accounts.models import Membership, Organization
from stratus.crm import demo, selectors
from stratus.crm.demo import crm_demo_load
from stratus.crm.models import Activity, Company, Contact, Deal, Pipeline, TimelineEntry

pytestmark = pytest.mark.django_db

MODELS = (Pipeline, Company, Contact, Deal, Activity)


def _sizes(org: Organization) -> list[int]:
    return [model.objects.filter(organization=org).count() for model in MODELS]


def test_demo_crm_feels_real_and_loading_twice_changes_nothing() -> None:
    loaded = demo_load()
    org = loaded.organization
    had_pipeline = Pipeline.objects.filter(organization=org, name=demo.PIPELINE_NAME).exists()
    started = time.monotonic()
    first = crm_demo_load(organization=org, user=loaded.user)
    elapsed = time.monotonic() - started
    sizes = _sizes(org)
    assert sizes == [1, demo.COMPANY_COUNT, demo.CONTACT_COUNT, demo.DEAL_COUNT, demo.ACTIVITY_COUNT]
    # Every record, three custom fields, and the pipeline unless the organization started with it.
    assert first.created == sum(sizes[1:]) + 3 + (0 if had_pipeline else 1)
    assert elapsed < 60, f"the demo took {elapsed:.1f} s"  # a bound for a loaded machine, not a benchmark

    # Every stage of the default pipeline has deals, with values in two currencies.
    pipeline = Pipeline.objects.get(organization=org, is_default=True)
    by_stage = {stage.pk: 0 for stage in pipeline.stages.all()}
    for deal in Deal.objects.filter(organization=org):
        by_stage[deal.stage_id] += 1
    assert all(count > 0 for count in by_stage.values()), by_stage
    assert set(Deal.objects.filter(organization=org).values_list("currency", flat=True)) == {"USD", "EUR"}
    assert Deal.objects.filter(organization=org, stage__kind="lost").exclude(lost_reason="").exists()

    # Owners among several members; tags, phones, titles and custom fields filled in.
    assert Membership.objects.filter(organization=org).count() == 1 + len(demo.COLLEAGUES)
    assert Contact.objects.filter(organization=org).values("owner").distinct().count() == 1 + len(
        demo.COLLEAGUES
    )
    assert selectors.contact_list(org=org, filters={"tag": "vip"}).exists()
    tagged_deals = selectors.deal_list(org=org, filters={"tags_any": list(demo.DEAL_TAGS)}).count()
    assert 0 < tagged_deals < demo.DEAL_COUNT
    # One tag for the organization, whatever records carry it.
    shared = selectors.tag_list(org=org).get(name="enterprise")
    assert shared.deals.exists()
    assert shared.companies.exists()
    assert not Contact.objects.filter(organization=org, job_title="").exists()
    assert not Contact.objects.filter(organization=org, phones=[]).exists()
    assert selectors.contact_list(org=org, filters={"custom_fields.lead_source": "Website"}).exists()
    assert all(c.domain.endswith(".example") for c in Company.objects.filter(organization=org))

    # Tasks overdue, due today and upcoming; calls, meetings, notes.
    kinds = set(Activity.objects.filter(organization=org).values_list("kind", flat=True))
    assert kinds == {"task", "call", "meeting", "note"}
    assert selectors.activity_list(org=org, filters={"overdue": "true"}).exists()

    # Timeline history: creations, stage moves and later edits.
    actions = set(TimelineEntry.objects.filter(organization=org).values_list("action", flat=True))
    assert {"created", "moved", "updated"} <= actions, actions

    entries = TimelineEntry.objects.filter(organization=org).count()
    assert crm_demo_load(organization=org, user=loaded.user).created == 0
    assert _sizes(org) == sizes
    assert TimelineEntry.objects.filter(organization=org).count() == entries


def test_the_load_demo_command_prints_the_login_and_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("load_demo")
    out = capsys.readouterr().out
    assert f"Demo login: {DEMO_EMAIL} / " in out
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    sizes = _sizes(org)
    assert sizes[2] == demo.CONTACT_COUNT
    call_command("load_demo")
    assert "Demo CRM: 0 records added." in capsys.readouterr().out
    assert _sizes(org) == sizes


def test_the_demo_user_sees_the_demo_on_the_list_pages(client: Client) -> None:
    call_command("load_demo")
    assert client.login(username=DEMO_EMAIL, password=DEMO_PASSWORD)
    org = Organization.objects.get(slug=DEMO_ORG_SLUG)
    pages = {
        "/contacts": f"{demo.CONTACT_COUNT} contacts",
        "/companies": f"{demo.COMPANY_COUNT} companies",
        "/deals": f"{demo.DEAL_COUNT} deals",
        "/activities": f"{demo.ACTIVITY_COUNT} activities",
    }
    for path, count in pages.items():
        body = client.get(path).content.decode()
        assert f'data-testid="list-count" aria-live="polite">{count}</p>' in body, path
    contact = Contact.objects.filter(organization=org).order_by("pk").first()
    assert contact is not None
    assert escape(str(contact)) in client.get(f"/contacts?q={contact.last_name}").content.decode()
    board = client.get("/pipeline").content.decode()
    for stage in Pipeline.objects.get(organization=org, is_default=True).stages.all():
        deals = Deal.objects.filter(organization=org, stage=stage).count()
        assert f'data-testid="stage-{stage.pk}-count">{deals} deals</span>' in board, stage.name
