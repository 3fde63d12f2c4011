from django.urls import URLPattern, path

from stratus.web.settings import views

urlpatterns: list[URLPattern] = [
    path("settings", views.settings_home, name="settings"),
    path("settings/members", views.members, name="settings-members"),
    path("settings/members/invite", views.member_invite, name="settings-member-invite"),
    path("settings/members/<int:pk>/role", views.member_role, name="settings-member-role"),
    path("settings/members/<int:pk>/remove", views.member_remove, name="settings-member-remove"),
    path("settings/invitations/<int:pk>/revoke", views.invitation_revoke, name="settings-invitation-revoke"),
    path("settings/tokens", views.tokens, name="settings-tokens"),
    path("settings/tokens/new", views.token_create, name="settings-token-create"),
    path("settings/tokens/<uuid:pk>/revoke", views.token_revoke, name="settings-token-revoke"),
    path("settings/fields", views.custom_fields, name="settings-fields"),
    path("settings/fields/new", views.custom_field_create, name="settings-field-create"),
    path("settings/fields/<int:pk>", views.custom_field_update, name="settings-field-update"),
    path("settings/fields/<int:pk>/delete", views.custom_field_delete, name="settings-field-delete"),
    path("settings/pipelines", views.pipelines, name="settings-pipelines"),
    path("settings/pipelines/new", views.pipeline_create, name="settings-pipeline-create"),
    path("settings/pipelines/<int:pk>", views.pipeline_rename, name="settings-pipeline-rename"),
    path("settings/pipelines/<int:pk>/delete", views.pipeline_delete, name="settings-pipeline-delete"),
    path("settings/pipelines/<int:pk>/stages", views.stage_create, name="settings-stage-create"),
    path("settings/pipelines/<int:pk>/order", views.stages_reorder, name="settings-stages-reorder"),
    path("settings/stages/<int:pk>", views.stage_update, name="settings-stage-update"),
    path("settings/stages/<int:pk>/position", views.stage_position, name="settings-stage-position"),
    path("settings/stages/<int:pk>/delete", views.stage_delete, name="settings-stage-delete"),
    path("settings/tags", views.tags, name="settings-tags"),
    path("settings/tags/<int:pk>", views.tag_rename, name="settings-tag-rename"),
    path("settings/tags/<int:pk>/delete", views.tag_delete, name="settings-tag-delete"),
]
