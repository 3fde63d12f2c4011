"""The import wizard in a browser: a CSV with bad rows goes straight to storage, is mapped and
previewed, imported with the exact error report; the link opens exactly the imported records; the
shell shows the running import on another page; cancel; every step passes axe, on a phone too."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services as crm_services
from stratus.imports import services
from stratus.imports.models import ImportJob, ImportState
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"

# Latin-1, semicolons and a quoted newline, as a spreadsheet of a European office saves them.
BAD_ROWS = (
    "Prénom;Nom;E-mail;Propriétaire;Taille\r\n"
    "José;Müller;jose@example.com;;10\r\n"
    "Bad;Email;not-an-email;;3\r\n"
    'Grace;"Hopper\nHQ";grace@example.com;;many\r\n'
    "Alan;Turing;alan@example.com;nobody@example.com;7\r\n"
    "Ada;Lovelace;ada@example.com;;5\r\n"
).encode("latin-1")


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
    }
    return root


def _sign_in(visitor: Visitor, user: User, path: str = "/imports") -> None:
    visitor.goto(f"/login?next={path}")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + path)


def _choose(page: Any, label: str, value: str) -> None:
    """Pick ``value`` in a select of the mapping form and wait for the form the server sends back."""
    with page.expect_response(lambda response: "/imports/new/map" in response.url):
        page.get_by_label(label, exact=True).select_option(value)
    # The response has arrived, but htmx may not have swapped the new form in yet: a change made
    # now could land on the old form as it is replaced. htmx drops these classes once settled.
    page.wait_for_function(
        "() => document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling') === null"
    )
    expect(page.get_by_label(label, exact=True)).to_have_value(value)


def _size_field(org: Organization) -> None:
    crm_services.custom_field_create(
        org=org, actor=None, entity="contact", key="size", label="Size", field_type="number"
    )


def test_an_import_with_bad_rows_gives_the_exact_error_report_and_opens_its_records(
    visitor: Visitor, media: Path, tmp_path: Path
) -> None:
    org = make_organization()
    _size_field(org)
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    crm_services.contact_create(
        org=org, actor=None, first_name="Not", last_name="Imported", email="x@example.com"
    )
    page = visitor.page
    _sign_in(visitor, user)
    expect(page.get_by_test_id("imports-empty")).to_be_visible()
    visitor.check_accessibility()

    page.get_by_test_id("import-new").click()
    page.wait_for_url(visitor.base_url + "/imports/new")
    visitor.check_accessibility()
    csv_file = tmp_path / "équipe.csv"
    csv_file.write_bytes(BAD_ROWS)
    page.get_by_test_id("import-file").set_input_files(str(csv_file))

    # The file went straight to storage; the mapping step says it is not UTF-8, beside the field.
    page.wait_for_url("**/imports/new/map?file=*")
    expect(page.get_by_test_id("import-file-name")).to_contain_text("équipe.csv")
    expect(page.get_by_label("Encoding")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("field-error")).to_contain_text("The file is not utf-8 (byte 0xE9 on line 1).")
    visitor.check_accessibility()
    _choose(page, "Encoding", "latin-1")
    expect(page.get_by_test_id("import-preview")).to_be_visible()
    expect(page.get_by_label("E-mail", exact=True)).to_have_value("email")  # guessed from its header
    # French headers are not guessed: the rest is mapped by hand.
    for label, field in (
        ("Prénom", "first_name"),
        ("Nom", "last_name"),
        ("Propriétaire", "owner"),
        ("Taille", "custom.size"),
    ):
        _choose(page, label, field)
    preview = page.get_by_test_id("import-preview")
    expect(preview.get_by_test_id("preview-row")).to_have_count(5)
    expect(preview.get_by_test_id("preview-row").first).to_contain_text("José")
    expect(preview.get_by_test_id("preview-row").first).to_contain_text("Müller")
    expect(preview).to_contain_text("custom.size: 'many' is not a number")
    visitor.check_accessibility()
    page.get_by_test_id("import-start").press("Enter")  # the "reconnecting" notice (no socket here) covers it
    page.wait_for_url("**/imports/*")
    job = ImportJob.objects.get(organization=org)
    assert job.encoding == "iso8859-1"
    assert job.delimiter == ";"
    assert job.mapping == ["first_name", "last_name", "email", "owner", "custom.size"]
    expect(page.get_by_test_id("import-state")).to_have_text("Queued")
    visitor.check_accessibility()

    # Another page of the same member shows the running import in the shell.
    other = page.context.new_page()
    other.goto(visitor.base_url + "/contacts")
    indicator = other.get_by_test_id("import-indicator")
    expect(indicator).to_be_visible()
    expect(indicator.get_by_test_id("import-indicator-item")).to_have_attribute(
        "data-import-job", str(job.pk)
    )

    # This process works like the worker; the page follows the job to its end.
    assert services.import_run(job_id=job.pk) == ImportState.DONE
    expect(page.get_by_test_id("import-state")).to_have_text("Done", timeout=15_000)
    expect(page.get_by_test_id("count-created")).to_have_text("2")
    expect(page.get_by_test_id("count-failed")).to_have_text("3")
    rows = page.get_by_test_id("import-errors").locator("tbody tr")
    expect(rows).to_have_count(3)
    visitor.check_accessibility()
    with page.expect_download() as download_info:
        page.get_by_test_id("import-error-report").press("Enter")
    body = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert list(csv.reader(io.StringIO(body))) == [
        ["row", "column", "reason"],
        ["3", "E-mail", "email: Enter a valid email address."],
        ["4", "Taille", "custom.size: 'many' is not a number"],
        ["5", "Propriétaire", "owner: 'nobody@example.com' is not a member of this organization"],
    ]

    page.get_by_test_id("import-records").press("Enter")
    page.wait_for_url(f"**/contacts?import={job.pk}")
    expect(page.get_by_test_id("list-count")).to_have_text("2 contacts")
    results = page.get_by_test_id("list-results")
    expect(results).to_contain_text("jose@example.com")
    expect(results).to_contain_text("ada@example.com")
    expect(results).not_to_contain_text("x@example.com")
    assert not visitor.csp_violations


def test_a_running_import_is_cancelled_from_its_page(visitor: Visitor, media: Path) -> None:
    org = make_organization()
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    from django.core.files.uploadedfile import SimpleUploadedFile

    job = services.import_create(
        org=org, actor=user, kind="contacts", upload=SimpleUploadedFile("a.csv", b"email\na@example.com\n")
    )
    page = visitor.page
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(visitor, user, f"/imports/{job.pk}")
    expect(page.get_by_test_id("import-indicator-item")).to_be_visible()
    page.get_by_test_id("import-cancel").press("Enter")
    expect(page.get_by_test_id("import-state")).to_have_text("Cancelled")
    expect(page.get_by_test_id("import-cancelled")).to_be_visible()
    visitor.check_accessibility()
    job.refresh_from_db()
    assert job.state == ImportState.CANCELLED
    assert services.import_run(job_id=job.pk) == "busy"


def test_the_wizard_works_on_a_phone_by_drag_and_drop(phone: Visitor, media: Path) -> None:
    org = make_organization()
    user = make_member_who_signs_in(org, Role.MEMBER, PASSWORD)
    page = phone.page
    _sign_in(phone, user, "/imports/new")
    phone.check_accessibility()
    # A file dropped on the zone (as a desktop browser delivers it).
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          const text = "\\ufeffName,Email\\r\\nAda Lovelace,ada@example.com\\r\\n";
          data.items.add(new File([text], "people.csv", {type: "text/csv"}));
          const zone = document.querySelector("[data-drop-zone]");
          zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }"""
    )
    page.wait_for_url("**/imports/new/map?file=*")
    expect(page.get_by_test_id("import-preview")).to_contain_text("ada@example.com")
    expect(page.get_by_test_id("import-preview")).to_contain_text("Ada")
    phone.check_accessibility()
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('main *, header *'))"
        ".filter(e => e.getBoundingClientRect().right > 376)"
        ".map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 12)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, wide
    page.get_by_test_id("import-start").press("Enter")  # the "reconnecting" notice (no socket here) covers it
    page.wait_for_url("**/imports/*")
    job = ImportJob.objects.get(organization=org)
    assert job.encoding == "utf-8-sig"
    services.import_run(job_id=job.pk)
    page.reload()
    expect(page.get_by_test_id("import-state")).to_have_text("Done")
    phone.check_accessibility()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
