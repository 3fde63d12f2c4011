"""The app shell in a browser: the command palette, the shortcuts dialog, a reminder's toast on
every open page of its user, and live updates between two app processes (with a replica restart).
"""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, expect

from stratus.accounts.models import Organization, Role, User
from stratus.crm.models import Activity, ActivityKind, Contact
from stratus.realtime.tests.harness import realtime_env, unique_prefix
from stratus.reminders.models import Notification, Reminder
from stratus.reminders.services import reminders_fire_due
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization
from testsupport.processes import PROJECT_DIR, child_env, free_port, stop_process

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"
LIVE_WAIT_MS = 30_000  # an upper bound for live delivery and reconnecting; never a speed assertion


def _user(org: Organization, name: str, role: str = Role.MEMBER) -> User:
    user = make_member_who_signs_in(org, role, PASSWORD)
    user.full_name = name
    # Hashed as production does: the app processes these tests start know only the real hashers
    # (this process hashes with the fast test hasher first).
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["full_name", "password"])
    return user


def _sign_in(visitor: Visitor, user: User) -> None:
    visitor.goto("/")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + "/")


def _task(org: Organization, assignee: User, subject: str) -> Activity:
    contact = Contact.objects.create(organization=org, first_name="Grace", last_name="Hopper")
    return Activity.objects.create(
        organization=org,
        kind=ActivityKind.TASK,
        subject=subject,
        assignee=assignee,
        contact=contact,
        due_at=timezone.now() + datetime.timedelta(hours=3),
    )


# --- palette and shortcuts (pytest-django's live server) -----------------------------------------


def test_the_palette_opens_with_ctrl_k_finds_records_and_enter_opens_a_page(visitor: Visitor) -> None:
    org = make_organization("Acme")
    user = _user(org, "Ada Lovelace")
    contact = Contact.objects.create(organization=org, first_name="Zora", last_name="Zebrafield")
    _sign_in(visitor, user)
    page = visitor.page
    page.evaluate("window.__marker = 'same page'")

    page.keyboard.press("Control+k")
    palette = page.get_by_test_id("palette")
    expect(palette).to_be_visible()
    box = palette.get_by_role("combobox")
    expect(box).to_be_focused()
    box.fill("zebrafield")
    option = page.get_by_role("option", name=re.compile("Zora Zebrafield"))
    expect(option).to_have_attribute("href", f"/contacts/{contact.pk}")
    # The first result is active, announced through aria-activedescendant.
    expect(option).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", option.get_attribute("id") or "")
    visitor.check_accessibility()

    box.fill("notifications")
    target = page.get_by_role("option", name="Notifications", exact=True)
    expect(target).to_be_visible()
    box.press("ArrowDown")
    box.press("ArrowUp")
    expect(target).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    page.wait_for_url(visitor.base_url + "/notifications")
    expect(page).to_have_title("Notifications · Stratus")
    expect(palette).to_be_hidden()
    assert page.evaluate("window.__marker") == "same page"  # htmx swapped the page: no reload
    visitor.check_accessibility()

    page.go_back()
    page.wait_for_url(visitor.base_url + "/")
    expect(page).to_have_title("Dashboard · Stratus")


def test_question_mark_lists_the_shortcuts_and_g_then_c_goes_to_contacts(visitor: Visitor) -> None:
    org = make_organization("Acme")
    user = _user(org, "Ada Lovelace")
    _sign_in(visitor, user)
    page = visitor.page

    # Typed into a field, ? is a character, not a shortcut.
    page.get_by_label("Search contacts, companies and deals").focus()
    page.keyboard.press("Escape")
    page.locator("#main").click()
    page.keyboard.press("?")
    dialog = page.get_by_test_id("shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()
    assert "Go to contacts" in dialog.inner_text()
    visitor.check_accessibility()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # n asks the page to create (the list and board modules handle the event).
    page.evaluate(
        "document.addEventListener('stratus:create', (e) => { window.__created = e.detail.kind || 'page'; })"
    )
    page.keyboard.press("n")
    assert page.evaluate("window.__created") == "page"

    page.keyboard.press("g")
    page.keyboard.press("c")
    page.wait_for_url(visitor.base_url + "/contacts")


def test_a_session_that_ended_sends_a_boosted_navigation_to_sign_in_and_back(visitor: Visitor) -> None:
    org = make_organization("Acme")
    user = _user(org, "Ada Lovelace")
    _sign_in(visitor, user)
    store = import_module(django_settings.SESSION_ENGINE).SessionStore
    for key in Session.objects.values_list("session_key", flat=True):
        store(session_key=key).delete()  # the session ends (expired, or signed out elsewhere)

    visitor.page.get_by_test_id("nav-notifications").click()
    visitor.page.wait_for_url(re.compile(r"/login\?next=%2Fnotifications$"))
    expect(visitor.page).to_have_title("Sign in · Stratus")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + "/notifications")
    expect(visitor.page).to_have_title("Notifications · Stratus")
    visitor.check_accessibility()


def test_shortcuts_are_ignored_while_typing(visitor: Visitor) -> None:
    org = make_organization("Acme")
    user = _user(org, "Ada Lovelace")
    _sign_in(visitor, user)
    page = visitor.page
    page.get_by_test_id("user-menu").locator("summary").click()
    page.get_by_role("link", name="Profile").click()
    page.wait_for_url(visitor.base_url + "/profile")
    name = page.get_by_role("textbox", name="Name", exact=True)
    name.fill("")
    name.type("Ada ?g c")
    expect(page.get_by_test_id("shortcuts")).to_be_hidden()
    assert page.url == visitor.base_url + "/profile"
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_test_id("messages")).to_contain_text("Your name was saved.")
    user.refresh_from_db()
    assert user.full_name == "Ada ?g c"
    visitor.check_accessibility()


# --- live updates: two app processes behind one Redis ----------------------------------------------


class Replica:
    """``uvicorn stratus.asgi:application`` on a fixed port, so a restart comes back at the same address."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.port = free_port()
        self.log = log_dir / f"uvicorn-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "stratus.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
        ]

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                self.command(),
                cwd=PROJECT_DIR,
                env=child_env({**self.env, "HOST": "127.0.0.1", "PORT": str(self.port)}),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"{self.url}/health/live", timeout=2):
                    return
            except OSError:
                assert time.monotonic() < deadline, self.log.read_text(errors="replace")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process, 15)


class Replicas:
    def __init__(self, prefix: str, a: Replica, b: Replica) -> None:
        self.prefix, self.a, self.b = prefix, a, b


@pytest.fixture(scope="module")
def replicas(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    if not django_settings.REALTIME_REDIS_URL:
        pytest.fail("live updates between processes need Redis: set REDIS_URL")
    prefix = unique_prefix()
    log_dir = tmp_path_factory.mktemp("shell-replicas")
    env = realtime_env(prefix, REALTIME_POLL_SECONDS="0.2")
    a, b = Replica(env, log_dir), Replica(env, log_dir)
    try:
        a.start()
        b.start()
        yield Replicas(prefix, a, b)
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def cluster(replicas: Replicas, settings: Any) -> Replicas:
    """This process publishes like a worker (reminders): with the replicas' prefix and layer."""
    settings.REALTIME_PREFIX = replicas.prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [django_settings.REALTIME_REDIS_URL], "prefix": f"{replicas.prefix}:layer"},
        }
    }
    return replicas


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    opened: list[BrowserContext] = []
    yield opened
    for context in opened:
        context.close()


def _visitor(browser: Browser, contexts: list[BrowserContext], base_url: str) -> Visitor:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    contexts.append(context)
    return Visitor(context.new_page(), base_url)


def _live(visitor: Visitor) -> None:
    """Wait until the page's socket has subscribed (its `stratus:live` connected event)."""
    expect(visitor.page.locator("html[data-test-live='connected']")).to_have_count(1, timeout=LIVE_WAIT_MS)


def _watch_live(visitor: Visitor) -> None:
    visitor.page.add_init_script(
        "document.addEventListener('stratus:live', (e) => {"
        " if (e.detail.event === 'live.connected') document.documentElement.dataset.testLive = 'connected';"
        " (window.__liveEvents = window.__liveEvents || []).push(e.detail.event); });"
    )


def test_a_reminder_that_fires_shows_a_toast_on_every_open_page_of_its_user(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext]
) -> None:
    org = make_organization("Acme")
    ada = _user(org, "Ada Lovelace")
    grace = _user(org, "Grace Hopper")
    task = _task(org, ada, "Send the Acme proposal")
    Reminder.objects.create(
        organization=org, activity=task, user=ada, remind_at=timezone.now() - datetime.timedelta(minutes=1)
    )

    tabs = [_visitor(browser, contexts, cluster.a.url), _visitor(browser, contexts, cluster.b.url)]
    colleague = _visitor(browser, contexts, cluster.a.url)
    for visitor, user in ((tabs[0], ada), (tabs[1], ada), (colleague, grace)):
        _watch_live(visitor)
        _sign_in(visitor, user)
        _live(visitor)
    tabs[1].page.get_by_test_id("nav-notifications").click()
    tabs[1].page.wait_for_url(cluster.b.url + "/notifications")
    _live(tabs[1])
    expect(tabs[1].page.get_by_test_id("notifications")).to_contain_text("No notifications.")

    assert reminders_fire_due() == 1
    notification = Notification.objects.get(user=ada)

    for visitor in tabs:
        toast = visitor.page.get_by_test_id("toast")
        expect(toast).to_contain_text("Reminder: Send the Acme proposal", timeout=LIVE_WAIT_MS)
        expect(visitor.page.get_by_test_id("unread-badge")).to_have_attribute("data-unread", "1")
        visitor.check_accessibility()
    # The inbox that was open shows the new notification without a reload.
    expect(tabs[1].page.get_by_test_id(f"notification-{notification.pk}")).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(colleague.page.get_by_test_id("toast")).to_have_count(0)
    assert "notification.created" not in colleague.page.evaluate("window.__liveEvents")

    tabs[1].page.get_by_role("button", name="Mark as read").click()
    expect(tabs[1].page.get_by_test_id("unread-badge")).to_have_attribute("data-unread", "0")
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_a_change_served_by_one_process_updates_a_page_served_by_the_other_and_catches_up_after_a_restart(
    browser: Browser, cluster: Replicas, contexts: list[BrowserContext]
) -> None:
    org = make_organization("Acme")
    ada = _user(org, "Ada Lovelace")
    grace = _user(org, "Grace Hopper")
    task = _task(org, grace, "Call the procurement office")

    editor = _visitor(browser, contexts, cluster.a.url)  # Ada, on process A
    watcher = _visitor(browser, contexts, cluster.b.url)  # Grace, on process B
    for visitor, user in ((editor, ada), (watcher, grace)):
        _watch_live(visitor)
        _sign_in(visitor, user)
        _live(visitor)
    tasks = watcher.page.get_by_test_id("tasks")
    expect(tasks).to_contain_text("Call the procurement office")
    watcher.page.evaluate("window.__marker = 'same page'")

    def rename(subject: str) -> None:
        csrf = next(c["value"] for c in editor.page.context.cookies() if c["name"] == "csrftoken")
        response = editor.page.request.patch(
            f"{cluster.a.url}/api/v1/activities/{task.pk}",
            data={"subject": subject},
            headers={"X-CSRFToken": csrf, "Referer": cluster.a.url + "/"},
        )
        assert response.status == 200, response.text()

    rename("Call the procurement office before Friday")
    expect(tasks).to_contain_text("before Friday", timeout=LIVE_WAIT_MS)
    assert watcher.page.evaluate("window.__marker") == "same page"
    watcher.check_accessibility()

    # A fragment of that record holding an open edit form is not overwritten: it says so.
    watcher.page.evaluate(
        """([id]) => document.getElementById('main').insertAdjacentHTML('beforeend',
        `<section id="task-editor" data-live-record="activity:${id}" data-live-refresh="/tasks">
        <form data-edit-form><label for="draft">Subject</label><input id="draft" value="My draft"></form>
        </section>`)""",
        [task.pk],
    )
    rename("Call the procurement office before Thursday")
    expect(tasks).to_contain_text("before Thursday", timeout=LIVE_WAIT_MS)
    editor_box = watcher.page.locator("#task-editor")
    expect(editor_box.get_by_test_id("live-notice")).to_contain_text("Changed by someone else")
    expect(editor_box.get_by_label("Subject")).to_have_value("My draft")
    watcher.check_accessibility()
    editor_box.get_by_role("button", name="Reload").click()
    expect(watcher.page.locator("#task-editor")).to_have_count(0)  # replaced by what the server renders

    # Process B restarts: a change made meanwhile reaches the page once it has reconnected.
    cluster.b.stop()
    rename("Call the procurement office on Monday")
    task.refresh_from_db()
    assert task.subject == "Call the procurement office on Monday"
    cluster.b.start()
    expect(tasks).to_contain_text("on Monday", timeout=LIVE_WAIT_MS)
    assert watcher.page.evaluate("window.__marker") == "same page"
    events = watcher.page.evaluate("window.__liveEvents")
    assert events.count("activity.updated") == 3, events
    watcher.check_accessibility()


def test_a_refused_password_change_shows_the_message_beside_the_field_and_changes_nothing(
    visitor: Visitor,
) -> None:
    org = make_organization("Acme")
    user = _user(org, "Ada Lovelace")
    _sign_in(visitor, user)
    page = visitor.page
    page.evaluate("window.__marker = 'same page'")
    page.get_by_test_id("user-menu").locator("summary").click()
    page.get_by_role("link", name="Profile").click()
    page.wait_for_url(visitor.base_url + "/profile")
    expect(page).to_have_title("Profile · Stratus")

    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password").fill("a brand new passphrase 7")
    page.get_by_role("button", name="Change password").click()
    error = page.get_by_test_id("error-current_password")
    expect(error).to_have_text("The current password is wrong.")
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.__marker") == "same page"  # the refusal was swapped in by htmx
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    visitor.check_accessibility()

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill("a brand new passphrase 7")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_test_id("messages")).to_contain_text("Your password was changed.")
    user.refresh_from_db()
    assert user.check_password("a brand new passphrase 7")
    page.reload()
    expect(page).to_have_title("Profile · Stratus")  # still signed in after the change
