"""A real SMTP server for tests and benchmarks: ``python -m stratus.platform.smtp_sink``.

It accepts every message over SMTP (aiosmtpd) and writes each one, as received, to its own
file in ``--directory`` (written under a temporary name, then renamed, so a reader never sees
half a message). Test addresses steer the answers, to exercise the sender's error handling:

- a recipient whose local part contains ``tempfail`` is refused with ``451`` on its first
  ``--tempfail-times`` attempts, then accepted;
- one containing ``permfail`` is always refused with ``550``.

Development use: ``python -m stratus.platform.smtp_sink --port 2525 --directory var/sink``
and ``EMAIL_URL=smtp://127.0.0.1:2525``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class SinkHandler:
    def __init__(self, directory: Path, tempfail_times: int) -> None:
        self.directory = directory
        self.tempfail_times = tempfail_times
        self.attempts: Counter[str] = Counter()
        self.sequence = itertools.count(1)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", 1)[0].lower()
        if "permfail" in local:
            return "550 5.1.1 mailbox unavailable"
        if "tempfail" in local:
            self.attempts[address] += 1
            if self.attempts[address] <= self.tempfail_times:
                return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        number = next(self.sequence)
        name = f"{os.getpid()}-{number:08d}"
        partial = self.directory / f".{name}.tmp"
        partial.write_bytes(
            b"X-Sink-Rcpt: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n" + envelope.original_content
        )
        partial.rename(self.directory / f"{name}.eml")
        return "250 Message accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", type=Path, required=True)
    parser.add_argument("--tempfail-times", type=int, default=2)
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    handler = SinkHandler(args.directory, args.tempfail_times)
    controller = Controller(handler, hostname=args.host, port=args.port, data_size_limit=50 * 1024 * 1024)
    controller.start()
    print(f"smtp sink listening on {args.host}:{args.port}", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        loop.run_until_complete(stop.wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
