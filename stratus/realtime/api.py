"""``POST /api/v1/realtime/tickets``: a one-time pass for opening a WebSocket.

Integrations authenticate the REST API with a token; the token must not travel in a
WebSocket URL (proxies and logs keep URLs), so they exchange it here for a ticket that
is signed, short-lived and usable once, and send it in the socket's first message.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from stratus.accounts.models import Role
from stratus.api.authentication import Access
from stratus.api.permissions import OrganizationRolePermission
from stratus.realtime.auth import issue_ticket


class ReadAccess(OrganizationRolePermission):
    """A ticket only lets its holder read events, so any member (viewers too) may get one."""

    write_role = Role.VIEWER


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text='Send as {"type": "subscribe", "ticket": ...} on /ws/.')
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid; it works once.")
    url = serializers.CharField(help_text="Path of the WebSocket endpoint.")
    organization = serializers.CharField(help_text="Slug of the organization whose events it opens.")


class TicketCreateView(APIView):
    permission_classes = [ReadAccess]

    @extend_schema(
        request=None,
        responses={201: TicketSerializer},
        summary="Get a WebSocket ticket",
        description=(
            "Exchange the caller's credentials for a signed ticket that opens one live-update "
            "socket for the caller's organization. The protocol is described in docs/live-updates.md."
        ),
    )
    def post(self, request: Request) -> Response:
        access = request.auth
        # ReadAccess has established all three.
        assert isinstance(access, Access)
        assert access.organization is not None
        assert access.membership is not None
        ticket = issue_ticket(
            user_id=access.membership.user_id,
            organization_id=access.organization.pk,
            token_id=str(access.token.pk) if access.token is not None else None,
        )
        body = {
            "ticket": ticket,
            "expires_in": settings.REALTIME_TICKET_TTL_SECONDS,
            "url": "/ws/",
            "organization": access.organization.slug,
        }
        return Response(TicketSerializer(body).data, status=status.HTTP_201_CREATED)
