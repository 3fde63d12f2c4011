"""Writes of documents' searchable text: extraction in the worker, the sweep, re-extraction.

A ready document starts with ``text_status = pending``: that committed state is the work
item, the queued task only its wake-up. ``document_text_extract`` claims the document (an
attempt counted under a row lock), reads the object into a temporary file, runs the sandboxed
child (``sandbox.extract_file``) and stores the outcome under the row lock again, unless the
document changed or went away meanwhile. A lost message or a killed worker leaves the row
pending: ``documents_text_sweep`` queues it again once the attempt's time is up, and after
``DOCUMENTS_TEXT_MAX_ATTEMPTS`` unfinished attempts it is marked not searchable (``failed``).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from stratus.accounts.models import Organization
from stratus.documents.models import Document, DocumentStatus, DocumentText, TextReason, TextStatus
from stratus.documents.storage import CHUNK, document_store
from stratus.documents.text.sandbox import Extracted, Refused, extract_file
from stratus.documents.text.signals import document_text_ready, document_text_removed

logger = logging.getLogger(__name__)

# How long after an attempt started another may start: the child's limit plus reading the file.
ATTEMPT_GRACE = 120
SWEEP_BATCH = 500


def _attempt_expiry() -> timedelta:
    return timedelta(seconds=settings.DOCUMENTS_TEXT_TIMEOUT + ATTEMPT_GRACE)


def _pending() -> QuerySet[Document]:
    return Document.objects.filter(status=DocumentStatus.READY, text_status=TextStatus.PENDING)


def _store_outcome(document: Document, outcome: Extracted | Refused) -> None:
    """Save ``outcome`` on the locked ``document`` and signal it (inside the caller's transaction)."""
    now = timezone.now()
    if isinstance(outcome, Extracted) and not outcome.text.strip():
        outcome = Refused(
            TextReason.NO_TEXT, "The file holds no text (a scanned image needs text recognition)."
        )
    if isinstance(outcome, Extracted):
        DocumentText.objects.update_or_create(
            document=document,
            defaults={
                "organization_id": document.organization_id,
                "text": outcome.text,
                "page_starts": outcome.page_starts,
                "sha256": document.sha256,
            },
        )
        document.text_status = TextStatus.SEARCHABLE
        document.text_reason = ""
        document.text_detail = ""
    else:
        removed, _ = DocumentText.objects.filter(document=document).delete()
        document.text_status = TextStatus.NOT_SEARCHABLE
        document.text_reason = outcome.reason
        document.text_detail = outcome.detail[:255]
        if removed:
            document_text_removed.send(sender=Document, document=document, org=document.organization)
    document.text_extracted_at = now
    document.save(update_fields=["text_status", "text_reason", "text_detail", "text_extracted_at"])
    if isinstance(outcome, Extracted):
        document_text_ready.send(sender=Document, document=document, org=document.organization)
    from stratus.documents.services import document_changed

    document_changed(document)


def _claim(document_id: int) -> Document | None:
    """Count an attempt on a pending document no other attempt is running on; None otherwise."""
    with transaction.atomic():
        document = (
            _pending()
            .select_for_update(skip_locked=True)
            .select_related("organization")
            .filter(pk=document_id)
            .first()
        )
        if document is None:
            return None
        now = timezone.now()
        if document.text_attempted_at and document.text_attempted_at > now - _attempt_expiry():
            return None  # another worker is on it (or was killed recently: the sweep comes back)
        if document.text_attempts >= settings.DOCUMENTS_TEXT_MAX_ATTEMPTS:
            attempts = document.text_attempts
            _store_outcome(document, Refused(TextReason.FAILED, f"{attempts} attempts did not finish."))
            return None
        document.text_attempts += 1
        document.text_attempted_at = now
        document.save(update_fields=["text_attempts", "text_attempted_at"])
        return document


def document_text_extract(*, document_id: int) -> str:
    """Extract the text of one document if it is still waiting for it; the outcome's name.

    Idempotent: a document already extracted, deleted, or being extracted elsewhere is skipped.
    """
    document = _claim(document_id)
    if document is None:
        return "skipped"
    store = document_store()
    with tempfile.NamedTemporaryFile(prefix="stratus-text-", suffix=".bin") as copy:
        with store.storage.open(document.key, "rb") as source:
            shutil.copyfileobj(source, copy, CHUNK)
        copy.flush()
        outcome = extract_file(copy.name, content_type=document.content_type, name=document.name)
    with transaction.atomic():
        locked = (
            _pending()
            .select_for_update()
            .select_related("organization")
            .filter(pk=document.pk, sha256=document.sha256)
            .first()
        )
        if locked is None:  # deleted, or its content or status changed meanwhile
            return "stale"
        _store_outcome(locked, outcome)
    if isinstance(outcome, Refused):
        logger.info("document %s not searchable: %s (%s)", document.pk, outcome.reason, outcome.detail)
        return outcome.reason
    return TextStatus.SEARCHABLE


def documents_text_sweep() -> list[int]:
    """Queue the extraction of ready documents still pending whose last attempt (if any) is over."""
    from stratus.celery import enqueue_on_commit
    from stratus.documents import tasks

    cutoff = timezone.now() - _attempt_expiry()
    ids = list(
        _pending()
        .filter(Q(text_attempted_at__isnull=True) | Q(text_attempted_at__lt=cutoff))
        .order_by("finished_at", "id")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    with transaction.atomic():
        for document_id in ids:
            enqueue_on_commit(tasks.extract_text, document_id)
    return ids


def documents_text_reset(*, org: Organization | None = None, not_searchable_only: bool = False) -> int:
    """Mark documents' text to be extracted again (after limits changed); the sweep picks them up.

    Their current text stays searchable until the new extraction replaces it."""
    documents = Document.objects.filter(status=DocumentStatus.READY)
    if org is not None:
        documents = documents.filter(organization=org)
    if not_searchable_only:
        documents = documents.filter(text_status=TextStatus.NOT_SEARCHABLE)
    return documents.update(
        text_status=TextStatus.PENDING,
        text_reason="",
        text_detail="",
        text_attempts=0,
        text_attempted_at=None,
        updated_at=timezone.now(),
    )


def schedule_text_extraction(document: Document) -> None:
    """Queue the extraction of a document that just became ready, once its transaction commits."""
    from stratus.celery import enqueue_on_commit
    from stratus.documents import tasks

    enqueue_on_commit(tasks.extract_text, document.pk)
