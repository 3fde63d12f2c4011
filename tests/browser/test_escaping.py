"""Every user-supplied text is shown as text: markup typed into any field never becomes markup.

Two payloads go into every text field a person can fill (a contact's names and job title, a
company's name, industry and city, a deal's title, an activity's subject and body, a note, custom
field labels and values, tag names, pipeline and stage names, a member's full name, the organization's name, a
saved view's name, a document's name, an API token's name, a notification's title). Then every
page that shows them is visited: no dialog opens, no element of the payload exists in the DOM,
and the text is shown literally.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import Dialog, expect

from stratus.accounts import services as account_services
from stratus.accounts.models import Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import ActivityKind
from stratus.documents import services as document_services
from stratus.reminders.models import Notification
from stratus.web.lists import services as list_services
from tests.browser.conftest import Visitor
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

PASSWORD = "correct horse battery staple"
IMG = "<img src=x onerror=alert(1)>"
SCRIPT = '"><script>alert(1)</script>'
BOTH = f"{IMG}{SCRIPT}"

# What is in the DOM when a payload became markup. A JSON data island (`json_script`, its `<`
# escaped) holds the payload as data that never runs; a payload breaking out of one would be a
# script element of its own, and counted.
INJECTED = """() => {
  const main = document.querySelector('main') || document.body;
  const values = [...main.querySelectorAll('input, textarea')].map((e) => e.value);
  return {
  img: document.querySelectorAll('img[src="x"], [onerror]').length,
  script: [...document.scripts].filter(
    (s) => s.type !== 'application/json' && s.textContent.includes('alert(1)')).length,
  text: main.innerText + '\\n' + values.join('\\n'),
  };
}"""


def _world() -> tuple[User, dict[str, Any]]:
    org = make_organization()
    account_services.organization_update(org=org, name=f"Org {BOTH}")
    user = make_member_who_signs_in(org, Role.OWNER, PASSWORD)
    account_services.user_profile_update(user=user, full_name=BOTH)
    crm_services.custom_field_create(
        org=org, actor=user, entity="contact", key="remarks", label=BOTH, field_type="text"
    )
    crm_services.custom_field_create(
        org=org, actor=user, entity="deal", key="remarks", label=BOTH, field_type="text"
    )
    company = crm_services.company_create(
        org=org, actor=user, name=f"{BOTH} Zebrafield", industry=BOTH, city=IMG, tags=[IMG]
    )
    contact = crm_services.contact_create(
        org=org,
        actor=user,
        first_name=IMG,
        last_name=f"{SCRIPT} Zebrafield",
        job_title=BOTH,
        phones=["+1 555 0100"],  # checked as a phone number: markup is refused
        company=company.pk,
        tags=[IMG],
        custom_fields={"remarks": BOTH},
    )
    pipeline = crm_services.pipeline_create(
        org=org, actor=user, name=BOTH, stages=[{"name": BOTH}, {"name": f"Won {BOTH}", "kind": "won"}]
    )
    deal = crm_services.deal_create(
        org=org,
        actor=user,
        title=f"{BOTH} Zebrafield",
        pipeline=pipeline.pk,
        company=company.pk,
        contacts=[contact.pk],
        owner=user.pk,
        tags=[IMG],
        custom_fields={"remarks": BOTH},
    )
    crm_services.activity_create(
        org=org,
        actor=user,
        subject=BOTH,
        body=BOTH,
        kind=ActivityKind.TASK,
        contact=contact.pk,
        assignee=user.pk,
        due_at=timezone.now() + datetime.timedelta(hours=1),
    )
    crm_services.activity_create(
        org=org, actor=user, subject=f"Note {BOTH}", body=BOTH, kind=ActivityKind.NOTE, deal=deal.pk
    )
    document_services.document_upload(
        org=org,
        actor=user,
        target=contact,
        file=SimpleUploadedFile("minutes.txt", b"minutes of the meeting\n", content_type="text/plain"),
        name=f"{IMG}.txt",
    )
    view = list_services.saved_view_save(org=org, actor=user, kind="contacts", name=BOTH, filters={})
    account_services.token_create(org=org, actor=user, name=BOTH, role=Role.VIEWER)
    Notification.objects.create(
        organization=org, user=user, title=BOTH, target_type="deal", target_id=deal.pk
    )
    return user, {
        "contact": contact.pk,
        "company": company.pk,
        "deal": deal.pk,
        "pipeline": pipeline.pk,
        "view": view.pk,
    }


def _sign_in(visitor: Visitor, user: User) -> None:
    visitor.goto("/login")
    visitor.page.get_by_label("E-mail").fill(user.email)
    visitor.page.get_by_label("Password").fill(PASSWORD)
    visitor.page.get_by_role("button", name="Sign in").click()
    visitor.page.wait_for_url(visitor.base_url + "/")


def _assert_literal(visitor: Visitor, where: str, shown: tuple[str, ...] = (IMG, SCRIPT)) -> None:
    found = visitor.page.evaluate(INJECTED)
    assert found["img"] == 0, f"{where}: a payload became an element"
    assert found["script"] == 0, f"{where}: a payload became a script"
    for text in shown:
        assert text in found["text"], f"{where}: {text!r} is not shown literally"


def test_markup_in_every_text_field_is_shown_as_text_on_every_page(visitor: Visitor) -> None:
    user, ids = _world()
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page = visitor.page
    page.on("dialog", dismiss)
    _sign_in(visitor, user)

    pages = [
        "/",
        "/tasks",
        "/contacts?columns=name,first_name,last_name,job_title,phones,company,tags,custom_fields.remarks",
        f"/contacts?view={ids['view']}",
        "/companies?columns=name,industry,city,tags",
        "/deals?columns=title,stage,company,owner,tags,custom_fields.remarks",
        "/activities",
        f"/contacts/{ids['contact']}",
        f"/companies/{ids['company']}",
        f"/deals/{ids['deal']}",
        f"/pipeline/{ids['pipeline']}",
        f"/pipeline/deals/{ids['deal']}/move",
        "/search?q=zebrafield",
        "/notifications",
        "/profile",
        "/settings/members",
        "/settings/tokens",
        "/settings/fields",
        "/settings/pipelines",
        "/settings/tags",
    ]
    only_img = {"/settings/tags"}  # tag names carry the first payload
    # Texts that only one source puts on a page, so each of those fields is seen shown literally.
    specific = {
        f"/contacts/{ids['contact']}": (f"{IMG}.txt", f"{IMG} {SCRIPT} Zebrafield"),
        f"/deals/{ids['deal']}": (f"Note {BOTH}",),
        f"/pipeline/{ids['pipeline']}": (f"Won {BOTH}", f"{BOTH} Zebrafield"),
        f"/contacts?view={ids['view']}": (f"{IMG} {SCRIPT} Zebrafield",),
    }
    for path in pages:
        response = visitor.goto(path)
        assert response is not None
        assert response.status == 200, (path, response.status)
        shown = (IMG,) if path in only_img else (IMG, SCRIPT)
        _assert_literal(visitor, path, shown=shown + specific.get(path, ()))
    assert not dialogs, dialogs

    # The editors show the stored value in their fields, still as text.
    visitor.goto(f"/contacts/{ids['contact']}")
    page.get_by_test_id("field-job-title-edit").click()
    page.get_by_label("Job title", exact=True).wait_for()
    _assert_literal(visitor, "the job title's editor")
    visitor.check_accessibility()

    # The command palette's results, fetched and inserted by the script.
    page.keyboard.press("Control+k")
    page.get_by_role("combobox").fill("zebrafield")
    results = page.get_by_test_id("palette").get_by_role("option", name=re.compile("Zebrafield"))
    expect(results).to_have_count(3)
    found = page.evaluate(INJECTED)
    assert found["img"] == 0
    assert found["script"] == 0
    for index in range(3):
        assert IMG in results.nth(index).inner_text()
    visitor.check_accessibility()

    for path in ("/contacts", f"/deals/{ids['deal']}", f"/pipeline/{ids['pipeline']}", "/settings/fields"):
        visitor.goto(path)
        _assert_literal(visitor, path, shown=(IMG,))
        visitor.check_accessibility()
    assert not dialogs, dialogs
