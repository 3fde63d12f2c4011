"""The fast suite (`make test-fast`, ``-m "not subprocess"``) leaves out every test that starts a process.

A module that imports ``subprocess``, Playwright or a helper that starts a server or a child must
mark its tests ``subprocess``; a fixture that starts one must be listed in
``testsupport.marks.SERVER_FIXTURES`` (its users are marked at collection).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from testsupport import marks

ROOT = Path(__file__).resolve().parents[1]
SUITES = [ROOT / "tests", ROOT / "stratus"]


def _test_modules() -> list[Path]:
    return sorted(path for suite in SUITES for path in suite.rglob("test_*.py"))


def _fixture_modules() -> list[Path]:
    return sorted(
        [path for suite in SUITES for path in suite.rglob("conftest.py")]
        + [ROOT / "conftest.py", ROOT / "testsupport" / "fixtures.py"]
    )


def test_the_guard_finds_test_modules_and_fixtures() -> None:
    assert len(_test_modules()) > 50
    assert any(marks.process_uses(ast.parse(path.read_text())) for path in _test_modules())


def test_every_test_in_a_module_that_starts_processes_is_marked() -> None:
    findings = marks.unmarked_tests(_test_modules())
    assert not findings, "mark these tests @pytest.mark.subprocess:\n" + "\n".join(map(str, findings))


def test_every_fixture_that_starts_processes_is_listed() -> None:
    findings = marks.unlisted_server_fixtures(_fixture_modules())
    assert not findings, "list these fixtures in SERVER_FIXTURES:\n" + "\n".join(map(str, findings))


def test_the_guard_sees_an_unmarked_module(tmp_path: Path) -> None:
    unmarked = tmp_path / "test_unmarked.py"
    unmarked.write_text("import subprocess\n\ndef test_a():\n    subprocess.run(['true'])\n")
    marked = tmp_path / "test_marked.py"
    marked.write_text(
        "import pytest\nfrom testsupport.processes import manage\n"
        "pytestmark = [pytest.mark.django_db, pytest.mark.subprocess]\n\n"
        "def test_a():\n    manage('check', env={})\n"
    )
    findings = marks.unmarked_tests([unmarked, marked])
    assert [(f.path.name, f.line) for f in findings] == [("test_unmarked.py", 3)]


@pytest.mark.parametrize(
    ("source", "uses"),
    [
        ("from testsupport.servers import smtp_server\n", ["testsupport.servers.smtp_server"]),
        ("from testsupport.factories import make_member\n", []),
        ("from stratus.realtime.tests.harness import Client\n", []),
        ("from testsupport.background import beat\n", ["testsupport.background"]),
    ],
)
def test_what_counts_as_starting_processes(source: str, uses: list[str]) -> None:
    assert marks.process_uses(ast.parse(source)) == uses
