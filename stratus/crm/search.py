"""Search over names and emails.

On PostgreSQL a record matches when its full-text document matches every word as a
prefix (``ann smi`` finds Ann Smith), when its lower-cased name/email text contains the
query (``@acme.co``), or when the query is trigram-similar to a word of it (``jonh``
finds John). All three use GIN indexes created in migration ``crm.0002`` over exactly
the expressions below, so the same text must be used here. Results are ranked by
full-text rank plus trigram word similarity.

Elsewhere (SQLite, the embedded default) every word must be contained, ignoring case, in
one of the searched fields; results keep the list's ordering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection, models
from django.db.models import Q
from django.db.models.expressions import RawSQL

# Shorter queries make trigram scans touch most of the index; they use full-text prefixes only.
TRIGRAM_MIN_LENGTH = 3
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class SearchSpec:
    table: str
    document_columns: tuple[str, ...]
    text_columns: tuple[str, ...]

    def _concat(self, columns: tuple[str, ...]) -> str:
        return " || ' ' || ".join(f'"{self.table}"."{c}"' for c in columns)

    @property
    def document(self) -> str:
        return f"to_tsvector('simple'::regconfig, {self._concat(self.document_columns)})"

    @property
    def text(self) -> str:
        return f"lower({self._concat(self.text_columns)})"

    @property
    def fallback_fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.text_columns, *self.document_columns)))


CONTACT = SearchSpec(
    "crm_contact", ("first_name", "last_name", "email", "job_title"), ("first_name", "last_name", "email")
)
COMPANY = SearchSpec("crm_company", ("name", "domain"), ("name", "domain"))
DEAL = SearchSpec("crm_deal", ("title",), ("title",))


def normalize(query: str) -> str:
    return " ".join(query.lower().split())[:MAX_QUERY_LENGTH]


def _words(query: str) -> list[str]:
    return re.findall(r"\w+", query)


def _tsquery(query: str) -> str:
    # Only word characters reach to_tsquery, so its syntax cannot be injected.
    return " & ".join(f"{word}:*" for word in _words(query))


def _like_pattern(query: str) -> str:
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def matches(spec: SearchSpec, query: str) -> Q | RawSQL:
    """A filter condition: the records that ``query`` finds (all records for an empty query)."""
    query = normalize(query)
    if not query:
        return Q()
    if not _is_postgresql():
        condition = Q()
        for word in _words(query) or [query]:
            any_field = Q()
            for field in spec.fallback_fields:
                any_field |= Q(**{f"{field}__icontains": word})
            condition &= any_field
        return condition
    parts: list[str] = []
    params: list[str] = []
    tsquery = _tsquery(query)
    if tsquery:
        parts.append(f"{spec.document} @@ to_tsquery('simple'::regconfig, %s)")
        params.append(tsquery)
    if len(query) >= TRIGRAM_MIN_LENGTH:
        parts.append(f"{spec.text} LIKE %s")
        params.append(_like_pattern(query))
        parts.append(f"{spec.text} %%> %s")
        params.append(query)
    if not parts:
        parts.append(f"{spec.text} LIKE %s")
        params.append(_like_pattern(query))
    # Only fixed SQL text is interpolated; user input travels as parameters.
    return RawSQL("(" + " OR ".join(parts) + ")", params, output_field=models.BooleanField())  # noqa: S611


def rank(spec: SearchSpec, query: str) -> RawSQL | None:
    """A relevance score for ordering search results (None where there is none: SQLite)."""
    query = normalize(query)
    if not query or not _is_postgresql():
        return None
    tsquery = _tsquery(query)
    if not tsquery:
        return RawSQL(f"word_similarity(%s, {spec.text})", [query], output_field=models.FloatField())  # noqa: S611
    return RawSQL(  # noqa: S611
        f"(ts_rank({spec.document}, to_tsquery('simple'::regconfig, %s)) + word_similarity(%s, {spec.text}))",
        [tsquery, query],
        output_field=models.FloatField(),
    )
