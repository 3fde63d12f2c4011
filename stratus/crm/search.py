"""Search over names and emails: the ``q`` filter of the contact, company and deal lists.

On PostgreSQL a query that looks like part of an address (it has ``@``, ``.``, ``_``, ``-``
or a digit: ``@acme.co``, ``mary.garcia``) matches records whose lower-cased name/email
text contains it, answered by the trigram (pg_trgm) GIN index. Any other query is
full-text: every word must be in the record's stored ``search_document`` tsvector (names,
job title, domain; see migration ``crm.0003``), as a prefix for words of three or more
letters (``ann smi`` finds Ann Smith). How a list filtered by ``q`` is planned depends on
how common the query is (see ``matches``). The text expression must stay identical to the
trigram index of migration ``crm.0002``.

Elsewhere (SQLite, the embedded default) every word must be contained, ignoring case, in
one of the searched fields.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection, models
from django.db.models import Q

COMMON_SHARE = 0.001  # share of rows matching from which walking the list's index is cheaper
WORD_SHARES_SECONDS = 300
PREFIX_MIN_LENGTH = 3  # shorter words match whole words only (a prefix of one letter matches most rows)
TRIGRAM_MIN_LENGTH = 3
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class SearchSpec:
    table: str
    text_columns: tuple[str, ...]
    fallback_fields: tuple[str, ...]

    def _column(self, name: str, qualified: bool) -> str:
        return f'"{self.table}"."{name}"' if qualified else name

    def document(self, qualified: bool = True) -> str:
        return self._column("search_document", qualified)

    def text(self, qualified: bool = True) -> str:
        joined = " || ' ' || ".join(self._column(c, qualified) for c in self.text_columns)
        return f"lower({joined})"


CONTACT = SearchSpec(
    "crm_contact", ("first_name", "last_name", "email"), ("first_name", "last_name", "email", "job_title")
)
COMPANY = SearchSpec("crm_company", ("name", "domain"), ("name", "domain"))
DEAL = SearchSpec("crm_deal", ("title",), ("title",))


def normalize(query: str) -> str:
    return " ".join(query.lower().split())[:MAX_QUERY_LENGTH]


def _words(query: str) -> list[str]:
    return re.findall(r"\w+", query)


def _tsquery(query: str) -> str:
    # Only word characters reach to_tsquery, so its syntax cannot be injected.
    return " & ".join(f"{w}:*" if len(w) >= PREFIX_MIN_LENGTH else w for w in _words(query))


def _like_pattern(query: str) -> str:
    return "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _looks_like_address(query: str) -> bool:
    return re.search(r"[@._\-\d]", query) is not None


def _condition(spec: SearchSpec, query: str, qualified: bool) -> tuple[str, list[Any]] | None:
    """SQL (and parameters) true for the rows ``query`` finds; None if it can find nothing."""
    if len(query) >= TRIGRAM_MIN_LENGTH and _looks_like_address(query):
        return f"{spec.text(qualified)} LIKE %s", [_like_pattern(query)]
    tsquery = _tsquery(query)
    if tsquery:
        return f"{spec.document(qualified)} @@ to_tsquery('simple'::regconfig, %s)", [tsquery]
    return None


def _fallback(spec: SearchSpec, query: str) -> Q:
    condition = Q()
    for word in _words(query) or [query]:
        any_field = Q()
        for field in spec.fallback_fields:
            any_field |= Q(**{f"{field}__icontains": word})
        condition &= any_field
    return condition


class _Condition(models.Expression):
    """A raw SQL condition with parameters, usable in ``filter()`` (``Q(_Condition(...))``)."""

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, sql: str, params: list[Any]) -> None:
        super().__init__()
        self.sql = sql
        self.params = params

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return f"({self.sql})", list(self.params)


def _word_shares(spec: SearchSpec) -> tuple[list[str], list[float]]:
    """The most common words of ``search_document`` in order, and the running total of their shares.

    From ``pg_stats.most_common_elems`` (ANALYZE keeps them with the share of rows holding each,
    from a random sample of the table), kept in the cache for ``WORD_SHARES_SECONDS``: reading
    the statistics view costs more (~2 ms, mostly planning it) than the search it helps to plan.
    """
    key = f"search-word-shares:{spec.table}"
    found: tuple[list[str], list[float]] | None = cache.get(key)
    if found is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = %s AND attname = 'search_document'",
                [spec.table],
            )
            row = cursor.fetchone()
        pairs = sorted(zip(row[0], row[1], strict=False)) if row is not None and row[0] else []
        totals = [0.0]
        for _word, share in pairs:
            totals.append(totals[-1] + share)
        found = ([word for word, _share in pairs], totals)
        cache.set(key, found, WORD_SHARES_SECONDS)
    return found


def _is_common(spec: SearchSpec, query: str) -> bool:
    """Whether PostgreSQL's statistics say at least ``COMMON_SHARE`` of the rows match ``query``.

    A word's share is that of the common words it equals (or, searched as a prefix, starts);
    the words of one query are assumed independent. A word that is not among the common ones
    is rare. Address fragments (trigram search) have no such statistics and count as rare.
    """
    if _looks_like_address(query) and len(query) >= TRIGRAM_MIN_LENGTH:
        return False
    words = _words(query)
    if not words:
        return False
    elements, totals = _word_shares(spec)
    query_share = 1.0
    for word in words:
        low = bisect.bisect_left(elements, word)
        if len(word) >= PREFIX_MIN_LENGTH:
            high = bisect.bisect_left(elements, word + "\U0010ffff")
        else:
            high = low + 1 if low < len(elements) and elements[low] == word else low
        query_share *= totals[high] - totals[low]
    return query_share >= COMMON_SHARE


class _IdIn(models.Expression):
    """``<pk> = ANY(ARRAY(<subquery>))``: the subquery runs first, once.

    Written ``IN (subquery)``, PostgreSQL may walk the list's ordering index and test each
    row against the search condition, hoping to fill a page early; for a rare word that
    reads the whole organization. ``= ANY(ARRAY(...))`` is estimated as a handful of ids,
    so the matches are found through the search indexes and then ordered.
    """

    output_field = models.BooleanField()
    conditional = True

    def __init__(self, sql: str, params: list[Any]) -> None:
        super().__init__()
        self.pk = models.F("pk")
        self.sql = sql
        self.params = params

    def get_source_expressions(self) -> list[Any]:
        return [self.pk]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.pk,) = exprs

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.pk)
        return f"{column} = ANY(ARRAY({self.sql}))", [*params, *self.params]


def matches(spec: SearchSpec, query: str, organization_id: int, *, walk: bool = True) -> Q:
    """A filter: every record of the organization ``query`` finds (all for an empty query).

    Two plans on PostgreSQL, and the planner alone cannot choose between them: it has no
    statistics for most words and prefixes and assumes ~0.15% of rows match, so it walked
    the whole organization for a misspelt word (0.8 s at 1M contacts).

    - Rare query: ``id = ANY(ARRAY(<matching ids>))``, the matches found through the search
      indexes, then read and ordered (cost grows with the number of matches: 14 ms for a
      last name shared by 3,800 of 1M contacts).
    - Common query (``walk``, and the table's statistics say it is common, see ``_is_common``):
      the search condition itself, so PostgreSQL walks the index of the list's ordering and tests each
      row until the page is full; for one row in N matching, about N x page rows are read
      (2.5 ms for that last name). ``walk`` must be False when the list is ordered by the
      searched text (by name): the matches of a name are then all in one place of the order,
      not spread along it.
    """
    query = normalize(query)
    if not query:
        return Q()
    if not _is_postgresql():
        return _fallback(spec, query)
    condition = _condition(spec, query, qualified=False)
    if condition is None:
        return Q(pk__in=[])
    sql, params = condition
    if walk and _is_common(spec, query):
        qualified = _condition(spec, query, qualified=True)
        assert qualified is not None
        return Q(_Condition(*qualified))
    subquery = f"SELECT id FROM {spec.table} WHERE organization_id = %s AND {sql}"  # noqa: S608
    return Q(_IdIn(subquery, [organization_id, *params]))
