"""Connections to the analytics store (ClickHouse): one interface, two transports.

``clickhouse://user:password@host:8123/database`` (``clickhouses://`` for TLS) reaches a
ClickHouse server over HTTP with clickhouse-connect. ``chdb:///absolute/path?database=name`` runs
the ClickHouse engine in this process (chDB, a development dependency: the tests and a single
developer machine; several processes cannot share one chDB folder).

Two roles. The *reader* (``ANALYTICS_URL``: web replicas, reports) is read-only **in ClickHouse**:
on a server its user's profile has ``readonly = 2`` (reads, and the per-query limits below, but
no INSERT, CREATE, ALTER or DROP, and ``readonly`` itself cannot be lowered); with chDB the session
is switched to ``readonly = 2`` when it opens. Every reader query carries the limits of
``ANALYTICS_MAX_EXECUTION_TIME``, ``ANALYTICS_MAX_MEMORY_USAGE`` and ``ANALYTICS_MAX_RESULT_ROWS``
as settings and its values as bound parameters (``{name:Type}`` in the SQL, sent apart from it).
The *writer* (``ANALYTICS_WRITER_URL``: the worker's shipper, the backfill, ``analytics_migrate``)
creates the tables and inserts.

Errors: :class:`AnalyticsLimitExceeded` when a query hits a limit, :class:`AnalyticsRefused`
when ClickHouse refuses a statement (read-only, grants), :class:`AnalyticsUnavailable` when the
store cannot be reached, :class:`AnalyticsError` for anything else it answers.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import decimal
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

DEFAULT_DATABASE = "stratus"
READER_PROFILE = {"readonly": 2}


class AnalyticsError(Exception):
    """The analytics store answered with an error."""

    code: int | None = None

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class AnalyticsNotConfigured(AnalyticsError):
    """No analytics store is configured for this role."""


class AnalyticsUnavailable(AnalyticsError):
    """The analytics store cannot be reached."""


class AnalyticsRefused(AnalyticsError):
    """ClickHouse refused the statement: a read-only connection, or a missing grant."""


class AnalyticsLimitExceeded(AnalyticsError):
    """The query hit one of the per-query limits (time, memory, result rows)."""

    def __init__(self, message: str, code: int | None = None, limit: str = "") -> None:
        super().__init__(message, code)
        self.limit = limit


# ClickHouse's error codes (src/Common/ErrorCodes.cpp) that this module tells apart.
_LIMITS = {
    159: "max_execution_time",  # TIMEOUT_EXCEEDED
    241: "max_memory_usage",  # MEMORY_LIMIT_EXCEEDED
    158: "max_result_rows",  # TOO_MANY_ROWS
    396: "max_result_rows",  # TOO_MANY_ROWS_OR_BYTES
}
_REFUSALS = {164, 497}  # READONLY, ACCESS_DENIED
_UNREACHABLE = {209, 210}  # SOCKET_TIMEOUT, NETWORK_ERROR
_CODE = re.compile(r"Code: (\d+)")


def translate(error: Exception) -> AnalyticsError:
    """The error class for what ClickHouse (or the way to it) answered."""
    message = str(error).strip()[:1000]
    found = _CODE.search(message)
    code = int(found.group(1)) if found else None
    if code in _LIMITS:
        return AnalyticsLimitExceeded(message, code, _LIMITS[code])
    if code in _REFUSALS:
        return AnalyticsRefused(message, code)
    if code in _UNREACHABLE:
        return AnalyticsUnavailable(message, code)
    return AnalyticsError(message, code)


@dataclass(frozen=True)
class Location:
    scheme: str  # "chdb", "http" or "https"
    database: str
    path: str = ""
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = ""


def parse_url(url: str) -> Location:
    """Parse an analytics URL; ``ValueError`` names what is wrong."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "chdb":
        if not parts.path or not parts.path.startswith("/"):
            raise ValueError("expected chdb:///absolute/path (three slashes, then the folder)")
        database = query.get("database", [DEFAULT_DATABASE])[0]
        return Location("chdb", _identifier(database), path=parts.path)
    if parts.scheme in ("clickhouse", "clickhouses"):
        if not parts.hostname:
            raise ValueError("expected clickhouse://user:password@host:8123/database")
        secure = parts.scheme == "clickhouses"
        database = parts.path.strip("/") or DEFAULT_DATABASE
        return Location(
            "https" if secure else "http",
            _identifier(database),
            host=parts.hostname,
            port=parts.port or (8443 if secure else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
        )
    raise ValueError("expected a clickhouse://, clickhouses:// or chdb:/// URL")


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"database name {name!r} is not a plain identifier")
    return name


class Client(Protocol):
    database: str
    read_only: bool

    def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]: ...

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None: ...

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int: ...

    def insert_raw(self, table: str, columns: Sequence[str], body: bytes, count: int) -> int: ...

    def close(self) -> None: ...


def _rows_json(rows: Iterable[Sequence[Any]]) -> tuple[str, int]:
    lines = [json.dumps(list(row), separators=(",", ":")) for row in rows]
    return "\n".join(lines), len(lines)


# --- values read back: by the type ClickHouse names ----------------------------------------------


def _reader_for(type_name: str) -> Any:
    inner = type_name
    for wrapper in ("Nullable(", "LowCardinality("):
        while inner.startswith(wrapper):
            inner = inner[len(wrapper) : -1]
    if inner.startswith(("UInt", "Int")):
        return int
    if inner.startswith("Decimal"):
        return decimal.Decimal
    if inner.startswith("Float"):
        return float
    if inner.startswith("DateTime"):
        return lambda text: datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)
    if inner.startswith("Date"):
        return datetime.date.fromisoformat
    return lambda value: value


def _decode(payload: str) -> list[tuple[Any, ...]]:
    if not payload.strip():
        return []
    answer = json.loads(payload)
    readers = [_reader_for(column["type"]) for column in answer["meta"]]
    return [
        tuple(None if value is None else read(value) for read, value in zip(readers, row, strict=True))
        for row in answer["data"]
    ]


# --- chDB: the engine in this process ----------------------------------------------------------


class FairLock:
    """A lock taken in the order it was asked for (``threading.Lock`` lets a thread that just
    released it take it again before those waiting). The threads of a web worker that share the
    chDB session then wait their turn, and no report waits out a run of others' statements."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiting: collections.deque[threading.Event] = collections.deque()

    def __enter__(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        try:
            turn.wait()  # set by the release that hands the lock over
        except BaseException:
            with self._mutex:
                if not turn.is_set():
                    self._waiting.remove(turn)
                    raise
            self.__exit__()  # handed over meanwhile: pass it on
            raise

    def __exit__(self, *exc: object) -> None:
        with self._mutex:
            if self._waiting:
                self._waiting.popleft().set()  # still held, now by the next in line
            else:
                self._held = False


class EmbeddedClient:
    """A chDB session on a folder. Sessions are not thread-safe: one statement at a time, the
    threads in the order they asked."""

    def __init__(self, location: Location, *, read_only: bool) -> None:
        from chdb import session

        self.database = location.database
        self.read_only = read_only
        self._lock = FairLock()
        self._settings: dict[str, str] = {}  # what this session's SETs left in force
        try:
            self._session = session.Session(location.path)
        except Exception as error:
            raise AnalyticsUnavailable(f"chDB could not open {location.path}: {error}") from error
        self._run("SET output_format_json_quote_decimals = 1")
        self._run("SET output_format_json_quote_64bit_integers = 0")
        if read_only:
            for name, value in READER_PROFILE.items():
                self._run(f"SET {name} = {int(value)}")

    def _run(self, sql: str, parameters: Mapping[str, Any] | None = None, fmt: str = "CSV") -> str:
        try:
            result = self._session.query(sql, fmt, params=dict(parameters or {}))
        except Exception as error:
            # chDB keeps what a failed statement had written (a JSON document's head) and gives
            # it with the next statement's answer: a statement of no interest takes it.
            with contextlib.suppress(Exception):  # the first error is the one to report
                self._session.query("SELECT 1", "CSV")
            raise translate(error) from error
        return "" if result is None else result.data()

    def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with self._lock:
            # A setting stays in force in the session: set only what differs from the last SET
            # (the limits every report carries are set once, not before each statement).
            for name, value in (settings or {}).items():
                rendered = _setting(value)
                if self._settings.get(name) != rendered:
                    self._settings.pop(name, None)
                    self._run(f"SET {_identifier(name)} = {rendered}")
                    self._settings[name] = rendered
            return _decode(self._run(sql, parameters, "JSONCompact"))

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        with self._lock:
            self._run(sql, parameters)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        data, count = _rows_json(rows)
        return self.insert_raw(table, columns, data.encode(), count)

    def insert_raw(self, table: str, columns: Sequence[str], body: bytes, count: int) -> int:
        """Insert ``count`` rows given as one ``JSONCompactEachRow`` body (a line a row)."""
        if not count:
            return 0
        names = ", ".join(f"`{_identifier(c)}`" for c in columns)
        with self._lock:
            self._run(
                f"INSERT INTO `{self.database}`.`{_identifier(table)}` ({names}) "
                f"FORMAT JSONCompactEachRow\n{body.decode()}"
            )
        return count

    def close(self) -> None:
        with self._lock:
            self._session.close()


def _setting(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if not re.fullmatch(r"[A-Za-z0-9_]+", text):
        raise ValueError(f"setting value {text!r} is not a plain word")
    return f"'{text}'"


# --- a ClickHouse server over HTTP (clickhouse-connect) ------------------------------------------


class ServerClient:
    def __init__(self, location: Location, *, read_only: bool) -> None:
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import ClickHouseError

        self.database = location.database
        self.read_only = read_only
        self._errors: tuple[type[Exception], ...] = (ClickHouseError, OSError)
        timeout = settings.ANALYTICS_CONNECT_TIMEOUT
        try:
            self._client = clickhouse_connect.get_client(
                host=location.host,
                port=location.port,
                username=location.username,
                password=location.password,
                database=location.database,
                secure=location.scheme == "https",
                connect_timeout=timeout,
                send_receive_timeout=max(timeout, settings.ANALYTICS_MAX_EXECUTION_TIME + timeout),
                autogenerate_session_id=False,
                settings={"output_format_json_quote_decimals": 1},
            )
        except self._errors as error:
            raise _server_error(error) from error

    def query(
        self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        try:
            raw = self._client.raw_query(
                sql, parameters=dict(parameters or {}), settings=dict(settings or {}), fmt="JSONCompact"
            )
        except self._errors as error:
            raise _server_error(error) from error
        return _decode(raw.decode())

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        try:
            self._client.command(sql, parameters=dict(parameters or {}))
        except self._errors as error:
            raise _server_error(error) from error

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        data, count = _rows_json(rows)
        return self.insert_raw(table, columns, data.encode(), count)

    def insert_raw(self, table: str, columns: Sequence[str], body: bytes, count: int) -> int:
        """Insert ``count`` rows given as one ``JSONCompactEachRow`` body (a line a row)."""
        if not count:
            return 0
        try:
            self._client.raw_insert(
                f"`{self.database}`.`{_identifier(table)}`",
                column_names=list(columns),
                insert_block=body,
                fmt="JSONCompactEachRow",
            )
        except self._errors as error:
            raise _server_error(error) from error
        return count

    def close(self) -> None:
        self._client.close()


def _server_error(error: Exception) -> AnalyticsError:
    from clickhouse_connect.driver.exceptions import OperationalError

    translated = translate(error)
    if translated.code is None and isinstance(error, OSError | OperationalError):
        # No ClickHouse error code, a connection error: the server did not answer.
        return AnalyticsUnavailable(str(error)[:1000])
    return translated


# --- the process's clients -----------------------------------------------------------------------

_clients: dict[tuple[str, bool], Client] = {}
_clients_lock = threading.Lock()


def connect(url: str, *, read_only: bool) -> Client:
    location = parse_url(url)
    if location.scheme == "chdb":
        return EmbeddedClient(location, read_only=read_only)
    return ServerClient(location, read_only=read_only)


def _client(url: str, *, read_only: bool, variable: str) -> Client:
    if not url:
        raise AnalyticsNotConfigured(f"{variable} is not set")
    key = (url, read_only)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = connect(url, read_only=read_only)
        return client


def reader() -> Client:
    """The read-only connection of this process (``ANALYTICS_URL``)."""
    return _client(settings.ANALYTICS_URL, read_only=True, variable="ANALYTICS_URL")


def writer() -> Client:
    """The writing connection of this process (``ANALYTICS_WRITER_URL``: the worker only)."""
    return _client(settings.ANALYTICS_WRITER_URL, read_only=False, variable="ANALYTICS_WRITER_URL")


def query_limits() -> dict[str, Any]:
    """The settings every reader query carries."""
    return {
        "max_execution_time": settings.ANALYTICS_MAX_EXECUTION_TIME,
        "max_memory_usage": settings.ANALYTICS_MAX_MEMORY_USAGE,
        "max_result_rows": settings.ANALYTICS_MAX_RESULT_ROWS,
        "result_overflow_mode": "throw",
        "timeout_overflow_mode": "throw",
    }


def read(sql: str, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run a report query on the reader with the per-query limits. ``parameters`` must bind
    the organization (``{organization_id:UInt64}``): a query without it is refused here."""
    if "organization_id" not in parameters or "{organization_id:UInt64}" not in sql:
        raise ValueError("an analytics query binds the organization as {organization_id:UInt64}")
    return reader().query(sql, parameters, query_limits())


def close_all() -> None:
    """Close this process's connections (a chDB folder is then free for another process)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def enabled() -> bool:
    return bool(settings.ANALYTICS_URL)
