"""One error shape for the whole API: RFC 9457 problem details.

Every error an API client can see, whether raised by DRF, by a service, by Django
before a view runs (404, 400, 413, CSRF) or by a crash (500), has this body::

    {"type": "about:blank", "title": "Bad Request", "status": 400,
     "detail": "...", "errors": [{"field": "email", "code": "invalid", "message": "..."}],
     "request_id": "..."}

served as ``application/problem+json``. Services raise :class:`ApplicationError` for
business rules (``stratus.platform.errors.ApplicationError``, re-exported here); views
never build error responses by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any

from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from stratus.platform.errors import ApplicationError, status_of
from stratus.platform.request_id import current_request_id

__all__ = ["ApplicationError", "exception_handler", "field_error", "problem_response"]

logger = logging.getLogger("stratus.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_PATH_PREFIX = "/api/"
PROBLEM_TYPE_PREFIX = "urn:stratus:problem:"
VALIDATION_TYPE = f"{PROBLEM_TYPE_PREFIX}validation-error"


def field_error(field: str | None, message: str, code: str = "invalid") -> dict[str, Any]:
    return {"field": field, "code": code, "message": message}


def problem_body(
    status_code: int,
    *,
    detail: str,
    type_: str = "about:blank",
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "type": type_,
        "title": title or HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "errors": errors or [],
        "request_id": current_request_id(),
    }


def problem_response(status_code: int, *, detail: str, **kwargs: Any) -> JsonResponse:
    """A problem response outside DRF (middleware, Django's error handlers)."""
    return JsonResponse(
        problem_body(status_code, detail=detail, **kwargs),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def _flatten(detail: Any, codes: Any, prefix: str | None) -> Iterator[dict[str, Any]]:
    """DRF's nested error dict/list -> one entry per message with a dotted field path."""
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = None if key in ("non_field_errors", api_settings.NON_FIELD_ERRORS_KEY) else str(key)
            path = name if prefix is None else (prefix if name is None else f"{prefix}.{name}")
            sub_codes = codes.get(key) if isinstance(codes, Mapping) else None
            yield from _flatten(value, sub_codes, path)
    elif isinstance(detail, list):
        nested = any(isinstance(item, Mapping | list) for item in detail)
        for index, item in enumerate(detail):
            sub_codes = codes[index] if isinstance(codes, list) and index < len(codes) else None
            if nested:
                if item:
                    path = str(index) if prefix is None else f"{prefix}.{index}"
                    yield from _flatten(item, sub_codes, path)
            else:
                yield from _flatten(item, sub_codes, prefix)
    else:
        code = codes if isinstance(codes, str) else getattr(detail, "code", None) or "invalid"
        yield field_error(prefix, str(detail), code)


def validation_errors(exc: exceptions.ValidationError) -> list[dict[str, Any]]:
    return list(_flatten(exc.detail, exc.get_codes(), None))


def _summary(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "The request is invalid."
    first = errors[0]
    where = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}{first['message']}{more}"


def _django_validation_errors(exc: DjangoValidationError) -> list[dict[str, Any]]:
    if hasattr(exc, "error_dict"):
        return [
            field_error(None if name == "__all__" else name, message)
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return [field_error(None, message) for message in exc.messages]


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every known error becomes a problem response.

    Unknown exceptions return None so Django logs them, reports them (Sentry) and answers
    through ``server_error`` below with a 500 problem.
    """
    headers: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    type_ = "about:blank"

    if isinstance(exc, ApplicationError):
        status_code, detail = status_of(exc), exc.message
        errors = [
            field_error(name, m, exc.code) for name, messages in exc.field_errors.items() for m in messages
        ]
        type_ = f"{PROBLEM_TYPE_PREFIX}{exc.code}"
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, int(retry_after)))
    elif isinstance(exc, exceptions.ValidationError):
        status_code = status.HTTP_400_BAD_REQUEST
        errors = validation_errors(exc)
        detail = _summary(errors)
        type_ = VALIDATION_TYPE
    elif isinstance(exc, DjangoValidationError):
        status_code = status.HTTP_400_BAD_REQUEST
        errors = _django_validation_errors(exc)
        detail = _summary(errors)
        type_ = VALIDATION_TYPE
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        detail = (
            str(exc.detail)
            if not isinstance(exc.detail, dict | list)
            else _summary(list(_flatten(exc.detail, exc.get_codes(), None)))
        )
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    elif isinstance(exc, Http404):
        status_code, detail = status.HTTP_404_NOT_FOUND, "Not found."
    elif isinstance(exc, ObjectDoesNotExist):
        # A row the request needed is gone, usually deleted by a concurrent request between the
        # view's lookup and the service's lock (services lock with platform.locks.lock_row, which
        # answers 404 itself); logged, so a lookup that should never fail stays visible.
        logger.warning("record vanished during the request, answered with 404: %r", exc)
        status_code, detail = status.HTTP_404_NOT_FOUND, "Not found (it may have just been deleted)."
    elif isinstance(exc, DjangoPermissionDenied):
        status_code = status.HTTP_403_FORBIDDEN
        detail = str(exc) or "You do not have permission to perform this action."
    elif isinstance(exc, RequestDataTooBig):
        status_code, detail = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "The request body is too large."
    elif isinstance(exc, SuspiciousOperation):
        status_code, detail = status.HTTP_400_BAD_REQUEST, "The request could not be processed."
    elif isinstance(exc, OperationalError) and getattr(getattr(exc, "__cause__", None), "sqlstate", None) in (
        "40P01",
        "40001",
    ):
        # A deadlock or serialization failure between concurrent writers: nothing was written.
        logger.warning("concurrent write conflict answered with 409: %s", exc)
        status_code, detail = status.HTTP_409_CONFLICT, "A concurrent change conflicted with this one; retry."
    elif isinstance(exc, IntegrityError):
        # A constraint the services did not pre-empt (usually a race between two writers).
        logger.warning("integrity error answered with 409: %s", exc)
        status_code, detail = status.HTTP_409_CONFLICT, "The request conflicts with existing data; retry."
    else:
        return None

    body = problem_body(status_code, detail=detail, type_=type_, errors=errors)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


# --- Django-level handlers (root URLconf handler400/403/404/500 and CSRF_FAILURE_VIEW) ---------


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PATH_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return problem_response(413, detail="The request body is too large.")
    if isinstance(exception, TooManyFieldsSent):
        return problem_response(400, detail="The request has too many fields.")
    return problem_response(400, detail="The request could not be processed.")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return problem_response(403, detail="You do not have permission to perform this action.")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    return problem_response(404, detail="No API endpoint or record at this address.")


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api_request(request):
        return defaults.server_error(request)
    return problem_response(500, detail="An unexpected error occurred; it has been logged.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if not is_api_request(request):
        return django_csrf_failure(request, reason)
    return problem_response(403, detail=f"CSRF verification failed: {reason}")
