"""The production topology on one machine, without Docker: `make cluster` / `make cluster-down`.

    python -m deploy.cluster up       start (or resume) the cluster and print the demo login
    python -m deploy.cluster down     stop every process (data is kept in CLUSTER_DIR)
    python -m deploy.cluster status   the processes and their state
    python -m deploy.cluster destroy  stop and delete CLUSTER_DIR

Real Nginx with the shipped configuration in front of WEB_REPLICAS `web` and WS_REPLICAS `ws`
replicas, a worker and two beats, all started through deploy/entrypoint.sh in production mode,
against a PostgreSQL server, a cache Redis, a broker Redis and an S3-compatible endpoint
(SeaweedFS) of its own. supervisord manages every process. Each app replica runs in its own
private directory (working directory and TMPDIR), so anything that relied on a local file
shared between replicas would fail here. Nginx listens on 127.0.0.1:CLUSTER_PORT (8080).

No ClickHouse or Qdrant server can be had on these machines (docs/operations/cluster.md), so
ANALYTICS_URL and QDRANT_URL stay unset: the reports come from PostgreSQL and search by meaning
uses the in-process engine, its files in CLUSTER_DIR/data (DATA_DIR, the one folder the
processes share, standing in for the Qdrant server of compose.production.yaml).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy import nginx_config

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENTRYPOINT = PROJECT_DIR / "deploy" / "entrypoint.sh"
BIN = Path(sys.executable).parent
BUCKET = "stratus-documents"
INFRA = ("postgres", "redis-cache", "redis-broker", "s3")


class ClusterError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_with_grpc() -> int:
    """A free port whose +10000 neighbour is free too (SeaweedFS serves gRPC there)."""
    import random

    for _ in range(200):
        # Below the ephemeral range (32768+), so no outgoing connection takes it later.
        port = random.randint(12000, 22000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise ClusterError("no free port pair for the S3 endpoint")


def find_program(name: str, *extra_dirs: str) -> str:
    for directory in (str(BIN), *extra_dirs):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise ClusterError(f"{name} not found (see docs/operations/cluster.md for what to install)")
    return found


def postgres_user() -> str | None:
    """PostgreSQL refuses to run as root: then the server runs as the `postgres` system user."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterError("running as root needs a `postgres` system user for the database server") from None
    return "postgres"


def postgres_bin_dir() -> str:
    configured = os.environ.get("PG_BIN_DIR")
    if configured:
        return configured
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for candidate in versions:
        if (candidate / "postgres").exists():
            return str(candidate)
    initdb = shutil.which("initdb")
    if initdb:
        return str(Path(initdb).resolve().parent)
    raise ClusterError("PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN_DIR)")


@dataclass
class Cluster:
    directory: Path
    port: int = 8080
    web_replicas: int = 2
    ws_replicas: int = 2
    state: dict[str, Any] = field(default_factory=dict)

    # --- state ----------------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.directory / "cluster.json"

    def load_or_init_state(self) -> None:
        if self.state_file.exists():
            self.state = json.loads(self.state_file.read_text())
        else:
            self.state = {
                "ports": {name: free_port() for name in ("postgres", "redis-cache", "redis-broker")},
                "s3_ports": {name: free_port_with_grpc() for name in ("s3", "master", "volume", "filer")},
                "secret_key": secrets.token_urlsafe(64),
                "replica_ports": {},
            }
        self.state["nginx_port"] = self.port
        ports = self.state["replica_ports"]
        for kind, count in (("web", self.web_replicas), ("ws", self.ws_replicas)):
            for index in range(1, count + 1):
                ports.setdefault(f"{kind}-{index}", free_port())
        self.state.setdefault("prometheus_port", free_port())
        metrics_ports = self.state.setdefault("metrics_ports", {})
        for name in self.app_processes():
            metrics_ports.setdefault(name, free_port())
        self.save_state()

    def app_processes(self) -> list[str]:
        """Every process of the application: web and ws replicas, the worker and both beats."""
        return [*self.replicas("web"), *self.replicas("ws"), "worker", "beat-1", "beat-2"]

    def metrics_port(self, name: str) -> int:
        return int(self.state["metrics_ports"][name])

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.state['prometheus_port']}"

    def save_state(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self.state, indent=2, sort_keys=True))

    def replicas(self, kind: str) -> list[str]:
        count = self.web_replicas if kind == "web" else self.ws_replicas
        return [f"{kind}-{index}" for index in range(1, count + 1)]

    def replica_port(self, name: str) -> int:
        return int(self.state["replica_ports"][name])

    # --- environment ----------------------------------------------------------------------------

    def database_url(self, name: str = "stratus") -> str:
        return f"postgres://postgres@127.0.0.1:{self.state['ports']['postgres']}/{name}"

    def app_env(self) -> dict[str, str]:
        s3 = self.state["s3_ports"]["s3"]
        origins = f"http://127.0.0.1:{self.port},http://localhost:{self.port}"
        return {
            "STRATUS_ENV": "production",
            "SECRET_KEY": self.state["secret_key"],
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": origins,
            "HTTPS": "false",
            "TRUST_X_FORWARDED_PROTO": "true",
            # Nginx reaches the replicas from loopback; clients on other loopback addresses
            # (127.0.0.2, ...) are told apart by the address Nginx forwards.
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "DATABASE_URL": self.database_url(),
            "REDIS_URL": f"redis://127.0.0.1:{self.state['ports']['redis-cache']}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.state['ports']['redis-broker']}/0",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3}",
            "AWS_S3_REGION_NAME": "us-east-1",
            "AWS_S3_ADDRESSING_STYLE": "path",
            "AWS_ACCESS_KEY_ID": "stratus-cluster",
            "AWS_SECRET_ACCESS_KEY": "stratus-cluster-secret",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            "STATIC_ROOT": str(self.directory / "static"),
            # The in-process engines' files (no ClickHouse or Qdrant server here): shared by every
            # process, as the servers are in production; kept with the cluster's other state.
            "DATA_DIR": str(self.directory / "data"),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": os.environ.get("CLUSTER_LOG_LEVEL", "info"),
            "WEB_CONCURRENCY": os.environ.get("CLUSTER_WEB_CONCURRENCY", "2"),
            "GUNICORN_DRAIN_SECONDS": os.environ.get("CLUSTER_DRAIN_SECONDS", "2"),
            "GUNICORN_GRACEFUL_TIMEOUT": "20",
            "CELERY_WORKER_CONCURRENCY": "2",
            # The demo token drives the conformance load (several requests a second for minutes).
            "API_RATE_LIMIT_TOKEN": "6000",
            "STARTUP_WAIT_TIMEOUT": "180",
            "PYTHON": sys.executable,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a one-off command against the cluster (migrate, demo data)."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("STRATUS_", "AWS_", "DJANGO_"))}
        for name in (
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
        ):
            keep.pop(name, None)
        return {**keep, **self.app_env(), **(extra or {})}

    # --- supervisord ------------------------------------------------------------------------------

    def supervisor_conf(self) -> Path:
        d = self.directory
        pg_bin = postgres_bin_dir()
        redis = find_program("redis-server")
        weed = find_program("weed")
        nginx = find_program("nginx", "/usr/sbin")
        s3 = self.state["s3_ports"]
        lines = [
            "[unix_http_server]",
            f"file={d / 'supervisor.sock'}",
            "",
            "[supervisord]",
            f"logfile={d / 'logs' / 'supervisord.log'}",
            f"pidfile={d / 'supervisord.pid'}",
            f"directory={d}",
            "nodaemon=false",
            "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "",
            "[supervisorctl]",
            f"serverurl=unix://{d / 'supervisor.sock'}",
            "",
        ]

        def program(
            name: str,
            command: str,
            *,
            directory: Path,
            env: dict[str, str] | None = None,
            stopsignal: str = "TERM",
            stopwait: int = 40,
            autostart: bool = True,
            priority: int = 500,
            user: str | None = None,
            signal_group: bool = True,
        ) -> None:
            lines.extend(
                [
                    f"[program:{name}]",
                    f"command={command}",
                    f"directory={directory}",
                    f"autostart={'true' if autostart else 'false'}",
                    "autorestart=true",
                    "startsecs=1",
                    "startretries=100",
                    f"stopsignal={stopsignal}",
                    f"stopwaitsecs={stopwait}",
                    # App processes get the stop signal alone, as a container's main process does:
                    # gunicorn's master drains first and then stops its workers; signalled as a
                    # group, the workers quit at once and the replica drops requests. The SIGKILL
                    # after stopwaitsecs still reaches the whole group.
                    f"stopasgroup={'true' if signal_group else 'false'}",
                    "killasgroup=true",
                    f"priority={priority}",
                    "redirect_stderr=true",
                    f"stdout_logfile={d / 'logs' / (name + '.log')}",
                    "stdout_logfile_maxbytes=20MB",
                    "stdout_logfile_backups=1",
                ]
            )
            if user:
                lines.append(f"user={user}")
            if env:
                pairs = ",".join(f'{k}="{v.replace("%", "%%").replace(chr(34), "")}"' for k, v in env.items())
                lines.append(f"environment={pairs}")
            lines.append("")

        program(
            "postgres",
            f"{pg_bin}/postgres -D {d / 'postgres'} -p {self.state['ports']['postgres']}"
            " -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={d / 'pg-run'} -c max_connections=300",
            directory=d / "postgres",
            stopsignal="INT",
            stopwait=60,
            priority=10,
            user=postgres_user(),
        )
        program(
            "redis-cache",
            f"{redis} --port {self.state['ports']['redis-cache']} --bind 127.0.0.1 --save '' --appendonly no"
            f" --dir {d / 'redis-cache'}",
            directory=d / "redis-cache",
            priority=10,
        )
        program(
            "redis-broker",
            f"{redis} --port {self.state['ports']['redis-broker']} --bind 127.0.0.1 --appendonly yes"
            f" --appendfsync everysec --maxmemory-policy noeviction --save '' --dir {d / 'redis-broker'}",
            directory=d / "redis-broker",
            priority=10,
        )
        program(
            "s3",
            f"{weed} server -dir={d / 's3'} -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.port={s3['master']}"
            f" -volume.port={s3['volume']} -filer.port={s3['filer']} -s3 -s3.port={s3['s3']} -volume.max=10"
            f" -master.volumeSizeLimitMB=256 -s3.port.iceberg=0 -s3.port.lance=0",
            directory=d / "s3",
            stopwait=20,
            priority=10,
        )
        env = self.app_env()
        for name in self.replicas("web") + self.replicas("ws"):
            kind = name.split("-")[0]
            private = d / "replicas" / name
            program(
                name,
                f"sh {ENTRYPOINT} {kind}",
                directory=private,
                env={
                    **env,
                    "METRICS_PORT": str(self.metrics_port(name)),
                    "PORT": str(self.replica_port(name)),
                    "GUNICORN_BIND": f"127.0.0.1:{self.replica_port(name)}",
                    "UVICORN_HOST": "127.0.0.1",
                    "TMPDIR": str(private / "tmp"),
                    "HOME": str(private),
                },
                autostart=False,
                priority=100,
                signal_group=False,
            )
        for name, command in (("worker", "worker"), ("beat-1", "beat"), ("beat-2", "beat")):
            private = d / "replicas" / name
            program(
                name,
                f"sh {ENTRYPOINT} {command}",
                directory=private,
                env={
                    **env,
                    "METRICS_PORT": str(self.metrics_port(name)),
                    "TMPDIR": str(private / "tmp"),
                    "HOME": str(private),
                },
                autostart=False,
                stopwait=60,
                priority=100,
                signal_group=False,
            )
        prometheus_conf = self.render_prometheus()
        program(
            "prometheus",
            f"{find_program('prometheus')} --config.file={prometheus_conf}"
            f" --storage.tsdb.path={d / 'prometheus' / 'data'}"
            f" --web.listen-address=127.0.0.1:{self.state['prometheus_port']} --web.enable-lifecycle",
            directory=d / "prometheus",
            stopwait=20,
            priority=150,
        )
        conf = self.render_nginx()
        program(
            "nginx",
            f"{nginx} -e stderr -p {conf.parent} -c {conf} -g 'pid {d / 'run' / 'nginx.pid'}; daemon off;'",
            directory=conf.parent,
            stopsignal="QUIT",
            autostart=False,
            priority=200,
        )
        path = d / "supervisord.conf"
        path.write_text("\n".join(lines))
        return path

    def render_prometheus(self) -> Path:
        """Prometheus scraping every application process of the cluster, with the shipped rules.

        Scrapes and rule evaluations run every second so the conformance scenarios see alerts
        fire and clear within their `for` windows; the rules are deploy/monitoring/alerts.yml.
        """
        jobs: dict[str, list[str]] = {}
        for name in self.app_processes():
            kind = "beat" if name.startswith("beat") else name.split("-")[0]
            jobs.setdefault(kind, []).append(name)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(PROJECT_DIR / "deploy" / "monitoring" / "alerts.yml")],
            "scrape_configs": [
                {
                    "job_name": f"stratus-{kind}",
                    "static_configs": [
                        {"targets": [f"127.0.0.1:{self.metrics_port(name)}"], "labels": {"replica": name}}
                        for name in names
                    ],
                }
                for kind, names in jobs.items()
            ],
        }
        path = self.directory / "prometheus" / "prometheus.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return path

    def render_nginx(self) -> Path:
        return nginx_config.render(
            self.directory / "nginx",
            web=[f"127.0.0.1:{self.replica_port(n)}" for n in self.replicas("web")],
            ws=[f"127.0.0.1:{self.replica_port(n)}" for n in self.replicas("ws")],
            listen=f"127.0.0.1:{self.port}",
            local=True,
        )

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [find_program("supervisorctl"), "-c", str(self.directory / "supervisord.conf"), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise ClusterError(f"supervisorctl {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def running(self) -> bool:
        sock = self.directory / "supervisor.sock"
        return sock.exists() and self.ctl("pid", check=False).returncode == 0

    # --- bring-up ---------------------------------------------------------------------------------

    def prepare_directories(self) -> None:
        d = self.directory
        for sub in ("logs", "run", "redis-cache", "redis-broker", "s3", "nginx", "prometheus", "data"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for name in self.app_processes():
            (d / "replicas" / name / "tmp").mkdir(parents=True, exist_ok=True)
        owner = postgres_user()
        for sub in ("postgres", "pg-run"):
            (d / sub).mkdir(parents=True, exist_ok=True)
            if owner:
                shutil.chown(d / sub, owner, owner)
        as_owner = ["runuser", "-u", owner, "--"] if owner else []
        if owner and subprocess.run([*as_owner, "test", "-w", str(d / "postgres")], check=False).returncode:
            raise ClusterError(
                f"the {owner} system user (which runs the database server as root) cannot reach "
                f"{d / 'postgres'}: every folder above it must let others through (chmod o+x); "
                "choose a CLUSTER_DIR outside private (0700) folders"
            )
        if not (d / "postgres" / "PG_VERSION").exists():
            result = subprocess.run(
                [
                    *as_owner,
                    f"{postgres_bin_dir()}/initdb",
                    "-D",
                    str(d / "postgres"),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise ClusterError(f"initdb failed: {result.stderr}")

    def collect_static(self) -> None:
        """The image's build step: hashed, compressed static files, shared read-only like the image."""
        static = self.directory / "static"
        if (static / "staticfiles.json").exists():
            return
        env = {k: v for k, v in os.environ.items() if k not in ("STRATUS_ENV", "DATABASE_URL", "REDIS_URL")}
        result = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            cwd=PROJECT_DIR,
            env={
                **env,
                "DEBUG": "false",
                "STATIC_ROOT": str(static),
                "DATA_DIR": str(self.directory / "collect"),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(f"collectstatic failed: {result.stderr[-2000:]}")

    def wait_for_port(self, port: int, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise ClusterError(f"{what} did not listen on port {port} within {timeout:.0f}s")

    def ensure_database_and_bucket(self) -> None:
        import boto3
        import psycopg
        from botocore.config import Config

        deadline = time.monotonic() + 120
        while True:
            try:
                with psycopg.connect(
                    self.database_url("postgres"), autocommit=True, connect_timeout=2
                ) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'stratus'").fetchone()
                    if not exists:
                        conn.execute("CREATE DATABASE stratus")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        env = self.app_env()
        client = boto3.client(
            "s3",
            endpoint_url=env["AWS_S3_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 10}),
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                return
            except client.exceptions.BucketAlreadyOwnedByYou:
                return
            except Exception:  # the S3 gateway answers errors until its filer is up
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def run_entrypoint(self, *args: str) -> str:
        env = self.environ({"STARTUP_WAIT_TIMEOUT": "180"})
        result = subprocess.run(
            ["sh", str(ENTRYPOINT), *args],
            cwd=self.directory,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(
                f"entrypoint {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
            )
        return result.stdout

    def demo_credentials(self) -> tuple[str, str, str]:
        """The demo login (created with the development profile: production refuses demo data)
        and an API token for it, created once and kept in the state file."""
        if "token" not in self.state:
            code = (
                "import django; django.setup()\n"
                "from stratus.accounts.demo import demo_load, DEMO_EMAIL, DEMO_PASSWORD\n"
                "from stratus.accounts.services import token_create\n"
                "demo = demo_load()\n"
                "try:\n"
                "    from stratus.crm.demo import crm_demo_load\n"
                "    crm_demo_load(organization=demo.organization, user=demo.user)\n"
                "except ImportError:\n"
                "    pass\n"
                "issued = token_create(org=demo.organization, actor=demo.user, name='cluster', role='admin')"
                "\n"
                "print(DEMO_EMAIL, DEMO_PASSWORD, issued.secret)\n"
            )
            env = self.environ(
                {"DJANGO_SETTINGS_MODULE": "stratus.settings", "DATA_DIR": str(self.directory / "demo")}
            )
            env.pop("STRATUS_ENV")
            result = subprocess.run(
                [sys.executable, "-c", code],
                cwd=PROJECT_DIR,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise ClusterError(f"demo data failed: {result.stderr[-3000:]}")
            email, password, token = result.stdout.strip().splitlines()[-1].split()
            self.state.update({"email": email, "password": password, "token": token})
            self.save_state()
        return self.state["email"], self.state["password"], self.state["token"]

    def wait_until_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/health/ready", timeout=5
                ) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError) as error:
                last = str(error)
            time.sleep(0.5)
        else:
            raise ClusterError(f"the cluster did not become ready within {timeout:.0f}s ({last})")
        for name in self.replicas("web") + self.replicas("ws"):
            self.wait_replica(name, deadline - time.monotonic())

    def wait_replica(self, name: str, timeout: float = 180) -> None:
        port = self.replica_port(name)
        deadline = time.monotonic() + max(timeout, 1)
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/health/ready", headers={"Host": "localhost"}
                )
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (http URL we built)
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise ClusterError(f"{name} did not become ready")

    def up(self) -> None:
        self.load_or_init_state()
        self.prepare_directories()
        self.collect_static()
        conf = self.supervisor_conf()
        if self.running():
            self.ctl("reread")
            self.ctl("update", check=False)
        else:
            result = subprocess.run(
                [find_program("supervisord"), "-c", str(conf)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise ClusterError(f"supervisord failed to start: {result.stderr}")
        self.wait_for_port(self.state["ports"]["postgres"], "PostgreSQL")
        self.wait_for_port(self.state["ports"]["redis-cache"], "Redis (cache)")
        self.wait_for_port(self.state["ports"]["redis-broker"], "Redis (broker)")
        self.ensure_database_and_bucket()
        self.run_entrypoint("migrate")
        self.demo_credentials()
        apps = [*self.app_processes(), "nginx", "prometheus"]
        self.ctl("start", *apps, check=False)
        self.wait_until_ready()
        self.wait_for_port(self.state["prometheus_port"], "Prometheus")

    def down(self) -> None:
        if self.running():
            self.ctl("shutdown", check=False)
            pid_file = self.directory / "supervisord.pid"
            deadline = time.monotonic() + 120
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)

    def scale_web(self, count: int) -> list[str]:
        """Add web replicas while running and reload Nginx; returns the new replicas' names."""
        before = set(self.replicas("web"))
        self.web_replicas = count
        self.load_or_init_state()
        self.prepare_directories()
        self.supervisor_conf()
        self.ctl("reread")
        self.ctl("update", check=False)
        added = [name for name in self.replicas("web") if name not in before]
        if added:
            self.ctl("start", *added, check=False)
            for name in added:
                self.wait_replica(name)
        self.render_nginx()
        self.ctl("signal", "HUP", "nginx")
        self.render_prometheus()
        self.ctl("signal", "HUP", "prometheus")
        return added


def from_environment() -> Cluster:
    return Cluster(
        directory=Path(os.environ.get("CLUSTER_DIR") or PROJECT_DIR / ".cluster").resolve(),
        port=int(os.environ.get("CLUSTER_PORT") or 8080),
        web_replicas=int(os.environ.get("WEB_REPLICAS") or 2),
        ws_replicas=int(os.environ.get("WS_REPLICAS") or 2),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "destroy"])
    args = parser.parse_args(argv)
    cluster = from_environment()
    try:
        if args.command == "up":
            cluster.up()
            email, password, token = cluster.demo_credentials()
            print(f"Stratus cluster ready at http://127.0.0.1:{cluster.port}/")
            print(
                f"  {cluster.web_replicas} web + {cluster.ws_replicas} ws replicas, worker, 2 beats, "
                f"PostgreSQL, Redis (cache, broker), S3 (SeaweedFS); logs in {cluster.directory / 'logs'}"
            )
            print(
                "  Reports from PostgreSQL, search by meaning in process "
                f"({cluster.directory / 'data'}): no ClickHouse or Qdrant server here"
            )
            print(f"  Demo login: {email} / {password}")
            print(f"  API token:  {token}")
            print(f"  Prometheus: {cluster.prometheus_url}/alerts (every process scraped; the shipped rules)")
            print(
                f"  e.g. curl -H 'Authorization: Bearer {token}' http://127.0.0.1:{cluster.port}/api/v1/contacts"
            )
            print("  Stop it with: make cluster-down")
        elif args.command == "down":
            cluster.down()
            print("Stratus cluster stopped (data kept in " + str(cluster.directory) + ")")
        elif args.command == "destroy":
            cluster.down()
            shutil.rmtree(cluster.directory, ignore_errors=True)
            print("Stratus cluster removed")
        elif cluster.running():
            print(cluster.ctl("status", check=False).stdout, end="")
        else:
            print("not running")
    except ClusterError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
