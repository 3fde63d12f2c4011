from django.urls import include, path

from stratus.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    path("organization", views.switch_organization, name="switch-organization"),
    path("tasks/<int:pk>/done", views.task_done, name="task-done"),
    path("tasks/<int:pk>/reschedule", views.task_reschedule, name="task-reschedule"),
    # One URL module per area of the app (each area: views, templates/web/<area>/, frontend/src/<area>.ts).
    path("", include("stratus.web.lists.urls")),
    path("", include("stratus.web.records.urls")),
    path("", include("stratus.web.board.urls")),
    path("", include("stratus.web.shell.urls")),
    path("", include("stratus.web.settings.urls")),
    path("", include("stratus.web.campaigns.urls")),
    path("", include("stratus.web.dashboard.urls")),
    path("", include("stratus.web.imports.urls")),
    path("", include("stratus.web.search.urls")),
]
