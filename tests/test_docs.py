"""The documentation site builds with --strict, and its configuration tables match the settings.

A broken link or anchor, a page missing from the navigation, a `repo:` link to a file that is not
in the repository, or an environment variable the settings read without a description in
docs/variables.yml (or described but no longer read) fails the build and these tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stratus_docs", ROOT / "docs" / "hooks" / "stratus_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hooks = _load_hooks()

# Reads stratus.settings with a recording environment and prints every name it looked up.
RECORD_READS = textwrap.dedent(
    """
    import json, os, sys
    import environ

    seen = set()

    class Recording(dict):
        def __getitem__(self, key):
            seen.add(key)
            return super().__getitem__(key)

        def get(self, key, default=None):
            seen.add(key)
            return super().get(key, default)

        def __contains__(self, key):
            seen.add(key)
            return super().__contains__(key)

    environ.Env.ENVIRON = Recording(os.environ)
    try:
        import stratus.settings  # noqa: F401
    except SystemExit:
        pass  # production without its required variables: every read happened before the report
    print(json.dumps(sorted(seen)))
    """
)

PROFILES = {
    "embedded default": {},
    "development against services": {
        "DATABASE_URL": "postgres://stratus@127.0.0.1:5432/stratus",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "REALTIME_REDIS_URL": "redis://127.0.0.1:6379/2",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
        "AWS_STORAGE_BUCKET_NAME": "stratus",
        "EMAIL_URL": "smtp://127.0.0.1:25",
    },
    "production, nothing set": {"STRATUS_ENV": "production"},
}


@pytest.mark.cluster
def test_docs_build_strict(tmp_path: Path) -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "security" / "index.html").is_file()
    configuration = (tmp_path / "site" / "configuration" / "index.html").read_text(encoding="utf-8")
    for source in hooks.SOURCES.values():
        for name in hooks.read_settings_variables(source):
            assert f"<code>{name}</code>" in configuration, f"{name} missing from the configuration page"


def test_every_variable_the_settings_read_is_described_and_nothing_else() -> None:
    problems = hooks.registry_problems(hooks.read_settings_variables(), hooks.load_registry())
    assert problems == [], "\n".join(problems)


def test_every_variable_gunicorn_reads_is_described_and_nothing_else() -> None:
    variables = hooks.read_settings_variables(hooks.SOURCES["gunicorn"])
    expected = {"WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GUNICORN_DRAIN_SECONDS", "TRUSTED_PROXIES"}
    assert expected <= set(variables)
    problems = hooks.registry_problems(variables, hooks.load_registry(source="gunicorn"), "gunicorn.conf.py")
    assert problems == [], "\n".join(problems)


@pytest.mark.cluster
@pytest.mark.parametrize("profile", PROFILES)
def test_the_parser_finds_every_variable_the_settings_read_when_run(profile: str, tmp_path: Path) -> None:
    """Guards the parser: a new way of reading a variable must not slip past the table."""
    import subprocess

    parsed = set(hooks.read_settings_variables())
    env = {k: v for k, v in os.environ.items() if k not in parsed and not k.startswith("DJANGO_")}
    env.update(PROFILES[profile], DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", RECORD_READS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    read = {name for name in json.loads(result.stdout.splitlines()[-1]) if hooks.VARIABLE_NAME.match(name)}
    assert len(read) > 50  # the recording saw the settings' reads
    missed = read - parsed
    assert missed == set(), f"read by the settings but not found by docs/hooks/stratus_docs.py: {missed}"


def test_a_new_variable_fails_until_described(tmp_path: Path) -> None:
    settings = tmp_path / "settings.py"
    settings.write_text(
        (ROOT / "stratus" / "settings.py").read_text(encoding="utf-8")
        + '\nEXAMPLE_NEW_ATTEMPTS = read_int(env, requirements, "EXAMPLE_NEW_ATTEMPTS", 10, 1)\n'
        + 'EXAMPLE_NEW_NETWORKS = read_list(env, "EXAMPLE_NEW_NETWORKS")\n',
        encoding="utf-8",
    )
    variables = hooks.read_settings_variables((settings, ROOT / "stratus" / "platform" / "env.py"))
    assert variables["EXAMPLE_NEW_ATTEMPTS"].literal_default == 10
    problems = hooks.registry_problems(variables, hooks.load_registry())
    assert problems == [
        "EXAMPLE_NEW_ATTEMPTS: read by the settings but not described in docs/variables.yml",
        "EXAMPLE_NEW_NETWORKS: read by the settings but not described in docs/variables.yml",
    ]
    with pytest.raises(hooks.DocsError, match="EXAMPLE_NEW_ATTEMPTS"):
        hooks.render_tables(variables, hooks.load_registry())


def test_a_variable_no_longer_read_or_a_default_copied_into_the_registry_fails() -> None:
    variables = hooks.read_settings_variables()
    del variables["SWEEP_INTERVAL"]
    sections = hooks.load_registry()
    sections[0]["variables"]["STRATUS_ENV"]["default"] = "`production`"
    assert hooks.registry_problems(variables, sections) == [
        "SWEEP_INTERVAL: described in docs/variables.yml but not read by the settings",
        "STRATUS_ENV: the code's default is `development`; remove `default:` from docs/variables.yml "
        "(the table shows the code's value)",
    ]


def test_the_table_shows_the_code_defaults() -> None:
    table = hooks.render_tables(hooks.read_settings_variables(), hooks.load_registry())
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines() if line.startswith("| `")}
    assert "| `52428800` |" in rows["DOCUMENTS_MAX_UPLOAD_BYTES"]  # 50 * 1024 * 1024 in the code
    assert "whole number ≥ 60" in rows["SESSION_COOKIE_AGE"]
    assert "**required in production**" in rows["REDIS_URL"]
    assert "required" not in rows["REALTIME_REDIS_URL"]  # only checked when set
    assert "one of `json`, `text`" in rows["LOG_FORMAT"]


def test_repo_links_must_name_a_file_of_the_repository() -> None:
    markdown = "[`bench/`](repo:bench) and [the driver](repo:deploy/cluster.py#L1)"
    assert hooks._rewrite_repo_links(markdown, "https://example.com/stratus/") == (
        "[`bench/`](https://example.com/stratus/tree/main/bench) and "
        "[the driver](https://example.com/stratus/blob/main/deploy/cluster.py#L1)"
    )
    assert hooks._rewrite_repo_links(markdown, None) == "`bench/` and the driver (`deploy/cluster.py`)"
    with pytest.raises(hooks.DocsError, match=r"no/such/file\.py"):
        hooks._rewrite_repo_links("[gone](repo:no/such/file.py)", None)
