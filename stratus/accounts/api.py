"""Accounts over the API: sign-up, session login, the current organization, members, API tokens."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.db.models import QuerySet
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from stratus.accounts import services
from stratus.accounts.models import ApiToken, Membership, Organization, Role, User
from stratus.api.permissions import AdminOnly, ReadViewerWriteAdmin, ReadViewerWriteOwner
from stratus.api.serializers import (
    StrictCharField,
    StrictChoiceField,
    StrictDateTimeField,
    StrictEmailField,
    StrictModelSerializer,
    StrictSerializer,
)
from stratus.api.throttling import AnonymousRateThrottle
from stratus.lockout import services as lockout
from stratus.platform.errors import ApplicationError

# --- serializers ------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "email", "full_name")
        read_only_fields = fields


class OrganizationSerializer(StrictModelSerializer):
    class Meta:
        model = Organization
        fields = ("id", "name", "slug", "created_at")
        read_only_fields = ("id", "slug", "created_at")
        extra_kwargs = {"name": {"required": True}}


class OrganizationMembershipSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ("organization", "role")
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    user = UserSerializer(read_only=True)
    memberships = OrganizationMembershipSerializer(many=True, read_only=True)


class LoginSerializer(StrictSerializer):
    email = StrictEmailField()
    password = StrictCharField(max_length=128, trim_whitespace=False)


class SignupSerializer(StrictSerializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(max_length=128, trim_whitespace=False)
    full_name = StrictCharField(max_length=200, required=False, default="", allow_blank=True)
    organization_name = StrictCharField(max_length=200)


class TokenIssuedSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    secret = serializers.CharField(read_only=True, help_text="Shown once: store it now.")
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)


class SignupResultSerializer(serializers.Serializer):
    user = UserSerializer(read_only=True)
    organization = OrganizationSerializer(read_only=True)
    token = TokenIssuedSerializer(read_only=True)


class MemberSerializer(StrictModelSerializer):
    user = UserSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ("id", "user", "role", "created_at")
        read_only_fields = ("id", "user", "created_at")


class MemberCreateSerializer(StrictSerializer):
    email = StrictEmailField(max_length=254)
    role = StrictChoiceField(choices=Role.choices, default=Role.MEMBER)


class MemberUpdateSerializer(StrictSerializer):
    role = StrictChoiceField(choices=Role.choices)


TOKEN_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "role",
    "prefix",
    "created_by",
    "created_at",
    "last_used_at",
    "expires_at",
)


class TokenSerializer(serializers.ModelSerializer):
    created_by = UserSerializer(read_only=True)

    class Meta:
        model = ApiToken
        fields: tuple[str, ...] = TOKEN_FIELDS
        read_only_fields: tuple[str, ...] = TOKEN_FIELDS


class TokenCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    role = StrictChoiceField(choices=Role.choices, default=Role.MEMBER)
    expires_at = StrictDateTimeField(required=False, allow_null=True, default=None)


class TokenCreatedSerializer(TokenSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: store it now.")

    class Meta(TokenSerializer.Meta):
        fields = (*TOKEN_FIELDS, "secret")
        read_only_fields = fields


def _role(request: Request) -> str:
    return str(request.membership.role)  # type: ignore[attr-defined]


def _validated(
    serializer_class: type[serializers.Serializer], request: Request, **kwargs: Any
) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- sign-up and sessions ---------------------------------------------------------------------


class SignupView(APIView):
    """Create an account and its organization; answers with a one-time owner API token."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonymousRateThrottle,)

    @extend_schema(request=SignupSerializer, responses={201: SignupResultSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        if not settings.SIGNUP_ENABLED:
            raise PermissionDenied("Sign-up is switched off on this server (SIGNUP_ENABLED=false).")
        data = _validated(SignupSerializer, request)
        result = services.signup(
            email=data["email"],
            password=data["password"],
            full_name=data["full_name"],
            organization_name=data["organization_name"],
        )
        issued = services.token_create(
            organization=result.organization,
            actor=result.user,
            actor_role=Role.OWNER,
            name="Created at sign-up",
            role=Role.OWNER,
        )
        body = {
            "user": UserSerializer(result.user).data,
            "organization": OrganizationSerializer(result.organization).data,
            "token": {"id": str(issued.token.id), "secret": issued.secret, "role": issued.token.role},
        }
        return Response(body, status=status.HTTP_201_CREATED)


def _me(user: User) -> dict[str, Any]:
    memberships = (
        Membership.objects.select_related("organization").filter(user=user).order_by("organization__name")
    )
    return {
        "user": UserSerializer(user).data,
        "memberships": OrganizationMembershipSerializer(memberships, many=True).data,
    }


class LoginView(APIView):
    """Start a browser session (cookie); send the csrftoken cookie back as X-CSRFToken on writes."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonymousRateThrottle,)

    @extend_schema(request=LoginSerializer, responses={200: MeSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        data = _validated(LoginSerializer, request)
        user = lockout.authenticate_with_lockout(
            request=request._request, email=data["email"], password=data["password"]
        )
        if user is None:
            raise ApplicationError(
                "Wrong email or password.",
                field_errors={"password": ["Wrong email or password."]},
                code="invalid_credentials",
            )
        login(request._request, user)
        get_token(request._request)  # sets the csrftoken cookie
        return Response(_me(user))


class LogoutView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """The signed-in user and the organizations they belong to (no X-Organization needed)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        return Response(_me(request.user))  # type: ignore[arg-type]


# --- the current organization -----------------------------------------------------------------


class OrganizationView(APIView):
    permission_classes = (ReadViewerWriteOwner,)

    @extend_schema(responses={200: OrganizationSerializer})
    def get(self, request: Request) -> Response:
        return Response(OrganizationSerializer(request.organization).data)  # type: ignore[attr-defined]

    @extend_schema(request=OrganizationSerializer, responses={200: OrganizationSerializer})
    def patch(self, request: Request) -> Response:
        data = _validated(OrganizationSerializer, request, partial=True)
        organization = request.organization  # type: ignore[attr-defined]
        if "name" in data:
            organization = services.organization_update(organization=organization, name=data["name"])
        return Response(OrganizationSerializer(organization).data)


# --- members ----------------------------------------------------------------------------------


def _memberships(request: Request) -> QuerySet[Membership]:
    return Membership.objects.select_related("user").filter(organization=request.organization)  # type: ignore[attr-defined]


class MemberListView(generics.ListAPIView):
    permission_classes = (ReadViewerWriteAdmin,)
    serializer_class = MemberSerializer
    queryset = Membership.objects.none()  # for the schema; requests use get_queryset
    orderings = {"created_at": ("created_at",)}
    ordering = "created_at"

    def get_queryset(self) -> QuerySet[Membership]:
        return _memberships(self.request)

    @extend_schema(request=MemberCreateSerializer, responses={201: MemberSerializer})
    def post(self, request: Request) -> Response:
        data = _validated(MemberCreateSerializer, request)
        membership = services.member_add(
            organization=request.organization,  # type: ignore[attr-defined]
            actor_role=_role(request),
            email=data["email"],
            role=data["role"],
        )
        membership = _memberships(request).get(pk=membership.pk)
        return Response(
            MemberSerializer(membership).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-member-detail", args=[membership.pk])},
        )


class MemberDetailView(APIView):
    permission_classes = (ReadViewerWriteAdmin,)

    def _get(self, request: Request, pk: int) -> Membership:
        return get_object_or_404(_memberships(request), pk=pk)

    @extend_schema(responses={200: MemberSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(MemberSerializer(self._get(request, pk)).data)

    @extend_schema(request=MemberUpdateSerializer, responses={200: MemberSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        self._get(request, pk)
        data = _validated(MemberUpdateSerializer, request)
        services.member_update(
            organization=request.organization,  # type: ignore[attr-defined]
            actor_role=_role(request),
            membership_id=pk,
            role=data["role"],
        )
        return Response(MemberSerializer(self._get(request, pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        self._get(request, pk)
        services.member_remove(
            organization=request.organization,  # type: ignore[attr-defined]
            actor_role=_role(request),
            membership_id=pk,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- API tokens -------------------------------------------------------------------------------


def _tokens(request: Request) -> QuerySet[ApiToken]:
    return ApiToken.objects.select_related("created_by").filter(
        organization=request.organization,  # type: ignore[attr-defined]
        revoked_at=None,
    )


class TokenListView(generics.ListAPIView):
    """API tokens of the organization (admins). Revoked tokens are not listed."""

    permission_classes = (AdminOnly,)
    serializer_class = TokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; requests use get_queryset
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[ApiToken]:
        return _tokens(self.request)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = _validated(TokenCreateSerializer, request)
        issued = services.token_create(
            organization=request.organization,  # type: ignore[attr-defined]
            actor=request.user,  # type: ignore[arg-type]
            actor_role=_role(request),
            name=data["name"],
            role=data["role"],
            expires_at=data["expires_at"],
        )
        issued.token.secret = issued.secret  # type: ignore[attr-defined]
        return Response(
            TokenCreatedSerializer(issued.token).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-token-detail", args=[issued.token.pk])},
        )


class TokenDetailView(APIView):
    permission_classes = (AdminOnly,)

    @extend_schema(responses={200: TokenSerializer})
    def get(self, request: Request, pk: str) -> Response:
        return Response(TokenSerializer(get_object_or_404(_tokens(request), pk=pk)).data)

    @extend_schema(responses={204: None}, description="Revoke the token: it stops working at once.")
    def delete(self, request: Request, pk: str) -> Response:
        get_object_or_404(_tokens(request), pk=pk)
        services.token_revoke(
            organization=request.organization,  # type: ignore[attr-defined]
            actor_role=_role(request),
            token_id=pk,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
