"""Wake the indexer after a commit that changed indexed text (the triggers wrote the entries),
and follow the text the documents app extracts.

A wake-up only: a lost one delays indexing until the beat's next tick, never loses work. The
documents' signals are sent inside the transaction that stores the extracted text, so the
passages recorded here (and the outbox entry their trigger writes) commit with it.
"""

from __future__ import annotations

import itertools
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

WATCHED_MODELS = (
    "crm.Contact",
    "crm.Company",
    "crm.Deal",
    "crm.Activity",
    "campaigns.Campaign",
    "documents.Document",
    "knowledge.DocumentText",
)


def wake_indexer(**kwargs: Any) -> None:
    from stratus.knowledge import tasks

    transaction.on_commit(tasks.wake)


def pages_of(text: str, page_starts: list[int]) -> list[str]:
    """The text cut at the offsets where each page begins (one string when it has no pages)."""
    starts = [start for start in page_starts if 0 < start < len(text)]
    bounds = [0, *sorted(set(starts)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def document_text_ready(*, document: Any, org: Any, **kwargs: Any) -> None:
    from stratus.documents.models import DocumentText as Extracted
    from stratus.knowledge import services

    extracted = Extracted.objects.filter(document=document).only("text", "page_starts").first()
    pages = pages_of(extracted.text, list(extracted.page_starts or [])) if extracted else None
    services.document_text_changed(org=org, document=document, pages=pages)


def document_text_removed(*, document: Any, org: Any, **kwargs: Any) -> None:
    from stratus.knowledge import services

    services.document_text_changed(org=org, document=document, pages=None)


def connect() -> None:
    from django.apps import apps

    from stratus.documents.text import signals

    signals.document_text_ready.connect(document_text_ready, dispatch_uid="knowledge-document-text")
    signals.document_text_removed.connect(document_text_removed, dispatch_uid="knowledge-document-untext")

    for label in WATCHED_MODELS:
        model = apps.get_model(label)
        post_save.connect(wake_indexer, sender=model, dispatch_uid=f"knowledge-save-{label}")
        post_delete.connect(wake_indexer, sender=model, dispatch_uid=f"knowledge-delete-{label}")
