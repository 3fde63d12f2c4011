"""How deeply JSON text nests, measured before parsing it, without recursion.

Python's ``json`` module recurses once per level of nesting: a body of about a thousand ``[``
raises RecursionError (a 500 with a traceback) before any validation runs, and code that
walks the parsed value recurses again. :func:`too_deep` tells whether a document nests
deeper than a limit in linear time and constant stack: string literals are cut out with one
regular expression (brackets inside strings do not count), the remaining brackets become +1
and -1, and the largest running sum is the depth. Everything runs in C; a document with no
more brackets than the limit is answered by two counts.

A scalar has depth 0, ``{}`` and ``[1, 2]`` depth 1, ``{"a": [1]}`` depth 2. Malformed text is
measured as well as it can be; the parser refuses it afterwards.
"""

from __future__ import annotations

import json
import operator
import re
from itertools import accumulate, repeat
from typing import Any

from django.conf import settings

# A string literal, or an unterminated one up to the end (possessive: no backtracking).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # +1 and -1, shifted by one to fit a byte


class JsonTooDeep(ValueError):
    """JSON text nested deeper than the limit (a ValueError, like any other malformed JSON)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested more than {limit} levels deep.")
        self.limit = limit


def max_depth() -> int:
    return int(settings.JSON_MAX_DEPTH)


def _utf8(text: bytes | str) -> bytes:
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text


def depth(text: bytes | str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (UTF-8 bytes or a string)."""
    brackets = _STRING.sub(b"", _utf8(text)).translate(None, _NOT_BRACKETS).translate(_STEPS)
    return max(accumulate(map(operator.sub, brackets, repeat(1))), default=0)


def too_deep(text: bytes | str, limit: int | None = None) -> bool:
    limit = max_depth() if limit is None else limit
    raw = _utf8(text)
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    return depth(raw) > limit


def loads(text: bytes | str, *, limit: int | None = None, **options: Any) -> Any:
    """``json.loads`` that raises :class:`JsonTooDeep` (a ValueError) past the depth limit."""
    limit = max_depth() if limit is None else limit
    if too_deep(text, limit):
        raise JsonTooDeep(limit)
    return json.loads(text, **options)
