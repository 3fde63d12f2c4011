"""Reads of documents; every one is scoped by organization and shows only finished uploads."""

from __future__ import annotations

from django.db.models import QuerySet

from stratus.accounts.models import Organization
from stratus.crm.models import Company, Contact, Deal
from stratus.documents.models import Document, DocumentStatus


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


def document_get(*, org: Organization, document_id: int) -> Document:
    """A ready document of ``org``; raises ``Document.DoesNotExist`` otherwise (other orgs included)."""
    return Document.objects.select_related("uploaded_by").get(
        organization=org, pk=document_id, status=DocumentStatus.READY
    )


def pending_document_get(*, org: Organization, document_id: int) -> Document:
    return Document.objects.get(organization=org, pk=document_id)
