"""Cursor (keyset) pagination that stays fast on deep pages.

A page is fetched with ``WHERE (sort_key, id) > (last_sort_key, last_id) ORDER BY sort_key, id
LIMIT n + 1``: an index range scan whatever the depth, and rows inserted or deleted between
two requests never shift a page. The cursor is an opaque token carrying the last row's key.

Views declare the orderings they allow: a name maps to model fields (all non-null, or a single
nullable one, whose NULLs sort last ascending); the primary key breaks ties::

    orderings = {"created_at": ("created_at",), "name": ("last_name", "first_name")}
    ordering = "-created_at"
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Model, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from stratus.platform import json_depth


def _nullable(model: type[Model], name: str) -> bool:
    return bool(getattr(model._meta.get_field(name), "null", False))


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value


class KeysetPagination(BasePagination):
    page_size = 50
    max_page_size = 200
    cursor_param = "cursor"
    limit_param = "limit"
    ordering_param = "ordering"
    default_orderings: Mapping[str, tuple[str, ...]] = {"created_at": ("created_at",)}
    default_ordering = "-created_at"

    def __init__(self) -> None:
        self.next_cursor: str | None = None
        self.previous_cursor: str | None = None
        self.request: Request | None = None

    # --- request parsing ---

    @staticmethod
    def orderings_of(view: Any) -> Mapping[str, tuple[str, ...]]:
        orderings = getattr(view, "orderings", None)
        if orderings is None and getattr(view, "ordering_fields", None):
            orderings = {name: (name,) for name in view.ordering_fields}
        return orderings or KeysetPagination.default_orderings

    def _ordering(self, request: Request, view: Any) -> tuple[str, tuple[str, ...], bool]:
        orderings = self.orderings_of(view)
        sent = request.query_params.get(self.ordering_param)
        raw = str(getattr(view, "ordering", self.default_ordering) if sent is None else sent)
        descending = raw.startswith("-")
        fields = orderings.get(raw.removeprefix("-"))
        if fields is None:
            choices = ", ".join(orderings)
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Unknown ordering '{raw}'. Use one of: {choices} (prefix - to reverse)."
                    ]
                }
            )
        return raw, fields, descending

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get(self.limit_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({self.limit_param: [f"Must be an integer from 1 to {self.max_page_size}."]})
        return int(raw)

    def _decode_cursor(
        self, raw: str, model: type[Model], fields: tuple[str, ...], ordering: str
    ) -> tuple[list[Any], Any, bool]:
        try:
            padded = raw + "=" * (-len(raw) % 4)
            data = json_depth.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if not isinstance(data, dict) or data.get("o") != ordering:
                raise ValueError("cursor of another ordering")
            *values, pk = data["v"]
            if len(values) != len(fields):
                raise ValueError("cursor of another shape")
            backwards = bool(data.get("b", False))
            values = [
                None if value is None else model._meta.get_field(name).to_python(value)  # type: ignore[union-attr]
                for name, value in zip(fields, values, strict=True)
            ]
            if any(v is None for v, name in zip(values, fields, strict=True) if not _nullable(model, name)):
                raise ValueError("empty cursor key")
            pk = model._meta.pk.to_python(pk)
            if pk is None:
                raise ValueError("empty cursor id")
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error, DjangoValidationError):
            raise ValidationError(
                {
                    self.cursor_param: [
                        "Invalid cursor: use the next/previous links of a response with the same ordering."
                    ]
                }
            ) from None
        return values, pk, backwards

    def _encode_cursor(self, ordering: str, row: Model, fields: tuple[str, ...], backwards: bool) -> str:
        key = [_encode_value(getattr(row, name)) for name in fields] + [_encode_value(row.pk)]
        payload = {"o": ordering, "v": key, "b": backwards}
        return (
            base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        )

    @staticmethod
    def _after(fields: tuple[str, ...], values: list[Any], pk: Any, descending: bool, nullable: bool) -> Q:
        """Rows after the key in the order (fields..., pk) all ascending or all descending.

        NULLs of a (single) nullable field sort last ascending and first descending.
        """
        compare = TupleLessThan if descending else TupleGreaterThan
        if not nullable:
            return Q(compare(Tuple(*(F(f) for f in fields), F("pk")), (*values, pk)))
        name, value = fields[0], values[0]
        if descending:
            if value is None:
                return Q(**{f"{name}__isnull": True, "pk__lt": pk}) | Q(**{f"{name}__isnull": False})
            return Q(compare(Tuple(F(name), F("pk")), (value, pk)))
        if value is None:
            return Q(**{f"{name}__isnull": True, "pk__gt": pk})
        return Q(compare(Tuple(F(name), F("pk")), (value, pk))) | Q(**{f"{name}__isnull": True})

    @staticmethod
    def _order(fields: tuple[str, ...], descending: bool, nullable: bool = True) -> list[Any]:
        if not nullable:
            # Plain names (the same SQL without NULLS clauses): cheaper to compile than expressions.
            prefix = "-" if descending else ""
            return [f"{prefix}{f}" for f in (*fields, "pk")]
        if descending:
            return [*(F(f).desc(nulls_first=True) for f in fields), F("pk").desc()]
        return [*(F(f).asc(nulls_last=True) for f in fields), F("pk").asc()]

    # --- BasePagination ---

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any]:
        self.request = request
        model = queryset.model
        ordering, fields, descending = self._ordering(request, view)
        nullable = any(_nullable(model, name) for name in fields)
        if nullable and len(fields) > 1:
            raise ImproperlyConfigured(f"{model.__name__}: a nullable keyset field must be the only one")
        limit = self._limit(request)
        raw_cursor = request.query_params.get(self.cursor_param)
        backwards = False
        if raw_cursor:
            values, pk, backwards = self._decode_cursor(raw_cursor, model, fields, ordering)
            queryset = queryset.filter(self._after(fields, values, pk, descending != backwards, nullable))
        rows = list(queryset.order_by(*self._order(fields, descending != backwards, nullable))[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        if rows:
            if backwards:
                self.previous_cursor = (
                    self._encode_cursor(ordering, rows[0], fields, True) if has_more else None
                )
                self.next_cursor = self._encode_cursor(ordering, rows[-1], fields, False)
            else:
                self.next_cursor = (
                    self._encode_cursor(ordering, rows[-1], fields, False) if has_more else None
                )
                self.previous_cursor = (
                    self._encode_cursor(ordering, rows[0], fields, True) if raw_cursor else None
                )
        return rows

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None or self.request is None:
            return None
        params = self.request.query_params.copy()
        params[self.cursor_param] = cursor
        return self.request.build_absolute_uri(self.request.path) + "?" + urlencode(params, doseq=True)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self._link(self.next_cursor),
                "previous": self._link(self.previous_cursor),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        allowed = list(self.orderings_of(view))
        return [
            {
                "name": self.cursor_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from a previous page's next/previous link.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},  # unpadded base64url
            },
            {
                "name": self.limit_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort key; prefix with - for descending. Ties are broken by id.",
                "schema": {"type": "string", "enum": [*allowed, *(f"-{a}" for a in allowed)]},
            },
        ]
