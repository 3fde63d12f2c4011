"""Template filters for CRM records read by the selectors."""

from __future__ import annotations

from django import template

from stratus.crm import selectors as crm_selectors
from stratus.crm.models import Company, Contact, Deal

register = template.Library()


@register.filter
def tag_names(record: Contact | Company | Deal) -> list[str]:
    """The record's tag names, in name order, as its selector loaded them (no query)."""
    return crm_selectors.tag_names(record)
