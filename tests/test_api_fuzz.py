"""Schemathesis against a live server: every operation of the served OpenAPI schema, authenticated.

All default checks (no 5xx, status codes, content types, headers and bodies conforming to the
schema, negative and positive data, use-after-free, ...) in every phase, stateful included
(links inferred from the schema and from Location headers). tests/schemathesis.toml lists
the statuses a business rule may answer to schema-valid input.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from stratus.accounts.models import Membership, Role
from stratus.accounts.services import _starter_pipeline
from stratus.api.fixtures import make_organization, make_token
from stratus.api.testing import gunicorn_server
from stratus.platform.testing import PROJECT_DIR

pytestmark = pytest.mark.cluster

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = os.environ.get("STRATUS_FUZZ_MAX_EXAMPLES", "5")
# The coverage phase (boundary values of every parameter: about 6,500 requests, some 7 minutes
# on a 2-core machine) is left to STRATUS_FUZZ_PHASES=examples,coverage,fuzzing,stateful so
# that the suite stays within its time budget.
PHASES = os.environ.get("STRATUS_FUZZ_PHASES", "examples,fuzzing,stateful")
SEED = "20261121"
# Operations that can take the fuzzer's own credentials away (revoking its token, removing or
# demoting its member): the rest of the run would only see 401/403. Their rules are tested in
# stratus/accounts/tests and tests/test_api_isolation.py.
EXCLUDED_PATHS = r"^/api/v1/(tokens|members)/\{"


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
                "--max-examples", MAX_EXAMPLES,
                "--phases", PHASES,
                "--seed", SEED,
                "--workers", "2",
                "--request-timeout", "30",
                "--exclude-path-regex", EXCLUDED_PATHS,
                "--no-color",
            ],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )  # fmt: skip
    report = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, report
    assert "Tested:" in result.stdout
