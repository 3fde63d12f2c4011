from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from stratus.crm.models import (
    Activity,
    Company,
    Contact,
    CustomField,
    Deal,
    Pipeline,
    Stage,
    Tag,
    TimelineEntry,
)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "organization")
    list_filter = ("organization",)
    search_fields = ("name",)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "organization", "owner", "created_at")
    list_filter = ("organization",)
    search_fields = ("name", "domain")
    raw_id_fields = ("owner", "tags")
    show_full_result_count = False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "company", "organization", "owner", "created_at")
    list_filter = ("organization",)
    list_select_related = ("company", "organization", "owner")
    search_fields = ("first_name", "last_name", "email")
    raw_id_fields = ("company", "owner", "tags")
    show_full_result_count = False


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0
    fields = ("position", "name", "probability", "kind")
    exclude = ("organization",)


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "is_default", "position")
    list_filter = ("organization",)
    inlines = (StageInline,)


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = ("title", "value", "currency", "stage", "organization", "owner", "expected_close_date")
    list_filter = ("organization", "stage__kind")
    list_select_related = ("stage", "organization", "owner")
    search_fields = ("title",)
    raw_id_fields = ("pipeline", "stage", "company", "contacts", "owner", "tags")
    show_full_result_count = False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("subject", "kind", "due_at", "done", "assignee", "organization")
    list_filter = ("organization", "kind", "done")
    search_fields = ("subject",)
    raw_id_fields = ("assignee", "contact", "company", "deal")
    show_full_result_count = False


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ("key", "label", "entity", "field_type", "required", "organization")
    list_filter = ("organization", "entity", "field_type")


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "action",
        "target_type",
        "target_id",
        "target_label",
        "actor",
        "organization",
    )
    list_filter = ("organization", "action", "target_type")
    raw_id_fields = ("actor",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TimelineEntry | None = None) -> bool:
        return False
