"""The worker reads documents' text: the embedded default's worker line (SQLite, the filesystem
broker, beat in process), a hostile file that runs out of time next to an ordinary one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from testsupport.background import processes, wait_for, worker
from testsupport.processes import manage, run_python

pytestmark = pytest.mark.cluster

SETUP = """
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from stratus.accounts.demo import demo_load
from stratus.crm import services as crm
from stratus.documents import services
from stratus.documents.tests import text_files

demo = demo_load()
org, user = demo.organization, demo.user
contact = crm.contact_create(org=org, actor=user, first_name="Ada", email="ada@example.com")
for name, content in [
    ("endless.pdf", text_files.endless_pdf()),
    ("terms.pdf", text_files.pdf(["Renewal terms: the agreement rolls over for two years.", "Page two."])),
]:
    file = SimpleUploadedFile(name, content, content_type="application/pdf")
    services.document_upload(org=org, actor=user, target=contact, file=file)
"""


def test_the_worker_extracts_text_and_survives_a_file_that_runs_out_of_time(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"DATA_DIR": str(data), "SWEEP_INTERVAL": "1", "DOCUMENTS_TEXT_TIMEOUT": "4"}
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    setup = run_python(SETUP, env=env)
    assert setup.returncode == 0, setup.stderr

    def state() -> dict[str, tuple[str, str]]:
        with sqlite3.connect(data / "stratus.sqlite3", timeout=20) as db:
            rows = db.execute("SELECT name, text_status, text_reason FROM documents_document")
            return {name: (status, reason) for name, status, reason in rows}

    with processes() as started:
        started.append(worker(env, tmp_path / "worker.log", "--beat"))
        wait_for(
            lambda: all(status != "pending" for status, _ in state().values()),
            120,
            "both documents to be read",
            interval=0.5,
        )
    assert state() == {"endless.pdf": ("not_searchable", "timeout"), "terms.pdf": ("searchable", "")}
    with sqlite3.connect(data / "stratus.sqlite3") as db:
        (text, pages) = db.execute("SELECT text, page_starts FROM documents_documenttext").fetchone()
    assert "rolls over for two years" in text
    first_page = "Renewal terms: the agreement rolls over for two years.\n\n"
    assert json.loads(pages) == [0, len(first_page)]
