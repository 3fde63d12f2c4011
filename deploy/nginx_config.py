"""Render the shipped Nginx configuration for addresses other than the Compose service names.

The files under deploy/nginx/ are the configuration; this only swaps the upstream servers
(one `server` line per replica address, with the shipped parameters) and, optionally, the
port of the plain-HTTP server. Used by the one-machine cluster and by the tests.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

NGINX_DIR = Path(__file__).resolve().parent / "nginx"
_SERVER_LINE = re.compile(r"^([ \t]*)server[ \t]+(\S+)((?:[ \t]+[a-z_]+=\S+)*)[ \t]*;[ \t]*$", re.MULTILINE)
_UPSTREAM = re.compile(r"upstream\s+(\w+)\s*\{(.*?)\}", re.DOTALL)


def upstream_servers(text: str) -> dict[str, list[tuple[str, str]]]:
    """Upstream name -> [(address, parameters)] as written in an upstreams file."""
    found: dict[str, list[tuple[str, str]]] = {}
    for name, body in _UPSTREAM.findall(text):
        found[name] = [(m.group(2), m.group(3).strip()) for m in _SERVER_LINE.finditer(body)]
    return found


def rewrite_upstreams(text: str, addresses: dict[str, Sequence[str]]) -> str:
    """Replace each named upstream's servers by the given addresses, keeping their parameters."""

    def replace(match: re.Match[str]) -> str:
        name, body = match.group(1), match.group(2)
        if name not in addresses:
            return match.group(0)
        servers = list(_SERVER_LINE.finditer(body))
        if not servers:
            raise ValueError(f"upstream {name} has no server line to take parameters from")
        indent, params = servers[0].group(1), servers[0].group(3)
        lines = "".join(f"{indent}server {address}{params};\n" for address in addresses[name])
        start, end = servers[0].start(), servers[-1].end()
        new_body = body[:start] + lines.rstrip("\n") + body[end:]
        return f"upstream {name} {{{new_body}}}"

    rewritten = _UPSTREAM.sub(replace, text)
    missing = set(addresses) - set(upstream_servers(text))
    if missing:
        raise ValueError(f"no upstream named {', '.join(sorted(missing))}")
    return rewritten


def render(
    dest: Path,
    *,
    web: Sequence[str],
    ws: Sequence[str],
    config: str = "nginx.conf",
    listen: str | None = None,
    local: bool = False,
) -> Path:
    """Copy deploy/nginx into dest with the given replica addresses; return the main file's path.

    `listen` replaces the plain-HTTP server's `listen 80` (e.g. "127.0.0.1:8080"). `local`
    keeps Nginx's temporary files under dest (for an Nginx run outside a container).
    """
    dest.mkdir(parents=True, exist_ok=True)
    for source in NGINX_DIR.iterdir():
        if source.is_file():
            shutil.copy2(source, dest / source.name)
    (dest / "certs").mkdir(exist_ok=True)
    upstreams = dest / "upstreams.conf"
    upstreams.write_text(
        rewrite_upstreams(upstreams.read_text(), {"stratus_web": list(web), "stratus_ws": list(ws)})
    )
    main = dest / config
    if listen is not None:
        text = main.read_text()
        text = re.sub(r"listen 80 default_server;", f"listen {listen} default_server;", text)
        text = re.sub(r"\n\s*listen \[::\]:80 default_server;", "", text)
        main.write_text(text)
    if local:
        temp = dest / "tmp"
        lines = []
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (temp / kind).mkdir(parents=True, exist_ok=True)
            (temp / kind).chmod(0o777)  # worker processes may run as another user than the master
            lines.append(f"    {kind}_temp_path {temp / kind};\n")
        text = main.read_text()
        main.write_text(text.replace("http {\n", "http {\n" + "".join(lines), 1))
    return main
