"""Every integer a client can send has bounds, in the serializer and in the schema, and the server keeps them.

Both walks are driven by drf-spectacular's view of the URL resolver, not by a list: a new endpoint
with an unbounded integer (a body field, a query or a path parameter) fails here.

- Every serializer a view takes input with: each integer field (nested, in lists, related ids)
  has a minimum and a maximum.
- Every integer input of the generated schema states ``minimum`` and ``maximum``.
- Every integer input, sent just outside its bounds and far outside (2^63, 10^30), is answered
  400 naming it (404 for an id in the path), never 5xx; at its bounds it is never a 5xx either.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import Resolver404, resolve
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.plumbing import get_class
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiRequest
from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, RelatedField

from tests.test_api_isolation import OBJECTS, World

pytestmark = pytest.mark.django_db


# --- the serializers ----------------------------------------------------------------------------


def _input_serializers() -> Iterator[tuple[str, serializers.BaseSerializer]]:
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, path_regex, method, view in generator._get_paths_and_endpoints():
        view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, None)
        schema = view.schema
        schema.path, schema.path_regex, schema.path_prefix = path, path_regex, ""
        schema.method, schema.registry = method.upper(), generator.registry
        if schema.method not in ("POST", "PUT", "PATCH"):
            continue
        declared = schema.get_request_serializer()
        for candidate in declared.values() if isinstance(declared, dict) else [declared]:
            if isinstance(candidate, OpenApiRequest):
                candidate = candidate.request
            if candidate is None or not (
                isinstance(candidate, serializers.BaseSerializer)
                or (isinstance(candidate, type) and issubclass(candidate, serializers.BaseSerializer))
            ):
                continue
            yield f"{method} {path}", candidate() if isinstance(candidate, type) else candidate


def _integer_fields(field: Any, name: str) -> Iterator[tuple[str, Any]]:
    if isinstance(field, serializers.ListSerializer):
        yield from _integer_fields(field.child, name)
    elif isinstance(field, serializers.Serializer):
        for child_name, child in field.fields.items():
            if not child.read_only:
                yield from _integer_fields(child, f"{name}.{child_name}" if name else child_name)
    elif isinstance(field, serializers.ListField | serializers.DictField):
        yield from _integer_fields(field.child, f"{name}[]")
    elif isinstance(field, ManyRelatedField):
        yield from _integer_fields(field.child_relation, f"{name}[]")
    elif isinstance(field, serializers.IntegerField | RelatedField):
        yield name, field


def test_every_integer_field_of_every_input_serializer_has_bounds() -> None:
    checked, unbounded = 0, []
    for operation, serializer in _input_serializers():
        for name, field in _integer_fields(serializer, ""):
            if isinstance(field, RelatedField) and not isinstance(field, serializers.PrimaryKeyRelatedField):
                continue  # slugs and other non-integer references
            checked += 1
            bounds = (getattr(field, "min_value", None), getattr(field, "max_value", None))
            if None in bounds:
                unbounded.append(f"{operation} {type(serializer).__name__}.{name}: {bounds}")
    assert checked > 20, "the walk found the integer fields"
    assert not unbounded, "integer inputs without a minimum or a maximum:\n" + "\n".join(unbounded)


# --- the schema ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegerInput:
    method: str
    path: str
    location: str  # path, query or body
    name: str  # for a body: the dotted field path, "[]" for list items
    minimum: int | None
    maximum: int | None
    media_type: str = ""


def _schema() -> dict[str, Any]:
    GENERATOR_STATS.reset()
    return get_class(spectacular_settings.DEFAULT_GENERATOR_CLASS)().get_schema(request=None, public=True)


def _integers_in(schema: dict[str, Any], components: dict[str, Any], name: str) -> Iterator[tuple[str, dict]]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("type") == "integer":
        yield name, schema
    for key, child in schema.get("properties", {}).items():
        yield from _integers_in(child, components, f"{name}.{key}" if name else key)
    if "items" in schema:
        yield from _integers_in(schema["items"], components, f"{name}[]")
    for key in ("oneOf", "anyOf", "allOf"):
        for child in schema.get(key, []):
            yield from _integers_in(child, components, name)


def integer_inputs(schema: dict[str, Any]) -> list[IntegerInput]:
    components = schema["components"]["schemas"]
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for name, spec in _integers_in(parameter.get("schema", {}), components, parameter["name"]):
                    found.append(
                        IntegerInput(
                            method, path, parameter["in"], name, spec.get("minimum"), spec.get("maximum")
                        )
                    )
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                for name, spec in _integers_in(content.get("schema", {}), components, ""):
                    found.append(
                        IntegerInput(
                            method, path, "body", name, spec.get("minimum"), spec.get("maximum"), media_type
                        )
                    )
    return found


def test_every_integer_input_of_the_schema_states_its_bounds() -> None:
    inputs = integer_inputs(_schema())
    assert {i.location for i in inputs} == {"path", "query", "body"}
    unbounded = [i for i in inputs if i.minimum is None or i.maximum is None]
    assert not unbounded, "\n".join(f"{i.method.upper()} {i.path} {i.location}:{i.name}" for i in unbounded)


# --- the server ---------------------------------------------------------------------------------

HUGE = (2**63, 10**30, -(10**30))


def _nest(name: str, value: Any) -> Any:
    """The body that puts ``value`` at the dotted field path ``name`` ("a[].b" -> {"a": [{"b": v}]})."""
    head, _, rest = name.partition(".")
    listed = head.endswith("[]")
    key = head.removesuffix("[]")
    inner = _nest(rest, value) if rest else value
    return {key: [inner] if listed else inner} if key else [inner]


def _path_for(world: World, template: str) -> tuple[str, bool]:
    """The template filled with ids of the world's objects; False if the pattern has no object there."""
    try:
        match = resolve(template.replace("{id}", "1"))
    except Resolver404:  # a negative id in the path: no pattern takes it
        return template, False
    kind = OBJECTS.get(f"{':'.join(match.namespaces)}:{match.url_name}".lstrip(":"))
    value = world.ids[kind] if kind else (uuid.uuid4() if "tokens" in template else 1)
    return template.replace("{id}", str(value)), kind is not None


def _target(world: World, item: IntegerInput, value: int) -> tuple[str, bool]:
    if item.location == "path":
        return _path_for(world, item.path.replace("{" + item.name + "}", str(value)))
    return _path_for(world, item.path)


def _send(client: Any, item: IntegerInput, path: str, value: Any) -> Any:
    call: Callable[..., Any] = getattr(client, item.method)
    if item.location == "query":
        return call(f"{path}?{item.name}={value}")
    if item.location == "path":
        return call(path)
    if item.media_type.startswith("multipart"):
        return call(path, {item.name: str(value)}, format="multipart")
    return call(path, _nest(item.name, value), format="json")


def _named(response: Any, name: str) -> bool:
    field = name.split(".")[0].removesuffix("[]")
    errors = response.json().get("errors", [])
    return any((e["field"] or "").split(".")[0] == field for e in errors)


@pytest.mark.django_db(transaction=True)
def test_out_of_bounds_integers_are_refused_by_name_and_never_crash(settings: Any) -> None:
    settings.API_RATE_LIMIT_TOKEN = settings.API_RATE_LIMIT_ORGANIZATION = 0  # hundreds of requests
    world = World()
    world.build()
    client = world.a_owner
    problems: list[str] = []
    inputs = integer_inputs(_schema())
    for item in inputs:
        minimum, maximum = item.minimum, item.maximum
        assert minimum is not None
        assert maximum is not None
        for value in sorted({minimum - 1, maximum + 1, *HUGE}):
            if minimum <= value <= maximum:
                continue
            path, resolvable = _target(world, item, value)
            response = _send(client, item, path, value)
            where = f"{item.method.upper()} {item.path} {item.location}:{item.name}={value}"
            if response.status_code >= 500:
                problems.append(f"{where}: {response.status_code}")
            elif item.location == "path":
                if response.status_code not in (400, 404):
                    problems.append(f"{where}: {response.status_code}, expected 404")
            elif not resolvable and response.status_code == 404:
                problems.append(f"{where}: the path has no object in tests/test_api_isolation.py OBJECTS")
            elif response.status_code != 400 or not _named(response, item.name):
                problems.append(f"{where}: {response.status_code} {response.content[:200]!r}")
    # At the bounds the input is valid: whatever a business rule answers, never a crash.
    for item in inputs:
        for bound in (item.minimum, item.maximum):
            assert bound is not None
            response = _send(client, item, _target(world, item, bound)[0], bound)
            if response.status_code >= 500:
                problems.append(
                    f"{item.method.upper()} {item.path} {item.name}={bound}: {response.status_code}"
                )
    assert len(inputs) > 50
    assert not problems, "\n".join(problems)


def test_reminder_offset_beyond_its_bound_is_a_400_naming_it(organization, api_client) -> None:
    client = api_client()
    contact = client.post("/api/v1/contacts", {"first_name": "Ada"}, format="json").json()
    activity = client.post(
        "/api/v1/activities",
        {"subject": "Call", "contact": contact["id"], "due_at": "2030-01-01T10:00:00Z"},
        format="json",
    ).json()
    for offset in (54999537674063080, 2**63):
        response = client.post(
            "/api/v1/reminders", {"activity": activity["id"], "offset_minutes": offset}, format="json"
        )
        assert response.status_code == 400, response.content
        assert [e["field"] for e in response.json()["errors"]] == ["offset_minutes"]
    accepted = client.post(
        "/api/v1/reminders", {"activity": activity["id"], "offset_minutes": 366 * 24 * 60}, format="json"
    )
    assert accepted.status_code == 201, accepted.content
