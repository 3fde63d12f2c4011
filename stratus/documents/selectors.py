"""Reads of documents; every one is scoped by organization and shows only finished uploads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from stratus.accounts.models import Organization
from stratus.crm.models import Company, Contact, Deal
from stratus.documents.errors import DocumentCode
from stratus.documents.models import Document, DocumentStatus
from stratus.platform.errors import ApplicationError, NotFound


def document_list(*, org: Organization, target: Contact | Company | Deal | None = None) -> QuerySet[Document]:
    """Ready documents of ``org`` (of one record when ``target`` is given), newest first."""
    documents = Document.objects.filter(organization=org, status=DocumentStatus.READY)
    if isinstance(target, Contact):
        documents = documents.filter(contact=target)
    elif isinstance(target, Company):
        documents = documents.filter(company=target)
    elif isinstance(target, Deal):
        documents = documents.filter(deal=target)
    return documents.select_related("uploaded_by").order_by("-created_at", "-id")


def _not_found() -> ApplicationError:
    return NotFound("Document not found.", code=DocumentCode.NOT_FOUND)


def document_get(*, org: Organization, document_id: Any, include_pending: bool = False) -> Document:
    """A document of ``org`` (ready unless ``include_pending``); 404 for any other, other orgs' included."""
    try:
        pk = int(document_id)
    except (TypeError, ValueError):
        raise _not_found() from None
    documents = Document.objects.select_related("uploaded_by").filter(organization=org, pk=pk)
    if not include_pending:
        documents = documents.filter(status=DocumentStatus.READY)
    document = documents.first()
    if document is None:
        raise _not_found()
    return document


def upload_pending(*, key: str) -> bool:
    """Whether a direct upload was started for ``key`` and not finished, cancelled or cleaned up.

    The caller holds a signed grant for the key, which already names the organization."""
    return Document.objects.filter(key=key, status=DocumentStatus.PENDING).exists()


def document_content_types(*, org: Organization, document_ids: Iterable[int]) -> dict[int, str]:
    """The content type of each of ``document_ids`` that is the organization's (one query)."""
    ids = list(document_ids)
    if not ids:
        return {}
    return dict(Document.objects.filter(organization=org, pk__in=ids).values_list("pk", "content_type"))
