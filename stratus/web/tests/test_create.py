"""Creation pages (/contacts/new, /companies/new, /deals/new) through Django's test client:
created through the crm services with a timeline entry, refused values beside their fields with
nothing saved, viewers refused, escaping, and another organization's ids refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stratus.accounts.models import Organization, Role, User
from stratus.crm import services as crm_services
from stratus.crm.models import Company, Contact, CustomField, Deal, Pipeline, Stage, TimelineEntry
from testsupport.factories import make_member_who_signs_in, make_organization

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


def _member(org: Organization, role: str = Role.MEMBER) -> User:
    return make_member_who_signs_in(org, role, PASSWORD)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _counts() -> tuple[int, int, int, int]:
    return (
        Contact.objects.count(),
        Company.objects.count(),
        Deal.objects.count(),
        TimelineEntry.objects.count(),
    )


def test_a_contact_is_created_with_custom_fields_and_a_timeline_entry() -> None:
    org = make_organization()
    me = _member(org)
    CustomField.objects.create(
        organization=org, entity="contact", key="shoe_size", label="Shoe size", field_type="number"
    )
    company = crm_services.company_create(org=org, actor=None, name="Analytical Engines")
    client = _client(me)

    form = client.get(reverse("web:contact-new"))
    assert form.status_code == 200
    body = form.content.decode()
    assert 'name="first_name"' in body
    assert 'name="custom_fields.shoe_size"' in body
    assert "Shoe size" in body
    assert f'<option value="{company.pk}">Analytical Engines</option>' in body

    response = client.post(
        reverse("web:contact-new"),
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phones": "+44 1, +44 2",
            "company": str(company.pk),
            "owner": str(me.pk),
            "tags": "vip, math",
            "custom_fields.shoe_size": "38",
        },
    )
    contact = Contact.objects.get(organization=org)
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.pk}"
    assert (contact.first_name, contact.last_name, contact.email) == ("Ada", "Lovelace", "ada@example.com")
    assert contact.phones == ["+44 1", "+44 2"]
    assert contact.company_id == company.pk
    assert contact.owner_id == me.pk
    assert contact.custom_fields == {"shoe_size": 38}
    entry = TimelineEntry.objects.get(target_type="contact", target_id=contact.pk)
    assert entry.action == "created"
    assert entry.actor_id == me.pk


def test_a_company_is_created() -> None:
    org = make_organization()
    client = _client(_member(org))
    response = client.post(reverse("web:company-new"), {"name": "Globex", "country": "DE"})
    company = Company.objects.get(organization=org)
    assert response.status_code == 302
    assert response["Location"] == f"/companies/{company.pk}"
    assert (company.name, company.country) == ("Globex", "DE")
    assert TimelineEntry.objects.filter(
        target_type="company", target_id=company.pk, action="created"
    ).exists()


def test_a_deal_form_preselects_the_default_pipelines_first_stage_and_creates_in_the_chosen_one() -> None:
    org = make_organization()
    me = _member(org)
    crm_services.pipeline_create(org=org, actor=None, name="Partners", is_default=False)
    sales = crm_services.pipeline_create(org=org, actor=None, name="Sales", is_default=True)
    first = Stage.objects.filter(pipeline=sales).order_by("position").first()
    assert first is not None
    client = _client(me)

    body = client.get(reverse("web:deal-new")).content.decode()
    assert f'<option value="{first.pk}" selected>' in body
    assert '<optgroup label="Partners">' in body

    partners_stage = Stage.objects.filter(pipeline__name="Partners", kind="open").order_by("position")[1]
    contact = crm_services.contact_create(org=org, actor=None, first_name="Ada")
    response = client.post(
        reverse("web:deal-new"),
        {
            "title": "Engine",
            "value": "1200.50",
            "currency": "EUR",
            "stage": str(partners_stage.pk),
            "contacts": [str(contact.pk)],
            "expected_close_date": "2027-01-31",
        },
    )
    deal = Deal.objects.get(organization=org)
    assert response.status_code == 302
    assert response["Location"] == f"/deals/{deal.pk}"
    assert str(deal.value) == "1200.50"
    assert deal.currency == "EUR"
    assert deal.stage_id == partners_stage.pk
    assert deal.pipeline_id == partners_stage.pipeline_id
    assert list(deal.contacts.values_list("pk", flat=True)) == [contact.pk]


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("deal", {"title": "", "value": "lots", "currency": "EUR"}, "value"),
        ("deal", {"title": "", "currency": "EUR"}, "title"),
        ("contact", {"first_name": "Ada", "email": "not an e-mail"}, "email"),
        ("company", {"name": "Globex", "website": "not a url"}, "website"),
    ],
)
def test_refused_values_are_shown_beside_their_fields_and_nothing_is_saved(
    kind: str, data: dict[str, Any], field: str
) -> None:
    org = make_organization()
    if kind == "deal":
        crm_services.pipeline_create(org=org, actor=None, name="Sales")
    client = _client(_member(org))
    before = _counts()
    response = client.post(reverse(f"web:{kind}-new"), data)
    assert response.status_code == 400
    body = response.content.decode()
    dom_id = "new-" + field.replace("_", "-")
    beside = body.split(f'id="{dom_id}"', 1)[1].split('class="field"', 1)[0]
    assert f'id="{dom_id}-errors"' in beside
    assert 'aria-invalid="true"' in beside
    for name, typed in data.items():  # what was typed is kept
        if typed:
            assert f'value="{typed}"' in body, name
    assert _counts() == before


def test_a_contact_without_a_name_or_email_is_refused_with_the_services_message() -> None:
    org = make_organization()
    client = _client(_member(org))
    response = client.post(reverse("web:contact-new"), {"job_title": "Engineer"})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert 'value="Engineer"' in response.content.decode()
    assert not Contact.objects.exists()


def test_another_organizations_company_or_stage_is_refused() -> None:
    org, other = make_organization("Acme"), make_organization("Globex")
    crm_services.pipeline_create(org=org, actor=None, name="Sales")
    theirs = crm_services.company_create(org=other, actor=None, name="Their company")
    their_pipeline = crm_services.pipeline_create(org=other, actor=None, name="Theirs")
    their_stage = Stage.objects.filter(pipeline=their_pipeline).first()
    assert their_stage is not None
    client = _client(_member(org))
    before = _counts()

    response = client.post(reverse("web:contact-new"), {"first_name": "Ada", "company": str(theirs.pk)})
    assert response.status_code == 400
    assert 'id="new-company-errors"' in response.content.decode()
    response = client.post(reverse("web:deal-new"), {"title": "Engine", "stage": str(their_stage.pk)})
    assert response.status_code == 400
    assert "Their company" not in response.content.decode()
    assert _counts() == before


def test_viewers_get_no_new_buttons_and_a_403() -> None:
    org = make_organization()
    crm_services.pipeline_create(org=org, actor=None, name="Sales")
    viewer = _client(_member(org, Role.VIEWER))
    member = _client(_member(org))
    for plural, kind in (("contacts", "contact"), ("companies", "company"), ("deals", "deal")):
        new_url = reverse(f"web:{kind}-new")
        assert new_url == f"/{plural}/new"
        assert new_url not in viewer.get(f"/{plural}").content.decode()
        assert f'href="{new_url}"' in member.get(f"/{plural}").content.decode()
        assert viewer.get(new_url).status_code == 403
        assert (
            viewer.post(new_url, {"first_name": "Ada", "name": "Globex", "title": "Engine"}).status_code
            == 403
        )
    pipeline = Pipeline.objects.get(organization=org)
    assert "/deals/new" not in viewer.get(f"/pipeline/{pipeline.pk}").content.decode()
    assert 'href="/deals/new"' in member.get(f"/pipeline/{pipeline.pk}").content.decode()
    palette = viewer.get(reverse("web:search"), {"q": "new"}, HTTP_HX_REQUEST="true").content.decode()
    assert "/contacts/new" not in palette
    assert not Contact.objects.exists()
    assert not Company.objects.exists()
    assert not Deal.objects.exists()


def test_typed_text_is_escaped_when_the_form_is_refused_and_on_the_options() -> None:
    org = make_organization()
    crm_services.company_create(org=org, actor=None, name=XSS)
    client = _client(_member(org))
    response = client.post(reverse("web:contact-new"), {"job_title": XSS, "email": XSS})
    assert response.status_code == 400
    body = response.content.decode()
    assert "<script>alert(2)" not in body
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert not Contact.objects.exists()


def test_the_deal_form_makes_the_same_number_of_queries_for_one_pipeline_or_many() -> None:
    org = make_organization()
    client = _client(_member(org))
    crm_services.pipeline_create(org=org, actor=None, name="Sales")
    client.get(reverse("web:deal-new"))  # warm the session and caches
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("web:deal-new")).status_code == 200
    for name in ("Partners", "Renewals", "Hardware"):
        crm_services.pipeline_create(org=org, actor=None, name=name)
        crm_services.contact_create(org=org, actor=None, first_name=name)
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("web:deal-new")).status_code == 200
    assert len(many) == len(one)
