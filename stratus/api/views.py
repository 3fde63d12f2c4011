"""Small helpers shared by the API views of every app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import QueryDict
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from stratus.accounts.models import Membership, Organization, Role, User
from stratus.api.authentication import Access
from stratus.api.pagination import KeysetPagination
from stratus.api.serializers import ID_MAX, ID_MIN

# Query parameters that belong to pagination, not to a list's filters.
RESERVED_QUERY_PARAMS = frozenset(
    {KeysetPagination.cursor_param, KeysetPagination.limit_param, KeysetPagination.ordering_param, "format"}
)


HANDLER_NAMES = ("get", "post", "put", "patch", "delete")


class ActionView(APIView):
    """One action on a resource (``/campaigns/<id>/send``): it serves only the methods its own
    class body defines.

    An action shares its resource's lookup through a function, not by subclassing the
    resource's view; even so, a handler inherited from any base class is never served, so an
    action URL cannot pick up the resource's PATCH or DELETE (or its permissions' idea of
    which methods write). The schema, built from ``http_method_names``, documents the same.
    A subclass that defines no handler keeps its base action's methods.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [name for name in HANDLER_NAMES if name in vars(cls)]
        if own:
            cls.http_method_names = [*own, *(["head"] if "get" in own else []), "options"]


class OrganizationEndpoint(APIView):
    """What every endpoint that acts in one organization needs, typed: ``self.org``,
    ``self.actor``, ``self.membership``, ``self.role`` and ``self.validated(...)``.

    The organization comes from the request's :class:`~stratus.api.authentication.Access`
    (Bearer token or browser session), resolved once by authentication; the permission
    classes have already refused a caller with no organization, so these never return None.
    Views call selectors and services with ``org=self.org, actor=self.actor``; they run no
    ORM query of their own.
    """

    @property
    def access(self) -> Access:
        access = self.request.auth
        assert isinstance(access, Access), "organization endpoints need an authenticated caller"
        return access

    @property
    def org(self) -> Organization:
        org = self.access.organization
        assert org is not None, "the permission classes refuse callers with no organization"
        return org

    @property
    def membership(self) -> Membership:
        membership = self.access.membership
        assert membership is not None, "the permission classes refuse callers with no organization"
        return membership

    @property
    def role(self) -> Role:
        return Role(self.membership.role)

    @property
    def actor(self) -> User:
        """The authenticated user (for a token, the member who created it)."""
        return actor(self.request)

    def validated(
        self, serializer_class: type[serializers.Serializer], *, partial: bool = False
    ) -> dict[str, Any]:
        """The request body parsed by ``serializer_class``; a 400 naming each refused field."""
        return validated(serializer_class, self.request, partial=partial)


class OrganizationListEndpoint(OrganizationEndpoint, generics.GenericAPIView):
    """A paginated list (and usually create) endpoint on one organization's data."""


class OrganizationAction(OrganizationEndpoint, ActionView):
    """One action on an organization's resource; serves only its own handlers (see ActionView)."""


def query_filters(request: Request) -> dict[str, Any]:
    """The list filters of a request (see query_values)."""
    return query_values(request.query_params)


def query_values(params: QueryDict) -> dict[str, Any]:
    """List filters from query parameters: one value per name, or a list when the name repeats.

    An empty value filters nothing (``created_after=`` is the same as leaving it out), as forms
    send; the pagination's parameters are no filters.
    """
    filters: dict[str, Any] = {}
    for name, sent in params.lists():
        values = [value for value in sent if value != ""]
        if name in RESERVED_QUERY_PARAMS or not values:
            continue
        filters[name] = values[0] if len(values) == 1 else values
    return filters


def validated(
    serializer_class: type[serializers.Serializer], request: Request, *, partial: bool = False
) -> dict[str, Any]:
    """Parse the request body with ``serializer_class``; raises ValidationError (400) naming fields."""
    serializer = serializer_class(data=request.data, context={"request": request}, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def organization(request: Request) -> Organization:
    """The organization of an authenticated API request (see OrganizationEndpoint.org)."""
    access = request.auth
    assert isinstance(access, Access)
    assert access.organization is not None
    return access.organization


def actor(request: Request) -> User:
    """The authenticated user (for a token, the member who created it)."""
    user = request.user
    assert isinstance(user, User), "views that write require authentication"
    return user


def query_choice(request: Request, name: str, choices: Iterable[str]) -> str | None:
    """The value of query parameter ``name`` if it is one of ``choices``; None if absent; else 400."""
    value = request.query_params.get(name)
    if value is None:
        return None
    allowed = list(choices)
    if value not in allowed:
        raise serializers.ValidationError({name: [f"Expected one of: {', '.join(allowed)}."]})
    return value


def query_flag(request: Request, name: str) -> bool | None:
    """A true/false query parameter (true, false, 1, 0); None if absent; else 400."""
    value = query_choice(request, name, ("true", "false", "1", "0"))
    return None if value is None else value in ("true", "1")


def query_id(request: Request, name: str) -> int | None:
    """An id in query parameter ``name`` (``ID_MIN`` to ``ID_MAX``); None if absent; else 400."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or not ID_MIN <= int(value) <= ID_MAX:
        raise serializers.ValidationError({name: [f"Must be an id from {ID_MIN} to {ID_MAX}."]})
    return int(value)


# The schema of a query parameter that takes one id (see query_id).
ID_PARAMETER_SCHEMA = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}
