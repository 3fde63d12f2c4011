"""Exporting a filtered list to CSV from the list page: start, progress, download, the file's rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from stratus.accounts.models import Role
from stratus.crm import services as crm_services
from stratus.web.lists.exports import export_run
from stratus.web.models import BulkState, ExportJob
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"


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


def test_a_filtered_list_exports_exactly_its_rows_and_columns(visitor: Visitor, media: Path) -> None:
    org = make_organization()
    user = make_member_who_signs_in(org, Role.VIEWER, PASSWORD)  # exporting is reading
    for i in range(10):
        crm_services.contact_create(
            org=org,
            actor=None,
            first_name=f"Person{i}",
            last_name="Doe",
            email=f"p{i}@example.com",
            job_title="=1+1" if i == 3 else "",
            tags=["vip"] if i in (2, 3, 8) else [],
        )

    visitor.goto("/login?next=/contacts?ordering=name%26columns=name,email,job_title")
    page = visitor.page
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("[data-testid=list-results]")
    expect(page.get_by_test_id("list-count")).to_have_text("10 contacts")

    filters = page.get_by_test_id("list-filters")
    filters.get_by_label("Has all tags").fill("vip")
    filters.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("list-count")).to_have_text("3 contacts")

    page.get_by_test_id("export-csv").click()
    bar = page.get_by_test_id("export-progress")
    expect(bar).to_have_attribute("data-state", "queued")
    visitor.check_accessibility()
    job = ExportJob.objects.get(organization=org, created_by=user)
    assert job.filters == {"tag": "vip"}
    assert job.columns == ["name", "email", "job_title"]

    # This process works like the worker; the bar follows the job and offers the file.
    assert export_run(job_id=job.pk) == BulkState.DONE
    expect(bar).to_have_attribute("data-state", "done", timeout=10_000)
    expect(bar).to_contain_text("3 of 3 rows written.")
    link = page.get_by_test_id("export-download")
    expect(link).to_be_visible()
    visitor.check_accessibility()

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename.startswith("contacts-")
    assert download.suggested_filename.endswith(".csv")
    body = Path(download.path()).read_bytes()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [
        ["Name", "E-mail", "Job title"],
        ["Person2 Doe", "p2@example.com", ""],
        ["Person3 Doe", "p3@example.com", "'=1+1"],
        ["Person8 Doe", "p8@example.com", ""],
    ]
    assert not visitor.csp_violations
