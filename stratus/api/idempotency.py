"""Idempotency-Key for POST: retries by clients and load balancers never repeat an effect.

Protocol (insert first): the request's key row is inserted in the same transaction as the
request's effect. A duplicate arriving meanwhile, on any replica, blocks on the unique
index until the first transaction ends; then it either finds the committed row and replays
its response, or (the first rolled back) inserts the row itself and runs. Responses that say
nothing happened for a transient reason (401, 403, 409, 429, 5xx) are not kept: their
transaction is rolled back with the key, so a retry runs again.

Keys are not secrets, so a key belongs to the principal that sent it: the token for token
requests, the user for session requests. A stored response (which may hold, say, a new token's
secret) is replayed only to that principal; any other credential sending the same key and body
has a key space of its own and its request runs, with its own permission check.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.http import parse_header_parameters

from stratus.accounts.models import Organization
from stratus.api.errors import field_error, problem_response
from stratus.api.models import IdempotencyKey

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"  # 1 to 255 visible ASCII characters
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Content-Type", "Location")
TRANSIENT_STATUSES = frozenset({401, 403, 408, 409, 423, 429})
_VALID_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def valid_key(key: str) -> bool:
    return bool(_VALID_KEY.match(key))


@dataclass(frozen=True)
class Principal:
    """Who owns a key: the token for token requests, else the session's user."""

    organization: Organization
    user_id: int
    token_id: UUID | None

    def keys(self) -> QuerySet[IdempotencyKey]:
        if self.token_id is not None:
            return IdempotencyKey.objects.filter(organization=self.organization, token_id=self.token_id)
        return IdempotencyKey.objects.filter(
            organization=self.organization, user_id=self.user_id, token__isnull=True
        )


def _multipart_boundary(request: HttpRequest) -> bytes | None:
    content_type, params = parse_header_parameters(request.META.get("CONTENT_TYPE", ""))
    boundary = params.get("boundary", "")
    if content_type != "multipart/form-data" or not boundary:
        return None
    return boundary.encode("latin-1", "replace")


def fingerprint(request: HttpRequest) -> str:
    """What makes two requests "the same" for a key: method, path with query, and body.

    A multipart body's boundary is chosen afresh by the client on every send, so a retry of
    the same upload differs only there: the boundary is replaced by a fixed marker first.
    """
    digest = hashlib.sha256()
    digest.update(f"{request.method}\n{request.get_full_path()}\n".encode())
    body = request.body
    boundary = _multipart_boundary(request)
    if boundary:
        body = body.replace(b"--" + boundary, b"--<boundary>")
    digest.update(body)
    return digest.hexdigest()


def purge_expired() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_TTL_SECONDS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.response_status or 200)
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def _keep(response: HttpResponseBase) -> bool:
    return (
        not response.streaming
        and response.status_code < 500
        and response.status_code not in TRANSIENT_STATUSES
    )


def run_idempotent(
    request: HttpRequest,
    principal: Principal,
    key: str,
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> HttpResponseBase:
    request_fingerprint = fingerprint(request)
    cutoff = timezone.now() - timedelta(seconds=settings.API_IDEMPOTENCY_TTL_SECONDS)
    with transaction.atomic():
        principal.keys().filter(key=key, created_at__lt=cutoff).delete()
        try:
            with transaction.atomic():
                # Blocks while another transaction holds the same key, until it commits or rolls back.
                record = IdempotencyKey.objects.create(
                    organization=principal.organization,
                    user_id=principal.user_id,
                    token_id=principal.token_id,
                    key=key,
                    request_fingerprint=request_fingerprint,
                )
        except IntegrityError:
            existing = principal.keys().filter(key=key).first()
            if existing is None:
                return problem_response(409, detail="A request with this Idempotency-Key just ended; retry.")
            if existing.request_fingerprint != request_fingerprint:
                return problem_response(
                    422,
                    detail="This Idempotency-Key was already used with a different request.",
                    type_="urn:stratus:problem:idempotency-key-reused",
                    errors=[
                        field_error(IDEMPOTENCY_HEADER, "Already used with another body or path.", "reused")
                    ],
                )
            return _replay(existing)

        response = get_response(request)
        if _keep(response):
            record.response_status = response.status_code
            record.response_headers = {
                name: response[name] for name in KEPT_HEADERS if response.has_header(name)
            }
            record.response_body = bytes(response.content)  # type: ignore[attr-defined]
            record.save(update_fields=["response_status", "response_headers", "response_body"])
        else:
            transaction.set_rollback(True)
        return response
