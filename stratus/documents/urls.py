from django.urls import path

from stratus.documents import api, views

app_name = "documents"

urlpatterns = [
    path("", api.DocumentListView.as_view(), name="list"),
    path("uploads/", api.DocumentUploadStartView.as_view(), name="upload-start"),
    path("<int:pk>/", api.DocumentDetailView.as_view(), name="detail"),
    path("<int:pk>/finish/", api.DocumentFinishView.as_view(), name="finish"),
    path("<int:pk>/download/", api.DocumentDownloadView.as_view(), name="download"),
    path("<int:pk>/download-url/", api.DocumentDownloadUrlView.as_view(), name="download-url"),
    # The embedded default's stand-ins for presigned S3 URLs (authorised by a signed token).
    path("local-upload/<str:token>/", views.local_upload, name="local-upload"),
    path("files/<str:token>/", views.local_download, name="local-download"),
]
