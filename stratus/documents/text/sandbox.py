"""Runs the text extraction of one file in a child process held to the configured limits.

A subprocess, not ``multiprocessing``: Celery's prefork children are daemonic and may not
fork helpers of their own, and a fresh interpreter shares nothing with the worker (no
connection, no half-parsed file) when it is killed. The child caps its memory and CPU time
itself (``child.cap_resources``); here we wait for it no longer than the wall-clock limit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass

from django.conf import settings

from stratus.documents.text.child import MEMORY_EXIT, Limits


@dataclass(frozen=True)
class Extracted:
    text: str
    page_starts: list[int]


@dataclass(frozen=True)
class Refused:
    reason: str  # a TextReason value
    detail: str


def current_limits() -> Limits:
    return Limits(
        max_pages=settings.DOCUMENTS_TEXT_MAX_PAGES,
        max_chars=settings.DOCUMENTS_TEXT_MAX_CHARS,
        max_unzipped_bytes=settings.DOCUMENTS_TEXT_MAX_UNZIPPED_BYTES,
        max_memory=settings.DOCUMENTS_TEXT_MAX_MEMORY,
        # CPU time is a backstop behind the wall clock (a child starved of CPU is not stuck).
        cpu_seconds=settings.DOCUMENTS_TEXT_TIMEOUT + 5,
    )


def _child_env() -> dict[str, str]:
    # Only what an interpreter needs: no secrets (database URL, keys) reach the child.
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def extract_file(
    path: str, *, content_type: str, name: str, limits: Limits | None = None
) -> Extracted | Refused:
    """The text of the file at ``path`` (of detected type ``content_type``), or why there is none."""
    limits = limits or current_limits()
    timeout = settings.DOCUMENTS_TEXT_TIMEOUT
    command = [
        sys.executable,
        "-m",
        "stratus.documents.text.child",
        path,
        content_type,
        name,
        json.dumps(asdict(limits)),
    ]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=root,
        env=_child_env(),
        start_new_session=True,
    ) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return Refused("timeout", f"Reading the file took more than {timeout} seconds.")
    code = child.returncode
    # SIGKILL without our timeout: the kernel's out-of-memory killer.
    if code in (MEMORY_EXIT, -signal.SIGKILL) or (code != 0 and b"MemoryError" in stderr):
        return Refused("memory", f"Reading the file needed more than {limits.max_memory // 2**20} MiB.")
    if code == -signal.SIGXCPU:
        return Refused("timeout", f"Reading the file took more than {timeout} seconds of processor time.")
    if code != 0:
        last = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {code}"]
        return Refused("corrupt", f"The file could not be read ({last[0][:200]}).")
    result = json.loads(stdout)
    if "reason" in result:
        return Refused(str(result["reason"]), str(result["detail"])[:255])
    return Extracted(text=str(result["text"]), page_starts=[int(start) for start in result["page_starts"]])
