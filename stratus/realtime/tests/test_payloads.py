"""Live event payloads are declared once (stratus/realtime/payloads.py) and what is sent matches."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from stratus.crm import services
from stratus.crm.models import Contact
from stratus.realtime import events, payloads
from testsupport.factories import make_member, make_organization

STRATUS = Path(__file__).resolve().parents[2]
# The one door, and the CRM's shorthands for it: ``kit.announce(org, event, data)`` and an
# entity's ``ENTITY.announce(org, record, action)`` (event ``<entity event>.<action>``).
PUBLISHERS = {"publish", "_announce", "announce"}


def _entity_events() -> set[str]:
    """The ``event=`` of every CRM entity description (``kit.Entity(..., event="contact")``)."""
    found: set[str] = set()
    for path in sorted((STRATUS / "crm" / "services").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Entity":
                found.update(
                    k.value.value
                    for k in node.keywords
                    if k.arg == "event"
                    and isinstance(k.value, ast.Constant)
                    and isinstance(k.value.value, str)
                )
    return found


def _module_dicts(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level dicts of string values (e.g. IMPORT_EVENTS), for names chosen at run time."""
    found: dict[str, list[str]] = {}
    for node in tree.body:
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and isinstance(value, ast.Dict):
            found[target.id] = [
                v.value for v in value.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            ]
    return found


def published_event_names() -> tuple[set[str], list[str]]:
    """Every event name a call to publish/_announce in the shipped code can send, and the calls
    whose name could not be read (a literal, or a value of a module-level dict)."""
    names: set[str] = set()
    unreadable: list[str] = []
    entities = _entity_events()
    for path in sorted(STRATUS.rglob("*.py")):
        parts = path.relative_to(STRATUS).parts
        if "tests" in parts or "migrations" in parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        tables = _module_dicts(tree)
        # A publisher's own body passes its ``event`` parameter on (``_announce`` -> ``publish``).
        forwarding = {
            id(call)
            for function in ast.walk(tree)
            if isinstance(function, ast.FunctionDef) and function.name in PUBLISHERS
            for call in ast.walk(function)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called not in PUBLISHERS or (called != "publish" and len(node.args) < 2):
                continue
            on_entity = (
                called == "announce"
                and isinstance(func, ast.Attribute)
                and not (isinstance(func.value, ast.Name) and func.value.id == "kit")
            )
            if on_entity:
                action = node.args[2] if len(node.args) > 2 else None
                if isinstance(action, ast.Constant) and isinstance(action.value, str) and entities:
                    names.update(f"{entity}.{action.value}" for entity in entities)
                elif action is None or id(node) not in forwarding:
                    unreadable.append(f"{path}:{node.lineno}")
                continue
            event = next((k.value for k in node.keywords if k.arg == "event"), None)
            if event is None and called != "publish":
                event = node.args[1]
            if event is None:
                unreadable.append(f"{path}:{node.lineno}")
                continue
            if isinstance(event, ast.Constant) and isinstance(event.value, str):
                names.add(event.value)
            elif isinstance(event, ast.Subscript) and isinstance(event.value, ast.Name):
                names.update(tables.get(event.value.id, []))
                if event.value.id not in tables:
                    unreadable.append(f"{path}:{node.lineno}")
            elif id(node) in forwarding:
                continue  # a publisher passing on the name it was given
            else:
                unreadable.append(f"{path}:{node.lineno}")
    return names, unreadable


def test_every_published_event_is_declared_and_every_declaration_is_published() -> None:
    names, unreadable = published_event_names()
    assert unreadable == [], "publish an event name as a literal or a module-level dict value"
    assert {"contact.created", "deal.moved", "notification.created", "campaign.progress"} <= names
    assert names - set(payloads.EVENTS) == set(), "declare these events in stratus/realtime/payloads.py"
    assert set(payloads.EVENTS) - names == set(), "these declarations are no longer published"


@pytest.mark.parametrize(
    ("event", "data", "message"),
    [
        ("contact.renamed", {"id": 1}, "not declared"),
        ("contact.created", {"id": 1}, "missing keys ['name']"),
        ("contact.created", {"id": 1, "name": "A", "email": "a@x"}, "undeclared keys ['email']"),
        ("contact.created", {"id": "1", "name": "A"}, "id='1'"),
        ("contact.updated", {"id": 1, "fields": ["name", 2]}, "fields="),
        ("deal.moved", {"id": 1, "from_stage": True, "to_stage": 2, "pipeline": 3}, "from_stage=True"),
    ],
)
@pytest.mark.django_db
def test_publish_refuses_an_undeclared_event_or_a_payload_off_its_declaration(
    event: str, data: dict[str, Any], message: str, django_capture_on_commit_callbacks: Any
) -> None:
    org = make_organization()

    def write_and_announce() -> None:
        with transaction.atomic():
            Contact.objects.create(organization=org, first_name="Rolled back")
            events.publish(organization_id=org.pk, event=event, data=data)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(payloads.PayloadError, match=re.escape(message)),
    ):
        write_and_announce()
    assert callbacks == []
    assert not Contact.objects.filter(organization=org).exists()


def test_optional_values_and_the_keyword_key_are_declared() -> None:
    payloads.check(
        "contact.imported", {"import": 3, "ids": [1, 2], "created": 1, "updated": 1}
    )  # ``import`` is declared as ``import_``
    fields = payloads.fields_of(payloads.NotificationCreated)
    assert fields["reminder_id"] == int | None


@pytest.mark.django_db
def test_the_crm_services_send_payloads_that_match_their_declarations(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    delivered: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(
        events,
        "deliver_now",
        lambda *, organization_id, event_json, data_json, user_id=None: delivered.append(
            (json.loads(event_json), json.loads(data_json))
        ),
    )
    org = make_organization()
    actor = make_member(org).user
    with django_capture_on_commit_callbacks(execute=True):
        company = services.company_create(org=org, actor=actor, name="Acme")
        services.company_update(org=org, actor=actor, company=company, name="Acme Ltd")
        contact = services.contact_create(org=org, actor=actor, first_name="Ada", company=company.pk)
        services.contact_update(org=org, actor=actor, contact=contact, last_name="Lovelace")
        pipeline = services.pipeline_create(org=org, actor=actor, name="Sales")
        services.pipeline_update(org=org, actor=actor, pipeline=pipeline, name="New business")
        stages = list(pipeline.stages.order_by("position"))
        deal = services.deal_create(org=org, actor=actor, title="Big", stage=stages[0])
        services.deal_update(org=org, actor=actor, deal=deal, title="Bigger")
        services.deal_move(org=org, actor=actor, deal=deal, stage=stages[1])
        activity = services.activity_create(org=org, actor=actor, subject="Call", contact=contact)
        services.activity_update(org=org, actor=actor, activity=activity, subject="Call back")
        services.activity_delete(org=org, actor=actor, activity=activity)
        field = services.custom_field_create(
            org=org, actor=actor, entity="contact", key="tier", label="Tier", field_type="text"
        )
        services.custom_field_update(org=org, actor=actor, field=field, label="Level")
        services.custom_field_delete(org=org, actor=actor, field=field)
        services.deal_delete(org=org, actor=actor, deal=deal)
        services.contact_delete(org=org, actor=actor, contact=contact)
        services.company_delete(org=org, actor=actor, company=company)
        other = services.pipeline_create(org=org, actor=actor, name="Spare")
        services.pipeline_delete(org=org, actor=actor, pipeline=other)

    for event, data in delivered:
        payloads.check(event, data)  # what reached the wire, after JSON, still matches
    sent = {event for event, _ in delivered}
    crm_events = {
        name for name in payloads.EVENTS if name.split(".")[0] in {"contact", "company", "pipeline", "deal"}
    } | {name for name in payloads.EVENTS if name.split(".")[0] in {"activity", "custom_field"}}
    assert crm_events - {"contact.imported", "company.imported"} <= sent
    assert ("contact.created", {"id": contact.pk, "name": "Ada"}) in delivered
