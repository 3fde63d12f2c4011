"""Record pages as a person in a browser: edit in place, a refused value, notes, documents."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, expect

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import Activity, ActivityKind, Contact
from stratus.documents.models import Document
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"


def _user(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _contact(org: Organization, **data: Any) -> Contact:
    fields = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", **data}
    return crm_services.contact_create(org=org, actor=None, **fields)


def _open(visitor: Visitor, user: User, path: str) -> None:
    visitor.goto(path)
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + path)


def test_a_field_is_edited_in_place_and_saved_with_enter(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    contact = _contact(org)
    _open(visitor, user, f"/contacts/{contact.pk}")
    page = visitor.page
    assert page.title() == "Grace Hopper · Stratus"
    visitor.check_accessibility()

    page.evaluate("window.__marker = 'same page'")
    page.get_by_test_id("field-job-title-edit").click()
    field = page.get_by_label("Job title", exact=True)
    field.fill("Rear admiral")
    visitor.check_accessibility()
    field.press("Enter")
    page.get_by_test_id("field-job-title-value").get_by_text("Rear admiral").wait_for()
    assert page.evaluate("window.__marker") == "same page"
    contact.refresh_from_db()
    assert contact.job_title == "Rear admiral"
    # The change is on the timeline at once, with the old and new value.
    timeline = page.get_by_test_id("timeline")
    timeline.get_by_role("cell", name="Rear admiral").wait_for()
    visitor.check_accessibility()

    # Escape cancels an edit: nothing is sent, the value stays.
    page.get_by_test_id("field-job-title-edit").click()
    page.get_by_label("Job title", exact=True).fill("Something else")
    page.get_by_label("Job title", exact=True).press("Escape")
    page.get_by_test_id("field-job-title-value").get_by_text("Rear admiral").wait_for()
    contact.refresh_from_db()
    assert contact.job_title == "Rear admiral"


def test_a_refused_value_shows_the_servers_message_and_nothing_is_saved(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    _contact(org, email="taken@example.com", first_name="Other")
    contact = _contact(org)
    _open(visitor, user, f"/contacts/{contact.pk}")
    page = visitor.page
    page.get_by_test_id("field-email-edit").click()
    page.get_by_label("E-mail", exact=True).fill("taken@example.com")
    page.get_by_role("button", name="Save E-mail").click()
    errors = page.get_by_test_id("field-email").get_by_test_id("field-errors")
    errors.wait_for()
    assert "A contact with this email already exists." in errors.inner_text()
    # What the user typed stays in the form.
    assert page.get_by_label("E-mail", exact=True).input_value() == "taken@example.com"
    visitor.check_accessibility()
    contact.refresh_from_db()
    assert contact.email == "grace@example.com"


def test_a_note_added_on_the_page_appears_in_the_timeline(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    contact = _contact(org)
    _open(visitor, user, f"/contacts/{contact.pk}")
    page = visitor.page
    page.get_by_label("Note", exact=True).fill("Prefers e-mail before noon.")
    page.get_by_role("button", name="Add note").click()
    page.get_by_test_id("timeline").get_by_text("Prefers e-mail before noon.").wait_for()
    note = Activity.objects.get(contact=contact)
    assert note.kind == ActivityKind.NOTE
    assert note.subject == "Prefers e-mail before noon."
    # The form is empty again for the next note.
    assert page.get_by_label("Note", exact=True).input_value() == ""
    visitor.check_accessibility()


def test_a_document_is_uploaded_with_progress_and_downloaded(visitor: Visitor, tmp_path: Path) -> None:
    org = make_organization()
    user = _user(org)
    contact = _contact(org)
    content = "Meeting minutes\nAgreed on a pilot.\n"
    source = tmp_path / "minutes.txt"
    source.write_text(content)
    _open(visitor, user, f"/contacts/{contact.pk}")
    page = visitor.page
    page.get_by_label("Upload a document (or drop files here)").set_input_files(str(source))
    link = page.get_by_test_id("documents").get_by_role("link", name="minutes.txt")
    link.wait_for()
    document = Document.objects.get(contact=contact)
    assert document.name == "minutes.txt"
    assert document.size == len(content.encode())
    page.get_by_test_id("timeline").get_by_text("Document uploaded: minutes.txt").wait_for()
    visitor.check_accessibility()

    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.txt"
    download.value.save_as(saved)
    assert saved.read_text() == content


def test_a_phone_gets_the_record_page_without_sideways_scrolling(phone: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    contact = _contact(org, job_title="Director of the programming languages section of the navy")
    _open(phone, user, f"/contacts/{contact.pk}")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen"
    phone.check_accessibility()


def test_a_big_document_goes_directly_to_storage_with_its_checksum(
    visitor: Visitor, tmp_path: Path, settings: Any
) -> None:
    # Everything above 64 bytes counts as big here: the page takes the direct-to-storage path.
    settings.DOCUMENTS_INLINE_UPLOAD_MAX_BYTES = 64
    org = make_organization()
    user = _user(org)
    contact = _contact(org)
    content = "A long report line.\n" * 200
    source = tmp_path / "report.txt"
    source.write_text(content)
    _open(visitor, user, f"/contacts/{contact.pk}")
    page = visitor.page
    page.get_by_label("Upload a document (or drop files here)").set_input_files(str(source))
    page.get_by_test_id("documents").get_by_role("link", name="report.txt").wait_for()
    document = Document.objects.get(contact=contact)
    assert document.is_ready
    assert document.sha256 == hashlib.sha256(content.encode()).hexdigest()
    visitor.check_accessibility()


def test_delete_asks_for_confirmation_first(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    contact = _contact(org)
    _open(visitor, user, f"/contacts/{contact.pk}")
    page = visitor.page
    messages: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_test_id("record-delete").click()
    assert messages == ["Delete Grace Hopper? This cannot be undone."]
    assert Contact.objects.filter(pk=contact.pk).exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("record-delete").click()
    page.wait_for_url(visitor.base_url + "/contacts")
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_the_timeline_loads_older_entries_as_it_scrolls(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    contact = _contact(org)
    for n in range(30):
        crm_services.contact_update(org=org, actor=user, contact=contact.pk, job_title=f"Title {n:02d}")
    _open(visitor, user, f"/contacts/{contact.pk}")
    timeline = visitor.page.get_by_test_id("timeline")
    assert timeline.get_by_test_id("timeline-entry").count() == 20
    timeline.get_by_test_id("timeline-more").scroll_into_view_if_needed()
    # 30 changes and the creation: the second page came in place of the "older entries" link.
    expect(timeline.get_by_test_id("timeline-entry")).to_have_count(31)
    assert timeline.get_by_test_id("timeline-more").count() == 0
    visitor.check_accessibility()


def test_company_and_deal_pages_link_each_other_and_pass_axe(visitor: Visitor) -> None:
    org = make_organization()
    user = _user(org)
    company = crm_services.company_create(org=org, actor=None, name="Remington Rand", industry="Computers")
    contact = _contact(org, company=company.pk)
    crm_services.pipeline_create(org=org, actor=None, name="Sales")
    deal = crm_services.deal_create(
        org=org, actor=None, title="UNIVAC order", company=company.pk, contacts=[contact.pk]
    )
    _open(visitor, user, f"/companies/{company.pk}")
    page = visitor.page
    related = page.get_by_test_id("related")
    assert related.get_by_role("link", name="Grace Hopper").count() == 1
    visitor.check_accessibility()
    related.get_by_role("link", name="UNIVAC order").click()
    page.wait_for_url(visitor.base_url + f"/deals/{deal.pk}")
    assert page.title() == "UNIVAC order · Stratus"
    visitor.check_accessibility()
    # The stage is changed in place like any field (a move, recorded on the timeline).
    page.get_by_test_id("field-stage-edit").click()
    page.get_by_label("Stage", exact=True).select_option(label="Qualified")
    visitor.check_accessibility()
    page.get_by_role("button", name="Save Stage").click()
    page.get_by_test_id("timeline").get_by_text("Moved from Lead to Qualified").wait_for()
    deal.refresh_from_db()
    assert deal.stage.name == "Qualified"


def test_a_colleagues_change_while_editing_is_said_and_not_overwritten(visitor: Visitor) -> None:
    org = make_organization()
    user, colleague = _user(org), _user(org)
    contact = _contact(org)
    _open(visitor, user, f"/contacts/{contact.pk}")
    page = visitor.page
    page.get_by_test_id("field-job-title-edit").click()
    page.get_by_label("Job title", exact=True).fill("Commodore")
    crm_services.contact_update(org=org, actor=colleague, contact=contact.pk, job_title="Professor")
    # The live-update hook re-renders the header and fields; the open form is kept and the page says why.
    record = page.get_by_test_id("record-main")
    refresh = record.get_attribute("data-live-refresh")
    assert record.get_attribute("data-live-record") == f"contact:{contact.pk}"
    page.evaluate("url => window.htmx.ajax('GET', url, {target: '#record-main', swap: 'outerHTML'})", refresh)
    expect(page.locator("[data-record-status]")).to_contain_text("Someone else changed this record")
    assert page.get_by_label("Job title", exact=True).input_value() == "Commodore"

    page.get_by_role("button", name="Save Job title").click()
    conflict = page.get_by_test_id("field-conflict")
    conflict.wait_for()
    assert "Someone else changed this record" in conflict.inner_text()
    contact.refresh_from_db()
    assert contact.job_title == "Professor"
    visitor.check_accessibility()
