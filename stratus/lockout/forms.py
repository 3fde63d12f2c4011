"""The admin's log-in form with the same failed-login lockout as the API's log-in."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from rest_framework.exceptions import Throttled

from stratus.lockout import services as lockout


class LockoutAdminAuthenticationForm(AdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password or self.request is None:
            return super().clean()
        try:
            self.user_cache = lockout.authenticate_with_lockout(
                request=self.request, email=username, password=password
            )
        except Throttled as locked:
            seconds = max(1, int((getattr(locked, "wait", None) or 1) + 0.999))
            raise ValidationError(
                "Too many failed log-ins for this account from this address; try again in %(seconds)d s.",
                code="locked",
                params={"seconds": seconds},
            ) from None
        if self.user_cache is None:
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
