"""Live updates on the list pages and the pipeline board: two users of one organization, each in a
browser context of their own, on pages served by two different app processes (the replicas of
tests/browser/test_shell.py). What one changes shows up on the other's page without a reload.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from stratus.accounts.models import Organization, User
from stratus.crm import services as crm_services
from stratus.crm.models import Contact, Deal, Pipeline
from stratus.web.lists.exports import export_run
from stratus.web.lists.services import BULK_CHUNK, BULK_INLINE_LIMIT, bulk_run
from stratus.web.models import BulkJob, BulkState, ExportJob
from tests.browser import test_shell as shell
from tests.browser.conftest import Visitor
from tests.browser.test_shell import LIVE_WAIT_MS, Replicas, _live, _sign_in, _user, _visitor, _watch_live
from testsupport.factories import make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.subprocess]

# The two app processes (and the browser contexts) of the shell's live-update tests.
replicas = shell.replicas
cluster = shell.cluster
contexts = shell.contexts


def _api(visitor: Visitor, base_url: str, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
    """A write through the REST API with the visitor's session (the change one user makes)."""
    csrf = next(c["value"] for c in visitor.page.context.cookies() if c["name"] == "csrftoken")
    response = visitor.page.request.fetch(
        f"{base_url}/api/v1/{path}",
        method=method,
        data=data,
        headers={"X-CSRFToken": csrf, "Referer": base_url + "/"},
    )
    assert response.ok, response.text()
    return response.json() if response.status != 204 else None


def _two_users(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext], org: Organization
) -> tuple[Visitor, Visitor, User]:
    """Ada (editor, served by process A) and Grace (watcher, served by process B), both signed in
    and subscribed."""
    ada = _user(org, "Ada Lovelace")
    grace = _user(org, "Grace Hopper")
    editor = _visitor(browser, contexts, cluster.a.url)
    watcher = _visitor(browser, contexts, cluster.b.url)
    for visitor, user in ((editor, ada), (watcher, grace)):
        _watch_live(visitor)
        _sign_in(visitor, user)
    return editor, watcher, grace


def test_a_colleagues_edit_updates_the_row_in_place_new_rows_are_announced_and_a_deleted_row_goes(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext]
) -> None:
    org = make_organization("Acme")
    contacts = [
        crm_services.contact_create(org=org, actor=None, first_name=f"Person {i:02d}", last_name="Rowe")
        for i in range(60)
    ]
    changed, deleted = contacts[3], contacts[4]
    editor, watcher, _grace = _two_users(browser, cluster, contexts, org)
    watcher.goto("/contacts?ordering=name")
    _live(watcher)
    page = watcher.page
    expect(page.get_by_test_id(f"row-{changed.pk}")).to_contain_text("Person 03")
    page.mouse.move(640, 500)
    page.mouse.wheel(0, 400)
    page.wait_for_function("window.scrollY > 0 || document.querySelector('.list-scroll').scrollTop > 0")
    page.evaluate("window.__marker = 'same page'")
    scrolled = page.evaluate("[window.scrollY, document.querySelector('.list-scroll').scrollTop]")

    # A colleague renames a contact: the row changes in place.
    _api(editor, cluster.a.url, "PATCH", f"contacts/{changed.pk}", {"first_name": "Renamed"})
    expect(page.get_by_test_id(f"row-{changed.pk}")).to_contain_text("Renamed Rowe", timeout=LIVE_WAIT_MS)

    # Three new contacts are announced, not inserted: the rows on screen do not move.
    created = [
        _api(editor, cluster.a.url, "POST", "contacts", {"first_name": f"Newcomer {i}", "last_name": "Rowe"})
        for i in range(3)
    ]
    news = page.get_by_test_id("list-news")
    expect(news).to_contain_text("3 new contacts", timeout=LIVE_WAIT_MS)
    expect(page.locator("tr[data-row]").filter(has_text="Newcomer")).to_have_count(0)

    # A deleted contact's row disappears.
    _api(editor, cluster.a.url, "DELETE", f"contacts/{deleted.pk}")
    expect(page.get_by_test_id(f"row-{deleted.pk}")).to_have_count(0, timeout=LIVE_WAIT_MS)
    assert not Contact.objects.filter(pk=deleted.pk).exists()

    assert page.evaluate("window.__marker") == "same page"
    assert page.evaluate("[window.scrollY, document.querySelector('.list-scroll').scrollTop]") == scrolled
    watcher.check_accessibility()

    # "Show" brings the new rows in.
    news.get_by_role("button", name="Show").click()
    for record in created:
        expect(page.get_by_test_id(f"row-{record['id']}")).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(news.locator("p")).to_be_hidden()
    assert page.evaluate("window.__marker") == "same page"
    watcher.check_accessibility()


def test_a_deal_a_colleague_moves_moves_on_the_board_with_the_column_totals(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext]
) -> None:
    org = make_organization("Acme")
    pipeline = Pipeline.objects.filter(
        organization=org, is_default=True
    ).first() or crm_services.pipeline_create(org=org, actor=None, name="Sales", is_default=True)
    first, second = list(pipeline.stages.order_by("position"))[:2]
    deal = crm_services.deal_create(
        org=org, actor=None, title="Fleet renewal", value="1200.00", currency="EUR", pipeline=pipeline
    )
    crm_services.deal_create(org=org, actor=None, title="Spare parts", value="300.00", currency="EUR")
    assert Deal.objects.get(pk=deal.pk).stage_id == first.pk
    editor, watcher, _grace = _two_users(browser, cluster, contexts, org)
    watcher.goto(f"/pipeline/{pipeline.pk}")
    _live(watcher)
    page = watcher.page
    expect(page.get_by_test_id(f"stage-{first.pk}").get_by_test_id(f"deal-{deal.pk}")).to_be_visible()
    expect(page.get_by_test_id(f"stage-{first.pk}-count")).to_have_text("2 deals")
    expect(page.get_by_test_id(f"stage-{second.pk}-count")).to_have_text("0 deals")
    page.evaluate("window.__marker = 'same page'")

    _api(editor, cluster.a.url, "POST", f"deals/{deal.pk}/move", {"stage": second.pk})

    moved = page.get_by_test_id(f"stage-{second.pk}").get_by_test_id(f"deal-{deal.pk}")
    expect(moved).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(page.get_by_test_id(f"stage-{first.pk}").get_by_test_id(f"deal-{deal.pk}")).to_have_count(0)
    expect(page.get_by_test_id(f"stage-{second.pk}-count")).to_have_text("1 deal", timeout=LIVE_WAIT_MS)
    expect(page.get_by_test_id(f"stage-{first.pk}-count")).to_have_text("1 deal")
    expect(page.get_by_test_id(f"stage-{second.pk}-summary")).to_contain_text("1,200.00 EUR")
    assert page.evaluate("window.__marker") == "same page"
    assert Deal.objects.get(pk=deal.pk).stage_id == second.pk
    watcher.check_accessibility()

    # A deal a colleague creates appears in its column, with the totals.
    added = _api(
        editor,
        cluster.a.url,
        "POST",
        "deals",
        {"title": "Warehouse robots", "value": "50.00", "currency": "USD"},
    )
    expect(page.get_by_test_id(f"stage-{first.pk}").get_by_test_id(f"deal-{added['id']}")).to_be_visible(
        timeout=LIVE_WAIT_MS
    )
    expect(page.get_by_test_id(f"stage-{first.pk}-summary")).to_contain_text("50.00 USD")
    watcher.check_accessibility()


def test_bulk_progress_arrives_as_live_events_instead_of_polling(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext]
) -> None:
    org = make_organization("Acme")
    owner = _user(org, "Olivia Owner")
    total = BULK_INLINE_LIMIT + BULK_CHUNK // 2  # more than runs inline: a worker's job
    Contact.objects.bulk_create(
        Contact(organization=org, first_name=f"P{i:03d}", last_name="Bulk") for i in range(total)
    )
    _editor, watcher, grace = _two_users(browser, cluster, contexts, org)
    watcher.goto("/contacts?ordering=name")
    _live(watcher)
    page = watcher.page
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/lists/bulk/" in request.url else None)

    bulk_form = page.get_by_test_id("bulk-form")
    bulk_form.get_by_label(f"All {total} contacts matching").check()
    bulk_form.get_by_label("Action").select_option("owner")
    bulk_form.get_by_label("New owner").select_option(label="Olivia Owner")
    page.get_by_test_id("bulk-apply").click()
    bar = page.get_by_test_id("bulk-progress")
    expect(bar).to_have_attribute("data-state", "queued")
    job = BulkJob.objects.get(organization=org, created_by=grace)
    # No worker runs beside these app processes: the job waits, and with the socket up the page
    # does not poll every second.
    page.wait_for_timeout(3_000)
    assert polls == [], polls
    watcher.check_accessibility()

    # This process works like the worker: each chunk announces bulk.progress to Grace's page.
    assert bulk_run(job_id=job.pk) == BulkState.DONE
    expect(bar).to_have_attribute("data-state", "done", timeout=LIVE_WAIT_MS)
    expect(bar).to_contain_text(f"{total} of {total} changed, 0 refused.")
    events = page.evaluate("window.__liveEvents")
    assert events.count("bulk.progress") == -(-total // BULK_CHUNK), events
    assert Contact.objects.filter(organization=org, owner=owner).count() == total
    watcher.check_accessibility()


def test_export_progress_arrives_as_live_events_and_ends_with_the_download_link(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext], settings: Any, tmp_path: Any
) -> None:
    # The file this process writes as the worker goes to a folder of this test.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }
    org = make_organization("Acme")
    Contact.objects.bulk_create(
        Contact(organization=org, first_name=f"E{i:02d}", last_name="Export") for i in range(7)
    )
    _editor, watcher, grace = _two_users(browser, cluster, contexts, org)
    watcher.goto("/contacts?ordering=name")
    _live(watcher)
    page = watcher.page
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/lists/export/" in request.url else None)

    page.get_by_test_id("export-csv").click()
    bar = page.get_by_test_id("export-progress")
    expect(bar).to_have_attribute("data-state", "queued")
    job = ExportJob.objects.get(organization=org, created_by=grace)
    # No worker runs beside these app processes; with the socket up the page does not poll every second.
    page.wait_for_timeout(3_000)
    assert polls == [], polls

    assert export_run(job_id=job.pk) == BulkState.DONE
    expect(bar).to_have_attribute("data-state", "done", timeout=LIVE_WAIT_MS)
    expect(bar).to_contain_text("7 of 7 rows written.")
    expect(page.get_by_test_id("export-download")).to_be_visible()
    events = page.evaluate("window.__liveEvents")
    assert events.count("export.progress") >= 2, events  # started, done
    watcher.check_accessibility()


def test_the_documents_panel_shows_what_reading_a_documents_text_found_without_a_reload(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext], settings: Any, tmp_path: Any
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from stratus.documents import services as document_services
    from stratus.documents.tests import text_files
    from stratus.documents.text import services as text_services

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }
    org = make_organization("Acme")
    grace = _user(org, "Grace Hopper")
    contact = crm_services.contact_create(org=org, actor=None, first_name="Linus", last_name="Pauling")
    other = crm_services.contact_create(org=org, actor=None, first_name="Marie", last_name="Curie")
    locked = document_services.document_upload(
        org=org,
        actor=grace,
        target=contact,
        file=SimpleUploadedFile("locked.pdf", text_files.encrypted_pdf(), content_type="application/pdf"),
    )
    watcher = _visitor(browser, contexts, cluster.b.url)
    _watch_live(watcher)
    _sign_in(watcher, grace)
    watcher.goto(f"/contacts/{contact.pk}")
    _live(watcher)
    page = watcher.page
    row = page.get_by_test_id(f"document-{locked.pk}")
    expect(row.get_by_test_id("document-text-pending")).to_be_visible()
    page.evaluate("window.__marker = 'same page'")
    panel_requests: list[str] = []
    page.on("request", lambda r: panel_requests.append(r.url) if r.url.endswith("/documents") else None)

    # Another record's document changes: this page's panel is not fetched again.
    document_services.document_upload(
        org=org, actor=grace, target=other, file=SimpleUploadedFile("notes.txt", b"Elsewhere.")
    )
    # The worker reads the text (here, in this process) and finds the file encrypted.
    text_services.document_text_extract(document_id=locked.pk)
    reason = row.get_by_test_id("document-not-searchable")
    expect(reason).to_contain_text("The PDF is protected by a password.", timeout=LIVE_WAIT_MS)
    expect(row.get_by_test_id("document-text-pending")).to_have_count(0)
    assert page.evaluate("window.__marker") == "same page"
    assert len(panel_requests) == 1, panel_requests
    watcher.check_accessibility()
