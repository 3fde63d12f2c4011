"""Role-based permissions, reusable by every app's API views.

viewer reads; member writes records; admin manages members, pipelines, custom fields and
API tokens; owner manages admins and the organization. Finer rules (an admin may not
touch an owner's membership) live in the services, which raise ApplicationError or
PermissionDenied with the reason.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from stratus.accounts.models import ROLE_RANK, Role
from stratus.api.authentication import Access, OrganizationRequired


def request_role(request: Request) -> Role | None:
    access = request.auth
    return access.role if isinstance(access, Access) else None


def has_role(request: Request, minimum: Role) -> bool:
    role = request_role(request)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


class OrganizationRolePermission(BasePermission):
    """The caller acts in an organization with at least ``read_role`` / ``write_role``."""

    read_role: Role = Role.VIEWER
    write_role: Role = Role.MEMBER

    def has_permission(self, request: Request, view: Any) -> bool:
        access = request.auth
        if not request.user or not request.user.is_authenticated or not isinstance(access, Access):
            return False
        if access.organization is None:
            raise OrganizationRequired("You are not a member of any organization.", code="no_organization")
        required = self.read_role if request.method in SAFE_METHODS else self.write_role
        if not has_role(request, required):
            self.message = (
                f"This action needs the {required.label.lower()} role or higher; you are {access.role}."
            )
            return False
        return True


class ReadViewerWriteMember(OrganizationRolePermission):
    """Records (companies, contacts, deals, activities): the default."""


class ReadViewerWriteAdmin(OrganizationRolePermission):
    """Configuration (pipelines, custom fields, members)."""

    write_role = Role.ADMIN


class AdminOnly(OrganizationRolePermission):
    """Credentials (API tokens): hidden from members and viewers altogether."""

    read_role = Role.ADMIN
    write_role = Role.ADMIN


class ReadViewerWriteOwner(OrganizationRolePermission):
    """The organization itself."""

    write_role = Role.OWNER


class ReadViewerWriteViewer(OrganizationRolePermission):
    """Every role of the organization, for every method the view serves.

    Only for views whose writes change nothing the organization shares: reads sent as POST
    (previews, file analyses) and a member's own state (notifications). Such a view must be
    an ``ActionView`` (or serve no shared write at all), so that this permission never covers
    a method the view did not mean to offer.
    """

    write_role = Role.VIEWER
