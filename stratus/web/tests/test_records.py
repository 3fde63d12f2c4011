"""Record pages through Django's test client: fields edited in place, permissions, isolation,
refused values, stale saves, the timeline, activities, documents and query counts."""

from __future__ import annotations

import datetime
import hashlib
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    CustomField,
    Deal,
    Pipeline,
    TimelineEntry,
)
from stratus.documents.models import Document
from stratus.reminders.models import Reminder
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'
HX = {"HX-Request": "true"}


def _member(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _contact(org: Organization, actor: User | None = None, **data: Any) -> Contact:
    fields = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", **data}
    return crm_services.contact_create(org=org, actor=actor, **fields)


def _company(org: Organization, **data: Any) -> Company:
    return crm_services.company_create(org=org, actor=None, **{"name": "Analytical Engines", **data})


def _deal(org: Organization, **data: Any) -> Deal:
    if not Pipeline.objects.filter(organization=org).exists():
        crm_services.pipeline_create(org=org, actor=None, name="Sales")
    return crm_services.deal_create(org=org, actor=None, **{"title": "Difference engine", **data})


def _save(
    client: Client,
    record: Contact | Company | Deal,
    kind: str,
    field: str,
    value: str | list[str],
    **extra: str,
):
    record.refresh_from_db()
    return client.post(
        reverse(f"web:{kind}-field-save", args=[record.pk, field]),
        {"value": value, "version": record.updated_at.isoformat(), **extra},
        headers=HX,
    )


def test_a_contact_page_shows_every_field_custom_fields_and_the_live_hooks() -> None:
    org = make_organization()
    me = _member(org)
    CustomField.objects.create(
        organization=org, entity="contact", key="shoe_size", label="Shoe size", field_type="number"
    )
    company = _company(org)
    contact = _contact(
        org, me, job_title="Mathematician", company=company.pk, custom_fields={"shoe_size": 38}
    )
    body = _client(me).get(f"/contacts/{contact.pk}").content.decode()
    assert "<title>Ada Lovelace · Stratus</title>" in body
    for text in ("Mathematician", "ada@example.com", "Shoe size", "38", "Analytical Engines"):
        assert text in body
    assert f'data-live-record="contact:{contact.pk}"' in body
    assert f'data-live-refresh="/contacts/{contact.pk}/main"' in body
    assert f'href="/companies/{company.pk}"' in body
    assert 'data-testid="field-first-name-edit"' in body
    # The refresh fragment re-renders the header and the fields.
    fragment = _client(me).get(f"/contacts/{contact.pk}/main").content.decode()
    assert 'id="record-main"' in fragment
    assert "Mathematician" in fragment


def test_company_and_deal_pages_link_their_related_records() -> None:
    org = make_organization()
    me = _member(org)
    company = _company(org)
    contact = _contact(org, company=company.pk)
    deal = _deal(org, company=company.pk, contacts=[contact.pk], value=Decimal("1250.00"))
    client = _client(me)
    company_page = client.get(f"/companies/{company.pk}").content.decode()
    assert f'href="/contacts/{contact.pk}"' in company_page
    assert f'href="/deals/{deal.pk}"' in company_page
    deal_page = client.get(f"/deals/{deal.pk}").content.decode()
    assert f'href="/contacts/{contact.pk}"' in deal_page
    assert f'href="/companies/{company.pk}"' in deal_page
    assert "1250.00" in deal_page
    contact_page = client.get(f"/contacts/{contact.pk}").content.decode()
    assert f'href="/deals/{deal.pk}"' in contact_page


def test_another_organizations_record_is_the_apps_404_page() -> None:
    mine, theirs = make_organization("Mine"), make_organization("Theirs")
    me = _member(mine)
    foreign = {"contacts": _contact(theirs).pk, "companies": _company(theirs).pk, "deals": _deal(theirs).pk}
    client = _client(me)
    for plural, pk in foreign.items():
        for suffix in ("", "/main", "/timeline", "/fields/first_name/edit", "/delete"):
            response = client.get(f"/{plural}/{pk}{suffix}")
            assert response.status_code == 404, (plural, suffix)
        assert 'data-testid="error-404"' in client.get(f"/{plural}/{pk}").content.decode()
        response = client.post(f"/{plural}/{pk}/delete")
        assert response.status_code == 404
    assert Contact.objects.filter(pk=foreign["contacts"]).exists()
    assert Deal.objects.filter(pk=foreign["deals"]).exists()


def test_a_signed_out_visitor_is_sent_to_sign_in() -> None:
    contact = _contact(make_organization())
    response = Client().get(f"/contacts/{contact.pk}")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login") + "?next=")


def test_inline_edit_saves_through_the_service_and_records_the_change() -> None:
    org = make_organization()
    me = _member(org)
    contact = _contact(org)
    client = _client(me)
    form = client.get(f"/contacts/{contact.pk}/fields/job_title/edit", headers=HX).content.decode()
    assert 'name="version"' in form
    assert 'name="value"' in form
    response = _save(client, contact, "contact", "job_title", "Countess")
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#record-main"
    assert "Countess" in response.content.decode()
    contact.refresh_from_db()
    assert contact.job_title == "Countess"
    entry = TimelineEntry.objects.filter(target_type="contact", target_id=contact.pk, action="updated").get()
    assert entry.actor == me
    assert entry.changes == {"job_title": {"old": "", "new": "Countess"}}
    # The response carries the timeline with the change (swapped out of band).
    assert 'hx-swap-oob="true"' in response.content.decode()


def test_tags_owner_and_custom_fields_are_edited_in_place() -> None:
    org = make_organization()
    me = _member(org)
    CustomField.objects.create(
        organization=org,
        entity="contact",
        key="tier",
        label="Tier",
        field_type="choice",
        choices=["gold", "silver"],
    )
    contact = _contact(org)
    client = _client(me)
    assert _save(client, contact, "contact", "tags", "vip, newsletter").status_code == 200
    assert _save(client, contact, "contact", "owner", str(me.pk)).status_code == 200
    assert _save(client, contact, "contact", "custom_fields.tier", "gold").status_code == 200
    contact.refresh_from_db()
    assert sorted(contact.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    assert contact.owner == me
    assert contact.custom_fields == {"tier": "gold"}


def test_a_refused_value_shows_the_servers_message_beside_the_field_and_saves_nothing() -> None:
    org = make_organization()
    me = _member(org)
    _contact(org, email="taken@example.com", first_name="Other")
    contact = _contact(org)
    CustomField.objects.create(
        organization=org, entity="contact", key="size", label="Size", field_type="number"
    )
    client = _client(me)
    before = TimelineEntry.objects.count()

    response = _save(client, contact, "contact", "email", "TAKEN@example.com")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="field-errors"' in body
    assert "A contact with this email already exists." in body
    assert 'value="TAKEN@example.com"' in body  # what the user typed stays
    assert 'id="field-email"' in body

    response = _save(client, contact, "contact", "custom_fields.size", "large")
    assert response.status_code == 400
    assert "Expected a number." in response.content.decode()

    response = _save(client, contact, "contact", "first_name", "x" * 101)
    assert response.status_code == 400
    assert "Ensure this field has no more than 100 characters." in response.content.decode()

    contact.refresh_from_db()
    assert contact.email == "ada@example.com"
    assert contact.custom_fields == {}
    assert contact.first_name == "Ada"
    assert TimelineEntry.objects.count() == before


def test_a_stale_save_is_refused_instead_of_overwriting_a_colleagues_change() -> None:
    org = make_organization()
    me, colleague = _member(org), _member(org)
    contact = _contact(org)
    client = _client(me)
    opened = client.get(f"/contacts/{contact.pk}/fields/job_title/edit", headers=HX).content.decode()
    contact.refresh_from_db()
    version = contact.updated_at.isoformat()
    assert f'value="{version}"' in opened
    crm_services.contact_update(org=org, actor=colleague, contact=contact.pk, job_title="Analyst")

    response = client.post(
        f"/contacts/{contact.pk}/fields/job_title/save", {"value": "Poet", "version": version}, headers=HX
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert 'data-testid="field-conflict"' in body
    assert "Someone else changed this record" in body
    assert "Analyst" in body
    assert 'value="Poet"' in body
    contact.refresh_from_db()
    assert contact.job_title == "Analyst"
    # The refused form carries the new version: saving again knowingly replaces the value.
    assert f'value="{contact.updated_at.isoformat()}"' in body
    assert _save(client, contact, "contact", "job_title", "Poet").status_code == 200
    contact.refresh_from_db()
    assert contact.job_title == "Poet"


def test_a_viewer_sees_no_edit_control_and_every_write_is_refused() -> None:
    org = make_organization()
    viewer = _member(org, Role.VIEWER)
    contact = _contact(org)
    client = _client(viewer)
    body = client.get(f"/contacts/{contact.pk}").content.decode()
    assert "Ada Lovelace" in body
    for control in (
        'data-testid="field-first-name-edit"',
        'data-testid="record-delete"',
        "data-dropzone",
        "add-note",
    ):
        assert control not in body
    contact.refresh_from_db()
    version = contact.updated_at.isoformat()
    writes = [
        (f"/contacts/{contact.pk}/fields/first_name/save", {"value": "Eve", "version": version}),
        (f"/contacts/{contact.pk}/delete", {}),
        (f"/contacts/{contact.pk}/activities", {"form": "note", "body": "hello"}),
        (f"/contacts/{contact.pk}/documents", {"file": SimpleUploadedFile("a.txt", b"hello")}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    assert client.get(f"/contacts/{contact.pk}/fields/first_name/edit").status_code == 403
    contact.refresh_from_db()
    assert contact.first_name == "Ada"
    assert not Activity.objects.filter(contact=contact).exists()
    assert not Document.objects.exists()


def test_delete_asks_first_then_deletes_through_the_service() -> None:
    org = make_organization()
    me = _member(org)
    contact = _contact(org)
    client = _client(me)
    confirm = client.get(f"/contacts/{contact.pk}/delete")
    assert confirm.status_code == 200
    assert Contact.objects.filter(pk=contact.pk).exists()
    response = client.post(f"/contacts/{contact.pk}/delete", headers=HX)
    assert response["HX-Redirect"] == "/contacts"
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert TimelineEntry.objects.filter(
        target_id=contact.pk, target_type="contact", action="deleted"
    ).exists()


def test_a_deal_moves_stage_in_place_and_a_lost_stage_needs_its_reason() -> None:
    org = make_organization()
    me = _member(org)
    deal = _deal(org)
    stages = {s.name: s for s in deal.pipeline.stages.all()}
    client = _client(me)
    response = _save(client, deal, "deal", "stage", str(stages["Lost"].pk))
    assert response.status_code == 400
    assert "Say why the deal was lost." in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage.name == "Lead"
    response = _save(client, deal, "deal", "stage", str(stages["Lost"].pk), lost_reason="Budget cut")
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage.name == "Lost"
    assert deal.lost_reason == "Budget cut"
    page = client.get(f"/deals/{deal.pk}").content.decode()
    assert "Moved from Lead to Lost" in page
    assert "Budget cut" in page


def test_notes_calls_and_tasks_with_a_reminder_are_added_from_the_page() -> None:
    org = make_organization()
    me = _member(org)
    contact = _contact(org)
    client = _client(me)
    url = f"/contacts/{contact.pk}/activities"

    response = client.post(url, {"form": "note", "body": "Met at the conference.\nWants a demo."}, headers=HX)
    assert response.status_code == 200
    assert "Met at the conference." in response.content.decode()  # the timeline, out of band
    note = Activity.objects.get(contact=contact, kind=ActivityKind.NOTE)
    assert note.subject == "Met at the conference."

    response = client.post(
        url,
        {
            "form": "log",
            "kind": "call",
            "subject": "Intro call",
            "due_at": "2026-05-01T10:30",
            "tz": "Europe/Berlin",
        },
        headers=HX,
    )
    assert response.status_code == 200
    call = Activity.objects.get(contact=contact, kind=ActivityKind.CALL)
    assert call.done
    assert call.due_at == datetime.datetime(2026, 5, 1, 8, 30, tzinfo=datetime.UTC)

    due = (timezone.now() + datetime.timedelta(days=2)).replace(second=0, microsecond=0)
    response = client.post(
        url,
        {
            "form": "task",
            "subject": "Send the proposal",
            "due_at": due.strftime("%Y-%m-%dT%H:%M"),
            "tz": "UTC",
            "assignee": str(me.pk),
            "reminder": "60",
        },
        headers=HX,
    )
    assert response.status_code == 200
    task = Activity.objects.get(contact=contact, kind=ActivityKind.TASK)
    assert task.due_at == due
    assert task.assignee == me
    reminder = Reminder.objects.get(activity=task)
    assert reminder.remind_at == due - datetime.timedelta(hours=1)
    assert reminder.user == me


def test_a_refused_activity_keeps_what_was_typed_and_saves_nothing() -> None:
    org = make_organization()
    me = _member(org)
    contact = _contact(org)
    client = _client(me)
    response = client.post(
        f"/contacts/{contact.pk}/activities",
        {"form": "task", "subject": "", "due_at": "", "reminder": "60", "body": "keep me"},
        headers=HX,
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field may not be blank." in body
    assert "keep me" in body
    # A reminder without a due time is refused and the task is not half saved.
    response = client.post(
        f"/contacts/{contact.pk}/activities",
        {"form": "task", "subject": "Call", "due_at": "", "reminder": "60"},
        headers=HX,
    )
    assert response.status_code == 400
    assert "Give the task a due time first." in response.content.decode()
    assert not Activity.objects.filter(contact=contact).exists()
    assert not Reminder.objects.exists()


def test_the_timeline_pages_by_keyset_and_shows_who_changed_what() -> None:
    org = make_organization()
    me = _member(org)
    contact = _contact(org, me)
    for n in range(25):
        crm_services.contact_update(org=org, actor=me, contact=contact.pk, job_title=f"Title {n:02d}")
    client = _client(me)
    page = client.get(f"/contacts/{contact.pk}").content.decode()
    assert "Title 24" in page
    assert "Title 05" in page
    assert "Title 03" not in page  # the 21st entry and older are on the next page
    assert me.email in page or me.full_name in page
    more = page.split('data-testid="timeline-more"')[0].rsplit('hx-get="', 1)[1].split('"')[0]
    older = client.get(more.replace("&amp;", "&"), headers=HX).content.decode()
    assert "<td>Title 03</td>" in older
    assert "<td>Title 00</td>" in older
    assert "<td>Title 06</td>" not in older
    assert "Created" in older
    assert 'data-testid="timeline-more"' not in older


def test_user_text_is_escaped_on_the_record_page() -> None:
    org = make_organization()
    me = _member(org)
    CustomField.objects.create(organization=org, entity="contact", key="motto", label=XSS, field_type="text")
    company = _company(org, name=XSS, description=XSS)
    contact = _contact(org, first_name=XSS, job_title=XSS, company=company.pk, custom_fields={"motto": XSS})
    crm_services.activity_create(org=org, actor=me, contact=contact.pk, kind="note", subject=XSS, body=XSS)
    client = _client(me)
    for url in (f"/contacts/{contact.pk}", f"/companies/{company.pk}"):
        body = client.get(url).content.decode()
        assert XSS not in body
        assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_documents_upload_download_rename_and_delete() -> None:
    org = make_organization()
    me = _member(org)
    contact = _contact(org)
    client = _client(me)
    content = b"Quarterly numbers\n1,2,3\n"
    response = client.post(
        f"/contacts/{contact.pk}/documents", {"file": SimpleUploadedFile("numbers.txt", content)}, headers=HX
    )
    assert response.status_code == 200
    document = Document.objects.get(contact=contact)
    assert document.name == "numbers.txt"
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert "numbers.txt" in response.content.decode()

    download = client.get(f"/contacts/{contact.pk}/documents/{document.pk}/download")
    assert download.status_code == 302
    served = client.get(download["Location"])
    assert served.getvalue() == content
    assert served["Content-Disposition"].startswith("attachment")
    # ?view=1 opens only a PDF in the browser: a text file still downloads.
    asked = client.get(f"/contacts/{contact.pk}/documents/{document.pk}/download?view=1")
    viewed = client.get(asked["Location"])
    assert viewed["Content-Disposition"].startswith("attachment")

    response = client.post(
        f"/contacts/{contact.pk}/documents/{document.pk}/rename", {"name": "q3.txt"}, headers=HX
    )
    assert response.status_code == 200
    document.refresh_from_db()
    assert document.name == "q3.txt"

    # A document of another record is not reachable through this record's page.
    other = _contact(org, email="other@example.com")
    assert client.get(f"/contacts/{other.pk}/documents/{document.pk}/download").status_code == 404

    response = client.post(f"/contacts/{contact.pk}/documents/{document.pk}/delete", headers=HX)
    assert response.status_code == 200
    assert not Document.objects.filter(pk=document.pk).exists()


def test_a_pdf_opens_in_the_browser_when_asked_and_downloads_otherwise() -> None:
    from stratus.documents.storage import document_store

    org = make_organization()
    me = _member(org)
    contact = _contact(org)
    pdf = b"%PDF-1.4\n%%EOF\n"
    document = Document.objects.create(
        organization=org,
        contact=contact,
        name="terms.pdf",
        key=f"documents/{org.pk}/terms-test.pdf",
        content_type="application/pdf",
        size=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest(),
        status="ready",
        finished_at=timezone.now(),
    )
    document_store().write(document.key, io.BytesIO(pdf), "application/pdf")
    client = _client(me)
    base = f"/contacts/{contact.pk}/documents/{document.pk}/download"
    viewed = client.get(client.get(f"{base}?view=1")["Location"])
    assert viewed["Content-Disposition"].startswith("inline")
    assert viewed["Content-Type"] == "application/pdf"
    assert viewed.getvalue() == pdf
    saved = client.get(client.get(base)["Location"])
    assert saved["Content-Disposition"].startswith("attachment")


def test_a_refused_upload_shows_the_message_and_stores_nothing() -> None:
    org = make_organization()
    me = _member(org)
    contact = _contact(org)
    response = _client(me).post(
        f"/contacts/{contact.pk}/documents",
        {"file": SimpleUploadedFile("run.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(range(256)))},
        headers=HX,
    )
    assert response.status_code in (400, 415)
    assert 'data-testid="document-error"' in response.content.decode()
    assert not Document.objects.exists()


def test_a_big_file_goes_directly_to_storage_then_is_finished(settings: object) -> None:
    org = make_organization()
    me = _member(org)
    deal = _deal(org)
    client = _client(me)
    content = b"direct upload " * 100
    started = client.post(
        f"/deals/{deal.pk}/documents/uploads",
        {
            "name": "big.txt",
            "size": str(len(content)),
            "content_type": "text/plain",
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )
    assert started.status_code == 201
    upload = started.json()["upload"]
    sent = client.post(upload["url"], {**upload["fields"], "file": SimpleUploadedFile("big.txt", content)})
    assert sent.status_code == 204
    finished = client.post(started.json()["finish_url"], headers=HX)
    assert finished.status_code == 200
    document = Document.objects.get(deal=deal)
    assert document.is_ready
    assert document.size == len(content)
    assert "big.txt" in finished.content.decode()


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_query_counts_do_not_grow_with_timeline_entries_or_related_records() -> None:
    org = make_organization()
    me = _member(org)
    company = _company(org)
    contact = _contact(org, me, company=company.pk)
    deal = _deal(org, company=company.pk, owner=me.pk)
    client = _client(me)

    def grow(n: int) -> None:
        for i in range(n):
            other = _contact(org, me, email=f"c{i}-{Contact.objects.count()}@example.com", company=company.pk)
            _deal(org, company=company.pk, contacts=[contact.pk, other.pk], owner=me.pk)
            crm_services.activity_create(org=org, actor=me, contact=contact.pk, kind="note", subject=f"n{i}")
            crm_services.activity_create(org=org, actor=me, deal=deal.pk, kind="call", subject=f"c{i}")
            crm_services.contact_update(org=org, actor=me, contact=contact.pk, owner=me.pk if i % 2 else None)
            everyone = list(Contact.objects.filter(organization=org).values_list("pk", flat=True))
            crm_services.deal_update(org=org, actor=me, deal=deal.pk, contacts=everyone)

    # Two rounds already name every kind of reference (one query per kind, whatever the count).
    grow(2)
    pages = (f"/contacts/{contact.pk}", f"/companies/{company.pk}", f"/deals/{deal.pk}")
    small = {url: _queries(client, url) for url in pages}
    grow(10)
    large = {url: _queries(client, url) for url in small}
    # The first page may name fewer kinds of reference once older entries scrolled off it.
    for url, count in small.items():
        assert large[url] <= count, (url, large[url], count)


def test_without_javascript_a_refused_field_comes_back_in_the_page_with_what_was_typed() -> None:
    org = make_organization()
    me = _member(org)
    contact = _contact(org)
    client = _client(me)
    contact.refresh_from_db()
    url = f"/contacts/{contact.pk}/fields/website/save"
    assert client.get(f"/contacts/{contact.pk}?edit=job_title").status_code == 200
    response = client.post(
        f"/contacts/{contact.pk}/fields/email/save",
        {"value": "not an address", "version": contact.updated_at.isoformat()},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "<title>Ada Lovelace · Stratus</title>" in body
    assert 'value="not an address"' in body
    assert 'data-testid="field-errors"' in body
    assert client.post(url, {"value": "x"}).status_code == 404  # contacts have no website field
    contact.refresh_from_db()
    assert contact.email == "ada@example.com"


def test_a_deals_contacts_value_and_close_date_are_edited_in_place() -> None:
    org = make_organization()
    me = _member(org)
    first, second = _contact(org), _contact(org, email="second@example.com")
    deal = _deal(org)
    client = _client(me)
    assert _save(client, deal, "deal", "contacts", [str(first.pk), str(second.pk)]).status_code == 200
    assert _save(client, deal, "deal", "value", "1250.50").status_code == 200
    assert _save(client, deal, "deal", "expected_close_date", "2027-03-31").status_code == 200
    refused = _save(client, deal, "deal", "value", "a lot")
    assert refused.status_code == 400
    assert "A valid number is required." in refused.content.decode()
    deal.refresh_from_db()
    assert sorted(deal.contacts.values_list("pk", flat=True)) == sorted([first.pk, second.pk])
    assert deal.value == Decimal("1250.50")
    assert deal.expected_close_date == datetime.date(2027, 3, 31)


def test_a_deals_tags_are_shown_and_edited_in_place_like_a_contacts() -> None:
    org = make_organization()
    me = _member(org)
    _contact(org, tags=["Hot"])
    deal = _deal(org, tags=["renewal"])
    client = _client(me)
    page = client.get(reverse("web:deal", args=[deal.pk])).content.decode()
    assert "renewal" in page
    assert _save(client, deal, "deal", "tags", "hot, renewal, q3").status_code == 200
    # The organization's tag "Hot" (named first on a contact) is the deal's tag too.
    assert sorted(deal.tags.values_list("name", flat=True)) == ["Hot", "q3", "renewal"]
    refused = _save(client, deal, "deal", "tags", "x" * 61)
    assert refused.status_code == 400
    assert "longer than 60 characters" in refused.content.decode()
    assert sorted(deal.tags.values_list("name", flat=True)) == ["Hot", "q3", "renewal"]
    entry = TimelineEntry.objects.filter(target_type="deal", target_id=deal.pk, action="updated").get()
    assert entry.actor == me
    assert entry.changes == {"tags": {"old": ["renewal"], "new": ["Hot", "q3", "renewal"]}}
