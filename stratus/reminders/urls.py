from django.urls import path

from stratus.reminders import api

urlpatterns = [
    path("reminders", api.ReminderListView.as_view(), name="api-reminder-list"),
    path("reminders/<int:pk>", api.ReminderDetailView.as_view(), name="api-reminder-detail"),
    path("notifications", api.NotificationListView.as_view(), name="api-notification-list"),
    path(
        "notifications/unread-count",
        api.NotificationUnreadCountView.as_view(),
        name="api-notification-unread",
    ),
    path("notifications/read-all", api.NotificationReadAllView.as_view(), name="api-notification-read-all"),
    path(
        "notifications/preferences", api.NotificationPreferenceView.as_view(), name="api-notification-prefs"
    ),
    path("notifications/<int:pk>/read", api.NotificationReadView.as_view(), name="api-notification-read"),
]
