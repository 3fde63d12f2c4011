"""Record pages: /contacts/<id>, /companies/<id>, /deals/<id> and their fragments and actions."""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.contrib.auth.decorators import login_required
from django.urls import URLPattern, path

from stratus.web.records import create, views
from stratus.web.records.fields import KINDS


def _for(kind: str, view: Callable[..., Any]) -> Callable[..., Any]:
    bound = partial(view, kind=kind)
    bound.__name__ = view.__name__  # type: ignore[attr-defined]
    bound.__module__ = view.__module__
    return login_required(bound)


def _patterns(kind: str, plural: str) -> list[URLPattern]:
    base = f"{plural}/<int:pk>"
    return [
        # Before the record patterns (``new`` is not an id, but keep the order obvious).
        path(f"{plural}/new", _for(kind, create.record_new), name=f"{kind}-new"),
        path(base, _for(kind, views.record_page), name=kind),
        path(f"{base}/main", _for(kind, views.record_main), name=f"{kind}-main"),
        path(f"{base}/timeline", _for(kind, views.record_timeline_page), name=f"{kind}-timeline"),
        path(f"{base}/fields/<str:field>", _for(kind, views.field_show), name=f"{kind}-field"),
        path(f"{base}/fields/<str:field>/edit", _for(kind, views.field_edit), name=f"{kind}-field-edit"),
        path(f"{base}/fields/<str:field>/save", _for(kind, views.field_save), name=f"{kind}-field-save"),
        path(f"{base}/delete", _for(kind, views.record_delete), name=f"{kind}-delete"),
        path(f"{base}/activities", _for(kind, views.activity_add), name=f"{kind}-activities"),
        path(f"{base}/documents", _for(kind, views.documents), name=f"{kind}-documents"),
        path(
            f"{base}/documents/uploads", _for(kind, views.document_upload_start), name=f"{kind}-upload-start"
        ),
        path(
            f"{base}/documents/<int:document_id>/finish",
            _for(kind, views.document_upload_finish),
            name=f"{kind}-upload-finish",
        ),
        path(
            f"{base}/documents/<int:document_id>/rename",
            _for(kind, views.document_rename),
            name=f"{kind}-document-rename",
        ),
        path(
            f"{base}/documents/<int:document_id>/delete",
            _for(kind, views.document_delete),
            name=f"{kind}-document-delete",
        ),
        path(
            f"{base}/documents/<int:document_id>/download",
            _for(kind, views.document_download),
            name=f"{kind}-document-download",
        ),
    ]


urlpatterns: list[URLPattern] = [
    pattern for name, kind in KINDS.items() for pattern in _patterns(name, kind.plural)
]
