from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from stratus.documents.models import Document


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Read-only metadata; files are added through the API. Deleting a row deletes its object after commit."""

    list_display = (
        "name",
        "organization",
        "contact",
        "company",
        "deal",
        "content_type",
        "size",
        "status",
        "text_status",
        "text_reason",
        "created_at",
    )
    list_filter = ("status", "content_type", "text_status", "text_reason")
    search_fields = ("name", "key")
    list_select_related = ("organization", "contact", "company", "deal")
    raw_id_fields = ("contact", "company", "deal", "uploaded_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
