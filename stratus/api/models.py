from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from stratus.accounts.models import Organization


class IdempotencyKey(models.Model):
    """The stored outcome of a POST sent with an ``Idempotency-Key`` header.

    The row is inserted in the same transaction as the request's effect, so a concurrent
    duplicate blocks on the unique index until the first request commits (then replays its
    response) or rolls back (then runs itself). Rows older than API_IDEMPOTENCY_TTL_SECONDS
    are ignored and purged.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True)
    response_headers = models.JSONField(default=dict)
    response_body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "key"], name="api_idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key
