"""The HTML of list rows built in Python (``stratus.web.lists.rows.RowRenderer``): escaping of
user text, the editor's controls and the viewer's lack of them."""

from __future__ import annotations

import re

import pytest

from stratus.web.lists.rows import Cell, Row, RowRenderer
from stratus.web.lists.specs import CONTACTS, Column

XSS = '<img src=x onerror=alert(1)>"><script>alert(2)</script>{pk}%(label)s'
XSS_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;{pk}%(label)s"

COLUMNS = CONTACTS.column_map()
NAME, EMAIL, COMPANY = COLUMNS["name"], COLUMNS["email"], COLUMNS["company"]
# A custom field: its key and label are an admin's text.
CUSTOM = Column("custom_fields.region", XSS, edit="text", field="custom_fields")


def _row(label: str = XSS, columns: int = 4) -> Row:
    cells = [
        Cell(NAME, label, label),
        Cell(EMAIL, XSS, XSS),
        Cell(COMPANY, "Acme & Co", "3"),
        Cell(CUSTOM, XSS, XSS),
    ]
    return Row(pk=7, label=label, href="/contacts/7", cells=cells[:columns])


def test_a_hostile_name_is_escaped_everywhere_it_shows() -> None:
    for can_edit in (True, False):
        html = str(RowRenderer("contacts", [NAME, EMAIL, COMPANY, CUSTOM], can_edit=can_edit).row(_row()))
        assert "<img" not in html
        assert "<script" not in html
        assert '<a href="/contacts/7" data-row-link>' + XSS_ESCAPED + "</a>" in html
        assert '<span class="cell-text">' + XSS_ESCAPED + "</span>" in html
        assert "Acme &amp; Co" in html
        # The custom column's label (an attribute) is escaped too.
        assert f'data-label="{XSS_ESCAPED}"' in html


def test_the_editor_gets_a_checkbox_and_an_edit_button_per_editable_cell() -> None:
    html = str(
        RowRenderer("contacts", [NAME, EMAIL, COMPANY, CUSTOM], can_edit=True).row(_row("Ada Lovelace"))
    )
    assert html.startswith('<tr data-row="7" data-href="/contacts/7" data-testid="row-7">')
    assert html.endswith("</tr>")
    assert (
        '<td class="list-select"><input type="checkbox" name="ids" value="7" form="bulk-form"'
        ' data-row-select aria-label="Select Ada Lovelace"></td>'
    ) in html
    # The contact's name is not editable in the list; the e-mail and the custom field are.
    assert re.findall(r'hx-get="([^"]+)"', html) == [
        "/lists/contacts/7/cells/email/edit",
        "/lists/contacts/7/cells/custom_fields.region/edit",
    ]
    assert (
        '<td data-column="name" data-label="Name" class="cell-primary"><a href="/contacts/7" data-row-link>'
        in html
    )
    assert '<span class="visually-hidden">Edit E-mail of Ada Lovelace</span>' in html
    assert f'<span class="visually-hidden">Edit {XSS_ESCAPED} of Ada Lovelace</span>' in html
    assert html.count("data-cell-edit") == 2
    assert 'hx-target="closest td" hx-swap="outerHTML"' in html


def test_a_hostile_record_label_in_the_translated_words_is_escaped() -> None:
    html = str(RowRenderer("contacts", [NAME, EMAIL], can_edit=True).row(_row(columns=2)))
    assert f'aria-label="Select {XSS_ESCAPED}"' in html
    assert f"Edit E-mail of {XSS_ESCAPED}</span>" in html


def test_the_viewer_sees_no_edit_control() -> None:
    html = str(RowRenderer("contacts", [NAME, EMAIL, COMPANY, CUSTOM], can_edit=False).row(_row("Ada")))
    assert "data-cell-edit" not in html
    assert "hx-get" not in html
    assert "data-row-select" not in html
    assert 'form="bulk-form"' not in html
    assert html.count("<td ") == 4


def test_the_first_column_links_with_the_label_when_its_cell_is_empty() -> None:
    row = Row(pk=9, label="Acme", href="/companies/9", cells=[Cell(EMAIL, "", "")])
    html = str(RowRenderer("contacts", [EMAIL], can_edit=True).row(row))
    assert '<a href="/companies/9" data-row-link>Acme</a>' in html
    assert "/lists/contacts/9/cells/email/edit?first=1" in html


def test_one_cell_renders_as_in_its_row() -> None:
    renderer = RowRenderer("contacts", [NAME, EMAIL], can_edit=True)
    row = _row("Ada", columns=2)
    whole = str(renderer.row(row))
    single = RowRenderer("contacts", (), can_edit=True)
    assert str(single.cell(row, row.cells[1], first=False)) in whole
    assert str(single.cell(row, row.cells[0], first=True)) in whole
    first_email = str(single.cell(row, row.cells[1], first=True))
    assert 'class="cell-primary"' in first_email
    assert "?first=1" in first_email


def test_an_empty_cell_stays_empty_unless_it_is_the_records_link() -> None:
    row = Row(pk=9, label="Ada", href="/contacts/9", cells=[Cell(EMAIL, "", "")])
    single = RowRenderer("contacts", (), can_edit=False)
    assert str(single.cell(row, row.cells[0], first=False)) == (
        '<td data-column="email" data-label="E-mail"><span class="cell-text"></span></td>'
    )
    assert '<a href="/contacts/9" data-row-link>Ada</a>' in str(single.cell(row, row.cells[0], first=True))
    whole = RowRenderer("contacts", [NAME, EMAIL], can_edit=False).row(
        Row(pk=9, label="Ada", href="/contacts/9", cells=[Cell(NAME, "Ada", "Ada"), Cell(EMAIL, "", "")])
    )
    assert '<span class="cell-text"></span>' in whole


def test_rows_are_joined_and_a_row_must_match_the_columns() -> None:
    renderer = RowRenderer("contacts", [NAME, EMAIL, COMPANY, CUSTOM], can_edit=False)
    html = str(renderer.rows([_row("A"), _row("B")]))
    assert html.count("<tr ") == 2
    assert str(renderer.rows([])) == ""
    with pytest.raises(ValueError):
        renderer.row(Row(pk=1, label="A", href="/contacts/1", cells=[]))
