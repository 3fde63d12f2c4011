"""The outbox of the search index, and the text of documents once extracted.

An :class:`OutboxEntry` says "this record's indexed text may have changed": database triggers
(``knowledge.triggers``) write one in the statement that inserts, updates (an indexed column)
or deletes a row, so every writer is covered, cascades and raw SQL included. It carries no
text: the indexer reads the record as it is when it drains the entry, and deletes the points
of a record that is gone. Entries are deleted only after Qdrant has taken the change.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models.functions import Now

from stratus.crm.models import TenantModel


class RecordType(models.TextChoices):
    CONTACT = "contact", "Contact"
    COMPANY = "company", "Company"
    DEAL = "deal", "Deal"
    ACTIVITY = "activity", "Activity"
    CAMPAIGN = "campaign", "Campaign"
    DOCUMENT = "document", "Document"


class OutboxEntry(models.Model):
    # No foreign key: an entry outlives its organization, so that the points are deleted too.
    organization_id = models.BigIntegerField()
    record_type = models.CharField(max_length=16, choices=RecordType.choices)
    record_id = models.BigIntegerField()
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name_plural = "outbox entries"
        indexes: ClassVar = [
            models.Index(
                fields=["organization_id", "record_type", "record_id"], name="knowledge_outbox_record"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_type} {self.record_id} of organization {self.organization_id}"


class DocumentText(TenantModel):
    """The text extracted from a document, page by page (one string for formats without pages)."""

    document = models.OneToOneField("documents.Document", on_delete=models.CASCADE, related_name="+")
    pages = models.JSONField(default=list, help_text="The text of each page, in order.")

    def __str__(self) -> str:
        return f"text of document {self.document_id}"
