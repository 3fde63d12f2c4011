from django.urls import path

from stratus.web.shell import views

urlpatterns = [
    path("profile", views.profile, name="profile"),
    path("notifications", views.notifications, name="notifications"),
    path("notifications/badge", views.notifications_badge, name="notifications-badge"),
    path("notifications/read-all", views.notifications_read_all, name="notifications-read-all"),
    path("notifications/<int:pk>/read", views.notification_read, name="notification-read"),
    path("tasks", views.tasks, name="tasks"),
]
