from django.urls import path

from stratus.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    path("organization", views.switch_organization, name="switch-organization"),
    path("tasks/<int:pk>/done", views.task_done, name="task-done"),
]
