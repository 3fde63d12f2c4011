"""Schemathesis hooks for tests/test_api_fuzz.py.

An Idempotency-Key names one request: the same key with another body is refused with the
documented 422. Schemathesis draws keys independently of bodies, so it would reuse one key for
different requests; each valid key it draws is made specific to the request it is sent with.
Keys the schema forbids are left alone, so their refusal is still tested.

A multipart body is sent with a fresh boundary each time, so the same case is a different
request on the wire: those keys get a sequence number as well.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from typing import Any

import schemathesis

HEADER = "Idempotency-Key"
VALID_KEY = re.compile(r"^[!-~]{1,200}$")
_sends = itertools.count()


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    key = (case.headers or {}).get(HEADER)
    if not isinstance(key, str) or not VALID_KEY.match(key):
        return
    multipart = "multipart" in str(case.media_type or "")
    request = repr((case.method, case.formatted_path, case.query, case.body, multipart and next(_sends)))
    case.headers[HEADER] = f"{key}-{hashlib.sha256(request.encode()).hexdigest()[:32]}"
