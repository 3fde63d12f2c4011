"""API request guards that must run before DRF reads the body."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from stratus.api.authentication import request_access
from stratus.api.errors import PROBLEM_TYPE_PREFIX, field_error, is_api_request, problem_response
from stratus.api.idempotency import IDEMPOTENCY_HEADER, Principal, run_idempotent, valid_key
from stratus.platform import json_depth

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_TOO_DEEP_TYPE = f"{PROBLEM_TYPE_PREFIX}json-too-deep"
_GENERIC_DETAILS = {
    404: "No API endpoint or record at this address.",
    500: "An unexpected error occurred; it has been logged.",
}


def _is_json(response: HttpResponseBase) -> bool:
    content_type = response.get("Content-Type", "")
    return content_type.startswith(("application/json", "application/problem+json"))


def _is_upload(request: HttpRequest) -> bool:
    return (request.content_type or "").startswith("multipart/form-data")


def _is_json_body(request: HttpRequest) -> bool:
    subtype = (request.content_type or "").partition("/")[2]
    return subtype == "json" or subtype.endswith("+json")


def _json_text(request: HttpRequest) -> bytes | str:
    charset = (request.content_params or {}).get("charset", "utf-8")
    if charset.lower().replace("_", "-") in ("utf-8", "utf8"):
        return request.body
    try:
        return request.body.decode(charset)
    except (LookupError, ValueError):
        return request.body  # the parser answers 400 for the charset or the bytes


class ApiGuardMiddleware:
    """The API's outer guard: body size and JSON depth before anything parses the body, problem
    details for every error.

    DRF's parsers read the request stream directly, which bypasses Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE check; this applies it to every API request. Every JSON body
    is measured before any parser sees it (Python's parser recurses once per level and fails
    with RecursionError near a thousand): deeper than JSON_MAX_DEPTH is a 400. Errors that
    Django produces as HTML before or around a view (an unknown URL, the DEBUG pages) are
    turned into problem details with the same status.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not is_api_request(request):
            return self.get_response(request)
        if (
            any("\x00" in value for values in request.GET.lists() for value in values[1])
            or "\x00" in request.path
        ):
            return problem_response(400, detail="The URL contains a NUL character.")
        refused = self._refuse_body(request)
        if refused is not None:
            return refused
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            problem = problem_response(
                response.status_code,
                detail=_GENERIC_DETAILS.get(response.status_code, HTTPStatus(response.status_code).phrase),
            )
            if response.has_header("Allow"):  # a 405 names the methods the URL serves (RFC 9110)
                problem["Allow"] = response["Allow"]
            return problem
        return response

    def _refuse_body(self, request: HttpRequest) -> HttpResponseBase | None:
        if request.method in BODY_METHODS and not _is_upload(request):
            raw = request.META.get("CONTENT_LENGTH") or "0"
            try:
                length = int(raw)
            except ValueError:
                return problem_response(400, detail="Malformed Content-Length header.")
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and length > limit:
                return problem_response(
                    413, detail=f"The request body is {length} bytes; the limit is {limit} bytes."
                )
            if _is_json_body(request) and json_depth.too_deep(_json_text(request)):
                message = f"JSON nested more than {json_depth.max_depth()} levels deep."
                return problem_response(
                    400,
                    detail=f"The request body is {message[0].lower()}{message[1:]}",
                    type_=JSON_TOO_DEEP_TYPE,
                    errors=[field_error(None, message, "too_deep")],
                )
        return None


class IdempotencyMiddleware:
    """POSTs to the API with an Idempotency-Key header run at most once per principal and key.

    The principal is the token for token requests and the user for session requests, within
    the request's organization (see :mod:`stratus.api.idempotency`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None or request.method != "POST" or not is_api_request(request):
            return self.get_response(request)
        if not valid_key(key):
            return problem_response(
                400,
                detail="Idempotency-Key must be 1 to 255 visible ASCII characters.",
                errors=[field_error(IDEMPOTENCY_HEADER, "Must be 1 to 255 visible ASCII characters.")],
            )
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if _is_upload(request) and length > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0):
            return self.get_response(request)  # large uploads are not buffered to be fingerprinted
        access = request_access(request)
        if access is None or access.organization is None or access.membership is None:
            return self.get_response(request)  # the view answers 400/401/403 and nothing is kept
        principal = Principal(
            organization=access.organization,
            user_id=access.membership.user_id,
            token_id=access.token.pk if access.token is not None else None,
        )
        return run_idempotent(request, principal, key, self.get_response)
