"""Failed-login counters in the database, for deployments without Redis (the embedded default)."""

from __future__ import annotations

from django.db import models


class LoginFailureCounter(models.Model):
    """Failures of one (account) or one (account, client) key; the key is a digest, never an e-mail."""

    key = models.CharField(max_length=80, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.FloatField(null=True)  # Unix time of the last counted attempt
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"
