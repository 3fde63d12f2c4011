"""A missing row (never there, or another organization's) is the same refusal for every read
(``*_get``) and every write of the CRM: NotFound, code ``not_found``, "<Label> not found."."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stratus.crm import selectors, services
from stratus.crm.errors import CrmCode
from stratus.platform.errors import NotFound, status_of
from testsupport.factories import make_organization as make_org

pytestmark = pytest.mark.django_db

GETS: list[tuple[Callable[..., Any], str]] = [
    (selectors.company_get, "Company"),
    (selectors.contact_get, "Contact"),
    (selectors.deal_get, "Deal"),
    (selectors.activity_get, "Activity"),
    (selectors.pipeline_get, "Pipeline"),
    (selectors.stage_get, "Stage"),
    (selectors.custom_field_get, "Custom field"),
]
UPDATES: list[tuple[Callable[..., Any], str, str]] = [
    (services.company_update, "company", "Company"),
    (services.contact_update, "contact", "Contact"),
    (services.deal_update, "deal", "Deal"),
    (services.activity_update, "activity", "Activity"),
    (services.pipeline_update, "pipeline", "Pipeline"),
    (services.stage_update, "stage", "Stage"),
    (services.custom_field_update, "field", "Custom field"),
]


def records(org: Any) -> dict[str, int]:
    """One record of each kind in ``org``, by label."""
    pipeline = services.pipeline_create(org=org, actor=None, name="Sales")
    contact = services.contact_create(org=org, actor=None, email="ann@example.com")
    field = services.custom_field_create(
        org=org, actor=None, entity="contact", key="plan", label="Plan", field_type="text"
    )
    return {
        "Company": services.company_create(org=org, actor=None, name="Acme").pk,
        "Contact": contact.pk,
        "Deal": services.deal_create(org=org, actor=None, title="Big").pk,
        "Activity": services.activity_create(org=org, actor=None, subject="Call", contact=contact).pk,
        "Pipeline": pipeline.pk,
        "Stage": pipeline.stages.first().pk,  # type: ignore[union-attr]
        "Custom field": field.pk,
    }


def check(error: NotFound, label: str) -> None:
    assert (error.message, error.code, error.field_errors, status_of(error)) == (
        f"{label} not found.",
        CrmCode.NOT_FOUND,
        {},
        404,
    )


@pytest.mark.parametrize(("get", "label"), GETS, ids=[label for _, label in GETS])
def test_every_get_refuses_a_missing_or_foreign_row_the_same_way(get: Callable[..., Any], label: str) -> None:
    org, other = make_org(), make_org()
    theirs = records(other)[label]
    for pk in (theirs, 2**62, "abc"):
        with pytest.raises(NotFound) as caught:
            get(org=org, pk=pk)
        check(caught.value, label)
    assert get(org=other, pk=theirs).pk == theirs


@pytest.mark.parametrize(("update", "argument", "label"), UPDATES, ids=[label for _, _, label in UPDATES])
def test_every_update_refuses_a_foreign_row_as_its_get_does(
    update: Callable[..., Any], argument: str, label: str
) -> None:
    org, other = make_org(), make_org()
    theirs = records(other)[label]
    for pk in (theirs, 2**62):
        with pytest.raises(NotFound) as caught:
            update(org=org, actor=None, **{argument: pk})
        check(caught.value, label)
