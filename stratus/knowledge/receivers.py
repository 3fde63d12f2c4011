"""Wake the indexer after a commit that changed indexed text (the triggers wrote the entries).

Only a wake-up: a lost one delays indexing until the beat's next tick, never loses work.
"""

from __future__ import annotations

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


def connect() -> None:
    from django.apps import apps

    for label in WATCHED_MODELS:
        model = apps.get_model(label)
        post_save.connect(wake_indexer, sender=model, dispatch_uid=f"knowledge-save-{label}")
        post_delete.connect(wake_indexer, sender=model, dispatch_uid=f"knowledge-delete-{label}")
