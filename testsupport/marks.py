"""The ``subprocess`` mark: which tests start other processes, so ``-m "not subprocess"`` is honest.

A test is a subprocess test when its module starts processes (imports ``subprocess`` or
``multiprocessing``, Playwright, or a helper that starts a server or a child), or when it uses a
fixture that does (``SERVER_FIXTURES``, or a parameter such as ``backend="s3"``). Modules mark
their tests themselves (``pytestmark = pytest.mark.subprocess`` or a decorator); tests that use a
server fixture are marked at collection. tests/test_subprocess_marks.py fails when a module
starts processes without the mark, or a fixture starts one and is not listed here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MARK = "subprocess"
# Marks that imply it (their tests get it at collection): processes of the suite, Chromium.
IMPLYING = frozenset({MARK, "cluster", "browser"})

# Fixtures that start a process (directly); a test using one, even through another fixture, is
# a subprocess test.
SERVER_FIXTURES = frozenset(
    {
        "s3_endpoint",  # moto's S3 server
        "browser",  # Chromium, driven by Playwright
        "cluster",  # the Compose-like cluster of tests/cluster
        "replicas",  # two ASGI server processes (live updates)
        "collected_static",  # manage.py collectstatic in a child
        "production_env",  # a scratch database migrated by manage.py in a child
    }
)
# Parametrized fixtures whose given parameter starts a process.
SERVER_PARAMS = frozenset({("backend", "s3")})

# Modules whose import means "this module starts processes".
PROCESS_MODULES = frozenset(
    {
        "subprocess",
        "multiprocessing",
        "playwright.sync_api",
        "playwright.async_api",
        "honcho",
        "testsupport.background",
    }
)
# Names whose import means the same, per module.
PROCESS_NAMES = {
    "testsupport.processes": {"manage", "run_python", "child_env"},
    "testsupport.servers": {"gunicorn_server", "s3_server", "smtp_server", "redis_server", "RedisServer"},
    "stratus.realtime.tests.harness": {"asgi_server", "Server", "Replicas"},
    "os": {"fork", "system", "popen", "spawnv", "execv"},
}


def mark_server_fixture_users(items: Iterable[pytest.Item]) -> None:
    """Adds the mark to every collected test that uses a server fixture or parameter."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if (
            names & SERVER_FIXTURES
            or any(params.get(name) == value for name, value in SERVER_PARAMS)
            or any(item.get_closest_marker(name) for name in IMPLYING)
        ):
            item.add_marker(MARK)


# --- The static guard --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _imports(nodes: Iterable[ast.AST]) -> list[str]:
    found: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name in PROCESS_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in PROCESS_MODULES:
                found.append(node.module)
            wanted = PROCESS_NAMES.get(node.module, set())
            found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name in wanted]
    return found


def _module_level(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node outside test bodies (an import inside a test belongs to that test; one inside a
    helper belongs to the module)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and child.name.startswith("test"):
            yield from child.decorator_list
            continue
        yield child
        yield from _module_level(child)


def process_uses(tree: ast.AST, *, everywhere: bool = True) -> list[str]:
    """What in this code starts processes: ``subprocess``, ``testsupport.servers.smtp_server``..."""
    return _imports(ast.walk(tree) if everywhere else _module_level(tree))


def _is_mark(node: ast.AST) -> bool:
    """``pytest.mark.subprocess`` (or ``cluster``, ``browser``; called or not), alone or in a list."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute) and node.attr in IMPLYING:
        return True
    if isinstance(node, ast.List | ast.Tuple):
        return any(_is_mark(element) for element in node.elts)
    return False


def _module_marked(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return _is_mark(node.value)
    return False


def _tests(body: list[ast.stmt], marked: bool) -> Iterator[tuple[ast.AST, bool]]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            yield node, marked or any(_is_mark(d) for d in node.decorator_list)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from _tests(node.body, marked or any(_is_mark(d) for d in node.decorator_list))


def unmarked_tests(paths: Iterable[Path]) -> list[Finding]:
    """Tests in modules that start processes and are not marked ``subprocess``."""
    findings: list[Finding] = []
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        module_uses = process_uses(tree, everywhere=False)
        module_marked = _module_marked(tree)
        for node, marked in _tests(tree.body, module_marked):
            uses = module_uses or process_uses(node)
            if uses and not marked:
                name = getattr(node, "name", "?")
                findings.append(Finding(path, getattr(node, "lineno", 0), f"{name} not marked ({uses[0]})"))
    return findings


def _fixture_functions(tree: ast.Module) -> Iterator[ast.FunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and any(
            "fixture" in ast.unparse(decorator) for decorator in node.decorator_list
        ):
            yield node


def unlisted_server_fixtures(paths: Iterable[Path]) -> list[Finding]:
    """Fixtures (in conftests and fixture modules) that start processes but are not in SERVER_FIXTURES."""
    findings: list[Finding] = []
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        if not process_uses(tree):
            continue
        helpers = {name.rsplit(".", 1)[-1] for name in process_uses(tree)}
        for fixture in _fixture_functions(tree):
            called = {
                node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                for node in ast.walk(fixture)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
            }
            starts = called & (helpers | {"Popen", "run", "check_call", "check_output", "sync_playwright"})
            if starts and fixture.name not in SERVER_FIXTURES:
                findings.append(
                    Finding(path, fixture.lineno, f"fixture {fixture.name} uses {sorted(starts)}")
                )
    return findings
