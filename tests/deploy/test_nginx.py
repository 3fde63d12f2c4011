"""The shipped Nginx configuration: `nginx -t`, then real Nginx in front of real Stratus replicas.

Only the upstream addresses (Compose service names) and the listening port are swapped for
loopback ones (deploy/nginx_config.py); every other line is the file that ships.
"""

from __future__ import annotations

import gzip
import json
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import nginx_config
from tests.deploy.helpers import Nginx, entrypoint_process, nginx, nginx_test, request, wait_until_answers
from testsupport.processes import free_port

pytestmark = pytest.mark.cluster


def self_signed_certificate(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(directory / "privkey.pem"),
            "-out",
            str(directory / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("config", ["nginx.conf", "nginx-tls.conf"])
def test_nginx_accepts_the_shipped_configuration(config: str, tmp_path: Path) -> None:
    main = nginx_config.render(
        tmp_path, web=["127.0.0.1:18001", "127.0.0.1:18002"], ws=["127.0.0.1:18003"], config=config
    )
    if config == "nginx-tls.conf":
        self_signed_certificate(tmp_path / "certs")
    result = nginx_test(main)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr, result.stderr
    assert "[emerg]" not in result.stderr, result.stderr


def test_only_the_upstream_addresses_differ_from_the_shipped_files(tmp_path: Path) -> None:
    nginx_config.render(tmp_path, web=["127.0.0.1:1", "127.0.0.1:2"], ws=["127.0.0.1:3"])
    shipped = nginx_config.NGINX_DIR
    for source in shipped.iterdir():
        if source.is_file() and source.name != "upstreams.conf":
            assert (tmp_path / source.name).read_text() == source.read_text(), source.name
    original = nginx_config.upstream_servers((shipped / "upstreams.conf").read_text())
    rendered = nginx_config.upstream_servers((tmp_path / "upstreams.conf").read_text())
    assert original == {
        "stratus_web": [("web:8000", "max_fails=3 fail_timeout=10s")],
        "stratus_ws": [("ws:8000", "max_fails=3 fail_timeout=10s")],
    }
    assert rendered["stratus_web"] == [
        ("127.0.0.1:1", original["stratus_web"][0][1]),
        ("127.0.0.1:2", original["stratus_web"][0][1]),
    ]
    upstreams = (shipped / "upstreams.conf").read_text()
    assert upstreams.count("least_conn;") == 2


def test_nginx_rejects_a_broken_configuration(tmp_path: Path) -> None:
    main = nginx_config.render(tmp_path, web=["127.0.0.1:1"], ws=["127.0.0.1:2"])
    site = tmp_path / "site.conf"
    site.write_text(
        site.read_text().replace("proxy_pass http://stratus_web;", "proxy_pass http://stratus_missing;", 1)
    )
    assert nginx_test(main).returncode != 0


# --- Real Nginx, real replicas ----------------------------------------------------------------


@pytest.fixture(scope="module")
def replicas(production_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Two web replicas (gunicorn through the entrypoint), one worker each."""
    logs = tmp_path_factory.mktemp("replicas")
    ports = [free_port(), free_port()]
    env = {**production_env, "WEB_CONCURRENCY": "1", "GUNICORN_DRAIN_SECONDS": "0"}
    with (
        entrypoint_process("web", env, port=ports[0], log=logs / "a.log") as a,
        entrypoint_process("web", env, port=ports[1], log=logs / "b.log") as b,
    ):
        wait_until_answers(ports[0], process=a)
        wait_until_answers(ports[1], process=b)
        yield ports


@pytest.fixture
def proxy(replicas: list[int], tmp_path: Path) -> Iterator[Nginx]:
    with nginx(
        tmp_path, web=[f"127.0.0.1:{p}" for p in replicas], ws=[f"127.0.0.1:{free_port()}"]
    ) as running:
        yield running


def test_requests_reach_both_replicas_with_security_headers_once(proxy: Nginx, replicas: list[int]) -> None:
    responses = [request(proxy.port, "/admin/login/") for _ in range(6)]
    assert {r.status for r in responses} == {200}
    for response in responses:
        for name in (
            "X-Content-Type-Options",
            "X-Frame-Options",
            "Referrer-Policy",
            "Content-Security-Policy",
            "X-Request-ID",
            "Permissions-Policy",
        ):
            assert len(response.all(name)) == 1, (name, response.headers)
        assert response.header("X-Frame-Options") == "DENY"
        assert "frame-ancestors 'none'" in (response.header("Content-Security-Policy") or "")
        assert response.header("Strict-Transport-Security") is None, "no HSTS over plain HTTP"
        assert response.header("Server") == "nginx", "no version, no upstream server name"
    proxy.logged(lambda e: len([1 for line in proxy.access_log() if "/admin/login/" in line]) == 6)
    upstreams = {json.loads(line)["upstream"] for line in proxy.access_log() if "/admin/login/" in line}
    assert upstreams == {f"127.0.0.1:{p}" for p in replicas}, "least_conn spreads over both replicas"


def test_request_id_is_kept_or_generated_and_logged(proxy: Nginx) -> None:
    kept = request(proxy.port, "/health/live", headers={"X-Request-ID": "client-trace-1"})
    assert kept.header("X-Request-ID") == "client-trace-1"
    replaced = request(proxy.port, "/health/live", headers={"X-Request-ID": "bad id with spaces"})
    generated = replaced.header("X-Request-ID") or ""
    assert re.fullmatch(r"[0-9a-f]{32}", generated), generated
    request(proxy.port, "/admin/login/", headers={"X-Request-ID": "client-trace-2"})
    entry = proxy.logged(lambda e: e["request_id"] == "client-trace-2")
    assert entry["uri"] == "/admin/login/"
    assert entry["status"] == 200
    assert entry["upstream_status"] == "200"


def test_login_submissions_are_rate_limited_with_429(proxy: Nginx) -> None:
    statuses = []
    last = None
    for _ in range(20):
        last = request(
            proxy.port,
            "/admin/login/",
            method="POST",
            body=b"username=a&password=b",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        statuses.append(last.status)
    assert 429 in statuses, statuses
    assert statuses.index(429) >= 5, "a burst of honest attempts passes"
    assert last is not None
    assert last.status == 429
    problem = json.loads(last.body)
    assert problem["status"] == 429
    assert problem["title"] == "Too Many Requests"
    assert last.header("Retry-After") == "1"
    assert last.header("Content-Type") == "application/problem+json"
    assert last.header("X-Content-Type-Options") == "nosniff"
    assert last.header("X-Request-ID")
    # Showing the form is not limited.
    assert request(proxy.port, "/admin/login/").status == 200


def test_body_limit_matches_the_largest_upload_the_app_takes_inline() -> None:
    from django.conf import settings

    match = re.search(r"client_max_body_size (\d+)m;", (nginx_config.NGINX_DIR / "site.conf").read_text())
    assert match
    limit = int(match.group(1)) * 1024 * 1024
    inline = settings.DOCUMENTS_INLINE_UPLOAD_MAX_BYTES
    assert inline < limit <= inline + 1024 * 1024, "the file plus its multipart envelope, no more"
    ingress = (nginx_config.NGINX_DIR.parent / "k8s" / "base" / "ingress.yaml").read_text()
    assert f"proxy-body-size: {match.group(1)}m" in ingress


def test_oversized_bodies_are_refused_before_any_replica(proxy: Nginx) -> None:
    response = request(proxy.port, "/api/v1/anything", method="POST", body=b"x" * (11 * 1024 * 1024 + 1))
    assert response.status == 413
    assert json.loads(response.body)["status"] == 413
    entry = proxy.logged(lambda e: e["status"] == 413)
    assert entry["upstream"] == ""
    assert entry["uri"] == "/api/v1/anything"


def test_responses_are_compressed_and_hashed_static_files_cached_for_a_year(
    proxy: Nginx, collected_static: Path
) -> None:
    page = request(proxy.port, "/admin/login/", headers={"Accept-Encoding": "gzip"})
    assert page.header("Content-Encoding") == "gzip"
    assert b"Stratus administration" in gzip.decompress(page.body)
    manifest = json.loads((collected_static / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    static = request(proxy.port, f"/static/{hashed}")
    assert static.status == 200
    assert static.all("Cache-Control") == ["public, max-age=31536000, immutable"]
    assert static.header("X-Content-Type-Options") == "nosniff", "security headers stay on static files"


class DroppingServer:
    """A TCP peer that reads a request and closes without answering: a replica dying mid-request."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    if conn.recv(65536):
                        self.requests += 1
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dropping() -> Iterator[DroppingServer]:
    server = DroppingServer()
    yield server
    server.close()


def test_idempotent_requests_fail_over_to_a_healthy_replica(
    replicas: list[int], dropping: DroppingServer, tmp_path: Path
) -> None:
    upstreams = [f"127.0.0.1:{dropping.port}", f"127.0.0.1:{replicas[0]}", f"127.0.0.1:{free_port()}"]
    with nginx(tmp_path, web=upstreams, ws=["127.0.0.1:1"]) as proxy:
        statuses = [request(proxy.port, f"/admin/login/?n={i}").status for i in range(6)]
        statuses += [request(proxy.port, f"/static/admin/css/base.css?n={i}").status for i in range(3)]
    assert statuses == [200] * 9
    assert dropping.requests >= 1, "the dying replica was tried and the request retried elsewhere"


def test_writes_are_retried_only_with_an_idempotency_key(
    replicas: list[int], dropping: DroppingServer, tmp_path: Path
) -> None:
    upstreams = [f"127.0.0.1:{dropping.port}", f"127.0.0.1:{replicas[1]}"]
    body = b'{"name": "x"}'
    with nginx(tmp_path / "keyed", web=upstreams, ws=["127.0.0.1:1"]) as proxy:
        keyed = [
            request(
                proxy.port,
                "/api/v1/deploy-test-missing/",
                method="POST",
                body=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": f"key-{i}"},
            ).status
            for i in range(4)
        ]
    tried_with_key = dropping.requests
    # The app answers 404 for this path: proof the write reached a live replica.
    assert keyed == [404] * 4
    assert tried_with_key >= 1

    with nginx(tmp_path / "plain", web=upstreams, ws=["127.0.0.1:1"]) as proxy:
        plain = [
            request(
                proxy.port,
                "/api/v1/deploy-test-missing/",
                method="POST",
                body=body,
                headers={"Content-Type": "application/json"},
            ).status
            for _ in range(4)
        ]
    # Without a key a write that reached the dying replica is not repeated: the client sees 502.
    assert dropping.requests > tried_with_key
    assert 502 in plain
    assert set(plain) <= {404, 502}


def test_websocket_upgrade_headers_reach_the_ws_replicas(replicas: list[int], tmp_path: Path) -> None:
    received: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    ws_port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            received.append(conn.recv(65536))
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    with nginx(tmp_path, web=[f"127.0.0.1:{replicas[0]}"], ws=[f"127.0.0.1:{ws_port}"]) as proxy:
        response = request(
            proxy.port,
            "/ws/events/",
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "X-Request-ID": "ws-trace",
            },
        )
    thread.join(timeout=5)
    listener.close()
    assert response.status == 101
    head = received[0].decode().lower()
    assert "upgrade: websocket" in head
    assert "connection: upgrade" in head
    assert "x-request-id: ws-trace" in head
    assert "x-forwarded-for: 127.0.0.1" in head


def test_the_app_is_told_the_client_nginx_saw_and_a_load_balancer_in_front_can_be_trusted(
    tmp_path: Path,
) -> None:
    received: list[str] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    upstream = listener.getsockname()[1]

    def answer() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                received.append(conn.recv(65536).decode().lower())
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    threading.Thread(target=answer, daemon=True).start()
    forged = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7", "X-Real-IP": "6.6.6.6"}
    with nginx(tmp_path, web=[f"127.0.0.1:{upstream}"], ws=[f"127.0.0.1:{upstream}"]) as proxy:
        assert request(proxy.port, "/api/v1/me", headers=forged).status == 200
        # An operator lists the load balancer in front (here: loopback) in real-ip.conf.
        real_ip = proxy.directory / "real-ip.conf"
        real_ip.write_text("set_real_ip_from 127.0.0.1;\n" + real_ip.read_text())
        proxy.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert request(proxy.port, "/api/v1/me", headers=forged).status == 200
            if "x-forwarded-for: 198.51.100.7\r\n" in received[-1]:
                break
            time.sleep(0.2)
        last_log = proxy.logged(lambda e: e["remote_addr"] == "198.51.100.7")
    listener.close()
    # Nginx at the edge: the TCP peer, replacing what the client wrote.
    assert "x-forwarded-for: 127.0.0.1\r\n" in received[0]
    assert "x-real-ip: 127.0.0.1\r\n" in received[0]
    assert "6.6.6.6" not in received[0]
    # Behind a trusted load balancer: the first untrusted hop from the right, nothing else.
    assert "x-forwarded-for: 198.51.100.7\r\n" in received[-1]
    assert "6.6.6.6" not in received[-1]
    assert last_log["status"] == 200
