"""MkDocs hooks of the Stratus documentation site.

The configuration page's variable tables are built at build time from two sources so that they
cannot drift from the code:

- the variables themselves, their defaults, accepted values and whether production requires
  them, read from ``stratus/settings.py`` (and ``database_config`` in ``stratus/platform/env.py``)
  or from ``deploy/gunicorn.conf.py`` by parsing the code, never by running it;
- a description of each variable in ``docs/variables.yml``, grouped in sections.

``<!-- configuration-variables -->`` in a page becomes the settings' tables,
``<!-- configuration-variables:gunicorn -->`` gunicorn's. A variable the code reads but the
registry does not describe, or one the registry describes but the code no longer reads, stops
the build (and ``tests/test_docs.py`` names it).

Links written ``[text](repo:path/in/the/repository)`` point at a file of the repository: the
build fails if the file does not exist, and the link goes to ``repo_url`` when the site has one
(otherwise the path is shown as code).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
SETTINGS_SOURCES = (ROOT / "stratus" / "settings.py", ROOT / "stratus" / "platform" / "env.py")
# Where each group of sections of the registry (its `source:`) reads its variables.
SOURCES: dict[str, tuple[Path, ...]] = {
    "settings": SETTINGS_SOURCES,
    "gunicorn": (ROOT / "deploy" / "gunicorn.conf.py",),
    "metrics": (ROOT / "stratus" / "platform" / "metrics.py",),
}
REGISTRY = ROOT / "docs" / "variables.yml"
TABLE_MARKER = re.compile(r"<!-- configuration-variables(?::(\w+))? -->")
VARIABLE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
REPO_LINK = re.compile(r"\[([^\]]+)\]\(repo:([^)\s#]+)(#[^)]*)?\)")

# The readers of stratus/platform/env.py: position of the variable name among the arguments,
# and how the accepted values are described.
READERS: dict[str, str] = {
    "read_bool": "`true` or `false`",
    "read_int": "whole number",
    "read_float": "number",
    "read_choice": "one of",
    "read_list": "comma-separated list",
    "require_str": "text",
    "require_url": "URL",
}
REQUIRED_READERS = {"require_str", "require_url"}
# deploy/gunicorn.conf.py reads with helpers of its own (it must not import Django settings).
ALIASES = {
    "_env_int": "read_int",
    "_env_float": "read_float",
    "_env_bool": "read_bool",
    "os.environ.get": "env.str",
}
NOT_LITERAL = object()
_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Mult: operator.mul,
    ast.Add: operator.add,
    ast.Sub: operator.sub,
}


class DocsError(Exception):
    """The documentation does not match the code."""


@dataclass
class Variable:
    """One environment variable as the settings read it (all reads of the same name merged)."""

    name: str
    readers: set[str] = field(default_factory=set)
    defaults: list[Any] = field(default_factory=list)
    default_sources: list[str] = field(default_factory=list)
    choices: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    minimum: int | None = None
    required_in_production: bool = False
    lines: list[int] = field(default_factory=list)

    @property
    def literal_default(self) -> Any:
        """The default when every read agrees on a literal value, else ``NOT_LITERAL``."""
        values = [d for d in self.defaults if d is not None]
        if not values or any(v is NOT_LITERAL for v in values):
            return NOT_LITERAL if values else None
        first = values[0]
        return first if all(v == first for v in values) else NOT_LITERAL

    def values(self) -> str:
        if "read_choice" in self.readers:
            return "one of " + ", ".join(f"`{c}`" for c in self.choices)
        if "require_url" in self.readers:
            return "URL (" + ", ".join(f"`{s}://`" for s in self.schemes) + ")"
        for reader in ("read_bool", "read_int", "read_float", "read_list"):
            if reader in self.readers:
                text = READERS[reader]
                if reader == "read_int" and self.minimum:
                    text += f" ≥ {self.minimum}"
                return text
        return "text"


def _literal(node: ast.expr | None) -> Any:
    """The value of a constant expression (numbers, strings, lists of them, products); else NOT_LITERAL."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        items = [_literal(e) for e in node.elts]
        return NOT_LITERAL if any(i is NOT_LITERAL for i in items) else items
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _literal(node.left), _literal(node.right)
        if isinstance(left, int | float) and isinstance(right, int | float):
            return _OPERATORS[type(node.op)](left, right)
    return NOT_LITERAL


def _call_name(call: ast.Call) -> str | None:
    parts: list[str] = []
    node: ast.expr = call.func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    name = ".".join([node.id, *reversed(parts)])
    return ALIASES.get(name, name)


def _variable_argument(call: ast.Call) -> tuple[int, str] | None:
    for index, arg in enumerate(call.args):
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and VARIABLE_NAME.match(arg.value):
            return index, arg.value
    return None


def read_settings_variables(sources: tuple[Path, ...] = SETTINGS_SOURCES) -> dict[str, Variable]:
    """Every environment variable ``sources`` read (by default: the settings), by parsing them."""
    found: dict[str, Variable] = {}
    for source in sources:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        # A require_* inside a conditional expression only validates a variable that is set.
        conditional = {
            id(inner) for outer in ast.walk(tree) if isinstance(outer, ast.IfExp) for inner in ast.walk(outer)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            if name is None:
                continue
            is_reader = name in READERS or name.startswith(("read_", "require_"))
            is_env = name == "env" or name.startswith("env.")
            is_requirement = name == "requirements.add"
            if not (is_reader or is_env or is_requirement):
                continue
            located = _variable_argument(node)
            if located is None:
                continue
            index, variable_name = located
            if is_requirement:
                # Only marks a variable the settings read elsewhere as required in production.
                message = _literal(node.args[1]) if len(node.args) > 1 else None
                if isinstance(message, str) and "required in production" in message:
                    found.setdefault(variable_name, Variable(variable_name)).required_in_production = True
                continue
            variable = found.setdefault(variable_name, Variable(variable_name))
            variable.lines.append(node.lineno)
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            rest = node.args[index + 1 :]
            if is_env:
                variable.readers.add("env.str")
                default_node = keywords.get("default", rest[0] if rest else None)
            else:
                variable.readers.add(name)
                default_node = None
                if name in ("read_bool", "read_int", "read_float", "read_list"):
                    default_node = keywords.get("default", rest[0] if rest else None)
                if name == "read_int" and len(rest) > 1:
                    minimum = _literal(rest[1])
                    variable.minimum = minimum if isinstance(minimum, int) else None
                if name == "read_choice" and len(rest) > 1:
                    choices = _literal(rest[0])
                    variable.choices = tuple(choices) if isinstance(choices, list) else ()
                    default_node = rest[1]
                if name == "require_url" and rest:
                    schemes = _literal(rest[0])
                    variable.schemes = tuple(schemes) if isinstance(schemes, list) else ()
                if name in REQUIRED_READERS and id(node) not in conditional:
                    variable.required_in_production = True
            if default_node is not None:
                variable.defaults.append(_literal(default_node))
                variable.default_sources.append(ast.unparse(default_node))
    return found


def load_registry(path: Path = REGISTRY, source: str = "settings") -> list[dict[str, Any]]:
    """The sections of ``docs/variables.yml`` about ``source``: ``[{"title", "variables": {...}}]``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    sections: list[dict[str, Any]] = [s for s in data["sections"] if s.get("source", "settings") == source]
    for section in sections:
        entries: dict[str, Any] = section.get("variables") or {}
        section["variables"] = {
            name: entry if isinstance(entry, dict) else {"meaning": entry} for name, entry in entries.items()
        }
    return sections


def registry_problems(
    variables: dict[str, Variable], sections: list[dict[str, Any]], reader: str = "the settings"
) -> list[str]:
    """What keeps the registry and the settings from matching, one line per problem."""
    problems: list[str] = []
    described: dict[str, dict[str, Any]] = {}
    for section in sections:
        for name, entry in section["variables"].items():
            if name in described:
                problems.append(f"{name}: described twice in {REGISTRY.name}")
            described[name] = entry
    for name in sorted(set(variables) - set(described)):
        problems.append(f"{name}: read by {reader} but not described in docs/{REGISTRY.name}")
    for name in sorted(set(described) - set(variables)):
        problems.append(f"{name}: described in docs/{REGISTRY.name} but not read by {reader}")
    for name in sorted(set(variables) & set(described)):
        entry, variable = described[name], variables[name]
        if not str(entry.get("meaning") or "").strip():
            problems.append(f"{name}: no meaning in docs/{REGISTRY.name}")
        literal = variable.literal_default
        empty = literal is None or literal in ("", [])
        if literal is NOT_LITERAL and not entry.get("default"):
            sources = " / ".join(variable.default_sources)
            problems.append(f"{name}: the code's default ({sources}) is computed; describe it as `default:`")
        if entry.get("default") and not (literal is NOT_LITERAL or empty):
            problems.append(
                f"{name}: the code's default is {_render_value(literal)}; remove `default:` from "
                f"docs/{REGISTRY.name} (the table shows the code's value)"
            )
    return problems


def _render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, list):
        return f"`{','.join(str(v) for v in value)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_tables(
    variables: dict[str, Variable], sections: list[dict[str, Any]], reader: str = "the settings"
) -> str:
    problems = registry_problems(variables, sections, reader)
    if problems:
        lines = "\n  ".join(problems)
        raise DocsError(f"configuration variables and docs/variables.yml disagree:\n  {lines}")
    out: list[str] = []
    for section in sections:
        if section.get("title"):
            out.append(f"### {section['title']}\n")
        if section.get("intro"):
            out.append(section["intro"].strip() + "\n")
        out.append("| variable | default | values | meaning |")
        out.append("|---|---|---|---|")
        for name, entry in section["variables"].items():
            variable = variables[name]
            literal = variable.literal_default
            if entry.get("default"):
                default = str(entry["default"])
            elif literal is None or literal in ("", []):
                default = "unset"
            else:
                default = _render_value(literal)
            if variable.required_in_production:
                default += "; **required in production**"
            meaning = _cell(str(entry["meaning"]))
            out.append(f"| `{name}` | {_cell(default)} | {_cell(variable.values())} | {meaning} |")
        out.append("")
    return "\n".join(out)


def _rewrite_repo_links(markdown: str, repo_url: str | None) -> str:
    def replace(match: re.Match[str]) -> str:
        text, path, anchor = match.group(1), match.group(2), match.group(3) or ""
        if not (ROOT / path).exists():
            raise DocsError(f"links to {path}, which is not in the repository")
        if repo_url:
            kind = "tree" if (ROOT / path).is_dir() else "blob"
            return f"[{text}]({repo_url.rstrip('/')}/{kind}/main/{path}{anchor})"
        return text if text.startswith("`") else f"{text} (`{path}`)"

    return REPO_LINK.sub(replace, markdown)


def _tables(match: re.Match[str]) -> str:
    source = match.group(1) or "settings"
    if source not in SOURCES:
        raise DocsError(f"no variables source named {source!r} (known: {', '.join(SOURCES)})")
    reader = "the settings" if source == "settings" else str(SOURCES[source][0].relative_to(ROOT))
    return render_tables(read_settings_variables(SOURCES[source]), load_registry(source=source), reader)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs hook: fill the configuration tables and resolve ``repo:`` links."""
    from mkdocs.exceptions import PluginError

    try:
        markdown = TABLE_MARKER.sub(_tables, markdown)
        return _rewrite_repo_links(markdown, config.get("repo_url"))
    except DocsError as error:
        raise PluginError(f"{page.file.src_uri}: {error}") from error
