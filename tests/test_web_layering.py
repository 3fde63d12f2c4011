"""The browser app reads and writes through the services and selectors the API uses.

A module of ``stratus/web`` that reaches a model manager (``Contact.objects``,
``model._default_manager``) runs an ORM query of its own, outside the tenant-scoped selectors
(``stratus/<app>/selectors.py``) and services: a second copy of a read the API makes, where a
tenant or permission check can go missing. Only the web app's own selectors and services (for
its own models: saved views, bulk jobs) and its migrations may.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "stratus" / "web"
MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
# Layers that may query: the web app's own reads and writes (its models), and its schema.
# ``exports`` is the export job's service (create, run in the worker, sweep): it reads and writes
# its own model; the CRM's rows and the members come through their apps' selectors.
ALLOWED_MODULES = frozenset({"selectors", "services", "exports"})
ALLOWED_FOLDERS = frozenset({"migrations", "tests"})

# Queries not yet moved into a selector, in modules being rewritten at the time of writing. Each
# is a debt: the test fails when one is added elsewhere, and when one listed here is gone (so the
# list only shrinks). The selectors that replace them exist: accounts.member_choices (owners),
# crm.stage_list (stages), a service's select_for_update (the record form's version check).
PENDING: dict[str, frozenset[str]] = {}


def manager_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """Each ``<expression>.objects`` (or another manager) in ``tree``: (line, expression)."""
    return sorted(
        (node.lineno, ast.unparse(node))
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in MANAGERS
    )


def _web_modules() -> list[Path]:
    return [
        path
        for path in sorted(WEB.rglob("*.py"))
        if path.stem not in ALLOWED_MODULES and not ALLOWED_FOLDERS & set(path.relative_to(WEB).parts)
    ]


def _uses() -> dict[str, list[tuple[int, str]]]:
    found = {}
    for path in _web_modules():
        uses = manager_uses(ast.parse(path.read_text(), str(path)))
        if uses:
            found[str(path.relative_to(ROOT))] = uses
    return found


def test_web_views_and_forms_query_only_through_selectors_and_services() -> None:
    unexpected = [
        f"{module}:{line}: {expression}"
        for module, uses in _uses().items()
        for line, expression in uses
        if expression not in PENDING.get(module, frozenset())
    ]
    assert unexpected == [], "query through a selector or service of the owning app instead"


def test_every_pending_query_is_still_there() -> None:
    present = {module: {expression for _line, expression in uses} for module, uses in _uses().items()}
    gone = {
        f"{module}: {expression}"
        for module, expressions in PENDING.items()
        for expression in expressions
        if expression not in present.get(module, set())
    }
    assert gone == set(), "moved to a selector: remove it from PENDING"


def test_the_scan_covers_the_web_app() -> None:
    scanned = {str(path.relative_to(ROOT)) for path in _web_modules()}
    assert {
        "stratus/web/views.py",
        "stratus/web/context.py",
        "stratus/web/records/fields.py",
        "stratus/web/records/timeline.py",
        "stratus/web/settings/views.py",
        "stratus/web/shell/views.py",
        "stratus/web/board/views.py",
    } <= scanned
    assert not {"stratus/web/lists/selectors.py", "stratus/web/lists/services.py"} & scanned


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Contact.objects.filter(organization=org)", [(1, "Contact.objects")]),
        ("rows = [r for r in model._default_manager.all()]", [(1, "model._default_manager")]),
        ("from x import y\nUser.objects.get(pk=1)", [(2, "User.objects")]),
        ("crm_selectors.contact_list(org=org)", []),
        ("objects = 1\nprint(objects)", []),
    ],
)
def test_manager_uses_finds_manager_attributes(source: str, expected: list[tuple[int, str]]) -> None:
    assert manager_uses(ast.parse(source)) == expected
