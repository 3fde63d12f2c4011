"""What is indexed of each record type: its title, its text (by page for documents), owner, date."""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Model

from stratus.campaigns.models import Campaign
from stratus.crm.models import Activity, Company, Contact, Deal
from stratus.documents.models import Document, DocumentStatus
from stratus.knowledge.models import DocumentText

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Source:
    title: str
    pieces: list[tuple[int | None, str]]  # (page, text); page None for records without pages
    owner_id: int | None
    date: datetime.datetime
    url: str


def _path(kind: str, pk: int) -> str:
    from stratus.web.shell.destinations import record_path

    return record_path(kind, pk)


def _target_path(row: Activity | Document) -> str:
    if row.contact_id:
        return _path("contact", row.contact_id)
    if row.company_id:
        return _path("company", row.company_id)
    assert row.deal_id is not None
    return _path("deal", row.deal_id)


def _joined(*parts: str) -> str:
    return "\n\n".join(part.strip() for part in parts if part and part.strip())


def load(organization_id: int, record_type: str, ids: Iterable[int]) -> dict[int, Source]:
    """The sources of the records of ``record_type`` among ``ids`` that exist in the organization
    and are indexed (a pending document is not)."""
    ids = list(ids)
    found: dict[int, Source] = {}
    if record_type == "contact":
        for c in Contact.objects.filter(organization_id=organization_id, pk__in=ids).select_related(
            "company"
        ):
            title = c.full_name or c.email
            line = ", ".join(p for p in (c.job_title, c.company.name if c.company else "") if p)
            found[c.pk] = Source(
                title,
                [(None, _joined(title, line, c.email))],
                c.owner_id,
                c.created_at,
                _path("contact", c.pk),
            )
    elif record_type == "company":
        for co in Company.objects.filter(organization_id=organization_id, pk__in=ids):
            text = _joined(co.name, co.industry, co.description)
            found[co.pk] = Source(
                co.name, [(None, text)], co.owner_id, co.created_at, _path("company", co.pk)
            )
    elif record_type == "deal":
        for d in Deal.objects.filter(organization_id=organization_id, pk__in=ids):
            text = _joined(d.title, d.lost_reason)
            found[d.pk] = Source(d.title, [(None, text)], d.owner_id, d.created_at, _path("deal", d.pk))
    elif record_type == "activity":
        for a in Activity.objects.filter(organization_id=organization_id, pk__in=ids):
            found[a.pk] = Source(
                a.subject, [(None, _joined(a.subject, a.body))], a.assignee_id, a.created_at, _target_path(a)
            )
    elif record_type == "campaign":
        for cm in Campaign.objects.filter(organization_id=organization_id, pk__in=ids):
            body = cm.body_text or html.unescape(_TAG.sub(" ", cm.body_html))
            found[cm.pk] = Source(
                cm.name,
                [(None, _joined(cm.subject, body))],
                cm.created_by_id,
                cm.created_at,
                f"/campaigns/{cm.pk}",
            )
    elif record_type == "document":
        texts = {
            t.document_id: t.pages
            for t in DocumentText.objects.filter(organization_id=organization_id, document_id__in=ids)
        }
        documents = Document.objects.filter(
            organization_id=organization_id, pk__in=ids, status=DocumentStatus.READY
        )
        for doc in documents:
            pages = texts.get(doc.pk) or []
            pieces: list[tuple[int | None, str]] = [(None, doc.name)]
            pieces += [(number, str(page)) for number, page in enumerate(pages, start=1)]
            found[doc.pk] = Source(doc.name, pieces, doc.uploaded_by_id, doc.created_at, _target_path(doc))
    return found


RECORD_MODELS: dict[str, type[Model]] = {
    "contact": Contact,
    "company": Company,
    "deal": Deal,
    "activity": Activity,
    "campaign": Campaign,
    "document": Document,
}


def record_ids(organization_id: int, record_type: str) -> Iterable[int]:
    """Every id of the organization's records of ``record_type`` (for a rebuild), in order."""
    rows = RECORD_MODELS[record_type]._default_manager.filter(organization_id=organization_id)
    return rows.order_by("pk").values_list("pk", flat=True).iterator()
