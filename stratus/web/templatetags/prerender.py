"""``{% prerendered %}``: the parts of a template that are the same for every request, rendered
once per process.

The shell around every page is mostly fixed text: ~40 ``{% translate %}`` and a dozen ``{% url %}``
tags whose output depends only on the language, the URL prefix and the code (a deploy). Rendering
them on every request was a fifth of a list page's CPU time. Between ``{% prerendered %}`` and
``{% endprerendered %}``, each top-level part is rendered once per language, script prefix and the
values of the tag's key variables (``{% prerendered section %}``), with only those variables
visible, and its text kept with the compiled template (so a new deploy, a template reload or a
new process starts afresh). A part that reads any other variable (the user, the organization,
the CSRF token, messages, the unread badge) is found when it is first rendered and is rendered
on every request with the whole context, as if the tag were not there; so are ``{% block %}``
tags and parts that set a variable (``{% ... as name %}``). The text kept is code, never data: no
user's or organization's value can reach it, because none is visible while it is rendered.

A tag whose output changes without reading a variable (``{% now %}``, a tag reading the
database on its own) must not be put in a ``{% prerendered %}`` part: wrap it in
``{% live %}...{% endlive %}``, which is always rendered per request.
"""

from __future__ import annotations

import threading
from typing import Any

from django import template
from django.template.base import Node, NodeList
from django.template.context import Context
from django.template.loader_tags import BlockNode
from django.urls import get_script_prefix
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

# Different key values a part keeps at most (languages x prefixes x key values); beyond it, the
# part is rendered per request (a key variable with unbounded values is a mistake, not a leak).
MAX_KEYS = 256


class _RequestValue(Exception):
    """A part read a variable that is not one of the key variables."""


class _KeyContext(Context):
    """A context in which only the key variables exist; reading any other one marks the part as
    per request (and raises: a tag that swallows the error still leaves the mark)."""

    def __init__(self, values: dict[str, Any], *, autoescape: bool) -> None:
        super().__init__(values, autoescape=autoescape)
        self.read_other = False

    def _missing(self, key: object) -> Any:
        self.read_other = True
        raise _RequestValue(str(key))

    def __getitem__(self, key: int | str | Node) -> Any:
        for values in reversed(self.dicts):
            if key in values:
                return values[key]
        return self._missing(key)

    def get(self, key: int | str | Node, otherwise: Any = None) -> Any:
        for values in reversed(self.dicts):
            if key in values:
                return values[key]
        return self._missing(key)

    def __contains__(self, key: object) -> bool:
        if any(key in values for values in self.dicts):
            return True
        self.read_other = True
        return False


class LiveNode(Node):
    """``{% live %}...{% endlive %}``: rendered per request, also inside ``{% prerendered %}``."""

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: Context) -> SafeString:
        if isinstance(context, _KeyContext):
            context.read_other = True
            raise _RequestValue("{% live %}")
        return self.nodelist.render(context)


class PrerenderedNode(Node):
    def __init__(self, nodelist: NodeList, keys: list[str]) -> None:
        self.nodelist = nodelist
        self.keys = keys
        self._parts: dict[tuple[Any, ...], list[str | Node]] = {}
        self._lock = threading.Lock()

    def render(self, context: Context) -> SafeString:
        values = {name: context.get(name) for name in self.keys}
        key = (get_language(), get_script_prefix(), *(repr(values[name]) for name in self.keys))
        parts = self._parts.get(key)
        if parts is None:
            parts = self._prerender(context, values)
            with self._lock:
                if len(self._parts) < MAX_KEYS:
                    self._parts[key] = parts
        # The parts are rendered template output (escaped), joined as NodeList.render joins them.
        return mark_safe(  # noqa: S308
            "".join(part if isinstance(part, str) else str(part.render_annotated(context)) for part in parts)
        )

    def _prerender(self, context: Context, values: dict[str, Any]) -> list[str | Node]:
        """The fixed parts as text, merged; the others as nodes to render per request."""
        parts: list[str | Node] = []
        fixed: list[str] = []
        for node in self.nodelist:
            text = None if isinstance(node, (BlockNode, LiveNode)) else self._fixed(node, context, values)
            if text is None:
                if fixed:
                    parts.append("".join(fixed))
                    fixed = []
                parts.append(node)
            else:
                fixed.append(text)
        if fixed:
            parts.append("".join(fixed))
        return parts

    @staticmethod
    def _fixed(node: Node, context: Context, values: dict[str, Any]) -> str | None:
        """``node``'s text if it renders from the key variables alone, else None."""
        scope = _KeyContext(dict(values), autoescape=context.autoescape)
        scope.use_l10n, scope.use_tz = context.use_l10n, context.use_tz
        scope.template = context.template
        # With the engine's debug on, a failing node is annotated from the render context's template.
        scope.render_context.template = context.render_context.template
        try:
            text = node.render_annotated(scope)
        except _RequestValue:
            return None
        # A part that read another variable (even if a tag swallowed the error) or that set one
        # for what follows is rendered per request.
        if scope.read_other or len(scope.dicts) != 2 or scope.dicts[-1].keys() != values.keys():
            return None
        return str(text)


@register.tag("prerendered")
def prerendered(parser: template.base.Parser, token: template.base.Token) -> PrerenderedNode:
    """``{% prerendered [variable ...] %} ... {% endprerendered %}``: see the module's docstring."""
    keys = token.split_contents()[1:]
    for name in keys:
        if not name.isidentifier():
            raise template.TemplateSyntaxError(f"{{% prerendered %}} takes variable names, not {name!r}")
    nodelist = parser.parse(("endprerendered",))
    parser.delete_first_token()
    return PrerenderedNode(nodelist, keys)


@register.tag("live")
def live(parser: template.base.Parser, token: template.base.Token) -> LiveNode:
    nodelist = parser.parse(("endlive",))
    parser.delete_first_token()
    return LiveNode(nodelist)
