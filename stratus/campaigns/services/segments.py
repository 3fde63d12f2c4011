"""Segments: saved contact filters that campaigns send to."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from stratus.accounts.models import Organization, User
from stratus.campaigns.errors import CampaignCode
from stratus.campaigns.models import Campaign, CampaignState, Segment
from stratus.campaigns.selectors import segment_contacts
from stratus.platform.errors import Conflict, Invalid
from stratus.platform.locks import lock_row
from stratus.platform.unset import UNSET, Unset

UNFINISHED = (CampaignState.SCHEDULED, CampaignState.SENDING, CampaignState.PAUSED)


def _required_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise Invalid(
            "A segment needs a name.",
            field_errors={"name": ["This field is required."]},
            code=CampaignCode.NAME_REQUIRED,
        )
    return name


def _check_unique(org: Organization, name: str, *, segment_id: int | None = None) -> None:
    others = Segment.objects.filter(organization=org, name=name)
    if segment_id is not None:
        others = others.exclude(pk=segment_id)
    if others.exists():
        raise Conflict(
            "A segment with this name already exists.",
            field_errors={"name": ["A segment with this name already exists."]},
            code=CampaignCode.DUPLICATE_NAME,
        )


@transaction.atomic
def segment_create(*, org: Organization, actor: User | None, name: str, filters: dict[str, Any]) -> Segment:
    name = _required_name(name)
    segment_contacts(org=org, filters=filters)  # refuses unknown filters, naming them
    _check_unique(org, name)
    return Segment.objects.create(organization=org, name=name, filters=filters, created_by=actor)


@transaction.atomic
def segment_update(
    *,
    org: Organization,
    segment: Segment,
    name: str | Unset = UNSET,
    filters: dict[str, Any] | Unset = UNSET,
) -> Segment:
    segment = lock_row(Segment.objects.filter(organization=org), pk=segment.pk, label="Segment")
    if filters is not UNSET:
        segment_contacts(org=org, filters=filters)
        segment.filters = filters
    if name is not UNSET:
        segment.name = _required_name(name)
        _check_unique(org, segment.name, segment_id=segment.pk)
    segment.save()
    return segment


@transaction.atomic
def segment_delete(*, org: Organization, segment: Segment) -> None:
    segment = lock_row(Segment.objects.filter(organization=org), pk=segment.pk, label="Segment")
    using = list(
        Campaign.objects.filter(organization=org, segment=segment, state__in=UNFINISHED).values_list(
            "name", flat=True
        )
    )
    if using:
        raise Conflict(
            f"The segment is used by unfinished campaigns: {', '.join(using)}.",
            code=CampaignCode.SEGMENT_IN_USE,
        )
    segment.delete()
