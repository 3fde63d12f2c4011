"""The admin's log-in form with the same failed-login lockout as the API's log-in."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from rest_framework.exceptions import Throttled

from stratus.lockout import services as lockout
from stratus.platform.client_address import client_address


class LockoutAdminAuthenticationForm(AdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password or self.request is None:
            return super().clean()
        try:
            attempt = lockout.login_attempt_begin(email=username, client=client_address(self.request))
        except Throttled as locked:
            seconds = max(1, int((getattr(locked, "wait", None) or 1) + 0.999))
            raise ValidationError(
                "Too many failed log-ins for this account from this address; try again in %(seconds)d s.",
                code="locked",
                params={"seconds": seconds},
            ) from None
        self.user_cache = authenticate(self.request, username=username, password=password)
        if self.user_cache is None:
            lockout.login_attempt_failed(attempt=attempt)
            raise self.get_invalid_login_error()
        lockout.login_attempt_succeeded(attempt=attempt)
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
