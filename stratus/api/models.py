from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from stratus.accounts.models import ApiToken, Organization, User


class IdempotencyKey(models.Model):
    """The stored outcome of a POST sent with an ``Idempotency-Key`` header.

    The row is inserted in the same transaction as the request's effect, so a concurrent
    duplicate blocks on the unique index until the first request commits (then replays its
    response) or rolls back (then runs itself). Rows older than API_IDEMPOTENCY_TTL_SECONDS
    are ignored and purged.

    A key belongs to the principal that sent it: the token for token requests, the user for
    session requests (``token`` empty). Keys are not secrets, so the stored response (which may
    hold a new token's secret) is only ever replayed to that principal; anyone else with the
    same key has a key space of their own.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "user", "key"],
                condition=Q(token__isnull=True),
                name="api_idempotency_key_unique_per_session_user",
            ),
            models.UniqueConstraint(
                fields=["organization", "token", "key"],
                condition=Q(token__isnull=False),
                name="api_idempotency_key_unique_per_token",
            ),
        ]

    def __str__(self) -> str:
        return self.key
