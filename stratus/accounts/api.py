"""Accounts over the API: sign-up, session login, the current organization, members, API tokens."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.db.models import QuerySet
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from stratus.accounts import selectors, services
from stratus.accounts.errors import AccountCode
from stratus.accounts.models import (
    ApiToken,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Role,
    User,
)
from stratus.api.authentication import Access
from stratus.api.permissions import (
    AdminOnly,
    OrganizationRolePermission,
    ReadViewerWriteAdmin,
    ReadViewerWriteOwner,
)
from stratus.api.serializers import (
    StrictCharField,
    StrictChoiceField,
    StrictDateTimeField,
    StrictEmailField,
    StrictModelSerializer,
    StrictSerializer,
    StrictSlugField,
)
from stratus.api.throttling import AnonymousRateThrottle
from stratus.api.views import (
    OrganizationAction,
    OrganizationEndpoint,
    OrganizationListEndpoint,
    actor,
    validated,
)
from stratus.lockout import services as lockout
from stratus.platform.errors import Forbidden, Invalid

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
    memberships = OrganizationMembershipSerializer(
        many=True, read_only=True, help_text="With an API token: only the token's organization."
    )
    default_organization = serializers.SlugField(
        read_only=True,
        allow_null=True,
        help_text="Slug of the organization session requests without X-Organization act in.",
    )


class MeUpdateSerializer(StrictSerializer):
    default_organization = StrictSlugField(max_length=80, help_text="Slug of one of your organizations.")


class LoginSerializer(StrictSerializer):
    email = StrictEmailField()
    password = StrictCharField(max_length=128, trim_whitespace=False)


class SignupSerializer(StrictSerializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(max_length=128, trim_whitespace=False)
    full_name = StrictCharField(max_length=200, required=False, default="", allow_blank=True)
    organization_name = StrictCharField(max_length=200)


class SignupAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)


class LinkTokenSerializer(StrictSerializer):
    token = StrictCharField(max_length=300, help_text="The token at the end of the emailed link.")


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


class InvitationCreateSerializer(StrictSerializer):
    email = StrictEmailField(max_length=254)
    role = StrictChoiceField(choices=Role.choices, default=Role.MEMBER)


class InvitationSerializer(serializers.ModelSerializer):
    invited_by = UserSerializer(read_only=True)
    status = serializers.SerializerMethodField(help_text="pending, accepted, revoked or expired")

    class Meta:
        model = Invitation
        fields = (
            "id",
            "email",
            "role",
            "status",
            "invited_by",
            "created_at",
            "sent_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=InvitationStatus.choices))
    def get_status(self, invitation: Invitation) -> str:
        return invitation.status(self.context["now"])


class InvitationDetailsSerializer(serializers.Serializer):
    """What the invited person sees before accepting."""

    organization = serializers.CharField(read_only=True, help_text="The organization's name.")
    email = serializers.EmailField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    invited_by = serializers.CharField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True)
    status = serializers.ChoiceField(choices=InvitationStatus.choices, read_only=True)
    account_exists = serializers.BooleanField(
        read_only=True, help_text="Whether to sign in (true) or sign up (false) to accept."
    )


class InvitationSignupSerializer(LinkTokenSerializer):
    password = StrictCharField(max_length=128, trim_whitespace=False)
    full_name = StrictCharField(max_length=200, required=False, default="", allow_blank=True)


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
    secret = serializers.SerializerMethodField(help_text="Shown once: store it now.")

    class Meta(TokenSerializer.Meta):
        fields = (*TOKEN_FIELDS, "secret")
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_secret(self, token: ApiToken) -> str:
        """The secret is never stored: the view passes it in the context, once."""
        return str(self.context["secret"])


# --- sign-up and sessions ---------------------------------------------------------------------

SIGNUP_ACCEPTED = (
    "Check your email: we sent a link to confirm the address. The account and organization "
    "are created when you open it."
)


def _session_only(request: Request, what: str) -> None:
    access = request.auth
    if isinstance(access, Access) and access.token is not None:
        raise Forbidden(
            f"{what} needs a signed-in session; API tokens act for integrations.",
            code=AccountCode.SESSION_REQUIRED,
        )


def _signup_enabled() -> None:
    if not settings.SIGNUP_ENABLED:
        raise Forbidden(
            "Sign-up is switched off on this server (SIGNUP_ENABLED=false).", code=AccountCode.SIGNUP_DISABLED
        )


class SignupView(APIView):
    """Start a sign-up: always 202, and an email to the address (a confirmation link, or a notice
    to its owner when the address already has an account), so the answer says nothing about
    which addresses are registered."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonymousRateThrottle,)

    @extend_schema(
        request=SignupSerializer,
        responses={
            202: SignupAcceptedSerializer,
            403: OpenApiResponse(description="Sign-up is switched off (SIGNUP_ENABLED=false)."),
            422: OpenApiResponse(description="The password is too weak (field password)."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        _signup_enabled()
        data = validated(SignupSerializer, request)
        services.signup_request(
            email=data["email"],
            password=data["password"],
            full_name=data["full_name"],
            organization_name=data["organization_name"],
        )
        return Response({"detail": SIGNUP_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class SignupConfirmView(APIView):
    """Confirm a sign-up with the emailed link's token: creates the account (its address verified)
    and the organization, and answers with a one-time owner API token."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonymousRateThrottle,)

    @extend_schema(
        request=LinkTokenSerializer,
        responses={
            201: SignupResultSerializer,
            404: OpenApiResponse(description="The link is not valid."),
            409: OpenApiResponse(description="An account uses the address already."),
            410: OpenApiResponse(description="The link has expired or was used already."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        _signup_enabled()
        data = validated(LinkTokenSerializer, request)
        result = services.signup_confirm(token=data["token"])
        issued = services.token_create(
            org=result.organization,
            actor=result.user,
            name="Created at sign-up",
            role=Role.OWNER,
        )
        body = {
            "user": UserSerializer(result.user).data,
            "organization": OrganizationSerializer(result.organization).data,
            "token": {"id": str(issued.token.id), "secret": issued.secret, "role": issued.token.role},
        }
        return Response(body, status=status.HTTP_201_CREATED)


def _me(user: User, access: Access | None = None) -> dict[str, Any]:
    """The user and their organizations; through an API token, only the token's organization
    (with the token's effective role)."""
    if access is not None and access.token is not None and access.membership is not None:
        membership = access.membership
        return {
            "user": UserSerializer(user).data,
            "memberships": [OrganizationMembershipSerializer(membership).data],
            "default_organization": membership.organization.slug,
        }
    memberships = list(selectors.user_memberships(user=user))
    default = next(
        (m.organization.slug for m in memberships if m.organization_id == user.default_organization_id), None
    )
    if default is None and memberships:
        default = min(memberships, key=lambda m: (m.created_at, m.pk)).organization.slug
    return {
        "user": UserSerializer(user).data,
        "memberships": OrganizationMembershipSerializer(memberships, many=True).data,
        "default_organization": default,
    }


class LoginView(APIView):
    """Start a browser session (cookie); send the csrftoken cookie back as X-CSRFToken on writes."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonymousRateThrottle,)

    @extend_schema(request=LoginSerializer, responses={200: MeSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        data = validated(LoginSerializer, request)
        user = lockout.authenticate_with_lockout(
            request=request._request, email=data["email"], password=data["password"]
        )
        if user is None:
            raise Invalid(
                "Wrong email or password.",
                field_errors={"password": ["Wrong email or password."]},
                code=AccountCode.INVALID_CREDENTIALS,
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
    """The caller and their organizations (no X-Organization needed). With an API token, only the
    token's organization is shown. A session may set its default organization."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        access = request.auth if isinstance(request.auth, Access) else None
        return Response(_me(actor(request), access))

    @extend_schema(
        request=MeUpdateSerializer,
        responses={200: MeSerializer, 403: OpenApiResponse(description="API tokens cannot change it.")},
        description="Set the default organization of your sessions (used without X-Organization).",
    )
    def patch(self, request: Request) -> Response:
        _session_only(request, "Choosing the default organization")
        data = validated(MeUpdateSerializer, request)
        user = services.user_set_default_organization(actor=actor(request), slug=data["default_organization"])
        return Response(_me(user))


# --- the current organization -----------------------------------------------------------------


class OrganizationView(OrganizationEndpoint):
    permission_classes = (ReadViewerWriteOwner,)

    @extend_schema(responses={200: OrganizationSerializer})
    def get(self, request: Request) -> Response:
        return Response(OrganizationSerializer(self.org).data)

    @extend_schema(request=OrganizationSerializer, responses={200: OrganizationSerializer})
    def patch(self, request: Request) -> Response:
        data = self.validated(OrganizationSerializer, partial=True)
        organization = self.org
        if "name" in data:
            organization = services.organization_update(org=organization, name=data["name"])
        return Response(OrganizationSerializer(organization).data)


class AnyMember(OrganizationRolePermission):
    """Personal actions in the organization (leaving it): every role."""

    write_role = Role.VIEWER


class OrganizationLeaveView(OrganizationAction):
    """Leave the current organization (any role, signed in): your API tokens there are revoked.
    The last owner cannot leave (409)."""

    permission_classes = (AnyMember,)

    @extend_schema(
        request=None,
        responses={
            204: None,
            403: OpenApiResponse(description="API tokens cannot make their creator leave."),
            409: OpenApiResponse(description="You are the last owner."),
        },
    )
    def post(self, request: Request) -> Response:
        _session_only(request, "Leaving an organization")
        services.membership_leave(org=self.org, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- members ----------------------------------------------------------------------------------


def _invitation_response(
    view: OrganizationEndpoint, invitation: Invitation, status_code: int, location: bool = False
) -> Response:
    invitation = selectors.invitation_get(org=view.org, invitation_id=invitation.pk)
    headers = {"Location": reverse("api-invitation-detail", args=[invitation.pk])} if location else None
    return Response(
        InvitationSerializer(invitation, context={"now": timezone.now()}).data,
        status=status_code,
        headers=headers,
    )


def _invite(view: OrganizationEndpoint, answer: int) -> Response:
    """Invite the body's e-mail with its role (POST /invitations, and POST /members)."""
    data = view.validated(InvitationCreateSerializer)
    issued = services.invitation_create(
        org=view.org, actor=view.actor, role_cap=view.role, email=data["email"], role=data["role"]
    )
    return _invitation_response(view, issued.invitation, answer, location=True)


class MemberListView(OrganizationListEndpoint, generics.ListAPIView):
    permission_classes = (ReadViewerWriteAdmin,)
    serializer_class = MemberSerializer
    queryset = Membership.objects.none()  # for the schema; requests use get_queryset
    orderings = {"created_at": ("created_at",)}
    ordering = "created_at"

    def get_queryset(self) -> QuerySet[Membership]:
        return selectors.member_list(org=self.org)

    @extend_schema(
        request=InvitationCreateSerializer,
        responses={
            202: InvitationSerializer,
            403: OpenApiResponse(description="Your role cannot grant this role."),
            409: OpenApiResponse(description="Already a member, or an invitation is pending."),
        },
        description=(
            "Invite a person by email (the same as POST /invitations): nobody becomes a member "
            "until they accept the emailed link. The answer is the same whether or not the "
            "address has a Stratus account."
        ),
    )
    def post(self, request: Request) -> Response:
        return _invite(self, status.HTTP_202_ACCEPTED)


class MemberPermission(ReadViewerWriteAdmin):
    """Admins manage members; any member may DELETE their own membership (leaving)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        access = request.auth
        if (
            request.method == "DELETE"
            and isinstance(access, Access)
            and access.membership is not None
            and str(view.kwargs.get("pk")) == str(access.membership.pk)
        ):
            self.write_role = Role.VIEWER
        return super().has_permission(request, view)


class MemberDetailView(OrganizationEndpoint):
    permission_classes = (MemberPermission,)

    def _get(self, pk: int) -> Membership:
        return selectors.member_get(org=self.org, membership_id=pk)

    @extend_schema(responses={200: MemberSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(MemberSerializer(self._get(pk)).data)

    @extend_schema(
        request=MemberUpdateSerializer,
        responses={
            200: MemberSerializer,
            403: OpenApiResponse(description="Your role cannot grant this role or change this member."),
            422: OpenApiResponse(description="The last owner cannot be demoted."),
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        self._get(pk)
        data = self.validated(MemberUpdateSerializer)
        services.member_update(
            org=self.org, actor=self.actor, role_cap=self.role, membership_id=pk, role=data["role"]
        )
        return Response(MemberSerializer(self._get(pk)).data)

    @extend_schema(
        responses={
            204: None,
            403: OpenApiResponse(description="Your role cannot remove this member."),
            409: OpenApiResponse(description="The last owner cannot leave."),
        },
        description=(
            "Remove a member (admins: members and viewers; owners: anyone). Deleting your own "
            "membership is leaving (any role, signed in); the member's API tokens in the "
            "organization are revoked."
        ),
    )
    def delete(self, request: Request, pk: int) -> Response:
        membership = self._get(pk)
        if membership.user_id == self.actor.pk:
            _session_only(request, "Leaving an organization")
        services.member_remove(org=self.org, actor=self.actor, role_cap=self.role, membership_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- invitations ------------------------------------------------------------------------------


class InvitationListView(OrganizationListEndpoint, generics.ListAPIView):
    """Invitations of the organization, newest first (admins)."""

    permission_classes = (AdminOnly,)
    serializer_class = InvitationSerializer
    queryset = Invitation.objects.none()  # for the schema; requests use get_queryset
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[Invitation]:
        return selectors.invitation_list(org=self.org)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(
        request=InvitationCreateSerializer,
        responses={
            201: InvitationSerializer,
            403: OpenApiResponse(description="Your role cannot grant this role."),
            409: OpenApiResponse(description="Already a member, or an invitation is pending."),
        },
        description=(
            "Invite a person by email with a role. They get an email with a link that expires "
            "after INVITATION_MAX_AGE_DAYS; nothing changes for them until they accept. The answer "
            "is the same whether or not the address has a Stratus account."
        ),
    )
    def post(self, request: Request) -> Response:
        return _invite(self, status.HTTP_201_CREATED)


class InvitationDetailView(OrganizationEndpoint):
    permission_classes = (AdminOnly,)

    @extend_schema(responses={200: InvitationSerializer})
    def get(self, request: Request, pk: int) -> Response:
        invitation = selectors.invitation_get(org=self.org, invitation_id=pk)
        return Response(InvitationSerializer(invitation, context={"now": timezone.now()}).data)


class InvitationRevokeView(OrganizationAction):
    permission_classes = (AdminOnly,)

    @extend_schema(
        request=None,
        responses={
            200: InvitationSerializer,
            403: OpenApiResponse(description="Only owners revoke admin and owner invitations."),
            409: OpenApiResponse(description="The invitation was accepted already."),
        },
        description="Revoke the invitation: its link stops working at once (it stays listed, revoked).",
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors.invitation_get(org=self.org, invitation_id=pk)
        invitation = services.invitation_revoke(
            org=self.org, actor=self.actor, role_cap=self.role, invitation_id=pk
        )
        return _invitation_response(self, invitation, status.HTTP_200_OK)


class InvitationResendView(OrganizationAction):
    permission_classes = (AdminOnly,)

    @extend_schema(
        request=None,
        responses={
            200: InvitationSerializer,
            403: OpenApiResponse(description="Your role cannot grant this invitation's role."),
            409: OpenApiResponse(description="The invitation was accepted or revoked."),
        },
        description="Email a new link with a new expiry; the previous link stops working.",
    )
    def post(self, request: Request, pk: int) -> Response:
        selectors.invitation_get(org=self.org, invitation_id=pk)
        issued = services.invitation_resend(
            org=self.org, actor=self.actor, role_cap=self.role, invitation_id=pk
        )
        return _invitation_response(self, issued.invitation, status.HTTP_200_OK)


INVITATION_LINK_RESPONSES = {
    404: OpenApiResponse(description="The link is not valid (altered, or replaced by a re-sent one)."),
    410: OpenApiResponse(description="The invitation has expired, was revoked or was used already."),
}


class InvitationInspectView(APIView):
    """What an invitation link offers, for the person who received it (no credentials needed)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonymousRateThrottle,)

    @extend_schema(
        request=LinkTokenSerializer,
        responses={200: InvitationDetailsSerializer, **INVITATION_LINK_RESPONSES},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = validated(LinkTokenSerializer, request)
        invitation = services.invitation_from_token(data["token"])
        return Response(selectors.invitation_details(invitation=invitation))


class InvitationAcceptView(APIView):
    """Accept an invitation as the signed-in user (its address must be yours)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        request=LinkTokenSerializer,
        responses={
            201: OrganizationMembershipSerializer,
            403: OpenApiResponse(
                description="Signed in with another address, through an API token, or the inviter "
                "can no longer grant the role."
            ),
            409: OpenApiResponse(description="You are a member already."),
            **INVITATION_LINK_RESPONSES,
        },
    )
    def post(self, request: Request) -> Response:
        _session_only(request, "Accepting an invitation")
        data = validated(LinkTokenSerializer, request)
        membership = services.invitation_accept(token=data["token"], actor=actor(request))
        return Response(OrganizationMembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class InvitationSignupView(APIView):
    """Accept an invitation by creating the account for the invited address (it has none yet);
    the answer starts a session, as login does."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (AnonymousRateThrottle,)

    @extend_schema(
        request=InvitationSignupSerializer,
        responses={
            201: MeSerializer,
            403: OpenApiResponse(description="The inviter can no longer grant the role."),
            409: OpenApiResponse(description="The address has an account already: sign in and accept."),
            422: OpenApiResponse(description="The password is too weak (field password)."),
            **INVITATION_LINK_RESPONSES,
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = validated(InvitationSignupSerializer, request)
        membership = services.invitation_signup(
            token=data["token"], password=data["password"], full_name=data["full_name"]
        )
        user = membership.user
        login(request._request, user)
        get_token(request._request)
        return Response(_me(user), status=status.HTTP_201_CREATED)


# --- API tokens -------------------------------------------------------------------------------


class TokenListView(OrganizationListEndpoint, generics.ListAPIView):
    """API tokens of the organization (admins). Revoked tokens are not listed."""

    permission_classes = (AdminOnly,)
    serializer_class = TokenSerializer
    queryset = ApiToken.objects.none()  # for the schema; requests use get_queryset
    orderings = {"created_at": ("created_at",)}
    ordering = "-created_at"

    def get_queryset(self) -> QuerySet[ApiToken]:
        return selectors.token_list(org=self.org)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = self.validated(TokenCreateSerializer)
        issued = services.token_create(
            org=self.org,
            actor=self.actor,
            role_cap=self.role,
            name=data["name"],
            role=data["role"],
            expires_at=data["expires_at"],
        )
        return Response(
            TokenCreatedSerializer(issued.token, context={"secret": issued.secret}).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api-token-detail", args=[issued.token.pk])},
        )


class TokenDetailView(OrganizationEndpoint):
    permission_classes = (AdminOnly,)

    @extend_schema(responses={200: TokenSerializer})
    def get(self, request: Request, pk: str) -> Response:
        return Response(TokenSerializer(selectors.token_get(org=self.org, token_id=pk)).data)

    @extend_schema(responses={204: None}, description="Revoke the token: it stops working at once.")
    def delete(self, request: Request, pk: str) -> Response:
        selectors.token_get(org=self.org, token_id=pk)
        services.token_revoke(org=self.org, actor=self.actor, role_cap=self.role, token_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
