"""``selectors.related``: the passages of other records nearest to a record's stored vectors, on
the real Qdrant engine (Qdrant Edge, in a temporary directory)."""

from __future__ import annotations

import pytest

from stratus.accounts.models import Organization
from stratus.crm.models import Activity, Company
from stratus.knowledge import selectors
from stratus.knowledge.store import store
from testsupport.search import index_pending

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("qdrant_in_tmp")]

ONBOARDING = "Getting the team set up on our product dragged on for almost two months."
SLOW_SETUP = "They told us that starting to use the tool took far too long."
RENEWAL = "The contract renews every year unless they cancel ninety days before the end."


def _note(org: Organization, company: Company, subject: str, body: str) -> Activity:
    return Activity.objects.create(organization=org, company=company, kind="note", subject=subject, body=body)


def _keys(results: list[selectors.Result]) -> list[tuple[str, int]]:
    return [(r.record_type, r.record_id) for r in results]


def _no_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("related must reuse the stored vectors, not embed text again")

    monkeypatch.setattr(selectors, "embedder", refuse)


def test_related_ranks_other_records_by_the_stored_vectors_and_leaves_out_its_own_page(
    organization: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = Company.objects.create(organization=organization, name="Acme")
    own_note = _note(organization, acme, "Onboarding", ONBOARDING)
    globex = Company.objects.create(organization=organization, name="Globex")
    slow = _note(organization, globex, "Slow start", SLOW_SETUP)
    initech = Company.objects.create(organization=organization, name="Initech")
    renewal = _note(organization, initech, "Renewal", RENEWAL)
    index_pending()
    _no_embedding(monkeypatch)

    found = selectors.related(org=organization, record_type="company", record_id=acme.pk, limit=5)

    keys = _keys(found)
    assert keys.index(("activity", slow.pk)) < keys.index(("activity", renewal.pk))
    assert ("company", acme.pk) not in keys
    assert ("activity", own_note.pk) not in keys  # its page shows its notes already
    assert all(r.url != f"/companies/{acme.pk}" for r in found)
    assert len(keys) == len(set(keys))  # one passage per record
    assert all(r.sources == ["meaning"] for r in found)
    assert len(selectors.related(org=organization, record_type="company", record_id=acme.pk, limit=1)) == 1


def test_related_of_an_activity_leaves_out_its_own_points(organization: Organization) -> None:
    acme = Company.objects.create(organization=organization, name="Acme")
    note = _note(organization, acme, "Onboarding", ONBOARDING)
    globex = Company.objects.create(organization=organization, name="Globex")
    slow = _note(organization, globex, "Slow start", SLOW_SETUP)
    index_pending()

    keys = _keys(selectors.related(org=organization, record_type="activity", record_id=note.pk, limit=5))

    assert ("activity", note.pk) not in keys
    assert keys[0] == ("activity", slow.pk)


def test_related_never_returns_another_organizations_points(
    organization: Organization, other_organization: Organization
) -> None:
    mine = Company.objects.create(organization=organization, name="Acme")
    _note(organization, mine, "Onboarding", ONBOARDING)
    theirs = Company.objects.create(organization=other_organization, name="Acme")
    their_note = _note(other_organization, theirs, "Onboarding", ONBOARDING)
    their_twin = _note(other_organization, theirs, "Slow start", SLOW_SETUP)
    neighbour = Company.objects.create(organization=organization, name="Globex")
    my_twin = _note(organization, neighbour, "Slow start", SLOW_SETUP)
    index_pending()

    found = selectors.related(org=organization, record_type="company", record_id=mine.pk, limit=50)

    assert sorted(_keys(found)) == sorted([("activity", my_twin.pk), ("company", neighbour.pk)])
    theirs_keys = {("activity", their_note.pk), ("activity", their_twin.pk), ("company", theirs.pk)}
    assert not theirs_keys & set(_keys(found))
    # Asked with another organization's record id: none of its vectors are read.
    assert selectors.related(org=organization, record_type="company", record_id=theirs.pk, limit=50) == []
    assert not selectors.related(org=organization, record_type="activity", record_id=their_note.pk, limit=50)


def test_a_record_not_indexed_yet_or_an_empty_index_has_no_related_passages(
    organization: Organization,
) -> None:
    acme = Company.objects.create(organization=organization, name="Acme")
    assert selectors.related(org=organization, record_type="company", record_id=acme.pk, limit=5) == []
    index_pending()
    later = Company.objects.create(organization=organization, name="Globex")  # queued, not indexed
    assert selectors.related(org=organization, record_type="company", record_id=later.pk, limit=5) == []
    collection, _ = store().collections()
    assert collection is not None
