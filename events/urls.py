from django.urls import path

from events import api, views

app_name = "events"

urlpatterns = [
    path(
        "security/api/v1/security-events",
        api.SecurityEventPushApi.as_view(),
        name="security_event_push",
    ),
    # A stream's own endpoint, given to transmitters when we create the stream (SSF §6.1.1).
    path(
        "security/api/v1/security-events/<str:stream_id>",
        api.SecurityEventPushApi.as_view(),
        name="security_event_push_stream",
    ),
    path(
        "security/device-integrations/shared-signals/<oid:pk>/events/",
        views.StreamEventsView.as_view(),
        name="stream_events",
    ),
    path(
        "security/device-integrations/shared-signals/<oid:pk>/events/accepted/",
        views.StreamSetListView.as_view(),
        name="stream_set_list",
    ),
    path(
        "security/device-integrations/shared-signals/<oid:pk>/events/rejected/",
        views.StreamRejectedSetListView.as_view(),
        name="stream_rejected_list",
    ),
    path(
        "security/rejected-events/<int:pk>/",
        views.RejectedSecurityEventDetailView.as_view(),
        name="rejected_security_event_detail",
    ),
    path(
        "security/device-integrations/shared-signals/<oid:pk>/events/<slug:which>.<slug:fmt>",
        views.StreamEventsExportView.as_view(),
        name="stream_events_export",
    ),
    path(
        "security/events/<int:pk>/",
        views.SecurityEventDetailView.as_view(),
        name="security_event_detail",
    ),
]
