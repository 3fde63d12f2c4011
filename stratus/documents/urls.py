from django.urls import path

from stratus.documents import views

app_name = "documents"

urlpatterns = [
    path("local-upload/<str:token>/", views.local_upload, name="local-upload"),
    path("files/<str:token>/", views.local_download, name="local-download"),
]
