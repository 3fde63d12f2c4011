"""What a list row shows and its HTML, built in Python.

A list page has 50 rows of up to 30 cells: rendering each cell through a template include (a new
context, a ``blocktranslate`` per label) cost most of a page's time. Here the parts that are the
same for every row (column attributes, translated labels, URL prefixes) are escaped and
translated once per page by ``RowRenderer``, and each row is joined from them and its own values,
every one of them escaped (``format_html``/``conditional_escape``). The cell editor (one cell at
a time) stays a template: ``web/lists/_cell_editor.html``.
"""

from __future__ import annotations

import datetime
import functools
import html
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.urls import get_script_prefix, reverse
from django.utils import dateformat, formats, timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from stratus.accounts import selectors as account_selectors
from stratus.crm import selectors as crm_selectors
from stratus.crm.models import Stage
from stratus.web.lists.specs import CUSTOM_PREFIX, Column, ListSpec

TARGET_PATHS = {"contact": "/contacts/", "company": "/companies/", "deal": "/deals/"}


@dataclass
class Cell:
    column: Column
    text: str
    value: str  # the value an edit starts from


@dataclass
class Row:
    pk: int
    label: str
    href: str
    cells: list[Cell]


class Lookups:
    """What the rows refer to by id (members, stages), read once per page."""

    def __init__(self, org: Any, spec: ListSpec) -> None:
        members = account_selectors.member_choices(org=org).values_list(
            "user_id", "user__full_name", "user__email"
        )
        self.member_names = {user_id: full_name or email for user_id, full_name, email in members}
        self.stages: list[Stage] = []
        self.pipelines: list[Any] = []
        if spec.kind == "deals":
            self.stages = list(
                crm_selectors.stage_list(org=org)
                .select_related("pipeline")
                .order_by("pipeline__position", "pipeline_id", "position")
            )
            self.pipelines = list({stage.pipeline_id: stage.pipeline for stage in self.stages}.values())
        # The options of the selects that choose them (filters, bulk edit, cell editor), as text.
        self.member_options = [(str(user_id), name) for user_id, name in self.member_names.items()]
        self.pipeline_options = [(str(p.pk), p.name) for p in self.pipelines]
        by_pipeline = itertools.groupby(self.stages, lambda stage: stage.pipeline)
        self.stage_groups = [
            (pipeline.name, [(str(stage.pk), stage.name) for stage in stages])
            for pipeline, stages in by_pipeline
        ]

    def member(self, pk: int | None) -> str:
        return self.member_names.get(pk, "") if pk is not None else ""


# Format characters that read the time zone (DateFormat's constructor works it out for them).
_ZONE_FORMATS = frozenset("eIOTZcrU")


@functools.lru_cache(maxsize=64)
def _format_pieces(format_string: str) -> tuple[tuple[bool, str], ...] | None:
    """``format_string`` split as ``dateformat.format`` splits it on every call: (True, a format
    character) or (False, literal text); None when it reads the time zone."""
    pieces: list[tuple[bool, str]] = []
    for index, piece in enumerate(dateformat.re_formatchars.split(format_string)):
        if index % 2:
            if piece in _ZONE_FORMATS:
                return None
            pieces.append((True, piece))
        elif piece:
            pieces.append((False, dateformat.re_escaped.sub(r"\1", piece)))
    return tuple(pieces)


def _date_text(value: datetime.date, format_name: str) -> str:
    """``formats.date_format(value, format_name)``: the same text, with the format split once
    rather than per cell (a page formats 50 or more dates)."""
    format_string = str(formats.get_format(format_name))
    pieces = _format_pieces(format_string)
    if pieces is None:
        return dateformat.format(value, format_string)
    formatter = dateformat.DateFormat.__new__(dateformat.DateFormat)
    formatter.data, formatter.timezone = value, None
    return "".join(str(getattr(formatter, piece)()) if character else piece for character, piece in pieces)


def _when(value: Any) -> tuple[str, str]:
    if value is None:
        return "", ""
    if isinstance(value, datetime.datetime):
        local = timezone.localtime(value)
        return _date_text(local, "SHORT_DATETIME_FORMAT"), local.strftime("%Y-%m-%dT%H:%M")
    return _date_text(value, "SHORT_DATE_FORMAT"), value.isoformat()


def cell_of(spec: ListSpec, column: Column, record: Any, lookups: Lookups) -> Cell:
    """The text a cell shows and the value its editor starts from."""
    key = column.key
    if key.startswith(CUSTOM_PREFIX):
        raw = (record.custom_fields or {}).get(key.removeprefix(CUSTOM_PREFIX))
        if raw is None:
            return Cell(column, "", "")
        if isinstance(raw, bool):
            return Cell(column, _("Yes") if raw else _("No"), "true" if raw else "false")
        return Cell(column, str(raw), str(raw))
    if key == "name" and spec.kind == "contacts":
        return Cell(column, str(record), str(record))
    if key in ("owner", "assignee"):
        pk = getattr(record, f"{key}_id")
        return Cell(column, lookups.member(pk), "" if pk is None else str(pk))
    if key == "tags":
        names = ", ".join(crm_selectors.tag_names(record))
        return Cell(column, names, names)
    if key == "phones":
        return Cell(column, ", ".join(record.phones or []), "")
    if key == "company":
        return Cell(column, record.company.name if record.company_id else "", str(record.company_id or ""))
    if key == "stage":
        return Cell(column, record.stage.name, str(record.stage_id))
    if key == "target":
        return Cell(column, str(record.target), "")
    if key == "kind":
        return Cell(column, record.get_kind_display(), record.kind)
    if key == "done":
        return Cell(column, _("Yes") if record.done else _("No"), "true" if record.done else "false")
    value = getattr(record, key)
    if isinstance(value, datetime.date):
        text, edit = _when(value)
        return Cell(column, text, edit)
    if value is None:
        return Cell(column, "", "")
    if key == "value":
        return Cell(column, f"{formats.number_format(value, 2, force_grouping=True)}", str(value))
    return Cell(column, str(value), str(value))


def record_href(spec: ListSpec, record: Any) -> str:
    if spec.kind == "activities":
        target = record.target
        return f"{TARGET_PATHS[target._meta.model_name]}{target.pk}"
    return f"{spec.record_path}{record.pk}"


def row_of(spec: ListSpec, record: Any, columns: Sequence[Column], lookups: Lookups) -> Row:
    return Row(
        pk=record.pk,
        label=str(record),
        href=record_href(spec, record),
        cells=[cell_of(spec, column, record, lookups) for column in columns],
    )


def with_related(spec: ListSpec, queryset: QuerySet[Any]) -> QuerySet[Any]:
    return queryset.select_related(*spec.related) if spec.related else queryset


# --- HTML -----------------------------------------------------------------------------------------
#
# A page makes one ``format_html`` template per row shape: its fixed parts (column keys and
# labels, translated words, URLs) escaped into the template once, and a placeholder for each
# value of a row (id, link, label, cell texts), which ``format_html`` escapes row by row.

# A record id no real one equals, to cut a reversed URL around the id.
_PK_MARK = 987654321987654321
_PLACEHOLDER = re.compile(r"(%\(\w+\)s|%%)")


def _literal(text: Any) -> str:
    """``text`` escaped, as a fixed part of a ``format_html`` template."""
    return str(conditional_escape(text)).replace("{", "{{").replace("}", "}}")


def _words(translated: str, fragments: Mapping[str, str]) -> str:
    """A translated %-format string (``"Select %(label)s"``) as a part of a template: its own
    text escaped, each ``%(name)s`` replaced by ``fragments[name]`` (a template part)."""
    parts = []
    for piece in _PLACEHOLDER.split(translated):
        if piece == "%%":
            parts.append("%")
        elif _PLACEHOLDER.fullmatch(piece):
            parts.append(fragments[piece[2:-2]])
        else:
            parts.append(_literal(piece))
    return "".join(parts)


def _around_pk(name: str, kind: str, key: str) -> tuple[str, str]:
    """The URL ``name`` of column ``key`` of a ``kind`` list, as the parts before and after the id."""
    return _reversed_around_pk(name, kind, key, get_script_prefix())


@functools.lru_cache(maxsize=1024)
def _reversed_around_pk(name: str, kind: str, key: str, prefix: str) -> tuple[str, str]:
    url = reverse(name, args=[kind, _PK_MARK, key])
    head, tail = url.split(f"/{_PK_MARK}/", 1)
    return f"{head}/", f"/{tail}"


class RowRenderer:
    """The HTML of a list's rows (and of one of their cells) for one page.

    ``can_edit``: the checkbox of the bulk selection and a cell's edit button are shown only to
    those who may change records (viewers get neither; the server refuses their writes anyway).
    """

    def __init__(self, kind: str, columns: Iterable[Column], *, can_edit: bool) -> None:
        self.kind = kind
        self.can_edit = can_edit
        # Translated once per page.
        self._edit_words = _("Edit %(label)s of %(record)s")
        self.columns = list(columns)
        cells = "".join(
            self._cell_template(column, index, first=index == 0) for index, column in enumerate(self.columns)
        )
        select = ""
        if can_edit:
            select = (
                '<td class="list-select"><input type="checkbox" name="ids" value="{pk}" form="bulk-form"'
                f' data-row-select aria-label="{_words(_("Select %(label)s"), {"label": "{record}"})}"></td>'
            )
        opening = '<tr data-row="{pk}" data-href="{href}" data-testid="row-{pk}">'
        self._row = f"{opening}{select}{cells}</tr>"

    def _cell_template(self, column: Column, index: int, *, first: bool) -> str:
        """The template of a cell of ``column``, its text in the placeholder ``c<index>``."""
        label = _literal(column.label)
        opening = f'<td data-column="{_literal(column.key)}" data-label="{label}"'
        if first:
            html = f'{opening} class="cell-primary"><a href="{{href}}" data-row-link>{{c{index}}}</a>'
        else:
            html = f'{opening}><span class="cell-text">{{c{index}}}</span>'
        if self.can_edit and column.edit:
            head, tail = _around_pk("web:list-cell-edit", self.kind, column.key)
            words = _words(self._edit_words, {"label": label, "record": "{record}"})
            html += (
                f'<button type="button" class="cell-edit" data-cell-edit'
                f' hx-get="{_literal(head)}{{pk}}{_literal(tail)}{"?first=1" if first else ""}"'
                f' hx-target="closest td" hx-swap="outerHTML"><span aria-hidden="true">✎</span>'
                f'<span class="visually-hidden">{words}</span></button>'
            )
        return f"{html}</td>"

    @staticmethod
    def _values(row: Row, cells: Sequence[Cell], columns: int, *, first: bool = True) -> dict[str, str]:
        """The placeholders' values, escaped; ``first``: ``cells`` start with the first column."""
        if len(cells) != columns:
            raise ValueError("A row has a cell per column of the renderer.")
        values = {"pk": str(int(row.pk)), "href": _escape(row.href), "record": _escape(row.label)}
        for index, cell in enumerate(cells):
            values[f"c{index}"] = _escape(cell.text)
        if cells and first:
            # The first column links to the record, with its label when the cell is empty.
            values["c0"] = values["c0"] or values["record"]
        return values

    def row(self, row: Row) -> SafeString:
        """``<tr>`` of one row: its cells in the columns' order, the first one linking to the record."""
        # Every value is escaped by _values, the template's own text by _literal (as format_html).
        return mark_safe(self._row.format_map(self._values(row, row.cells, len(self.columns))))  # noqa: S308

    def rows(self, rows: Iterable[Row]) -> SafeString:
        columns, template = len(self.columns), self._row
        html_rows = (template.format_map(self._values(row, row.cells, columns)) for row in rows)
        return mark_safe("\n".join(html_rows))  # noqa: S308 (escaped as in row())

    def cell(self, row: Row, cell: Cell, *, first: bool) -> SafeString:
        """One cell (``<td>``) of ``row`` as the list shows it; ``first``: in the first column."""
        template = self._cell_template(cell.column, 0, first=first)
        return mark_safe(template.format_map(self._values(row, [cell], 1, first=first)))  # noqa: S308 (as row())


def _escape(value: Any) -> str:
    """``conditional_escape(value)`` as text: what ``format_html`` does to each value, without
    its lazy-string wrappers (a page escapes a few hundred values)."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))
