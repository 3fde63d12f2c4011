"""OpenAPI schema tweaks: the problem-details error responses, the Bearer scheme, strict inputs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.views import APIView

from stratus.api.errors import PROBLEM_CONTENT_TYPE
from stratus.api.idempotency import IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_PATTERN
from stratus.api.serializers import ID_MAX, ID_MIN


def exactly_one_of(*names: str) -> dict[str, Any]:
    """Schema rules: exactly one of the id fields ``names`` is given and not null."""
    given = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}
    return {"oneOf": [{"required": [name], "properties": {name: given}} for name in names]}


# Django refuses a NUL anywhere in a URL and DRF in any text field (400); the schema says so.
NO_NUL_PATTERN = r"^[^\x00]*$"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "RFC 9457 problem details; `errors` lists per-field problems "
        "(field is null for the request as a whole)."
    ),
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
        "request_id": {"type": "string"},
    },
}

ERROR_DESCRIPTIONS = {
    "400": (
        "Malformed or invalid input, or input that a rule about stored data refuses (a referenced id "
        "that is not a record of the organization, a name already taken): per-field errors; or the "
        "organization could not be determined"
    ),
    "401": "Missing, invalid or revoked credentials",
    "403": "The caller's role does not allow this (or CSRF failed for a session)",
    "404": "No such record (in the path, or referred to by the request) in the caller's organization",
    "406": "The Accept header excludes JSON",
    "409": "Conflicting concurrent change; retry",
    "412": "The record changed since the version named in If-Match; nothing was written",
    "413": "The request body is too large",
    "415": "The body is not JSON",
    "422": (
        "A business rule refused the request (the last owner leaving, a campaign or import not in a "
        "state that allows it, a weak password), or an Idempotency-Key was reused with another body; "
        "a report over the analytics store's per-query limits (code report_too_heavy)"
    ),
    "429": "Rate limit exceeded; retry after Retry-After seconds",
    "503": "The analytics store the reports are read from is unavailable; retry after Retry-After seconds",
}


def _merged(schema: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``rules`` added; ``properties`` are merged per property."""
    merged = {**schema, **{key: value for key, value in rules.items() if key != "properties"}}
    if "properties" in rules:
        merged["properties"] = {
            name: {**spec, **rules["properties"].get(name, {})}
            for name, spec in schema.get("properties", {}).items()
        }
    return merged


class AutoSchema(SpectacularAutoSchema):
    """Every operation documents the problem responses it can produce.

    An input serializer states what its fields alone cannot in ``schema_rules`` (``oneOf`` for
    "exactly one of", ``anyOf`` for "at least one of", patterns of the checks its service makes):
    the rules over several fields apply to whole bodies (POST, PUT), not to partial ones (PATCH),
    unless they are ``properties`` or ``required``.
    """

    def _map_serializer(self, serializer: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        rules = getattr(serializer, "schema_rules", None)
        if not rules or direction != "request":
            return schema
        if getattr(serializer, "partial", False):
            rules = {key: value for key, value in rules.items() if key in ("properties", "required")}
        return _merged(schema, rules)

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            isinstance(field, serializers.CharField)
            and direction == "request"
            and not ({"pattern", "enum", "format"} & schema.keys())
        ):
            schema["pattern"] = NO_NUL_PATTERN  # DRF's text fields refuse a NUL
        if isinstance(field, serializers.DecimalField) and "pattern" in schema:
            # drf-spectacular's pattern admits "", "." and a sign that min_value refuses.
            whole = (field.max_digits or 30) - (field.decimal_places or 0)
            places = field.decimal_places or 0
            sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
            number = (
                rf"[0-9]{{1,{whole}}}(\.[0-9]{{0,{places}}})?|\.[0-9]{{1,{places}}}"
                if places
                else rf"[0-9]{{1,{whole}}}"
            )
            schema["pattern"] = f"^{sign}({number})$"
        return schema

    def get_description(self) -> str:  # type: ignore[override]
        """The handler's docstring, else the nearest view class's; the shared bases of
        ``stratus.api.views`` describe how views are built, not the endpoint, so they are skipped."""
        handler = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        handler_doc = get_doc(handler) if handler is not None else ""
        if handler_doc:
            return handler_doc
        for cls in type(self.view).__mro__:
            if cls is APIView:
                break
            if cls.__module__ != "stratus.api.views" and cls.__dict__.get("__doc__"):
                return get_doc(cls)
        return ""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST" and getattr(self.view, "authentication_classes", None) != ():
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    str,
                    OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        "Makes a retried POST safe: the same key with the same body from the same "
                        "credential (API token, or signed-in user) within 24 hours replays the first "
                        "response without repeating the effect; another credential's key is its own."
                    ),
                    pattern=IDEMPOTENCY_KEY_PATTERN,
                )
            )
        return parameters


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "stratus.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "An API token (st_...)"}


class OrganizationIdField(OpenApiSerializerFieldExtension):
    """A related id states the bounds the field enforces."""

    target_class = "stratus.api.serializers.OrganizationPrimaryKeyRelatedField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        if schema.get("type") == "integer":
            schema.update(minimum=self.target.min_value, maximum=self.target.max_value)
        return schema


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "stratus.api.authentication.OrganizationSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


def _error_codes(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    codes = ["400", "401", "403", "406", "409", "429"]
    codes.append("404")  # the record in the path, or one the request refers to, is not in the organization
    if method in ("post", "put", "patch"):
        codes += ["413", "415", "422"]
    if method == "delete":
        codes.append("422")
    if method == "get" and path.startswith("/api/v1/reports/"):
        codes += ["422", "503"]  # over the analytics store's per-query limits; the store down
    if any(p.get("in") == "header" and p.get("name") == "If-Match" for p in operation.get("parameters", [])):
        codes.append("412")
    return sorted(codes)


def _state_parameter_bounds(parameter: dict[str, Any]) -> None:
    """Path ids are bounded like every id; free-text parameters cannot carry a NUL."""
    schema = parameter.get("schema")
    if not isinstance(schema, dict):
        return
    if parameter.get("in") == "path" and schema.get("type") == "integer":
        schema.setdefault("minimum", ID_MIN)
        schema.setdefault("maximum", ID_MAX)
    if (
        parameter.get("in") in ("path", "query")
        and schema.get("type") == "string"
        and not ({"pattern", "enum", "format"} & schema.keys())
    ):
        schema["pattern"] = NO_NUL_PATTERN


def postprocess_problem_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """Add problem-details responses to every operation and forbid unknown request properties."""
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path, methods in result.get("paths", {}).items():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                _state_parameter_bounds(parameter)
            responses = operation["responses"]
            for code in _error_codes(method, path, operation):
                if code in responses:
                    continue
                response: dict[str, Any] = {
                    "description": ERROR_DESCRIPTIONS[code],
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}},
                }
                if code == "429":
                    response["headers"] = {
                        "Retry-After": {
                            "schema": {"type": "integer"},
                            "required": True,
                            "description": "Seconds until the limit resets",
                        }
                    }
                responses[code] = response
    # The server refuses keys it does not know; the schema says so, so clients and fuzzers agree.
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema.setdefault("additionalProperties", False)
    return result


EMPTY_STRING = {"type": "string", "maxLength": 0}


def _blank_alternatives_any_of(node: Any) -> None:
    """``oneOf: [<string rule>, {"type": "string", "maxLength": 0}]`` becomes ``anyOf``.

    drf-spectacular states "or blank" that way for text fields that accept "", but an empty
    string that also matches the first rule (a pattern such as ``^[^\\x00]*$``) then matches
    both branches, which ``oneOf`` forbids: the schema would call a valid request invalid.
    """
    if isinstance(node, dict):
        alternatives = node.get("oneOf")
        if isinstance(alternatives, list) and EMPTY_STRING in alternatives:
            node["anyOf"] = node.pop("oneOf")
        for value in node.values():
            _blank_alternatives_any_of(value)
    elif isinstance(node, list):
        for value in node:
            _blank_alternatives_any_of(value)


def postprocess_blank_alternatives(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: see :func:`_blank_alternatives_any_of`."""
    _blank_alternatives_any_of(result)
    return result
