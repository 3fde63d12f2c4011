"""The monitoring files: alert rules tested by promtool, configurations Prometheus accepts, and
dashboards and rules that only query metrics Stratus declares."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.monitoring import generate
from stratus.platform import metrics
from testsupport.processes import PROJECT_DIR

MONITORING = PROJECT_DIR / "deploy" / "monitoring"

pytestmark = pytest.mark.subprocess  # promtool


def promtool(*args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: install Debian's prometheus package (.ci/run does)"
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_the_alert_rules_pass_their_unit_tests() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_the_unit_tests_catch_a_rule_that_no_longer_fires(tmp_path: Path) -> None:
    """Loosen one threshold: promtool must report the test that expected the alert."""
    broken = (MONITORING / "alerts.yml").read_text().replace("> 300", "> 3000")
    assert broken != (MONITORING / "alerts.yml").read_text()
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(MONITORING / "alerts_test.yml", tmp_path / "alerts_test.yml")
    tested = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert tested.returncode != 0
    assert "StratusRemindersOverdue" in tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
    fired = {
        case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")
    }
    assert alerts == fired


def test_prometheus_accepts_the_scrape_configuration() -> None:
    checked = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose = yaml.safe_load((PROJECT_DIR / "compose.production.yaml").read_text())
    port = int(compose["x-app-env"]["METRICS_PORT"])
    for kind in ("web", "ws", "worker", "beat"):
        (discovery,) = jobs[f"stratus-{kind}"]["dns_sd_configs"]
        assert discovery["names"] == [kind]
        assert discovery["port"] == port
    # The alerts name their jobs the same way.
    assert 'job=~"stratus-(web|ws|worker|beat)"' in (MONITORING / "alerts.yml").read_text()


def test_the_generated_files_are_up_to_date() -> None:
    for path, render in generate.OUTPUTS.items():
        stale = f"{path.name} is stale: run python deploy/monitoring/generate.py"
        assert path.read_text() == render(), stale


def declared_series() -> set[str]:
    """The series names Stratus exposes: the metrics module's and the backlog collector's."""
    names: set[str] = set()
    for value in vars(metrics).values():
        describe = getattr(value, "describe", None)
        if describe is None or not getattr(value, "_name", None):
            continue
        for family in describe():
            base = family.name
            kind = family.type
            if kind == "counter":
                names |= {f"{base}_total", f"{base}_created"}
            elif kind == "histogram":
                names |= {f"{base}_bucket", f"{base}_count", f"{base}_sum"}
            else:
                names.add(base)
    source = (PROJECT_DIR / "stratus" / "monitoring" / "collector.py").read_text()
    names |= set(re.findall(r'"(stratus_[a-z_]+)"', source))
    return names


@pytest.mark.parametrize(
    "path",
    [MONITORING / "alerts.yml", MONITORING / "grafana" / "dashboards" / "stratus.json"],
    ids=lambda path: path.name,
)
def test_rules_and_panels_query_only_declared_metrics(path: Path) -> None:
    queried = set(re.findall(r"\bstratus_[a-z_]+", path.read_text()))
    assert queried, "nothing queried"
    assert queried <= declared_series(), sorted(queried - declared_series())
