"""The organization's exchange rates, for reports that convert money to a reporting currency.

A rate says: from ``valid_from`` on (until the pair's next rate), one unit of ``currency`` is
worth ``rate`` units of ``currency_to``. The target currency is part of each rate: the
organization has no single currency setting, and keeping it on the rate lets an organization
hold rates into more than one reporting currency (a report names the one it wants).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from stratus.accounts.models import Organization

RATE_DIGITS = 20
RATE_PLACES = 10


class ExchangeRate(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code of the currency converted.")
    currency_to = models.CharField(max_length=3, help_text="ISO 4217 code of the reporting currency.")
    rate = models.DecimalField(
        max_digits=RATE_DIGITS,
        decimal_places=RATE_PLACES,
        help_text="Units of currency_to worth one unit of currency.",
    )
    valid_from = models.DateField(help_text="First day (UTC) the rate applies; until the pair's next rate.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("currency_to", "currency", "-valid_from")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["organization", "currency_to", "currency", "valid_from"],
                name="reports_exchangerate_unique",
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="reports_exchangerate_rate_positive"),
            models.CheckConstraint(
                condition=~Q(currency=F("currency_to")), name="reports_exchangerate_two_currencies"
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.currency_to} from {self.valid_from}"
