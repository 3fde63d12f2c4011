"""Indexing through the outbox into the real Qdrant engine (Qdrant Edge, in process)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from stratus.accounts.models import Organization
from stratus.crm.models import Activity, Company
from stratus.knowledge import services
from stratus.knowledge.models import OutboxEntry
from stratus.knowledge.selectors import Filters, by_meaning
from stratus.knowledge.store import store
from testsupport.search import index_pending

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.subprocess]  # the kill test forks


@pytest.fixture(autouse=True)
def _small_chunks(qdrant_in_tmp: Path, settings: Any) -> None:
    """Each test on its own shard, with chunks small enough that a note makes several."""
    settings.SEARCH_CHUNK_CHARS = 200
    settings.SEARCH_CHUNK_OVERLAP = 40


def _points(org: Organization) -> int:
    collection = services.current_collection()
    return store().count(collection, org.pk)


def test_saved_note_is_found_by_meaning_and_deleted_with_its_record(organization: Organization) -> None:
    company = Company.objects.create(organization=organization, name="Acme Freight")
    note = Activity.objects.create(
        organization=organization,
        company=company,
        kind="note",
        subject="Call with Dana",
        body="Dana was unhappy that getting set up with our product took them almost two months.",
    )
    assert OutboxEntry.objects.filter(record_type="activity", record_id=note.pk).exists()
    index_pending()
    assert not OutboxEntry.objects.exists()
    results = by_meaning(
        org=organization, query="who complained about slow onboarding?", filters=Filters(), limit=3
    )
    assert (results[0].record_type, results[0].record_id) == ("activity", note.pk)
    assert results[0].url == f"/companies/{company.pk}"

    company.delete()  # the cascade deletes the note: its points go too
    index_pending()
    assert _points(organization) == 0


def test_shortened_text_leaves_no_stale_chunk(organization: Organization) -> None:
    company = Company.objects.create(organization=organization, name="Globex", description="word " * 400)
    index_pending()
    long_count = _points(organization)
    assert long_count > 5
    company.description = "Short now."
    company.save()
    index_pending()
    assert _points(organization) == 1


def test_same_text_in_two_organizations_neither_sees_the_other(
    organization: Organization, other_organization: Organization
) -> None:
    text = "Renewal terms: the contract renews yearly unless cancelled ninety days ahead."
    mine = Company.objects.create(organization=organization, name="Initech", description=text)
    theirs = Company.objects.create(organization=other_organization, name="Initech", description=text)
    index_pending()
    for org, own in ((organization, mine), (other_organization, theirs)):
        found = by_meaning(org=org, query="contract renewal terms", filters=Filters(), limit=50)
        assert {(r.record_type, r.record_id) for r in found} == {("company", own.pk)}


def _index_then_die(ready: Any) -> None:
    """In a child process: index one batch, and die (SIGKILL) after writing to Qdrant but before
    the outbox entries are deleted."""
    from django.db import connections

    connections.close_all()

    def die() -> None:
        ready.set()
        os.kill(os.getpid(), signal.SIGKILL)

    services.index_pending(before_delete=die)


def test_worker_killed_mid_batch_loses_nothing_and_leaves_no_stale_chunk(organization: Organization) -> None:
    company = Company.objects.create(organization=organization, name="Umbrella", description="alpha " * 300)
    index_pending()
    company.description = "The onboarding was quick and painless."
    company.save()
    gone = Activity.objects.create(
        organization=organization, company=company, subject="Lunch", body="Pasta place"
    )
    gone_id = gone.pk
    connection.close()
    # The connection pool's sockets would be inherited by the child: a lock it takes on one of
    # them would outlive it (the parent keeps the socket open). Close the pool before forking.
    close_pool = getattr(connection, "close_pool", None)  # PostgreSQL's backend only
    if close_pool is not None and getattr(connection, "pool", None) is not None:
        close_pool()
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    child = context.Process(target=_index_then_die, args=(ready,))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    assert OutboxEntry.objects.exists(), "the killed batch left its entries"
    Activity.objects.filter(pk=gone_id).delete()
    index_pending()  # the retry
    assert not OutboxEntry.objects.exists()
    found = by_meaning(org=organization, query="onboarding", filters=Filters(), limit=50)
    assert {(r.record_type, r.record_id) for r in found} == {("company", company.pk)}
    assert _points(organization) == 1  # one chunk: no stale chunk of the long text, no deleted note


def test_document_text_is_indexed_by_page_and_removed_when_not_searchable(organization: Organization) -> None:
    from stratus.documents.models import Document, DocumentStatus

    company = Company.objects.create(organization=organization, name="Wayne Enterprises")
    document = Document.objects.create(
        organization=organization,
        company=company,
        name="master-agreement.pdf",
        key="documents/test/master-agreement.pdf",
        content_type="application/pdf",
        size=1000,
        sha256="0" * 64,
        status=DocumentStatus.READY,
        finished_at=timezone.now(),
    )
    services.document_text_changed(
        org=organization,
        document=document,
        pages=["Parties and definitions.", "Either party may terminate with ninety days written notice."],
    )
    index_pending()
    found = by_meaning(org=organization, query="how do we cancel the contract?", filters=Filters(), limit=1)
    assert (found[0].record_type, found[0].record_id, found[0].page) == ("document", document.pk, 2)
    assert found[0].url == f"/companies/{company.pk}"

    services.document_text_changed(org=organization, document=document, pages=None)
    index_pending()
    passages = by_meaning(
        org=organization, query="terminate", filters=Filters(record_types=("document",)), limit=10
    )
    assert [(r.text, r.page) for r in passages] == [
        ("master-agreement.pdf", None)
    ]  # the name stays searchable


def test_the_task_leaves_the_work_to_a_running_indexer(organization: Organization) -> None:
    import threading

    from django.db import connections

    from stratus.knowledge import tasks

    Company.objects.create(organization=organization, name="Stark Industries")
    held, release = threading.Event(), threading.Event()

    def other_indexer() -> None:  # another connection, as another worker would have
        try:
            with services.indexer_lock():
                held.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_indexer)
    thread.start()
    assert held.wait(30)
    try:
        with pytest.raises(services.IndexerBusy):
            services.index_pending(wait=False)
        assert tasks.index_pending.apply().get() == 0
        assert OutboxEntry.objects.count() == 1
    finally:
        release.set()
        thread.join(30)
    assert tasks.index_pending.apply().get() == 1
    assert not OutboxEntry.objects.exists()


def test_text_the_worker_extracts_from_a_document_is_searched_at_its_page(organization: Organization) -> None:
    """The documents app's extraction (its signals) reaches the index in the same transaction."""
    from django.db import transaction

    from stratus.documents.models import Document, DocumentStatus, TextReason
    from stratus.documents.text.sandbox import Extracted, Refused
    from stratus.documents.text.services import _store_outcome
    from stratus.knowledge.receivers import pages_of

    company = Company.objects.create(organization=organization, name="Initech")
    document = Document.objects.create(
        organization=organization,
        company=company,
        name="renewal-terms.pdf",
        key="documents/test/renewal-terms.pdf",
        content_type="application/pdf",
        size=1000,
        sha256="1" * 64,
        status=DocumentStatus.READY,
        finished_at=timezone.now(),
    )
    first = "Schedule A lists the licensed seats and the support hours. "
    second = "The agreement renews every year unless either side cancels sixty days before the end."
    assert pages_of(first + second, [len(first)]) == [first, second]
    with transaction.atomic():
        _store_outcome(document, Extracted(text=first + second, page_starts=[len(first)]))
    index_pending()
    question = "when does the contract roll over?"
    found = by_meaning(org=organization, query=question, filters=Filters(), limit=1)
    assert (found[0].record_type, found[0].record_id, found[0].page) == ("document", document.pk, 2)

    with transaction.atomic():  # read again and found not searchable: its passages go, its name stays
        _store_outcome(document, Refused(TextReason.CORRUPT, "The file is damaged."))
    index_pending()
    documents = Filters(record_types=("document",))
    passages = by_meaning(org=organization, query="renews", filters=documents, limit=10)
    assert [(r.text, r.page) for r in passages] == [("renewal-terms.pdf", None)]
