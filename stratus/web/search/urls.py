from django.urls import path
from django.views.decorators.http import require_GET

from stratus.web.records.fields import KINDS
from stratus.web.records.urls import _for
from stratus.web.search import views

urlpatterns = [
    path("search", views.search, name="search"),
    *(
        path(
            f"{kind.plural}/<int:pk>/related-passages",
            require_GET(_for(name, views.related)),
            name=f"{name}-related-passages",
        )
        for name, kind in KINDS.items()
    ),
]
