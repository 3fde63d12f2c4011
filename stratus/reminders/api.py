"""Reminders and notifications over the API (``/api/v1/reminders``, ``/api/v1/notifications``).

Notifications are personal: a user lists and marks only their own, in the current
organization. Reminders are listed for the caller unless ``user=all`` (admins see all).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.accounts.models import ROLE_RANK, Role, User
from stratus.api.permissions import ReadViewerWriteMember, ReadViewerWriteViewer
from stratus.api.schema import exactly_one_of
from stratus.api.serializers import (
    OrganizationPrimaryKeyRelatedField,
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictIntegerField,
    StrictSerializer,
)
from stratus.api.views import (
    ID_PARAMETER_SCHEMA,
    OrganizationAction,
    OrganizationEndpoint,
    OrganizationListEndpoint,
    query_choice,
    query_flag,
    query_id,
)
from stratus.crm.models import Activity, Deal
from stratus.platform.unset import UNSET, Unset
from stratus.reminders import selectors, services
from stratus.reminders.models import Notification, Reminder, ReminderState


class ReminderSerializer(serializers.ModelSerializer):
    offset_minutes = serializers.SerializerMethodField()

    class Meta:
        model = Reminder
        fields = (
            "id",
            "activity",
            "deal",
            "user",
            "remind_at",
            "offset_minutes",
            "note",
            "state",
            "fired_at",
            "created_at",
        )
        read_only_fields = fields

    def get_offset_minutes(self, reminder: Reminder) -> int | None:
        return None if reminder.offset is None else int(reminder.offset.total_seconds() // 60)


MAX_OFFSET_MINUTES = 366 * 24 * 60


class ReminderCreateSerializer(StrictSerializer):
    activity = OrganizationPrimaryKeyRelatedField(
        queryset=Activity.objects.all(), required=False, allow_null=True
    )
    deal = OrganizationPrimaryKeyRelatedField(queryset=Deal.objects.all(), required=False, allow_null=True)
    user = OrganizationPrimaryKeyRelatedField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="Defaults to the assignee/owner.",
    )
    remind_at = StrictDateTimeField(required=False, allow_null=True, help_text="An absolute time.")
    offset_minutes = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=MAX_OFFSET_MINUTES,
        help_text="Minutes before the due date (at most a year).",
    )
    note = StrictCharField(required=False, allow_blank=True, max_length=500, default="")

    schema_rules = exactly_one_of("activity", "deal")


class ReminderUpdateSerializer(StrictSerializer):
    remind_at = StrictDateTimeField(required=False, allow_null=True)
    offset_minutes = StrictIntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_OFFSET_MINUTES
    )
    note = StrictCharField(required=False, allow_blank=True, max_length=500)


def _offset(data: dict[str, Any]) -> timedelta | Unset | None:
    if "offset_minutes" not in data:
        return UNSET
    minutes = data["offset_minutes"]
    return None if minutes is None else timedelta(minutes=minutes)


# The caller's reminders; with ``?user=all``, an admin's view takes in everyone's. (No docstring:
# the schema would show it on every reminder endpoint.)
class ReminderEndpoint(OrganizationEndpoint):
    @property
    def everyone(self) -> bool:
        return (
            self.request.query_params.get("user") == "all" and ROLE_RANK[self.role] >= ROLE_RANK[Role.ADMIN]
        )


class ReminderListView(ReminderEndpoint, OrganizationListEndpoint, generics.ListAPIView):
    permission_classes = (ReadViewerWriteMember,)
    serializer_class = ReminderSerializer
    queryset = Reminder.objects.none()
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=ReminderState.values),
            OpenApiParameter("activity", ID_PARAMETER_SCHEMA),
            OpenApiParameter("deal", ID_PARAMETER_SCHEMA),
            OpenApiParameter("user", str, description="'all' lists every user's reminders (admins)."),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Reminder]:
        return selectors.reminder_list(
            org=self.org,
            actor=self.actor,
            everyone=self.everyone,
            state=query_choice(self.request, "state", ReminderState.values),
            activity_id=query_id(self.request, "activity"),
            deal_id=query_id(self.request, "deal"),
        )

    @extend_schema(request=ReminderCreateSerializer, responses={201: ReminderSerializer})
    def post(self, request: Request) -> Response:
        data = self.validated(ReminderCreateSerializer)
        offset = _offset(data)
        reminder = services.reminder_create(
            org=self.org,
            actor=self.actor,
            activity=data.get("activity"),
            deal=data.get("deal"),
            remind_at=data.get("remind_at"),
            offset=None if offset is UNSET else offset,
            user=data.get("user"),
            note=data.get("note", ""),
        )
        return Response(ReminderSerializer(reminder).data, status=status.HTTP_201_CREATED)


class ReminderDetailView(ReminderEndpoint):
    permission_classes = (ReadViewerWriteMember,)

    def _get(self, pk: int) -> Reminder:
        return selectors.reminder_get(org=self.org, actor=self.actor, reminder_id=pk, everyone=self.everyone)

    @extend_schema(responses={200: ReminderSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReminderSerializer(self._get(pk)).data)

    @extend_schema(request=ReminderUpdateSerializer, responses={200: ReminderSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        reminder = self._get(pk)
        data = self.validated(ReminderUpdateSerializer)
        reminder = services.reminder_update(
            org=self.org,
            reminder=reminder,
            remind_at=data.get("remind_at", UNSET),
            offset=_offset(data),
            note=data.get("note", UNSET),
        )
        return Response(ReminderSerializer(reminder).data)

    @extend_schema(responses={200: ReminderSerializer}, description="Cancels the reminder.")
    def delete(self, request: Request, pk: int) -> Response:
        reminder = services.reminder_cancel(org=self.org, reminder=self._get(pk))
        return Response(ReminderSerializer(reminder).data)


# --- notifications ----------------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = (
            "id",
            "kind",
            "title",
            "body",
            "target_type",
            "target_id",
            "reminder",
            "read_at",
            "email_state",
            "created_at",
        )
        read_only_fields = fields


class NotificationListView(OrganizationListEndpoint, generics.ListAPIView):
    """The caller's notifications, newest first; ``?unread=true`` for unread ones only."""

    permission_classes = (ReadViewerWriteMember,)
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    @extend_schema(parameters=[OpenApiParameter("unread", bool)])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["X-Unread-Count"] = str(selectors.notification_unread_count(org=self.org, actor=self.actor))
        return response

    def get_queryset(self) -> QuerySet[Notification]:
        unread = bool(query_flag(self.request, "unread"))
        return selectors.notification_list(org=self.org, actor=self.actor, unread=unread)


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class NotificationUnreadCountView(OrganizationEndpoint):
    permission_classes = (ReadViewerWriteMember,)

    @extend_schema(responses={200: UnreadCountSerializer})
    def get(self, request: Request) -> Response:
        return Response({"unread": selectors.notification_unread_count(org=self.org, actor=self.actor)})


class PersonalView(OrganizationAction):
    """A member's own state (any role may change it for itself); each view serves only the
    methods it defines."""

    permission_classes = (ReadViewerWriteViewer,)


class NotificationReadView(PersonalView):
    """Mark one notification read (POST) or unread again (DELETE); any role may, for itself."""

    @extend_schema(request=None, responses={200: NotificationSerializer})
    def post(self, request: Request, pk: int) -> Response:
        notification = services.notification_mark_read(org=self.org, actor=self.actor, notification_id=pk)
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    def delete(self, request: Request, pk: int) -> Response:
        notification = services.notification_mark_unread(org=self.org, actor=self.actor, notification_id=pk)
        return Response(NotificationSerializer(notification).data)


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField()


class NotificationReadAllView(PersonalView):
    @extend_schema(request=None, responses={200: MarkedSerializer})
    def post(self, request: Request) -> Response:
        marked = services.notifications_mark_all_read(org=self.org, actor=self.actor)
        return Response({"marked": marked})


class PreferenceSerializer(StrictSerializer):
    email_reminders = StrictBooleanField()


class NotificationPreferenceView(PersonalView):
    @extend_schema(responses={200: PreferenceSerializer})
    def get(self, request: Request) -> Response:
        return Response({"email_reminders": selectors.email_reminders_enabled(actor=self.actor)})

    @extend_schema(request=PreferenceSerializer, responses={200: PreferenceSerializer})
    def put(self, request: Request) -> Response:
        data = self.validated(PreferenceSerializer)
        preference = services.notification_preference_set(
            actor=self.actor, email_reminders=data["email_reminders"]
        )
        return Response({"email_reminders": preference.email_reminders})
