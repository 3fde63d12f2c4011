"""``selectors.by_words`` on PostgreSQL: activities by full text, any of the question's words,
ranked by how well they match."""

from __future__ import annotations

import pytest
from django.db import connection

from stratus.accounts.models import Organization
from stratus.crm.models import Activity, Company
from stratus.knowledge import selectors

pytestmark = pytest.mark.django_db

FILTERS = selectors.Filters()


def _note(org: Organization, company: Company, subject: str, body: str) -> Activity:
    return Activity.objects.create(organization=org, company=company, kind="note", subject=subject, body=body)


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the full-text ranking of activities is PostgreSQL's")


def test_a_question_finds_notes_with_some_of_its_words_best_match_first(organization: Organization) -> None:
    acme = Company.objects.create(organization=organization, name="Zenith")
    both = _note(organization, acme, "Call", "They complained that onboarding was slow.")
    one = _note(organization, acme, "Kickoff", "Onboarding starts on Monday.")
    _note(organization, acme, "Lunch", "Talked about the weather.")

    found = selectors.by_words(
        org=organization, query="who complained about onboarding speed?", filters=FILTERS, limit=10
    )

    # Punctuation and stop words ("who", "about") do not have to be in the note; stems match
    # ("complained" / "complain"); the note with more of the words comes first.
    assert [(r.record_type, r.record_id) for r in found] == [("activity", both.pk), ("activity", one.pk)]
    assert found[0].sources == ["words"]


def test_words_never_finds_another_organizations_notes(
    organization: Organization, other_organization: Organization
) -> None:
    theirs = Company.objects.create(organization=other_organization, name="Zenith")
    _note(other_organization, theirs, "Call", "They complained that onboarding was slow.")
    assert selectors.by_words(org=organization, query="onboarding complaint", filters=FILTERS, limit=10) == []


def test_a_query_of_stop_words_only_finds_no_note(organization: Organization) -> None:
    acme = Company.objects.create(organization=organization, name="Zenith")
    _note(organization, acme, "Call", "Who was it about?")
    assert selectors.by_words(org=organization, query="who about?", filters=FILTERS, limit=10) == []
