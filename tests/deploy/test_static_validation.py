"""Static validation of the deployment files: real linters and schemas, no Docker engine needed.

hadolint on the Dockerfile, the Compose specification's JSON schema on both compose files,
`kubectl kustomize` + the Kubernetes OpenAPI schemas on the manifests, and the rules the
deployment promises (health-gated start-up, one published service, the process commands).
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stratus.platform.probes import PROBES
from tests.deploy.conftest import dockerfile_collectstatic
from testsupport.processes import PROJECT_DIR

pytestmark = pytest.mark.subprocess

DEPLOY = PROJECT_DIR / "deploy"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
COMPOSE_FILES = [PROJECT_DIR / "compose.yaml", PROJECT_DIR / "compose.production.yaml"]
K8S_BUILDS = [DEPLOY / "k8s" / "base", DEPLOY / "k8s" / "overlays" / "example"]
K8S_VERSION = "1.30.0"
BIN = Path(sys.executable).parent


def venv_tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is a dev dependency (uv sync) and should be in {BIN}"
    return str(path)


def entrypoint_commands() -> set[str]:
    """The commands deploy/entrypoint.sh dispatches on (its case labels)."""
    text = ENTRYPOINT.read_text()
    labels = re.findall(r"^\s{2}([a-z][a-z |]*)\)\s*$", text, re.MULTILINE)
    return {name.strip() for label in labels for name in label.split("|")}


def load_compose(path: Path) -> dict[str, Any]:
    # PyYAML resolves the `<<` merge keys the files use for their shared app settings.
    return yaml.safe_load(path.read_text())


@functools.cache
def kustomize_build(build: Path) -> str:
    result = subprocess.run(
        [venv_tool("kubectl"), "kustomize", str(build)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def k8s_documents(build: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` output (built once per folder), freshly parsed for each caller."""
    return [doc for doc in yaml.safe_load_all(kustomize_build(build)) if doc]


def pod_containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] in {"Deployment", "Job"}:
        return list(doc["spec"]["template"]["spec"]["containers"])
    return []


# --- Dockerfile -------------------------------------------------------------------------------


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = subprocess.run(
        [venv_tool("hadolint"), "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    """The linter really runs: a Dockerfile with classic mistakes fails."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install django\nUSER root\n")
    result = subprocess.run([venv_tool("hadolint"), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag


def test_dockerfile_is_multi_stage_non_root_with_health_check_and_entrypoint() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.MULTILINE)
    assert [name for _image, name in stages][-1] == "runtime", "the last stage is the image that runs"
    assert {name for _image, name in stages} >= {"build", "runtime"}
    runtime = text[text.index("AS runtime") :]
    assert "uv sync --frozen --no-dev" in text, "dependencies come from the lock file"
    assert "collectstatic --noinput" in text
    user = re.search(r"^USER\s+(\S+)", runtime, re.MULTILINE)
    assert user, "the runtime stage sets a user"
    assert not user.group(1).startswith(("root", "0")), "runs as a non-root user"
    assert re.search(r"HEALTHCHECK .*\n?.*deploy/healthcheck.py", runtime)
    assert (
        'path = "/health/ready" if argv[1:2] == ["ready"] else "/health/live"'
        in (DEPLOY / "healthcheck.py").read_text()
    )
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in runtime
    assert re.search(r"^CMD \[\"web\"\]", runtime, re.MULTILINE)
    for secret in ("SECRET_KEY", "PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        assert not re.search(rf"^(ENV|ARG)\b.*{secret}", text, re.MULTILINE), f"{secret} must not be baked in"


def test_dockerfile_copies_only_what_exists_and_dockerignore_keeps_secrets_out() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"source=([^,\s]+)", text):
        assert (PROJECT_DIR / source).exists(), source
    ignored = (PROJECT_DIR / ".dockerignore").read_text().split()
    for pattern in (".git", ".venv", ".env", ".env.*", "var", "backups"):
        assert pattern in ignored, pattern
    assert "!.env.production.example" in ignored


def test_the_image_build_step_collects_hashed_static_files(collected_static: Path) -> None:
    """collected_static ran the Dockerfile's collectstatic line as written (tests/deploy/conftest.py)."""
    env, _argv = dockerfile_collectstatic()
    assert env["DEBUG"] == "false", "the manifest storage production uses"
    manifest = json.loads((collected_static / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    assert re.fullmatch(r"admin/css/base\.[0-9a-f]{12}\.css", hashed)
    assert (collected_static / f"{hashed}.gz").exists(), "compressed copies for WhiteNoise"


# --- Compose ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_matches_the_compose_specification_schema(path: Path) -> None:
    result = subprocess.run(
        [venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text(
        "services:\n  web:\n    image: x\n    restart: sometimes\n    depends_on: {db: {condition: maybe}}\n"
    )
    result = subprocess.run(
        [venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_production_stack_is_health_gated_and_only_nginx_is_published() -> None:
    compose = load_compose(PROJECT_DIR / "compose.production.yaml")
    services: dict[str, Any] = compose["services"]
    one_shot = {name for name, svc in services.items() if svc.get("restart") == "no"}
    assert {"migrate", "createbucket", "backup"} <= one_shot
    assert {
        "nginx",
        "web",
        "ws",
        "worker",
        "beat",
        "db",
        "redis",
        "broker",
        "minio",
        "qdrant",
        "clickhouse",
    } <= set(services)

    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"nginx", "grafana"}
    # Grafana (monitoring profile) listens on the host's loopback only.
    assert all(port.startswith("127.0.0.1:") for port in services["grafana"]["ports"])
    assert sorted(p.split(":")[-1] for p in services["nginx"]["ports"]) == ["443", "80"]

    for name, svc in services.items():
        for dependency, rule in (svc.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = "service_completed_successfully" if dependency in one_shot else "service_healthy"
            assert rule["condition"] == expected, f"{name} -> {dependency}"
        if name in one_shot:
            continue
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert svc.get("restart") == "unless-stopped", name
        assert svc.get("deploy", {}).get("resources", {}).get("limits"), f"{name} has no resource limits"

    for app in ("web", "ws", "worker", "beat"):
        gates = services[app]["depends_on"]
        assert gates["migrate"]["condition"] == "service_completed_successfully", app
        assert services[app]["env_file"][0]["path"] == ".env.production"
        assert services[app]["environment"]["STRATUS_ENV"] == "production"
    assert str(services["web"]["deploy"]["replicas"]).endswith(":-2}")
    assert str(services["ws"]["deploy"]["replicas"]).endswith(":-2}")
    assert services["beat"]["deploy"]["replicas"] == 2
    assert services["db"]["image"].startswith("postgres:16")

    broker = " ".join(services["broker"]["command"])
    assert "--maxmemory-policy noeviction" in broker
    assert "--appendonly yes" in broker
    assert services["broker"]["volumes"], "the broker persists to a volume"
    assert services["web"]["environment"]["REDIS_URL"] != services["web"]["environment"]["CELERY_BROKER_URL"]

    assert compose["networks"]["backend"]["internal"] is True
    for data in ("db", "redis", "broker", "minio", "qdrant", "clickhouse"):
        assert services[data]["networks"] == ["backend"], f"{data} stays on the internal network"
        assert "ports" not in services[data], f"{data} is not published"
        assert "expose" not in services[data], data
        assert not services[data].get("network_mode"), data
    assert (PROJECT_DIR / ".env.production.example").exists()


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_third_party_image_is_pinned_to_a_version(path: Path) -> None:
    """Images we do not build name a version (never `latest` or no tag), so `up` is repeatable."""
    for name, svc in load_compose(path)["services"].items():
        if "build" in svc:
            continue
        image = svc["image"]
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        assert re.search(r"\d", tag), f"{name}: {image} names no version"


def test_kubernetes_images_are_pinned_to_a_version() -> None:
    for doc in k8s_documents(DEPLOY / "k8s" / "overlays" / "example"):
        if doc["kind"] not in {"Deployment", "StatefulSet", "Job"}:
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            image = container["image"]
            tag = image.rpartition(":")[2] if ":" in image else ""
            assert tag, f"{doc['metadata']['name']}: {image} has no tag"
            assert tag != "latest", f"{doc['metadata']['name']}: {image}"
            assert re.search(r"\d", tag), image


def test_development_stack_mounts_the_source_and_reloads() -> None:
    services = load_compose(PROJECT_DIR / "compose.yaml")["services"]
    web = services["web"]
    assert ".:/app" in web["volumes"]
    command = " ".join(web["command"])
    assert "runserver 0.0.0.0:8000" in command
    assert "--noreload" not in command
    assert services["mailpit"]["profiles"] == ["mail"]
    assert services["db"]["profiles"] == ["services"]


def test_makefile_drives_the_compose_files() -> None:
    for target in ("up", "down", "build", "logs", "shell", "migrate", "createsuperuser", "backup", "restore"):
        result = subprocess.run(
            ["make", "-n", target], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"make {target}: {result.stderr}"
        assert "docker compose" in result.stdout, target
        assert "compose.production.yaml" in result.stdout, target


# --- Kubernetes -------------------------------------------------------------------------------


@pytest.mark.parametrize("build", K8S_BUILDS, ids=lambda p: p.name)
def test_kubernetes_manifests_build_and_match_the_kubernetes_schemas(build: Path, tmp_path: Path) -> None:
    documents = k8s_documents(build)
    rendered = tmp_path / "manifests.yaml"
    rendered.write_text(yaml.safe_dump_all(documents))
    result = subprocess.run(
        [venv_tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(rendered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == len(documents)


def test_kubernetes_schema_check_rejects_a_typo(tmp_path: Path) -> None:
    documents = k8s_documents(DEPLOY / "k8s" / "base")
    web = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "stratus-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    rendered = tmp_path / "bad.yaml"
    rendered.write_text(yaml.safe_dump(web))
    result = subprocess.run(
        [venv_tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(rendered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


def test_kubernetes_topology_probes_autoscaling_and_disruption_budgets() -> None:
    documents = k8s_documents(DEPLOY / "k8s" / "overlays" / "example")
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in documents:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    deployments = by_kind["Deployment"]
    assert set(deployments) == {"stratus-web", "stratus-ws", "stratus-worker", "stratus-beat"}
    assert "stratus-migrate" in by_kind["Job"]
    for name in ("stratus-web", "stratus-ws"):
        container = pod_containers(deployments[name])[0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live", name
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            # The kubelet sends the pod IP as Host: only the exempt probe paths accept it.
            assert container[probe]["httpGet"]["path"] in PROBES, (name, probe)
            assert "httpHeaders" not in container[probe]["httpGet"], (name, probe)
        assert name in by_kind["Service"]
        assert name in by_kind["PodDisruptionBudget"]
    drain = float(by_kind["ConfigMap"]["stratus-config"]["data"]["GUNICORN_DRAIN_SECONDS"])
    graceful = float(by_kind["ConfigMap"]["stratus-config"]["data"]["GUNICORN_GRACEFUL_TIMEOUT"])
    web_pod = deployments["stratus-web"]["spec"]["template"]["spec"]
    assert web_pod["terminationGracePeriodSeconds"] > drain + graceful
    assert deployments["stratus-beat"]["spec"]["replicas"] == 2
    hpa = by_kind["HorizontalPodAutoscaler"]["stratus-web"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "stratus-web"
    ingress = by_kind["Ingress"]["stratus"]
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {"/ws/": "stratus-ws", "/": "stratus-web"}
    assert ingress["spec"]["tls"], "the Ingress terminates TLS"
    assert "Secret" in by_kind
    assert "stratus-secrets" in by_kind["Secret"]
    for doc in documents:
        for container in pod_containers(doc):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert {"configMapRef": {"name": "stratus-config"}} in container["envFrom"]


# --- Process commands -------------------------------------------------------------------------


def test_entrypoint_is_executable_posix_shell() -> None:
    assert ENTRYPOINT.stat().st_mode & 0o111
    result = subprocess.run(["sh", "-n", str(ENTRYPOINT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert {"web", "ws", "worker", "beat", "migrate"} <= entrypoint_commands()


def declared_commands() -> dict[str, str]:
    """Every process command named in the Procfile, the compose files and the manifests."""
    found: dict[str, str] = {}
    for line in (PROJECT_DIR / "Procfile").read_text().splitlines():
        if line.strip():
            name, command = line.split(":", 1)
            words = shlex.split(command)
            assert words[0] == "deploy/entrypoint.sh", line
            found[f"Procfile {name}"] = words[1]
    for path in COMPOSE_FILES:
        for name, svc in load_compose(path)["services"].items():
            if (
                "build" in svc
                and isinstance(svc.get("command"), list)
                and svc["command"][0] in (entrypoint_commands() | {"web", "ws", "worker", "beat", "migrate"})
            ):
                found[f"{path.name} {name}"] = svc["command"][0]
    for build in K8S_BUILDS:
        for doc in k8s_documents(build):
            for container in pod_containers(doc):
                found[f"k8s {doc['metadata']['name']}"] = container["args"][0]
    return found


def test_every_declared_process_command_is_an_entrypoint_command() -> None:
    commands = declared_commands()
    assert {"Procfile web", "Procfile ws", "Procfile worker", "Procfile beat", "Procfile release"} <= set(
        commands
    )
    assert {"compose.production.yaml web", "compose.production.yaml beat", "k8s stratus-worker"} <= set(
        commands
    )
    unknown = {where: command for where, command in commands.items() if command not in entrypoint_commands()}
    assert not unknown, unknown
    assert commands["Procfile release"] == "migrate"


def test_the_programs_behind_the_entrypoint_commands_exist() -> None:
    """web/ws need gunicorn/uvicorn and their applications; worker/beat need the Celery app."""
    text = ENTRYPOINT.read_text()
    assert 'gunicorn --config "$APP_DIR/deploy/gunicorn.conf.py"' in text
    assert "stratus.wsgi:application" in text
    assert "uvicorn stratus.asgi:application" in text
    assert "celery -A stratus worker" in text
    assert "celery -A stratus beat" in text
    for module in ("gunicorn", "uvicorn", "celery", "redbeat"):
        assert shutil.which(module, path=str(BIN)) or __import__(module), module
    from testsupport.processes import run_python

    checked = run_python(
        "import stratus.wsgi, stratus.asgi; print(callable(stratus.wsgi.application), "
        "callable(stratus.asgi.application))",
        env={},
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.split() == ["True", "True"]
    # `celery -A stratus` finds the app; with a Redis broker beat uses a locked RedBeat scheduler.
    scheduler = run_python(
        "from celery.utils.imports import symbol_by_name; from redbeat import RedBeatScheduler;"
        "from stratus.celery import app; cls = symbol_by_name(app.conf.beat_scheduler);"
        "print(app.main, issubclass(cls, RedBeatScheduler))",
        env={"CELERY_BROKER_URL": "redis://127.0.0.1:6379/15"},
    )
    assert scheduler.returncode == 0, scheduler.stderr
    assert scheduler.stdout.split()[-1] == "True", scheduler.stdout
