"""/api/v1/: the Okta-compatible management API, its OpenAPI schema and its reference page."""

from django.urls import path

from config.api_schema import ApiDocsView, ApiSchemaView
from risk.api import logs, users
from streams.api import providers

app_name = "api"

urlpatterns = [
    path(
        "security-events-providers",
        providers.SecurityEventsProviderListApi.as_view(),
        name="security_events_provider_list",
    ),
    path(
        "security-events-providers/<str:stream_id>",
        providers.SecurityEventsProviderDetailApi.as_view(),
        name="security_events_provider_detail",
    ),
    path(
        "security-events-providers/<str:stream_id>/lifecycle/activate",
        providers.SecurityEventsProviderActivateApi.as_view(),
        name="security_events_provider_activate",
    ),
    path(
        "security-events-providers/<str:stream_id>/lifecycle/deactivate",
        providers.SecurityEventsProviderDeactivateApi.as_view(),
        name="security_events_provider_deactivate",
    ),
    path(
        "security-events-providers/<str:stream_id>/subjects",
        providers.SecurityEventsProviderSubjectsApi.as_view(),
        name="security_events_provider_subjects",
    ),
    path(
        "security-events-providers/<str:stream_id>/subjects/remove",
        providers.SecurityEventsProviderSubjectRemoveApi.as_view(),
        name="security_events_provider_subject_remove",
    ),
    path("logs", logs.LogListApi.as_view(), name="log_list"),
    path("users", users.UserListApi.as_view(), name="user_list"),
    path("users/<str:user_id>", users.UserDetailApi.as_view(), name="user_detail"),
    path("users/<str:user_id>/risk", users.UserRiskApi.as_view(), name="user_risk"),
    path(
        "users/<str:user_id>/lifecycle/activate",
        users.UserActivateApi.as_view(),
        name="user_activate",
    ),
    path(
        "users/<str:user_id>/lifecycle/deactivate",
        users.UserDeactivateApi.as_view(),
        name="user_deactivate",
    ),
    path("schema", ApiSchemaView.as_view(), name="schema"),
    path("docs", ApiDocsView.as_view(url_name="api:schema"), name="docs"),
]
