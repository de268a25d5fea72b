from django.urls import path

from streams import views

app_name = "streams"

urlpatterns = [
    path("", views.StreamListView.as_view(), name="stream_list"),
    path("add/", views.StreamAddView.as_view(), name="stream_add"),
    path("<oid:pk>/", views.StreamDetailView.as_view(), name="stream_detail"),
    path("<oid:pk>/edit/", views.StreamEditView.as_view(), name="stream_edit"),
    path("<oid:pk>/activate/", views.StreamActivateView.as_view(), name="stream_activate"),
    path("<oid:pk>/deactivate/", views.StreamDeactivateView.as_view(), name="stream_deactivate"),
    path("<oid:pk>/remove/", views.StreamRemoveView.as_view(), name="stream_delete"),
    path("<oid:pk>/push-secret/", views.StreamPushSecretView.as_view(), name="stream_push_secret"),
    path(
        "<oid:pk>/push-secret/remove/",
        views.StreamPushSecretClearView.as_view(),
        name="stream_push_secret_clear",
    ),
    path("<oid:pk>/refresh/", views.StreamRemoteRefreshView.as_view(), name="stream_refresh"),
    path("<oid:pk>/status/", views.StreamRemoteStatusView.as_view(), name="stream_status"),
    path("<oid:pk>/verify/", views.StreamVerifyView.as_view(), name="stream_verify"),
    path("<oid:pk>/subjects/add/", views.StreamSubjectAddView.as_view(), name="stream_subject_add"),
    path(
        "<oid:pk>/subjects/remove/",
        views.StreamSubjectRemoveView.as_view(),
        name="stream_subject_remove",
    ),
]
