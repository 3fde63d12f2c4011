"""Cursor (keyset) pagination that stays fast on deep pages.

A page is fetched with ``WHERE (sort_key, id) > (last_sort_key, last_id) ORDER BY sort_key, id
LIMIT n + 1``: an index range scan whatever the depth, and rows inserted or deleted between
two requests never shift a page. The cursor is an opaque token carrying the last row's key.

Views declare the orderings they allow (non-null model fields; the primary key breaks ties)::

    ordering_fields = ("created_at", "last_name")
    ordering = "-created_at"
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Model, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response


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
    default_ordering_fields: Sequence[str] = ("created_at",)
    default_ordering = "-created_at"

    def __init__(self) -> None:
        self.next_cursor: str | None = None
        self.previous_cursor: str | None = None
        self.request: Request | None = None

    # --- request parsing ---

    def _ordering(self, request: Request, view: Any) -> tuple[str, bool]:
        allowed = tuple(getattr(view, "ordering_fields", self.default_ordering_fields))
        raw = str(
            request.query_params.get(self.ordering_param) or getattr(view, "ordering", self.default_ordering)
        )
        descending = raw.startswith("-")
        name = raw.removeprefix("-")
        if name not in allowed:
            choices = ", ".join(allowed)
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Unknown ordering '{raw}'. Use one of: {choices} (prefix - to reverse)."
                    ]
                }
            )
        return name, descending

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get(self.limit_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({self.limit_param: [f"Must be an integer from 1 to {self.max_page_size}."]})
        return int(raw)

    def _decode_cursor(self, raw: str, model: type[Model], name: str, ordering: str) -> tuple[Any, Any, bool]:
        try:
            padded = raw + "=" * (-len(raw) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if not isinstance(data, dict) or data.get("o") != ordering:
                raise ValueError("cursor of another ordering")
            value, pk = data["v"]
            backwards = bool(data.get("b", False))
            value = model._meta.get_field(name).to_python(value)  # type: ignore[union-attr]
            pk = model._meta.pk.to_python(pk)
            if value is None or pk is None:
                raise ValueError("empty cursor key")
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error, DjangoValidationError):
            raise ValidationError(
                {
                    self.cursor_param: [
                        "Invalid cursor: use the next/previous links of a response with the same ordering."
                    ]
                }
            ) from None
        return value, pk, backwards

    def _encode_cursor(self, ordering: str, row: Model, name: str, backwards: bool) -> str:
        payload = {
            "o": ordering,
            "v": [_encode_value(getattr(row, name)), _encode_value(row.pk)],
            "b": backwards,
        }
        return (
            base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
        )

    # --- BasePagination ---

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any]:
        self.request = request
        model = queryset.model
        name, descending = self._ordering(request, view)
        if model._meta.get_field(name).null:
            raise ImproperlyConfigured(
                f"{model.__name__}.{name} is nullable: keyset ordering needs non-null fields"
            )
        ordering = f"-{name}" if descending else name
        limit = self._limit(request)
        raw_cursor = request.query_params.get(self.cursor_param)
        backwards = False
        if raw_cursor:
            value, pk, backwards = self._decode_cursor(raw_cursor, model, name, ordering)
            key = Tuple(F(name), F("pk"))
            after = descending != backwards  # moving towards smaller keys
            lookup = TupleLessThan(key, (value, pk)) if after else TupleGreaterThan(key, (value, pk))
            queryset = queryset.filter(lookup)
        reverse_sql = descending != backwards
        order = [f"-{name}", "-pk"] if reverse_sql else [name, "pk"]
        rows = list(queryset.order_by(*order)[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        if rows:
            if backwards:
                self.previous_cursor = (
                    self._encode_cursor(ordering, rows[0], name, True) if has_more else None
                )
                self.next_cursor = self._encode_cursor(ordering, rows[-1], name, False)
            else:
                self.next_cursor = self._encode_cursor(ordering, rows[-1], name, False) if has_more else None
                self.previous_cursor = (
                    self._encode_cursor(ordering, rows[0], name, True) if raw_cursor else None
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
        allowed = list(getattr(view, "ordering_fields", self.default_ordering_fields))
        return [
            {
                "name": self.cursor_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from a previous page's next/previous link.",
                "schema": {"type": "string"},
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
