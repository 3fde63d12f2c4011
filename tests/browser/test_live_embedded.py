"""Live updates on the embedded default (`make run`): no PostgreSQL, no Redis.

The Procfile.dev web line (uvicorn, HTTP and WebSocket in one process) on a fresh SQLite data
folder: its channel layer is in memory, and events raised in other processes (the worker, a
`manage.py` command) reach its sockets through the database event log it polls every
REALTIME_POLL_SECONDS. Two users of one organization, each in a browser context of their own:

- a change made through one page reaches the other page without a reload, and a change made in
  another process reaches both;
- after a restart of the web process during which more changed than the log keeps, the page gets
  `resync` and the list reloads its rows, keeping its filters, sort, scroll position and ticks.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from stratus.realtime.tests.test_embedded import procfile_command
from tests.browser import test_shell as shell
from tests.browser.conftest import Visitor
from tests.browser.test_shell import LIVE_WAIT_MS, Replica, _live, _watch_live
from testsupport.processes import manage, run_python

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

PASSWORD = "correct horse battery staple"
contexts = shell.contexts  # the browser contexts a test opens, closed after it
RESTART_WAIT_MS = 90_000  # the page reconnects with backoff: an upper bound, never a speed assertion
CONTACTS = 60  # more than one page of rows (50): the list scrolls

SETUP = f"""
import json
import django
django.setup()
from stratus.accounts.models import Membership, Role, User
from stratus.accounts.services import organization_create
from stratus.crm import services as crm
from stratus.crm.models import Contact

def person(email, name, role):
    user = User.objects.create_user(email, password={PASSWORD!r})
    user.full_name = name
    user.save(update_fields=["full_name"])
    return user

ada = person("ada@embedded.example", "Ada Lovelace", None)
org = organization_create(name="Embedded", owner=ada, slug="embedded")
grace = person("grace@embedded.example", "Grace Hopper", None)
Membership.objects.create(organization=org, user=grace, role=Role.MEMBER)
Contact.objects.bulk_create(
    Contact(organization=org, first_name=f"Person {{i:02d}}", last_name="Rowe") for i in range({CONTACTS})
)
other = crm.contact_create(org=org, actor=None, first_name="Olga", last_name="Outside")
rows = dict(Contact.objects.filter(organization=org).values_list("first_name", "id"))
print(json.dumps(rows))
"""

# What another process does (as the worker or `manage.py shell` would): CRM services, no page.
ELSEWHERE = """
import json, os, sys
import django
django.setup()
from stratus.accounts.models import Organization, User
from stratus.crm import services as crm

org = Organization.objects.get(slug="embedded")
actor = User.objects.get(email="ada@embedded.example")
for step in json.loads(os.environ["STEPS"]):
    action, args = step[0], step[1]
    if action == "update":
        crm.contact_update(org=org, actor=actor, **args)
    elif action == "create":
        print(crm.contact_create(org=org, actor=actor, **args).pk)
    elif action == "delete":
        crm.contact_delete(org=org, actor=actor, **args)
"""


class Embedded(Replica):
    """The Procfile.dev web line (as `make run` starts it) on a fixed port: a restart comes back at
    the same address."""

    def __init__(self, env: dict[str, str], log_dir: Path, contacts: dict[str, int]) -> None:
        super().__init__(env, log_dir)
        self.contacts = contacts

    def command(self) -> list[str]:
        return ["bash", "-c", f"exec {procfile_command('web')}"]  # exec: SIGTERM reaches uvicorn

    @property
    def database(self) -> Path:
        return Path(self.env["DATA_DIR"]) / "stratus.sqlite3"

    def elsewhere(self, *steps: tuple[str, dict[str, object]], **env: str) -> list[int]:
        """Run CRM services in a process of its own; the ids of the contacts it created."""
        done = run_python(ELSEWHERE, env={**self.env, "STEPS": json.dumps(steps), **env})
        assert done.returncode == 0, done.stderr
        return [int(line) for line in done.stdout.split()]

    def contact(self, pk: int) -> tuple[str, str] | None:
        with sqlite3.connect(self.database, timeout=20) as db:
            row = db.execute("SELECT first_name, job_title FROM crm_contact WHERE id = ?", (pk,)).fetchone()
        return None if row is None else (row[0], row[1])


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    folder = tmp_path_factory.mktemp("embedded")
    # No DATABASE_URL, no REDIS_URL (child_env clears them): SQLite under DATA_DIR, the in-memory
    # channel layer and the database event log.
    env = {"DATA_DIR": str(folder / "data"), "REALTIME_REDIS_URL": "", "REALTIME_POLL_SECONDS": "0.2"}
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    setup = run_python(SETUP, env=env)
    assert setup.returncode == 0, setup.stderr
    site = Embedded(env, folder, json.loads(setup.stdout.strip().splitlines()[-1]))
    try:
        site.start()
        yield site
    finally:
        site.stop()


def _person(
    browser: Browser, contexts: list[BrowserContext], site: Embedded, email: str, path: str
) -> Visitor:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    contexts.append(context)
    visitor = Visitor(context.new_page(), site.url)
    _watch_live(visitor)
    visitor.goto(f"/login?next={quote(path)}")
    visitor.page.get_by_label("E-mail").fill(email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(site.url + path)
    _live(visitor)
    visitor.page.evaluate("window.__marker = 'same page'")
    return visitor


def test_a_change_through_one_page_and_one_made_in_another_process_reach_the_open_pages(
    browser: Browser, embedded: Embedded, contexts: list[BrowserContext]
) -> None:
    changed, elsewhere = embedded.contacts["Person 03"], embedded.contacts["Person 04"]
    ada = _person(browser, contexts, embedded, "ada@embedded.example", f"/contacts/{changed}")
    grace = _person(browser, contexts, embedded, "grace@embedded.example", "/contacts?ordering=name")
    row = grace.page.get_by_test_id(f"row-{changed}")
    expect(row).to_contain_text("Person 03 Rowe")

    # Ada renames the contact on its record page: Grace's list row changes in place.
    ada.page.get_by_test_id("field-first-name-edit").click()
    ada.page.get_by_label("First name", exact=True).fill("Augusta")
    ada.page.get_by_role("button", name="Save First name").click()
    expect(ada.page.get_by_test_id("field-first-name")).to_contain_text("Augusta")
    expect(row).to_contain_text("Augusta Rowe", timeout=LIVE_WAIT_MS)
    assert embedded.contact(changed) == ("Augusta", "")

    # Another process (no socket, no channel layer shared with the web process) changes two
    # contacts: the web process finds the events in the database log and both pages update.
    embedded.elsewhere(
        ("update", {"contact": elsewhere, "first_name": "Renamed elsewhere"}),
        ("update", {"contact": changed, "job_title": "Analyst"}),
    )
    expect(grace.page.get_by_test_id(f"row-{elsewhere}")).to_contain_text(
        "Renamed elsewhere Rowe", timeout=LIVE_WAIT_MS
    )
    expect(ada.page.get_by_test_id("field-job-title")).to_contain_text("Analyst", timeout=LIVE_WAIT_MS)
    assert embedded.contact(changed) == ("Augusta", "Analyst")

    for visitor in (ada, grace):
        assert visitor.page.evaluate("window.__marker") == "same page"  # no reload
        visitor.check_accessibility()
    assert "contact.updated" in grace.page.evaluate("window.__liveEvents")


def test_after_a_restart_that_missed_more_than_the_log_keeps_the_list_resyncs_in_place(
    browser: Browser, embedded: Embedded, contexts: list[BrowserContext]
) -> None:
    renamed, deleted = embedded.contacts["Person 05"], embedded.contacts["Person 06"]
    ticked = embedded.contacts["Person 07"]
    # A filter (only the Rowes) and a sort the reload must keep.
    path = "/contacts?ordering=name&q=Rowe"
    grace = _person(browser, contexts, embedded, "grace@embedded.example", path)
    page = grace.page
    expect(page.get_by_test_id("list-count")).to_have_text(f"{CONTACTS} contacts")
    page.get_by_test_id(f"row-{ticked}").locator("input[data-row-select]").check()
    page.mouse.move(640, 500)
    page.mouse.wheel(0, 300)
    page.wait_for_function("window.scrollY > 0 || document.querySelector('.list-scroll').scrollTop > 0")
    scrolled = page.evaluate("[window.scrollY, document.querySelector('.list-scroll').scrollTop]")

    # The web process restarts; meanwhile another process makes more changes than the log keeps
    # (it trims the log to the last 3 events as it appends), so they cannot be replayed.
    embedded.stop()
    created = embedded.elsewhere(
        ("update", {"contact": renamed, "first_name": "Aaron"}),
        ("delete", {"contact": deleted}),
        ("create", {"first_name": "Abel", "last_name": "Rowe"}),
        ("create", {"first_name": "Abigail", "last_name": "Outside"}),
        ("update", {"contact": ticked, "job_title": "Ticked"}),
        REALTIME_RETENTION_EVENTS="3",
    )
    embedded.start()

    # The page reconnects, is told to resync and reloads the list's rows in place.
    expect(page.get_by_test_id(f"row-{renamed}")).to_contain_text("Aaron Rowe", timeout=RESTART_WAIT_MS)
    assert "live.resync" in page.evaluate("window.__liveEvents")
    expect(page.get_by_test_id(f"row-{deleted}")).to_have_count(0)
    expect(page.get_by_test_id(f"row-{created[0]}")).to_contain_text("Abel Rowe")
    expect(page.get_by_test_id(f"row-{created[1]}")).to_have_count(0)  # not a Rowe: the filter holds
    expect(page.get_by_test_id("list-count")).to_have_text(f"{CONTACTS} contacts")
    expect(page.get_by_test_id("sort-name").locator("xpath=..")).to_have_attribute("aria-sort", "ascending")
    expect(page.get_by_test_id(f"row-{ticked}").locator("input[data-row-select]")).to_be_checked()
    assert page.evaluate("[window.scrollY, document.querySelector('.list-scroll').scrollTop]") == scrolled
    assert page.evaluate("window.__marker") == "same page"
    assert page.url == embedded.url + path
    assert embedded.contact(deleted) is None
    grace.check_accessibility()
