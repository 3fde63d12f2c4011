"""The embedded default's stand-ins for S3's presigned POST and GET (local media folder).

Both URLs carry a signed, expiring token issued by the API after it checked the requester's
organization and role, exactly like a presigned S3 URL: the token is the authorisation,
bound to one key (and for uploads one size and content type).
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from stratus.documents import selectors
from stratus.documents.storage import DOWNLOAD_SALT, UPLOAD_SALT, document_store, opens_inline
from stratus.platform.storage import is_s3

# Room for the multipart envelope around the file (boundaries, headers, the form fields).
MULTIPART_OVERHEAD = 64 * 1024


def _refuse(status: int, title: str, detail: str) -> JsonResponse:
    return JsonResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
    )


@csrf_exempt  # authorised by the signed token in the URL, like a presigned S3 POST
@require_POST
def local_upload(request: HttpRequest, token: str) -> HttpResponse:
    if is_s3(default_storage):  # production uploads go to the bucket; this stand-in is off
        return _refuse(404, "Not found", "Uploads go directly to object storage.")
    try:
        grant = signing.loads(token, salt=UPLOAD_SALT, max_age=settings.DOCUMENTS_UPLOAD_URL_EXPIRE)
    except signing.SignatureExpired:
        return _refuse(403, "Upload URL expired", "Start the upload again to get a new URL.")
    except signing.BadSignature:
        return _refuse(403, "Invalid upload URL", "The upload URL is not valid.")
    declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared_length > grant["size"] + MULTIPART_OVERHEAD:
        return _refuse(413, "File too large", f"This upload accepts exactly {grant['size']} bytes.")
    if not selectors.upload_pending(key=grant["document"]):
        return _refuse(404, "Upload not found", "The upload was finished, cancelled or cleaned up.")
    upload = request.FILES.get("file")
    if upload is None:
        return _refuse(400, "No file", "Send the file in the form field 'file'.")
    if request.POST.get("Content-Type") != grant["type"]:
        return _refuse(403, "Content type differs", f"This upload accepts only {grant['type']}.")
    if upload.size != grant["size"]:
        return _refuse(400, "Size differs", f"This upload accepts exactly {grant['size']} bytes.")
    store = document_store()
    if store.exists(grant["key"]):
        return _refuse(409, "Already uploaded", "A file was already uploaded to this URL.")
    store.write(grant["key"], upload, grant["type"])
    return HttpResponse(status=204)


@never_cache
@require_safe
def local_download(request: HttpRequest, token: str) -> HttpResponse | FileResponse:
    if is_s3(default_storage):
        return _refuse(404, "Not found", "Downloads are served by object storage.")
    try:
        grant = signing.loads(token, salt=DOWNLOAD_SALT, max_age=settings.AWS_QUERYSTRING_EXPIRE)
    except signing.BadSignature:  # expired included
        return _refuse(403, "Invalid download URL", "The download URL is not valid or has expired.")
    store = document_store()
    if not store.exists(grant["key"]):
        return _refuse(404, "Not found", "The document no longer exists.")
    response = FileResponse(
        store.storage.open(grant["key"], "rb"),
        as_attachment=not opens_inline(grant["type"], bool(grant.get("inline"))),
        filename=grant["name"],
    )
    response["Content-Type"] = grant["type"]
    return response
