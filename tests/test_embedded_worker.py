"""The embedded default's worker line (Procfile.dev): no Redis, no PostgreSQL.

A fresh data folder with SQLite; the worker runs beat in-process and takes messages from
the filesystem broker under DATA_DIR. A due reminder fires and a campaign is written to the
file mail backend (DATA_DIR/mail). Sweeps every second (SWEEP_INTERVAL=1).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from testsupport.background import processes, sweeps_done, wait_for, worker
from testsupport.processes import manage, run_python

pytestmark = pytest.mark.cluster

SETUP = """
import django
django.setup()
from django.utils import timezone
from stratus.accounts.demo import demo_load
from stratus.crm import services as crm
from stratus.crm.models import Activity
from stratus.reminders import services as reminders
from stratus.campaigns import services as campaigns

demo = demo_load()
org, user = demo.organization, demo.user
contact = crm.contact_create(org=org, actor=user, first_name="Ada", email="ada@example.com", tags=["news"])
activity = Activity.objects.create(organization=org, subject="Call Ada", assignee=user, contact=contact)
reminders.reminder_create(org=org, actor=user, activity=activity, remind_at=timezone.now())
segment = campaigns.segment_create(org=org, actor=user, name="News", filters={"tags": ["news"]})
campaign = campaigns.campaign_create(org=org, actor=user, name="Hello", segment=segment,
                                     subject="Hello {{ contact.first_name }}", body_text="Hi there")
campaigns.campaign_schedule(org=org, campaign=campaign)
"""


def test_the_embedded_worker_fires_reminders_and_sends_campaigns_to_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"DATA_DIR": str(data), "SWEEP_INTERVAL": "1"}
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    setup = run_python(SETUP, env=env)
    assert setup.returncode == 0, setup.stderr

    def state() -> dict[str, list[str]]:
        with sqlite3.connect(data / "stratus.sqlite3", timeout=20) as db:
            return {
                "notifications": [row[0] for row in db.execute("SELECT title FROM reminders_notification")],
                "campaigns": [row[0] for row in db.execute("SELECT state FROM campaigns_campaign")],
            }

    with processes() as started:
        embedded = worker(env, tmp_path / "worker.log", "--beat")
        started.append(embedded)
        wait_for(lambda: state()["campaigns"] == ["sent"], 90, "the campaign to be sent", interval=0.5)
        wait_for(lambda: state()["notifications"], 90, "the reminder to fire", interval=0.5)
        # Two more sweeps find nothing more to do.
        done = sweeps_done(embedded)
        wait_for(lambda: sweeps_done(embedded) >= done + 2, 30, "two more sweeps", interval=0.5)
    assert state()["notifications"] == ["Reminder: Call Ada"]
    assert "filesystem://" in embedded.output()
    mails = [path.read_text() for path in (data / "mail").glob("*.log")]
    assert len(mails) == 1
    assert "Subject: Hello Ada" in mails[0]
    assert "To: ada@example.com" in mails[0]
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in mails[0]
