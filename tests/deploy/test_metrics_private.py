"""The metrics are never public: no shipped proxy configuration routes to a metrics port or path.

Parses the Nginx files that ship (deploy/nginx/*.conf), the configuration the one-machine cluster
renders from them, and the Kubernetes Ingress, and fails as soon as any of them passes requests to
a metrics port (an upstream server, a ``proxy_pass`` address, an Ingress backend whose Service
leads to the pods' ``metrics`` port) or has a location for ``/metrics``. Requests Nginx passes on
for other paths reach the site, which has no ``/metrics`` route. The cluster's conformance suite
checks the outcome end to end (GET /metrics through Nginx gets nothing).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.urls import Resolver404, resolve

from deploy import nginx_config
from deploy.cluster import Cluster
from testsupport.processes import PROJECT_DIR

K8S = PROJECT_DIR / "deploy" / "k8s"
METRICS_PATH = "/metrics"
PASS_DIRECTIVES = {"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass"}


# --- Nginx configuration, parsed ------------------------------------------------------------------

_TOKEN = re.compile(r"""#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[{};]|[^\s{};"'#]+""")


@dataclass
class Directive:
    name: str
    args: list[str]
    where: str  # file name and line
    block: list[Directive] | None = None


def parse_nginx(text: str, source: str) -> list[Directive]:
    """Nginx's grammar: words and quoted strings, directives end in ``;`` or open a ``{ }`` block."""
    stack: list[list[Directive]] = [[]]
    words: list[tuple[str, int]] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        line = text.count("\n", 0, match.start()) + 1
        if token.startswith("#"):
            continue
        if token == ";":
            if not words:
                raise ValueError(f"{source}:{line}: empty directive")
            stack[-1].append(Directive(words[0][0], [w for w, _ in words[1:]], f"{source}:{words[0][1]}"))
            words = []
        elif token == "{":
            if not words:
                raise ValueError(f"{source}:{line}: block without a directive")
            block: list[Directive] = []
            stack[-1].append(
                Directive(words[0][0], [w for w, _ in words[1:]], f"{source}:{words[0][1]}", block)
            )
            stack.append(block)
            words = []
        elif token == "}":
            if len(stack) == 1 or words:
                raise ValueError(f"{source}:{line}: unbalanced block")
            stack.pop()
        else:
            if token[0] in "\"'":
                token = token[1:-1]
            words.append((token, line))
    if len(stack) > 1 or words:
        raise ValueError(f"{source}: unterminated block or directive")
    return stack[0]


def walk(directives: list[Directive]) -> Iterator[Directive]:
    for directive in directives:
        yield directive
        if directive.block:
            yield from walk(directive.block)


def _port_of(address: str) -> int | None:
    """The port of ``host:port``, ``[v6]:port`` or a URL's authority; None when none is written."""
    match = re.search(r":(\d+)$", address.split("/", 1)[0])
    return int(match.group(1)) if match else None


def location_serves_metrics(args: list[str]) -> bool:
    """Whether a location with these arguments would match a request for /metrics (a catch-all
    prefix such as ``/`` only passes it on to the site, which has no such route)."""
    if len(args) == 1:
        modifier, pattern = "", args[0]
    else:
        modifier, pattern = args[0], args[1]
    if pattern.startswith("@"):
        return False  # a named location: reached by internal redirects only
    if modifier in ("~", "~*"):
        flags = re.IGNORECASE if modifier == "~*" else 0
        return any(re.search(pattern, path, flags) for path in (METRICS_PATH, METRICS_PATH + "/"))
    return pattern.startswith(METRICS_PATH) or (pattern != "/" and METRICS_PATH.startswith(pattern))


@dataclass
class NginxFindings:
    upstreams: dict[str, list[str]] = field(default_factory=dict)
    passes: list[tuple[str, str]] = field(default_factory=list)  # (target, where)
    locations: list[tuple[list[str], str]] = field(default_factory=list)


def read_nginx_folder(folder: Path) -> NginxFindings:
    found = NginxFindings()
    for path in sorted(folder.glob("*.conf")):
        for directive in walk(parse_nginx(path.read_text(), path.name)):
            if directive.name == "upstream" and directive.block is not None:
                servers = [d.args[0] for d in directive.block if d.name == "server"]
                found.upstreams[directive.args[0]] = servers
            elif directive.name in PASS_DIRECTIVES:
                found.passes.append((directive.args[0], directive.where))
            elif directive.name == "location":
                found.locations.append((directive.args, directive.where))
    return found


def nginx_violations(folder: Path, metrics_ports: set[int]) -> list[str]:
    found = read_nginx_folder(folder)
    problems: list[str] = []
    for name, servers in found.upstreams.items():
        for server in servers:
            if _port_of(server) in metrics_ports:
                problems.append(f"upstream {name} has the metrics port: server {server}")
    for target, where in found.passes:
        authority, _, path = re.sub(r"^[a-z]+://", "", target).partition("/")
        if authority not in found.upstreams and _port_of(authority) in metrics_ports:
            problems.append(f"{where}: passes requests to a metrics port: {target}")
        if "metrics" in path:
            problems.append(f"{where}: passes requests to a metrics path: {target}")
    for args, where in found.locations:
        if location_serves_metrics(args):
            problems.append(f"{where}: a location serves /metrics: location {' '.join(args)}")
    assert found.passes, f"no proxy_pass parsed in {folder}"
    assert found.locations, f"no location parsed in {folder}"
    return problems


# --- Kubernetes ---------------------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted(K8S.rglob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
    return documents


def ingress_violations(documents: list[dict[str, Any]], metrics_ports: set[int]) -> list[str]:
    services = {doc["metadata"]["name"]: doc for doc in documents if doc.get("kind") == "Service"}
    ingresses = [doc for doc in documents if doc.get("kind") == "Ingress"]
    assert ingresses, "no Ingress found"
    problems: list[str] = []

    def is_metrics(port: Any) -> bool:
        return port == "metrics" or (str(port).isdigit() and int(port) in metrics_ports)

    for ingress in ingresses:
        backends = [
            (path.get("path", "/"), path["backend"])
            for rule in ingress["spec"].get("rules", [])
            for path in rule.get("http", {}).get("paths", [])
        ]
        if "defaultBackend" in ingress["spec"]:
            backends.append(("/", ingress["spec"]["defaultBackend"]))
        for route, backend in backends:
            where = f"Ingress {ingress['metadata']['name']} {route}"
            if route.startswith(METRICS_PATH):
                problems.append(f"{where}: routes the metrics path")
            service_name = backend["service"]["name"]
            wanted = backend["service"]["port"]
            port = wanted.get("name", wanted.get("number"))
            if is_metrics(port):
                problems.append(f"{where}: routes to the metrics port {port} of {service_name}")
            service = services.get(service_name)
            assert service is not None, f"{where}: no Service named {service_name}"
            for service_port in service["spec"]["ports"]:
                if port in (service_port.get("name"), service_port.get("port")) and is_metrics(
                    service_port.get("targetPort")
                ):
                    problems.append(f"{where}: {service_name} port {port} leads to the pods' metrics port")
    return problems


# --- The ports the metrics servers listen on ----------------------------------------------------


def shipped_metrics_ports(documents: list[dict[str, Any]]) -> set[int]:
    """METRICS_PORT of the production Compose file and the Kubernetes ConfigMap, and the
    containers' ports named ``metrics``."""
    compose = yaml.safe_load((PROJECT_DIR / "compose.production.yaml").read_text())
    ports = {int(compose["x-app-env"]["METRICS_PORT"])}
    for doc in documents:
        if doc.get("kind") == "ConfigMap" and "METRICS_PORT" in doc.get("data", {}):
            ports.add(int(doc["data"]["METRICS_PORT"]))
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            ports |= {p["containerPort"] for p in container.get("ports", []) if p.get("name") == "metrics"}
    return ports


# --- The guards ---------------------------------------------------------------------------------


def test_the_shipped_nginx_configuration_never_routes_to_the_metrics() -> None:
    ports = shipped_metrics_ports(k8s_documents())
    assert ports == {9100}
    assert nginx_violations(nginx_config.NGINX_DIR, ports) == []


def test_the_clusters_nginx_never_routes_to_its_metrics_ports(tmp_path: Path) -> None:
    """The one-machine cluster gives every process a metrics port of its own (no process is
    started here: only its ports are chosen and its Nginx configuration written)."""
    cluster = Cluster(tmp_path / "cluster")
    cluster.load_or_init_state()
    ports = {cluster.metrics_port(name) for name in cluster.app_processes()}
    main = cluster.render_nginx()
    assert nginx_violations(main.parent, ports) == []
    replica_ports = {
        cluster.replica_port(name) for name in (*cluster.replicas("web"), *cluster.replicas("ws"))
    }
    upstream_ports = {
        _port_of(server)
        for servers in read_nginx_folder(main.parent).upstreams.values()
        for server in servers
    }
    assert upstream_ports == replica_ports


def test_the_kubernetes_ingress_never_routes_to_the_metrics() -> None:
    documents = k8s_documents()
    assert ingress_violations(documents, shipped_metrics_ports(documents)) == []


def test_the_site_has_no_metrics_route() -> None:
    """What Nginx's catch-all locations pass on (web and ws serve the same URLs)."""
    for path in (METRICS_PATH, METRICS_PATH + "/", "/api/v1/metrics"):
        with pytest.raises(Resolver404):
            resolve(path)


# --- The guards catch what they are for -----------------------------------------------------------

ADDED = {
    "a location for the metrics path": (
        "site.conf",
        "location = /metrics {\n    include proxy.conf;\n    proxy_pass http://stratus_web;\n}\n",
    ),
    "a regex location that matches it": (
        "site.conf",
        'location ~* "^/(status|METRICS)$" {\n    proxy_pass http://stratus_web;\n}\n',
    ),
    "a proxy_pass to a metrics port": (
        "site.conf",
        "location /internal/ {\n    proxy_pass http://web:9100;\n}\n",
    ),
    "a proxy_pass to the metrics path of the site's upstream": (
        "site.conf",
        "location /internal/ {\n    proxy_pass http://stratus_web/metrics;\n}\n",
    ),
    "an upstream of metrics ports": (
        "upstreams.conf",
        "upstream stratus_metrics {\n    server web:9100 max_fails=3;\n}\n",
    ),
}


@pytest.mark.parametrize("addition", list(ADDED), ids=list(ADDED))
def test_the_nginx_guard_fails_on_a_route_to_the_metrics(addition: str, tmp_path: Path) -> None:
    shutil.copytree(nginx_config.NGINX_DIR, tmp_path, dirs_exist_ok=True)
    name, text = ADDED[addition]
    target = tmp_path / name
    target.write_text(target.read_text() + "\n" + text)
    assert len(nginx_violations(tmp_path, {9100})) == 1


@pytest.mark.parametrize("change", ["path", "service port", "target port"])
def test_the_ingress_guard_fails_on_a_route_to_the_metrics(change: str) -> None:
    documents = k8s_documents()
    ingress = next(doc for doc in documents if doc.get("kind") == "Ingress")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    web = next(path for path in paths if path["path"] == "/")
    if change == "path":
        paths.append({**web, "path": "/metrics", "pathType": "Prefix"})
    elif change == "service port":
        web["backend"]["service"]["port"] = {"name": "metrics"}
    else:
        service = next(
            doc
            for doc in documents
            if doc.get("kind") == "Service" and doc["metadata"]["name"] == web["backend"]["service"]["name"]
        )
        service["spec"]["ports"][0]["targetPort"] = 9100
    assert len(ingress_violations(documents, {9100})) == 1
