"""Processes for the deployment tests: the real entrypoint, gunicorn, uvicorn and Nginx."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy import nginx_config
from testsupport.processes import PROJECT_DIR, child_env, free_port

ENTRYPOINT = PROJECT_DIR / "deploy" / "entrypoint.sh"


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Host": "localhost", **(headers or {})})
        response = connection.getresponse()
        return Response(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def wait_until_answers(
    port: int,
    path: str = "/health/live",
    *,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = 90,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before answering on {port}")
        try:
            request(port, path, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing answered on port {port} within {timeout}s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextmanager
def entrypoint_process(
    command: str, env: Mapping[str, str], *, port: int, log: Path, extra: Sequence[str] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """`deploy/entrypoint.sh <command>` with this interpreter, its output in `log`."""
    full_env = child_env({"PYTHON": sys.executable, "PORT": str(port), "STARTUP_WAIT": "false", **env})
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["sh", str(ENTRYPOINT), command, *extra], cwd=PROJECT_DIR, env=full_env, stdout=out, stderr=out
        )
    try:
        yield process
    finally:
        stop(process, signal.SIGTERM)
        if process.poll() is None:
            process.kill()


def nginx_binary() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert path, "nginx is required (apt-get install nginx; .ci/run installs it)"
    return path


def nginx_test(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            nginx_binary(),
            "-t",
            "-e",
            "stderr",
            "-p",
            str(config.parent),
            "-c",
            str(config),
            "-g",
            f"pid {config.parent / 'nginx.pid'};",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@dataclass
class Nginx:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    log: Path

    def access_log(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if '"logger":"nginx.access"' in line]

    def logged(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        """The first access log entry that matches (Nginx writes it just after the response)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.access_log():
                entry = json.loads(line)
                if predicate(entry):
                    return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching access log entry in {self.log}")
            time.sleep(0.05)


@contextmanager
def nginx(
    directory: Path, *, web: Sequence[str], ws: Sequence[str], config: str = "nginx.conf"
) -> Iterator[Nginx]:
    """The shipped configuration on a free loopback port, in front of the given replica addresses."""
    port = free_port()
    main = nginx_config.render(
        directory, web=web, ws=ws, config=config, listen=f"127.0.0.1:{port}", local=True
    )
    result = nginx_test(main)
    assert result.returncode == 0, result.stderr
    log = directory / "nginx.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                nginx_binary(),
                "-e",
                "stderr",
                "-p",
                str(directory),
                "-c",
                str(main),
                "-g",
                f"pid {directory / 'nginx.pid'}; daemon off;",
            ],
            stdout=out,
            stderr=out,
        )
    try:
        wait_until_answers(port, "/nginx-health", process=process, timeout=20)
        yield Nginx(port, directory, process, log)
    finally:
        stop(process, signal.SIGQUIT, timeout=10)
