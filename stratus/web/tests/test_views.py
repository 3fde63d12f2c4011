"""Browser pages through Django's test client: sign-in, the shell, my tasks, errors, headers."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.crm.models import Activity, ActivityKind, Contact, TimelineEntry
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


def _member(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _task(org: Organization, assignee: User, subject: str, due_in_hours: float | None) -> Activity:
    contact = Contact.objects.create(organization=org, first_name="Ada", last_name="Lovelace")
    due = None if due_in_hours is None else timezone.now() + datetime.timedelta(hours=due_in_hours)
    return Activity.objects.create(
        organization=org,
        kind=ActivityKind.TASK,
        subject=subject,
        assignee=assignee,
        contact=contact,
        due_at=due,
    )


def test_root_shows_the_sign_in_page_to_visitors() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="login-form"' in body
    assert "<title>Sign in · Stratus</title>" in body


def test_wrong_password_and_unknown_email_get_the_same_answer() -> None:
    user = _member(make_organization())
    wrong = Client().post(reverse("web:login"), {"email": user.email, "password": "nope"})
    unknown = Client().post(reverse("web:login"), {"email": "nobody@example.com", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 400
    for response in (wrong, unknown):
        assert "Wrong e-mail or password." in response.content.decode()
        assert "_auth_user_id" not in response.wsgi_request.session
    # What the user typed stays in the form.
    assert f'value="{user.email}"' in wrong.content.decode()


def test_sign_in_goes_back_to_the_page_asked_for_and_never_to_another_site() -> None:
    user = _member(make_organization())
    response = Client().post(
        reverse("web:login"), {"email": user.email, "password": PASSWORD, "next": "/?x=1"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/?x=1"
    response = Client().post(
        reverse("web:login"), {"email": user.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_a_page_that_needs_a_session_sends_the_visitor_to_sign_in_and_back() -> None:
    task = _task(make_organization(), _member(make_organization()), "t", 1)
    response = Client().post(reverse("web:task-done", args=[task.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login") + "?next=")


def test_sign_out_needs_a_post_and_ends_the_session() -> None:
    client = _signed_in(_member(make_organization()))
    assert client.get(reverse("web:logout")).status_code == 405
    assert client.post(reverse("web:logout")).status_code == 302
    assert 'data-testid="login-form"' in client.get("/").content.decode()


def test_my_tasks_groups_my_open_tasks_and_shows_nobody_elses() -> None:
    org = make_organization()
    me, colleague = _member(org), _member(org)
    other_org = make_organization("Other")
    stranger = _member(other_org)
    _task(org, me, "Overdue call", -2)
    _task(org, me, "Upcoming visit", 72)
    _task(org, me, "Someday", None)
    done = _task(org, me, "Already done", 5)
    done.done, done.done_at = True, timezone.now()
    done.save()
    _task(org, colleague, "Colleague task", 1)
    _task(other_org, stranger, "Foreign task", 1)

    body = _signed_in(me).get("/").content.decode()

    assert "Overdue call" in body
    assert "Upcoming visit" in body
    assert "Someday" in body
    assert "Already done" not in body
    assert "Colleague task" not in body
    assert "Foreign task" not in body
    assert body.index("Overdue call") < body.index("Upcoming visit") < body.index("Someday")


def test_text_from_users_is_escaped() -> None:
    org = make_organization()
    me = _member(org)
    _task(org, me, XSS, 1)
    body = _signed_in(me).get("/").content.decode()
    assert XSS not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_a_member_marks_a_task_done_through_the_service() -> None:
    org = make_organization()
    me = _member(org)
    task = _task(org, me, "Call back", 1)
    response = _signed_in(me).post(reverse("web:task-done", args=[task.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.done
    assert task.done_at is not None
    assert "Call back" not in response.content.decode()
    # The service recorded who did it on the timeline, as the API does.
    entry = TimelineEntry.objects.get(organization=org, target_type="activity", target_id=task.pk)
    assert entry.action == "updated"
    assert entry.actor == me
    assert entry.changes is not None
    assert entry.changes["done"] == {"old": False, "new": True}


def test_a_viewer_sees_no_edit_control_and_is_refused() -> None:
    org = make_organization()
    viewer = _member(org, Role.VIEWER)
    task = _task(org, viewer, "Read only", 1)
    client = _signed_in(viewer)
    assert "Mark done" not in client.get("/").content.decode()
    response = client.post(reverse("web:task-done", args=[task.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert "Viewers cannot change tasks." in response.content.decode()
    task.refresh_from_db()
    assert not task.done


def test_another_organizations_task_cannot_be_touched() -> None:
    org, other_org = make_organization(), make_organization("Other")
    me = _member(org)
    foreign = _task(other_org, _member(other_org), "Foreign", 1)
    response = _signed_in(me).post(reverse("web:task-done", args=[foreign.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert "Foreign" not in response.content.decode()
    foreign.refresh_from_db()
    assert not foreign.done


def test_switching_organization_only_to_ones_the_user_belongs_to() -> None:
    first, second, foreign = make_organization("Alpha"), make_organization("Beta"), make_organization("Gamma")
    me = _member(first)
    Membership.objects.create(organization=second, user=me, role=Role.MEMBER)
    _task(second, me, "Beta task", 1)
    client = _signed_in(me)
    assert "Beta task" not in client.get("/").content.decode()
    client.post(reverse("web:switch-organization"), {"organization": second.pk})
    assert "Beta task" in client.get("/").content.decode()
    client.post(reverse("web:switch-organization"), {"organization": foreign.pk})
    assert "Beta task" in client.get("/").content.decode()  # unchanged: not a member of Gamma


def test_pages_carry_a_strict_content_security_policy() -> None:
    response = Client().get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert "<script>" not in response.content.decode()  # no inline script at all


def test_an_unknown_page_is_a_page_of_the_app() -> None:
    response = _signed_in(_member(make_organization())).get("/no/such/page")
    assert response.status_code == 404
    assert 'data-testid="error-404"' in response.content.decode()


def test_the_task_list_costs_the_same_queries_for_one_task_or_many() -> None:
    org = make_organization()
    me = _member(org)
    client = _signed_in(me)
    _task(org, me, "one", 1)
    with CaptureQueriesContext(connection) as one:
        client.get("/")
    for n in range(20):
        _task(org, me, f"task {n}", n)
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(many.captured_queries) == len(one.captured_queries)


def test_sign_in_is_limited_like_the_api_and_says_so() -> None:
    user = _member(make_organization())
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    answers = [
        attacker.post(reverse("web:login"), {"email": user.email, "password": f"guess {n}"}).status_code
        for n in range(7)
    ]
    assert answers[:5] == [400] * 5
    assert 429 in answers[5:]
    locked = attacker.post(reverse("web:login"), {"email": user.email, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many sign-in attempts. Try again in" in locked.content.decode()
    assert "_auth_user_id" not in locked.wsgi_request.session
    # The owner, from another address, is not kept out.
    owner = Client(REMOTE_ADDR="198.51.100.9")
    assert owner.post(reverse("web:login"), {"email": user.email, "password": PASSWORD}).status_code == 302
