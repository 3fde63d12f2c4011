"""The search page, the palette's passages by meaning and the record pages' related passages,
through the test client, on the real Qdrant engine (Qdrant Edge, in a temporary directory)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from stratus.accounts.models import Organization, Role, User
from stratus.crm.models import Activity, Company, Contact
from stratus.documents.models import Document, DocumentStatus
from stratus.knowledge import selectors as knowledge
from stratus.knowledge import services as knowledge_services
from stratus.web.search.passages import highlight, terms
from testsupport.factories import make_member_who_signs_in
from testsupport.search import index_pending

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("qdrant_in_tmp")]

PASSWORD = "correct horse battery staple"
ONBOARDING = "Dana was unhappy that getting set up with our product took them almost two months."
XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'


def _client(org: Organization, role: str = Role.MEMBER) -> tuple[Client, User]:
    user = make_member_who_signs_in(org, role, PASSWORD)
    client = Client()
    client.force_login(user)
    return client, user


def _note(org: Organization, company: Company, subject: str, body: str, **fields: Any) -> Activity:
    return Activity.objects.create(
        organization=org, company=company, kind="note", subject=subject, body=body, **fields
    )


def _pdf(org: Organization, contact: Contact, name: str, pages: list[str]) -> Document:
    document = Document.objects.create(
        organization=org,
        contact=contact,
        name=name,
        key=f"documents/{org.pk}/{name}",
        content_type="application/pdf",
        size=1000,
        sha256="0" * 64,
        status=DocumentStatus.READY,
        finished_at=timezone.now(),
    )
    knowledge_services.document_text_changed(org=org, document=document, pages=pages)
    return document


def test_the_page_shows_passages_by_meaning_with_the_record_the_score_and_marked_escaped_words(
    organization: Organization,
) -> None:
    client, _user = _client(organization)
    acme = Company.objects.create(organization=organization, name=f"Acme {XSS}")
    _note(organization, acme, "Call with Dana", f"{ONBOARDING} Onboarding must get faster. {XSS}")
    index_pending()

    response = client.get("/search", {"q": "who complained about slow onboarding?", "mode": "meaning"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<title>Search: who complained about slow onboarding? · Stratus</title>" in body
    results = re.findall(r'<li class="search-result".*?</li>', body, re.S)
    assert results, body
    assert f'href="/companies/{acme.pk}"' in results[0]
    assert "<mark>Onboarding</mark>" in results[0]
    assert "score" in results[0]
    assert "<script>alert(2)</script>" not in body
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in results[0]


def test_same_text_in_two_organizations_neither_sees_the_other_on_the_page_palette_or_related(
    organization: Organization, other_organization: Organization
) -> None:
    mine_client, _ = _client(organization)
    theirs_client, _ = _client(other_organization)
    mine = Company.objects.create(organization=organization, name="Initech mine")
    _note(organization, mine, "Renewal", "Renewal terms: the contract renews yearly unless cancelled.")
    theirs = Company.objects.create(organization=other_organization, name="Initech theirs")
    _note(
        other_organization, theirs, "Renewal", "Renewal terms: the contract renews yearly unless cancelled."
    )
    mine_neighbour = Company.objects.create(
        organization=organization, name="Neighbour", description="When does the contract renew?"
    )
    index_pending()

    for mode in ("meaning", "words", "both"):
        body = mine_client.get("/search", {"q": "contract renewal terms", "mode": mode}).content.decode()
        assert f"/companies/{mine.pk}" in body, mode
        assert "Initech theirs" not in body, mode
        assert f'/companies/{theirs.pk}"' not in body, mode
        body = theirs_client.get("/search", {"q": "contract renewal terms", "mode": mode}).content.decode()
        assert f"/companies/{theirs.pk}" in body, mode
        assert "Initech mine" not in body, mode
    palette = mine_client.get(
        "/search", {"q": "contract renewal terms", "mode": "meaning"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="palette-passage"' in palette
    assert f'href="/companies/{mine.pk}"' in palette
    assert "theirs" not in palette
    related = mine_client.get(f"/companies/{mine_neighbour.pk}/related-passages", HTTP_HX_REQUEST="true")
    assert related.status_code == 200
    assert f'href="/companies/{mine.pk}"' in related.content.decode()
    assert "theirs" not in related.content.decode()
    # Another organization's record: the app's 404, nothing of it shown.
    assert mine_client.get(f"/companies/{theirs.pk}/related-passages").status_code == 404


def test_related_passages_leave_out_the_records_own_notes_and_documents(organization: Organization) -> None:
    client, _ = _client(organization)
    acme = Company.objects.create(
        organization=organization, name="Acme", description="Onboarding took months."
    )
    _note(organization, acme, "Own note", ONBOARDING)
    other = Company.objects.create(organization=organization, name="Globex")
    _note(organization, other, "Setup was slow", "Getting started with the product took them far too long.")
    index_pending()
    body = client.get(f"/companies/{acme.pk}/related-passages", HTTP_HX_REQUEST="true").content.decode()
    assert f'href="/companies/{other.pk}"' in body
    assert f'href="/companies/{acme.pk}"' not in body
    # The record page loads the panel lazily: it does no vector search itself.
    page = client.get(f"/companies/{acme.pk}").content.decode()
    assert f'hx-get="/companies/{acme.pk}/related-passages" hx-trigger="revealed"' in page


def test_a_pdf_passage_opens_the_document_at_its_page(organization: Organization) -> None:
    client, _ = _client(organization)
    contact = Contact.objects.create(organization=organization, first_name="Ada", last_name="Byron")
    document = _pdf(
        organization,
        contact,
        "contract.pdf",
        ["Master services agreement between the parties.", "Renewal: the term renews for one year."],
    )
    index_pending()
    body = client.get("/search", {"q": "when does the term renew", "mode": "meaning"}).content.decode()
    assert f'href="/contacts/{contact.pk}/documents/{document.pk}/download?view=1#page=2"' in body
    assert "page 2" in body


def test_filters_by_record_type_owner_and_date_keep_their_state_in_the_form(
    organization: Organization,
) -> None:
    client, user = _client(organization)
    acme = Company.objects.create(organization=organization, name="Acme", description=ONBOARDING, owner=user)
    note = _note(organization, acme, "Call", ONBOARDING)
    index_pending()
    q = "who complained about onboarding"
    body = client.get("/search", {"q": q, "mode": "meaning", "type": "activity"}).content.decode()
    assert f'data-record="activity-{note.pk}"' in body
    assert f'data-record="company-{acme.pk}"' not in body
    assert re.search(r'<input type="checkbox" name="type" value="activity"[^>]*checked', body)
    body = client.get("/search", {"q": q, "mode": "meaning", "owner": str(user.pk)}).content.decode()
    assert f'data-record="company-{acme.pk}"' in body
    assert f'data-record="activity-{note.pk}"' not in body
    body = client.get("/search", {"q": q, "mode": "meaning", "date_to": "2000-01-01"}).content.decode()
    assert 'data-testid="search-empty"' in body
    assert "Try fewer filters" in body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "x", "date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
        ({"q": "x", "mode": "telepathy"}, "mode"),
        ({"q": "x", "type": "spaceship"}, "type"),
        ({"q": "x" * 501}, "q"),
        ({"q": "x", "owner": "999999999"}, "owner"),
    ],
)
def test_a_bad_search_is_a_400_with_the_message_beside_the_field(
    organization: Organization, params: dict[str, str], field: str
) -> None:
    client, _ = _client(organization)
    page = client.get("/search", params)
    fragment = client.get("/search", params, headers={"HX-Request": "true", "HX-Target": "search-app"})
    for response in (page, fragment):
        assert response.status_code == 400
        body = response.content.decode()
        assert f'data-testid="error-{field}"' in body
        assert f'<p class="field-error" id="id_{field}_error"' in body  # the widget's aria-describedby


def test_meaning_unavailable_is_an_error_state_and_both_keeps_the_word_matches(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = _client(organization)
    Company.objects.create(organization=organization, name="Quixote Holdings")

    def broken(**_kwargs: Any) -> list[knowledge.Result]:
        raise OSError("the index is gone")

    monkeypatch.setattr(knowledge, "by_meaning", broken)
    response = client.get("/search", {"q": "quixote", "mode": "meaning"})
    assert response.status_code == 503
    assert 'data-testid="search-unavailable"' in response.content.decode()
    body = client.get("/search", {"q": "quixote", "mode": "both"}).content.decode()
    assert 'data-testid="search-words-only"' in body
    assert "Quixote Holdings" in body
    palette = client.get("/search", {"q": "quixote", "mode": "meaning"}, HTTP_HX_REQUEST="true")
    assert palette.status_code == 200
    assert 'data-testid="palette-unavailable"' in palette.content.decode()


def test_the_palette_keeps_its_record_search_and_links_to_all_results(organization: Organization) -> None:
    client, _ = _client(organization)
    Company.objects.create(organization=organization, name="Zebrafield")
    body = client.get("/search", {"q": "zebrafield"}, HTTP_HX_REQUEST="true").content.decode()
    assert ">Zebrafield<" in body
    assert 'href="/search?q=zebrafield&amp;mode=words"' in body
    body = client.get(
        "/search", {"q": "zebra field", "mode": "meaning"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'href="/search?q=zebra+field&amp;mode=meaning"' in body


def test_highlight_escapes_everything_and_marks_word_forms() -> None:
    excerpt, marked = highlight(f"They complained {XSS} about the complaint process", "who complains?")
    assert marked
    assert "<mark>complained</mark>" in excerpt
    assert "<mark>complaint</mark>" in excerpt
    assert "<script>" not in excerpt
    assert "&lt;script&gt;" in excerpt
    assert terms("who is the owner of the <b>") == ["owner"]
    excerpt, marked = highlight("Nothing in common here", "renewal terms")
    assert not marked
    assert "<mark>" not in excerpt


def test_a_history_restore_gets_the_whole_page_not_a_palette_fragment(organization: Organization) -> None:
    client, _ = _client(organization)
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    body = client.get("/search", {"q": "zebra", "mode": "meaning"}, headers=headers).content.decode()
    assert "<title>Search: zebra · Stratus</title>" in body
    assert 'data-testid="search-form"' in body
