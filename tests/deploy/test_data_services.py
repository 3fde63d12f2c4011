"""The analytics (ClickHouse) and search (Qdrant) servers of the deployment, checked without Docker.

What is promised: both run from pinned official images on the internal network only, with a
health check and a volume; ClickHouse's users are created at start from deploy/clickhouse (a
read-only user with per-query limits for the reports, a writer for the worker) and only the worker
gets the writer's credentials, in Compose and on Kubernetes; the Kubernetes manifests give each a
StatefulSet with a PersistentVolumeClaim, a ClusterIP Service, probes and a NetworkPolicy. The
shell snippets of the Compose file (Qdrant's health check, ClickHouse's password guard) are run
with bash against local stand-ins.
"""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.test_static_validation import DEPLOY, k8s_documents, load_compose
from testsupport.processes import PROJECT_DIR, free_port

pytestmark = pytest.mark.subprocess

PRODUCTION = PROJECT_DIR / "compose.production.yaml"
DEVELOPMENT = PROJECT_DIR / "compose.yaml"
CLICKHOUSE_DIR = DEPLOY / "clickhouse"
USERS_XML = CLICKHOUSE_DIR / "users.d" / "stratus.xml"
CONFIG_XML = CLICKHOUSE_DIR / "config.d" / "stratus.xml"
K8S_EXAMPLE = DEPLOY / "k8s" / "overlays" / "example"
K8S_ANALYTICS = DEPLOY / "k8s" / "components" / "analytics"
APP_SERVICES = ("web", "ws", "worker", "beat", "migrate", "backup")
READER, WRITER, DATABASE = "stratus_reader", "stratus_writer", "stratus"


def production() -> dict[str, Any]:
    return dict(load_compose(PRODUCTION)["services"])


def users() -> ET.Element:
    return ET.parse(USERS_XML).getroot()


def url_parts(template: str) -> tuple[str, str, str]:
    """User, host:port and database of a clickhouse:// URL written with ${...} or $(...) in it."""
    url = template[template.index("clickhouse://") :].rstrip("}")
    parts = urlsplit(re.sub(r"\$[({][^)}]*[)}]", "secret", url))
    return parts.username or "", parts.netloc.split("@")[-1], parts.path.lstrip("/")


# --- Compose ----------------------------------------------------------------------------------


def test_qdrant_and_clickhouse_are_pinned_private_and_persistent() -> None:
    for path in (PRODUCTION, DEVELOPMENT):
        services = load_compose(path)["services"]
        for name, image in (("qdrant", "qdrant/qdrant:v"), ("clickhouse", "clickhouse/clickhouse-server:")):
            service = services[name]
            assert service["image"].startswith(image), (path.name, name)
            assert re.search(r":v?\d+\.\d+", service["image"]), f"{name} is pinned to a version"
            assert service["healthcheck"]["test"], (path.name, name)
            volumes = [v for v in service["volumes"] if not v.startswith("./")]
            assert volumes, f"{name} keeps its data in a named volume"
            assert all(":" in v for v in volumes), name
    services = production()
    for name in ("qdrant", "clickhouse"):
        assert "ports" not in services[name], f"{name} is never published"
        assert services[name]["networks"] == ["backend"], f"{name} stays on the internal network"
    # The versions agree everywhere the images are named.
    k8s_images = {
        container["image"]
        for doc in k8s_documents(K8S_EXAMPLE)
        if doc["kind"] == "StatefulSet"
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    dev = load_compose(DEVELOPMENT)["services"]
    for name in ("qdrant", "clickhouse"):
        assert services[name]["image"] == dev[name]["image"], name
        assert services[name]["image"] in k8s_images, name


def test_clickhouse_is_switched_on_by_the_analytics_profile_and_qdrant_is_always_there() -> None:
    services = production()
    assert services["clickhouse"]["profiles"] == ["analytics"]
    assert "profiles" not in services["qdrant"], "search by meaning needs Qdrant in production"
    for app in ("web", "ws", "worker", "beat"):
        gates = services[app]["depends_on"]
        assert gates["qdrant"] == {"condition": "service_healthy"}, app
        assert gates["clickhouse"] == {"condition": "service_healthy", "required": False}, app
        env = services[app]["environment"]
        assert env["QDRANT_URL"] == "http://qdrant:6333", app
        assert env["QDRANT_API_KEY"].startswith("${QDRANT_API_KEY:?"), app
        # Empty unless the reader's password is set: then the reports read ClickHouse.
        assert env["ANALYTICS_URL"].startswith("${CLICKHOUSE_READER_PASSWORD:+clickhouse://"), app
    assert (
        services["qdrant"]["environment"]["QDRANT__SERVICE__API_KEY"]
        == services["web"]["environment"]["QDRANT_API_KEY"]
    )


def test_only_the_worker_gets_the_analytics_writer() -> None:
    """Every app container loads .env.production, so the passwords are blanked for all of them
    and the URLs carry them; the writer's URL is set for the worker alone."""
    services = production()
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["CLICKHOUSE_WRITER_PASSWORD"] == "", name
        assert env["CLICKHOUSE_READER_PASSWORD"] == "", name
        assert url_parts(env["ANALYTICS_URL"]) == (READER, "clickhouse:8123", DATABASE), name
        if name == "worker":
            assert url_parts(env["ANALYTICS_WRITER_URL"]) == (WRITER, "clickhouse:8123", DATABASE)
            assert env["ANALYTICS_WRITER_URL"].startswith("${CLICKHOUSE_WRITER_PASSWORD:+"), name
        else:
            assert env["ANALYTICS_WRITER_URL"] == "", name
    for name, service in services.items():
        if name not in ("worker", "clickhouse"):
            assert "${CLICKHOUSE_WRITER_PASSWORD" not in yaml.safe_dump(service), name
    clickhouse = services["clickhouse"]["environment"]
    assert clickhouse["CLICKHOUSE_READER_PASSWORD"] == "${CLICKHOUSE_READER_PASSWORD:-}"
    assert clickhouse["CLICKHOUSE_WRITER_PASSWORD"] == "${CLICKHOUSE_WRITER_PASSWORD:-}"
    assert clickhouse["CLICKHOUSE_SKIP_USER_SETUP"] == "1"
    example = (PROJECT_DIR / ".env.production.example").read_text()
    for variable in (
        "QDRANT_API_KEY",
        "COMPOSE_PROFILES",
        "CLICKHOUSE_READER_PASSWORD",
        "CLICKHOUSE_WRITER_PASSWORD",
    ):
        assert re.search(rf"^{variable}=$", example, re.MULTILINE), variable
    # The development stack keeps the same split.
    dev = load_compose(DEVELOPMENT)["services"]
    assert dev["worker"]["environment"]["ANALYTICS_WRITER_URL"] == "${ANALYTICS_WRITER_URL:-}"
    assert "ANALYTICS_WRITER_URL" not in dev["web"]["environment"]


def test_clickhouse_configuration_is_mounted_read_only_everywhere() -> None:
    files = sorted(path for path in CLICKHOUSE_DIR.rglob("*") if path.is_file())
    assert files == [CONFIG_XML, USERS_XML]
    for path in (PRODUCTION, DEVELOPMENT):
        volumes = load_compose(path)["services"]["clickhouse"]["volumes"]
        for file in files:
            relative = file.relative_to(CLICKHOUSE_DIR)
            assert f"./{file.relative_to(PROJECT_DIR)}:/etc/clickhouse-server/{relative}:ro" in volumes, (
                path,
                file,
            )
    # Kubernetes: kustomize reads no file outside the component, so it holds copies.
    assert (K8S_ANALYTICS / "users.xml").read_bytes() == USERS_XML.read_bytes()
    assert (K8S_ANALYTICS / "config.xml").read_bytes() == CONFIG_XML.read_bytes()


def test_clickhouse_users_read_only_reader_with_limits_and_a_writer() -> None:
    root = users()
    reader_profile = root.find(f"profiles/{READER}")
    assert reader_profile is not None
    settings = {child.tag: (child.text or "").strip() for child in reader_profile}
    assert settings["readonly"] == "1", "writes, DDL and setting changes are refused by ClickHouse itself"
    for limit in ("max_execution_time", "max_memory_usage", "max_result_rows"):
        assert int(settings[limit]) > 0, limit
    assert settings["timeout_overflow_mode"] == "throw"
    assert settings["result_overflow_mode"] == "throw", "a truncated report would be a wrong report"
    writer_profile = root.find(f"profiles/{WRITER}")
    assert writer_profile is not None
    assert writer_profile.find("readonly") is None

    defined = {user.tag: user for user in root.findall("users/*")}
    assert set(defined) == {"default", READER, WRITER}
    for name, user in defined.items():
        assert (user.findtext("access_management") or "").strip() == "0", f"{name} cannot manage users"
        password = user.find("password")
        if name == "default":
            networks = [(ip.text or "").strip() for ip in user.findall("networks/ip")]
            assert user.find("networks").get("replace") == "replace"  # type: ignore[union-attr]
            assert sorted(networks) == ["127.0.0.1", "::1"], (
                "default is reachable from inside the container only"
            )
            continue
        assert password is not None, name
        assert not (password.text or "").strip(), f"{name}: no password in the file"
        assert password.get("from_env") == f"CLICKHOUSE_{name.split('_')[1].upper()}_PASSWORD"
        assert user.findtext("profile") == name
        grants = [(query.text or "").strip() for query in user.findall("grants/query")]
        assert grants, name
        assert all(grant.endswith(f" ON {DATABASE}.*") for grant in grants), (name, grants)
    reader_grants = [(q.text or "").strip() for q in defined[READER].findall("grants/query")]
    assert reader_grants == [f"GRANT SELECT ON {DATABASE}.*"]
    writer_grants = " ".join((q.text or "") for q in defined[WRITER].findall("grants/query"))
    for privilege in ("SELECT", "INSERT", "ALTER", "CREATE TABLE", "DROP TABLE"):
        assert privilege in writer_grants, privilege


def test_clickhouse_server_settings_keep_it_quiet_and_inside() -> None:
    root = ET.parse(CONFIG_XML).getroot()
    for port in ("mysql_port", "postgresql_port", "interserver_http_port"):
        element = root.find(port)
        assert element is not None, port
        assert element.get("remove") == "remove", port
    assert root.findtext("logger/console") == "1"
    assert root.find("logger/log").get("remove") == "remove"  # type: ignore[union-attr]
    assert 0 < float(root.findtext("max_server_memory_usage_to_ram_ratio") or 0) < 1


# --- The Compose file's shell snippets, run -----------------------------------------------------


class _Status(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _serve(status: int) -> Iterator[tuple[int, type[_Status]]]:
    handler = type("Handler", (_Status,), {"status": status, "seen": []})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def _qdrant_check(port: int) -> subprocess.CompletedProcess[str]:
    test = production()["qdrant"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]
    script = test[3].replace("$$", "$")  # Compose's escape for a literal $
    assert "/dev/tcp/127.0.0.1/6333" in script
    assert "GET /readyz " in script
    script = script.replace("/6333", f"/{port}")
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=20, check=False)


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_qdrant_health_check_asks_readyz(status: int, healthy: bool) -> None:
    with _serve(status) as (port, handler):
        result = _qdrant_check(port)
    assert (result.returncode == 0) is healthy, result.stderr
    assert handler.seen == ["/readyz"]


def test_the_qdrant_health_check_fails_when_nothing_listens() -> None:
    assert _qdrant_check(free_port()).returncode != 0


def test_clickhouse_refuses_to_start_without_both_passwords(tmp_path: Path) -> None:
    entrypoint = production()["clickhouse"]["entrypoint"]
    assert entrypoint[:2] == ["/bin/bash", "-c"]
    script = entrypoint[2].replace("$$", "$")
    assert 'exec /entrypoint.sh "$@"' in script
    fake = tmp_path / "entrypoint.sh"
    fake.write_text('#!/bin/sh\necho "server started with $*"\n')
    fake.chmod(0o755)
    script = script.replace("/entrypoint.sh", str(fake))

    def run(**passwords: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ["PATH"], **passwords}
        return subprocess.run(
            ["bash", "-c", script, entrypoint[3], "--flag"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    started = run(CLICKHOUSE_READER_PASSWORD="r", CLICKHOUSE_WRITER_PASSWORD="w")
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "server started with --flag"
    for missing in ({"CLICKHOUSE_READER_PASSWORD": "r"}, {"CLICKHOUSE_WRITER_PASSWORD": "w"}, {}):
        refused = run(**missing)
        assert refused.returncode == 1
        assert "server started" not in refused.stdout
        assert "CLICKHOUSE_READER_PASSWORD and CLICKHOUSE_WRITER_PASSWORD" in refused.stderr


# --- Kubernetes -------------------------------------------------------------------------------


def test_kubernetes_statefulsets_services_probes_and_network_policies() -> None:
    documents = k8s_documents(K8S_EXAMPLE)
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in documents:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    assert set(by_kind["StatefulSet"]) == {"stratus-qdrant", "stratus-clickhouse"}
    ports = {"stratus-qdrant": 6333, "stratus-clickhouse": 8123}
    for name, statefulset in by_kind["StatefulSet"].items():
        spec = statefulset["spec"]
        assert spec["serviceName"] == name
        claims = spec["volumeClaimTemplates"]
        container = spec["template"]["spec"]["containers"][0]
        assert {m["name"] for m in container["volumeMounts"]} >= {c["metadata"]["name"] for c in claims}, name
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] == "http", (name, probe)
        assert container["ports"] == [{"name": "http", "containerPort": ports[name]}]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        assert not re.search(r":latest$", container["image"])
        for variable in container["env"]:
            assert "value" not in variable or "PASSWORD" not in variable["name"], (
                "passwords come from Secrets"
            )
        service = by_kind["Service"][name]
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
        policy = by_kind["NetworkPolicy"][name]
        assert policy["spec"]["podSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
        assert policy["spec"]["ingress"][0]["ports"] == [{"port": ports[name], "protocol": "TCP"}]
    # Nothing of the deployment is reachable from outside the cluster except through the Ingress.
    for name, service in by_kind["Service"].items():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
    assert by_kind["ConfigMap"]["stratus-config"]["data"]["QDRANT_URL"] == "http://stratus-qdrant:6333"
    assert {"QDRANT_API_KEY"} <= set(by_kind["Secret"]["stratus-secrets"]["stringData"])
    qdrant_env = {
        e["name"]: e
        for e in by_kind["StatefulSet"]["stratus-qdrant"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert qdrant_env["QDRANT__SERVICE__API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "stratus-secrets",
        "key": "QDRANT_API_KEY",
    }


def test_kubernetes_only_the_worker_gets_the_analytics_writer() -> None:
    deployments = {d["metadata"]["name"]: d for d in k8s_documents(K8S_EXAMPLE) if d["kind"] == "Deployment"}
    for name, deployment in deployments.items():
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        names = list(env)
        assert url_parts(env["ANALYTICS_URL"]["value"]) == (READER, "stratus-clickhouse:8123", DATABASE), name
        # $(VAR) is expanded from variables defined before it in the same list.
        assert names.index("CLICKHOUSE_READER_PASSWORD") < names.index("ANALYTICS_URL"), name
        assert env["CLICKHOUSE_READER_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "stratus-clickhouse"
        if name == "stratus-worker":
            assert url_parts(env["ANALYTICS_WRITER_URL"]["value"]) == (
                WRITER,
                "stratus-clickhouse:8123",
                DATABASE,
            )
            assert names.index("CLICKHOUSE_WRITER_PASSWORD") < names.index("ANALYTICS_WRITER_URL")
        else:
            assert "ANALYTICS_WRITER_URL" not in env, name
            assert "CLICKHOUSE_WRITER_PASSWORD" not in env, name
    statefulset = next(
        d
        for d in k8s_documents(K8S_EXAMPLE)
        if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "stratus-clickhouse"
    )
    pod = statefulset["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    for target, key in (("users.d/stratus.xml", "users.xml"), ("config.d/stratus.xml", "config.xml")):
        mount = mounts[f"/etc/clickhouse-server/{target}"]
        assert mount["subPath"] == key
        assert mount["readOnly"] is True
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["CLICKHOUSE_SKIP_USER_SETUP"]["value"] == "1"


# --- The users' settings on the ClickHouse engine itself (chDB, in process) ---------------------


def test_clickhouse_users_and_limits_hold_on_the_clickhouse_engine(chdb_folder: Path) -> None:
    """Every grant parses and names real privileges, every profile setting exists with the value
    given, a report over the row limit is stopped (not truncated), and `readonly=1` refuses
    writes, DDL and setting changes: run on the ClickHouse engine in process (chDB). The server
    itself is not available here (docs/operations/cluster.md)."""
    chdb_session = pytest.importorskip("chdb.session", reason="chDB comes with the analytics engine")
    session = chdb_session.Session(str(chdb_folder))  # chDB opens one folder per process
    try:

        def query(sql: str) -> str:
            return str(session.query(sql, "TSV").bytes().decode()).strip()

        def refused(sql: str) -> str:
            with pytest.raises(RuntimeError) as error:
                query(sql)
            return str(error.value)

        root = users()
        for grant in root.iter("query"):
            assert query(f"EXPLAIN AST {grant.text} TO someone").startswith("GrantQuery"), grant.text
        assert "Syntax error" in refused("EXPLAIN AST GRANT SELECTT ON stratus.* TO someone")

        scratch = "deploy_users_check"  # the shared folder's other databases belong to other suites
        query(f"DROP DATABASE IF EXISTS {scratch}")
        query(f"CREATE DATABASE {scratch}")
        query(f"CREATE TABLE {scratch}.events (id UInt64) ENGINE = MergeTree ORDER BY id")
        reader_profile = root.find(f"profiles/{READER}")
        assert reader_profile is not None
        profile = {child.tag: (child.text or "").strip() for child in reader_profile}
        for name, value in profile.items():
            if name != "readonly":
                query(f"SET {name} = {value if value.isdigit() else repr(value)}")
                assert query(f"SELECT getSetting('{name}')") == value, name
        rows = int(profile["max_result_rows"])
        assert query(f"SELECT count() FROM (SELECT number FROM numbers({rows}))") == str(rows)
        assert "TOO_MANY_ROWS" in refused(f"SELECT number FROM numbers({rows + 1})")

        query("SET readonly = 1")
        for write in (
            f"INSERT INTO {scratch}.events VALUES (1)",
            f"ALTER TABLE {scratch}.events DELETE WHERE id = 1",
            f"CREATE TABLE {scratch}.other (id UInt64) ENGINE = Memory",
            f"DROP TABLE {scratch}.events",
            "SET max_execution_time = 3600",
        ):
            assert "READONLY" in refused(write), write
        assert query(f"SELECT count() FROM {scratch}.events") == "0"
    finally:
        session.close()


def test_clickhouse_server_settings_exist_on_the_clickhouse_engine(chdb_folder: Path) -> None:
    chdb_session = pytest.importorskip("chdb.session", reason="chDB comes with the analytics engine")
    root = ET.parse(CONFIG_XML).getroot()
    names = [child.tag for child in root if not list(child) and child.get("remove") is None]
    assert names == ["max_server_memory_usage_to_ram_ratio"]
    with chdb_session.Session(str(chdb_folder)) as session:  # chDB opens one folder per process
        found = session.query(f"SELECT name FROM system.server_settings WHERE name = '{names[0]}'", "TSV")
        assert found.bytes().decode().strip() == names[0]
        for ttl in root.iter("ttl"):
            expression = (ttl.text or "").strip()
            assert expression.endswith(" DELETE")
            parsed = session.query(f"EXPLAIN AST SELECT {expression.removesuffix(' DELETE')}", "TSV")
            assert parsed.bytes().startswith(b"SelectWithUnionQuery"), expression


def test_the_one_machine_cluster_runs_without_the_two_servers(tmp_path: Path) -> None:
    """`make cluster` has no ClickHouse or Qdrant server (none can be had here): the reports stay
    on PostgreSQL and search uses the in-process engine, its files in the cluster's own folder,
    shared by every process (docs/operations/cluster.md)."""
    from deploy.cluster import Cluster

    cluster = Cluster(directory=tmp_path)
    cluster.load_or_init_state()
    env = cluster.app_env()
    assert env["DATA_DIR"] == str(tmp_path / "data")
    for variable in ("ANALYTICS_URL", "ANALYTICS_WRITER_URL", "QDRANT_URL", "QDRANT_API_KEY"):
        assert variable not in env, variable
    assert f'DATA_DIR="{tmp_path / "data"}"' in cluster.supervisor_conf().read_text()
