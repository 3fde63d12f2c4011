"""Money converted to a reporting currency: a layer over any engine's answer.

Engines keep every money figure per currency (see ``contracts``). When a request names a
reporting currency (``currency_to=EUR``) and the organization has rates into it, this module
adds a ``conversion`` part to the report; the engine's own figures are left as they are. So every
engine, present or future, gets conversion without a line of its own.

The rules, stated once:

- The rate of a currency is the organization's latest rate from it into ``currency_to`` whose
  ``valid_from`` is on or before the *rate date*: ``rates_on`` when given, else the report's
  ``date_to``, else today (UTC). One rate per currency for the whole report, so a converted
  table adds up.
- A figure already in ``currency_to`` is taken as it is (rate 1).
- A converted figure is ``value * rate`` computed exactly (no precision lost: a 60-digit
  context), then rounded half up to cents. A combined figure (the rows of one table that share
  everything but their currency) is the sum of the rounded converted figures, so it equals the
  sum of the figures shown.
- A figure whose currency has no rate in force is not converted: its converted values are
  null, ``unconverted`` lists its table and currency, and the combined figures of its group are
  null with the currency in ``missing_currencies``. Nothing is dropped or summed silently.
- ``rates`` lists exactly the rates applied (currency, rate, valid-from date), nothing else.

The money tables are found from the contract's dataclasses: a list field of the report whose
rows have a ``currency`` and at least one :class:`~decimal.Decimal` field. In such a row a
Decimal is money, an ``int`` (not an ``..._id``) is a count, and every other field but
``currency`` is a key (month, owner, lost reason...).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stratus.accounts.models import Organization
from stratus.platform.errors import Invalid
from stratus.reports import selectors
from stratus.reports.contracts import CENT, ReportContract, ReportFilters
from stratus.reports.currencies import currency_problem
from stratus.reports.errors import ReportsCode
from stratus.reports.filters import _date
from stratus.reports.models import ExchangeRate

CURRENCY_TO, RATES_ON = "currency_to", "rates_on"
CONVERSION_PARAMS = (CURRENCY_TO, RATES_ON)
ROUNDING = (
    "Each converted figure is value * rate computed exactly, rounded half up to cents; a figure "
    "already in the reporting currency is taken at rate 1; a combined figure is the sum of the "
    "rounded converted figures of its group."
)
_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)
ONE = decimal.Decimal(1)


# --- the shape of a conversion ---------------------------------------------------------------------


@dataclass(frozen=True)
class RateUsed:
    """One rate the conversion applied: 1 ``currency`` = ``rate`` ``currency_to``."""

    currency: str
    currency_to: str
    rate: str  # exact, as stored (a string, as every decimal of the API)
    valid_from: datetime.date


@dataclass(frozen=True)
class Unconverted:
    """Rows of ``table`` in ``currency`` left unconverted: no rate in force on the rate date."""

    table: str
    currency: str
    rows: int


@dataclass(frozen=True)
class MoneyTable:
    name: str
    row: type
    keys: tuple[str, ...]
    money: tuple[str, ...]


def _plain(hint: Any) -> Any:
    args = typing.get_args(hint)
    if type(None) in args:
        return next(a for a in args if a is not type(None))
    return hint


@functools.cache
def money_tables(result: type) -> tuple[MoneyTable, ...]:
    """The report's tables of money rows (see the module's docstring)."""
    tables = []
    hints = typing.get_type_hints(result)
    for field in dataclasses.fields(result):
        hint = hints[field.name]
        if typing.get_origin(hint) is not list:
            continue
        (row,) = typing.get_args(hint)
        if not dataclasses.is_dataclass(row):
            continue
        row_hints = typing.get_type_hints(row)
        names = [f.name for f in dataclasses.fields(row)]
        money = tuple(n for n in names if _plain(row_hints[n]) is decimal.Decimal)
        if "currency" not in names or not money:
            continue
        keys = tuple(
            n
            for n in names
            if n != "currency"
            and n not in money
            and not (_plain(row_hints[n]) is int and not n.endswith("_id"))
        )
        tables.append(MoneyTable(field.name, row, keys, money))  # type: ignore[arg-type]
    return tuple(tables)


def has_money(contract: ReportContract) -> bool:
    return bool(money_tables(contract.result))


@functools.cache
def converted_row_type(table: MoneyTable) -> type:
    """A row of ``table`` converted: its keys, its currency, the rate applied, its money."""
    hints = typing.get_type_hints(table.row)
    fields: list[tuple[str, Any]] = [(k, hints[k]) for k in table.keys]
    fields += [("currency", str), ("rate", str | None)]
    fields += [(m, decimal.Decimal | None) for m in table.money]
    return dataclasses.make_dataclass(
        f"{table.row.__name__}Converted",
        fields,
        frozen=True,
        namespace={"__module__": __name__, "__doc__": f"A {table.name} row in the reporting currency."},
    )


@functools.cache
def combined_row_type(table: MoneyTable) -> type:
    """The rows of ``table`` sharing their keys, combined in the reporting currency."""
    hints = typing.get_type_hints(table.row)
    fields: list[tuple[str, Any]] = [(k, hints[k]) for k in table.keys]
    fields += [("currencies", list[str]), ("missing_currencies", list[str])]
    fields += [(m, decimal.Decimal | None) for m in table.money]
    return dataclasses.make_dataclass(
        f"{table.row.__name__}Combined",
        fields,
        frozen=True,
        namespace={
            "__module__": __name__,
            "__doc__": f"The {table.name} rows sharing their keys, summed once converted "
            "(null when a currency of the group has no rate: see missing_currencies).",
        },
    )


@functools.cache
def conversion_type(result: type) -> type:
    """The ``conversion`` part of ``result``'s report."""
    fields: list[tuple[str, Any]] = [
        ("currency_to", str),
        ("rates_on", datetime.date),
        ("rounding", str),
        ("rates", list[RateUsed]),
        ("unconverted", list[Unconverted]),
    ]
    for table in money_tables(result):
        fields.append((table.name, types.GenericAlias(list, (converted_row_type(table),))))
        fields.append((f"{table.name}_combined", types.GenericAlias(list, (combined_row_type(table),))))
    return dataclasses.make_dataclass(
        f"{result.__name__}Conversion",
        fields,
        frozen=True,
        namespace={
            "__module__": __name__,
            "__doc__": "The report's money in the reporting currency, with the rates applied "
            "(present when the request names currency_to).",
        },
    )


@functools.cache
def response_type(result: type) -> type:
    """``result`` with its ``conversion`` part (null unless the request asks for one)."""
    hints = typing.get_type_hints(result)
    fields: list[tuple[str, Any]] = [(f.name, hints[f.name]) for f in dataclasses.fields(result)]
    fields.append(("conversion", conversion_type(result) | None))
    return dataclasses.make_dataclass(
        f"{result.__name__}Response",
        fields,
        frozen=True,
        namespace={"__module__": __name__, "__doc__": result.__doc__},
    )


def with_conversion(result: Any, conversion: Any | None) -> Any:
    kind: Any = type(result)
    shape = response_type(kind)
    values = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    return shape(**values, conversion=conversion)


# --- the request --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversionRequest:
    currency_to: str
    rates_on: datetime.date


def conversion_request(
    *,
    org: Organization,
    contract: ReportContract,
    params: Mapping[str, Sequence[str]],
    filters: ReportFilters,
) -> ConversionRequest | None:
    """The conversion a report request asks for (None: none); raises Invalid (400) naming the
    refused parameter."""
    sent = {name: [v for v in params.get(name, ()) if v != ""] for name in CONVERSION_PARAMS}
    if not any(sent.values()):
        return None
    errors: dict[str, list[str]] = {}
    for name, values in sent.items():
        if len(values) > 1:
            errors[name] = ["Give one value."]
    currency_to = sent[CURRENCY_TO][0] if sent[CURRENCY_TO] else None
    rates_on = filters.date_to or filters.as_of.astimezone(datetime.UTC).date()
    if sent[RATES_ON] and RATES_ON not in errors:
        parsed = _date(sent[RATES_ON][0])
        if isinstance(parsed, str):
            errors[RATES_ON] = [parsed]
        else:
            rates_on = parsed
    if not has_money(contract):
        errors.setdefault(CURRENCY_TO, [f"The {contract.name} report has no money figures to convert."])
    elif currency_to is None:
        errors.setdefault(CURRENCY_TO, ["Name the reporting currency to convert to, e.g. EUR."])
    elif CURRENCY_TO not in errors:
        problem = currency_problem(currency_to)
        if problem:
            errors[CURRENCY_TO] = [problem]
        elif currency_to not in selectors.reporting_currencies(org=org):
            errors[CURRENCY_TO] = [
                f"This organization has no exchange rates into {currency_to}; an admin adds them "
                "under Settings, Exchange rates."
            ]
    if errors:
        raise Invalid("Invalid report conversion.", field_errors=errors, code=ReportsCode.INVALID_CONVERSION)
    assert currency_to is not None
    return ConversionRequest(currency_to=currency_to, rates_on=rates_on)


# --- the conversion -------------------------------------------------------------------------------


def convert_value(value: decimal.Decimal, rate: decimal.Decimal) -> decimal.Decimal:
    """``value * rate``, exact, then rounded half up to cents."""
    return _EXACT.multiply(value, rate).quantize(CENT, rounding=decimal.ROUND_HALF_UP, context=_EXACT)


def convert(
    result: Any, *, currency_to: str, rates_on: datetime.date, rates: Mapping[str, ExchangeRate]
) -> Any:
    """The ``conversion`` part of ``result`` with ``rates`` (currency -> the rate in force)."""
    used: dict[str, ExchangeRate] = {}
    unconverted: dict[tuple[str, str], int] = {}
    parts: dict[str, list[Any]] = {}
    kind: Any = type(result)
    for table in money_tables(kind):
        row_type, combined_type = converted_row_type(table), combined_row_type(table)
        converted_rows = []
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in getattr(result, table.name):
            keys = {k: getattr(row, k) for k in table.keys}
            currency = row.currency
            rate: decimal.Decimal | None
            if currency == currency_to:
                rate = ONE
            elif currency in rates:
                used[currency] = rates[currency]
                rate = rates[currency].rate
            else:
                rate = None
                unconverted[(table.name, currency)] = unconverted.get((table.name, currency), 0) + 1
            money = {m: None if rate is None else convert_value(getattr(row, m), rate) for m in table.money}
            converted_rows.append(
                row_type(**keys, currency=currency, rate=None if rate is None else _text(rate), **money)
            )
            group = groups.setdefault(
                tuple(keys.values()),
                {
                    "keys": keys,
                    "currencies": set(),
                    "missing": set(),
                    "sums": dict.fromkeys(table.money, CENT * 0),
                },
            )
            group["currencies"].add(currency)
            if rate is None:
                group["missing"].add(currency)
            else:
                for m in table.money:
                    group["sums"][m] += money[m]
        parts[table.name] = converted_rows
        parts[f"{table.name}_combined"] = [
            combined_type(
                **group["keys"],
                currencies=sorted(group["currencies"]),
                missing_currencies=sorted(group["missing"]),
                **{m: None if group["missing"] else total for m, total in group["sums"].items()},
            )
            for group in groups.values()
        ]
    return conversion_type(kind)(
        currency_to=currency_to,
        rates_on=rates_on,
        rounding=ROUNDING,
        rates=[
            RateUsed(r.currency, r.currency_to, _text(r.rate), r.valid_from) for _, r in sorted(used.items())
        ],
        unconverted=[Unconverted(t, c, n) for (t, c), n in sorted(unconverted.items())],
        **parts,
    )


def _text(rate: decimal.Decimal) -> str:
    """A rate as written: its stored places without trailing zeros (``0.9000000000`` -> ``0.9``)."""
    normal = rate.normalize()
    return f"{normal:f}"


def conversion_for(org: Organization, result: Any, request: ConversionRequest) -> Any:
    rates = selectors.rates_in_force(org=org, currency_to=request.currency_to, on=request.rates_on)
    return convert(result, currency_to=request.currency_to, rates_on=request.rates_on, rates=rates)


# --- CSV ----------------------------------------------------------------------------------------------


def converted_table(
    result: type, header: list[str], rows: list[list[Any]], conversion: Any
) -> tuple[list[str], list[list[Any]]]:
    """The report's flat table (``contracts.flat_table``) with the conversion: each money row gains
    ``currency_to``, ``rate`` and ``<money>_converted`` columns; then come the combined rows
    (table ``<name>_combined``), the rates applied (table ``rates``) and the unconverted
    currencies (table ``unconverted``)."""
    tables = money_tables(result)
    money_names = list(dict.fromkeys(m for t in tables for m in t.money))
    extra = [CURRENCY_TO, "rate", *(f"{m}_converted" for m in money_names)]
    extra += ["currencies", "missing_currencies", "valid_from", "unconverted_table", "unconverted_rows"]
    full = [*header, *(c for c in extra if c not in header)]
    position = {name: i for i, name in enumerate(full)}
    seen: dict[str, int] = {}
    by_table = {t.name: getattr(conversion, t.name) for t in tables}
    out: list[list[Any]] = []
    for row in rows:
        line = [*row, *([None] * (len(full) - len(row)))]
        table = row[0]
        if table in by_table:
            converted = by_table[table][seen.get(table, 0)]
            seen[table] = seen.get(table, 0) + 1
            line[position[CURRENCY_TO]] = conversion.currency_to
            line[position["rate"]] = converted.rate
            for m in money_names:
                if hasattr(converted, m):
                    line[position[f"{m}_converted"]] = getattr(converted, m)
        out.append(line)

    def blank(table: str, **values: Any) -> list[Any]:
        line: list[Any] = [None] * len(full)
        line[0] = table
        for name, value in values.items():
            line[position[name]] = value
        return line

    for t in tables:
        for combined in getattr(conversion, f"{t.name}_combined"):
            values = {k: getattr(combined, k) for k in t.keys}
            values[CURRENCY_TO] = conversion.currency_to
            values["currencies"] = " ".join(combined.currencies)
            values["missing_currencies"] = " ".join(combined.missing_currencies)
            values.update({f"{m}_converted": getattr(combined, m) for m in t.money})
            out.append(blank(f"{t.name}_combined", **values))
    for r in conversion.rates:
        out.append(
            blank(
                "rates", currency=r.currency, currency_to=r.currency_to, rate=r.rate, valid_from=r.valid_from
            )
        )
    for u in conversion.unconverted:
        out.append(
            blank(
                "unconverted",
                currency=u.currency,
                currency_to=conversion.currency_to,
                unconverted_table=u.table,
                unconverted_rows=u.rows,
            )
        )
    assert all(seen.get(t.name, 0) == len(by_table[t.name]) for t in tables), "rows and conversion disagree"
    return full, out
