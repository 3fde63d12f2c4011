"""Schemathesis against a live server: every operation of the served OpenAPI schema, authenticated.

Every check (no 5xx, status codes, content types, headers and bodies conforming to the schema,
negative data rejected and positive data accepted, use-after-free, ...) in every phase: examples,
coverage (boundary values of every parameter), fuzzing and stateful (links inferred from the
schema and from Location headers). The operations come from the served schema, so a new
endpoint is fuzzed without being listed; tests/schemathesis.toml relaxes checks one operation or
parameter at a time, each with its reason.

STRATUS_FUZZ_MAX_EXAMPLES (default 20) bounds the fuzzing phase; with it the run takes about
four minutes on two cores. A fixed seed and derandomized generation make runs repeatable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.urls import get_resolver

from stratus.accounts.models import Membership, Role
from stratus.accounts.services import _starter_pipeline
from testsupport.factories import make_organization, make_token
from testsupport.processes import PROJECT_DIR
from testsupport.servers import gunicorn_server

pytestmark = pytest.mark.cluster

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = os.environ.get("STRATUS_FUZZ_MAX_EXAMPLES", "20")
PHASES = os.environ.get("STRATUS_FUZZ_PHASES", "examples,coverage,fuzzing,stateful")
SEED = "20261121"
# Operations that can take the fuzzer's own access away mid-run (revoking its token, removing or
# demoting its member, ending its session): the rest of the run would only see 401/403. Named
# by URL pattern; their rules are tested in stratus/accounts/tests and tests/test_api_isolation.py.
# The run ends by checking that its token still works, so a new such operation cannot go unseen.
SELF_REVOKING = ("api-token-detail", "api-member-detail", "api-logout")


def self_revoking_paths() -> str:
    """A regex of the schema paths of SELF_REVOKING, from the URL resolver."""
    paths = []
    for name in SELF_REVOKING:
        pattern = get_resolver().reverse_dict.getlist(name)[0][0][0][0]  # e.g. "api/v1/members/%(pk)s"
        paths.append(
            re.escape("/" + re.sub(r"%\((\w+)\)s", "{id}", pattern)).replace(r"\{id\}", r"\{[^/]+\}")
        )
    return "^(" + "|".join(paths) + ")$"


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    organization = make_organization("Fuzz")
    owner = Membership.objects.filter(organization=organization, role=Role.OWNER).order_by("id")[0].user
    _starter_pipeline(organization, owner)
    secret = make_token(organization, Role.OWNER)
    limits = dict.fromkeys(
        (
            "API_RATE_LIMIT_TOKEN",
            "API_RATE_LIMIT_USER",
            "API_RATE_LIMIT_ORGANIZATION",
            "API_RATE_LIMIT_ANONYMOUS",
        ),
        "0",
    )
    with gunicorn_server(env=limits, workers=2) as url:
        schema = tmp_path / "schema.json"
        with urllib.request.urlopen(f"{url}/api/schema/?format=json", timeout=120) as response:
            schema.write_bytes(response.read())
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("st")),
                "--config-file", str(CONFIG),
                "run", str(schema),
                "--url", url,
                "--header", f"Authorization: Bearer {secret}",
                "--checks", "all",
                "--max-examples", MAX_EXAMPLES,
                "--phases", PHASES,
                "--seed", SEED,
                "--generation-deterministic",
                "--workers", "2",
                "--request-timeout", "30",
                "--exclude-path-regex", self_revoking_paths(),
                "--no-color",
            ],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )  # fmt: skip
        me = urllib.request.Request(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        with urllib.request.urlopen(me, timeout=30) as response:
            still_signed_in = response.status == 200
    report = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, report
    assert "Tested:" in result.stdout
    assert still_signed_in, "the run took its own access away: add the operation to SELF_REVOKING"


@pytest.mark.django_db
def test_each_self_revoking_pattern_names_an_operation_of_the_schema(client) -> None:
    schema = client.get("/api/schema/?format=json").json()
    excluded = re.compile(self_revoking_paths())
    assert len({path for path in schema["paths"] if excluded.match(path)}) == len(SELF_REVOKING)
