"""Search over names and emails.

On PostgreSQL, in two steps:

1. A query that looks like part of an address (it has ``@``, ``.``, ``_``, ``-`` or a
   digit: ``@acme.co``, ``mary.garcia``) matches records whose lower-cased name/email
   text contains it, answered by the trigram (pg_trgm) GIN index. Any other query is
   full-text: every word must be in the record's stored ``search_document`` tsvector
   (names, job title, domain; see migration ``crm.0003``), as a prefix for words of
   three or more letters (``ann smi`` finds Ann Smith).
2. Only when that finds nothing, trigram similarity (``smitth`` finds Smith; threshold
   ``pg_trgm.word_similarity_threshold``, 0.6) is tried: similarity scans cost more, so
   they do not run for queries that already have answers.

Ranked search (``best``) scores at most ``SEARCH_CANDIDATES`` matching rows (see
``_score``): a one-word query can match thousands of
rows in a large organization, and scoring all of them made search slow without changing
the page a person looks at. List filtering by ``q`` (``matches``) is exact and unbounded; how
it is planned depends on how common the query is (see ``matches``).
The text expression must stay identical to the trigram index of migration ``crm.0002``.

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
from django.db.models.expressions import RawSQL

COMMON_SHARE = 0.001  # share of rows matching from which walking the list's index is cheaper
WORD_SHARES_SECONDS = 300
PREFIX_MIN_LENGTH = 3  # shorter words match whole words only (a prefix of one letter matches most rows)
TRIGRAM_MIN_LENGTH = 3
MAX_QUERY_LENGTH = 200
SEARCH_CANDIDATES = 500


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


def is_ranked() -> bool:
    """Whether search results come with a relevance score (PostgreSQL) or in name order."""
    return _is_postgresql()


def _looks_like_address(query: str) -> bool:
    return re.search(r"[@._\-\d]", query) is not None


def _condition(spec: SearchSpec, query: str, qualified: bool) -> tuple[str, list[Any]] | None:
    """SQL (and parameters) true for the rows ``query`` finds (step 1); None if it can find nothing."""
    if len(query) >= TRIGRAM_MIN_LENGTH and _looks_like_address(query):
        return f"{spec.text(qualified)} LIKE %s", [_like_pattern(query)]
    tsquery = _tsquery(query)
    if tsquery:
        return f"{spec.document(qualified)} @@ to_tsquery('simple'::regconfig, %s)", [tsquery]
    return None


def _similar_condition(spec: SearchSpec, query: str) -> tuple[str, list[Any]] | None:
    """SQL for the rows trigram-similar to ``query`` (step 2); None for queries too short."""
    if len(query) < TRIGRAM_MIN_LENGTH:
        return None
    return f"{spec.text(qualified=False)} %%> %s", [query]


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


def _top(
    spec: SearchSpec,
    query: str,
    condition: tuple[str, list[Any]] | None,
    organization_id: int,
    limit: int,
    similar: bool = False,
) -> Q:
    """A filter: the ``limit`` best of at most ``SEARCH_CANDIDATES`` rows meeting ``condition``.

    Scoring and cutting to ``limit`` happen on the searched table alone, before any join.
    """
    if condition is None:
        return Q(pk__in=[])
    sql, params = condition
    score_sql, score_params = _score(spec, query, qualified=False, similar=similar)
    # MATERIALIZED hides the LIMIT from the planner of the inner scan, which would otherwise
    # expect a sequential scan to meet enough matches soon (it reads far more rows than the
    # GIN index does); the scan still stops after SEARCH_CANDIDATES rows.
    subquery = (
        f"WITH matched AS MATERIALIZED (SELECT id, {score_sql} AS score FROM {spec.table} "  # noqa: S608
        f"WHERE organization_id = %s AND {sql}) "
        "SELECT id FROM (SELECT id, score FROM matched LIMIT %s) AS candidates "
        "ORDER BY score DESC, id DESC LIMIT %s"
    )
    values = [*score_params, organization_id, *params, SEARCH_CANDIDATES, limit]
    return Q(pk__in=RawSQL(subquery, values))  # noqa: S611


def best(spec: SearchSpec, query: str, organization_id: int, limit: int) -> Q:
    """A filter: the ``limit`` most relevant records of the organization that ``query`` finds.

    Elsewhere than PostgreSQL: every record it finds (order them by name).
    """
    query = normalize(query)
    if not query:
        return Q()
    if not _is_postgresql():
        return _fallback(spec, query)
    return _top(spec, query, _condition(spec, query, qualified=False), organization_id, limit)


def best_similar(spec: SearchSpec, query: str, organization_id: int, limit: int) -> Q | None:
    """Like ``best`` for trigram-similar records (PostgreSQL; None elsewhere or if too short)."""
    query = normalize(query)
    if not _is_postgresql() or len(query) < TRIGRAM_MIN_LENGTH:
        return None
    return _top(spec, query, _similar_condition(spec, query), organization_id, limit, similar=True)


def _score(spec: SearchSpec, query: str, qualified: bool, similar: bool = False) -> tuple[str, list[Any]]:
    """The relevance of a row found by ``query`` (higher is better); cheap to compute.

    Full-text: ``ts_rank`` against the words as typed (whole-word matches first) plus
    against their prefixes. Address fragments: earlier occurrences first. Trigram
    similarity (step 2 only: computing it costs more): ``word_similarity``.
    """
    text = spec.text(qualified)
    if similar:
        return f"word_similarity(%s, {text})", [query]
    if len(query) >= TRIGRAM_MIN_LENGTH and _looks_like_address(query):
        return f"(1.0 / strpos({text}, %s))", [query]
    words = _words(query)
    document = spec.document(qualified)
    exact = " & ".join(words)
    return (
        f"(ts_rank({document}, to_tsquery('simple'::regconfig, %s)) "
        f"+ ts_rank({document}, to_tsquery('simple'::regconfig, %s)))",
        [exact, _tsquery(query)],
    )


def rank(spec: SearchSpec, query: str, similar: bool = False) -> RawSQL | None:
    """The relevance score ``best`` (or ``best_similar``) orders by; None on SQLite."""
    query = normalize(query)
    if not query or not _is_postgresql():
        return None
    if not similar and _condition(spec, query, qualified=True) is None:
        return None
    sql, params = _score(spec, query, qualified=True, similar=similar)
    return RawSQL(sql, params, output_field=models.FloatField())  # noqa: S611
