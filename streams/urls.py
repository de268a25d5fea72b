from django.urls import path

from streams import views

app_name = "streams"

urlpatterns = [
    path("", views.StreamListView.as_view(), name="stream_list"),
    path("add/", views.StreamAddView.as_view(), name="stream_add"),
    path("<str:pk>/", views.StreamDetailView.as_view(), name="stream_detail"),
    path("<str:pk>/edit/", views.StreamEditView.as_view(), name="stream_edit"),
    path("<str:pk>/activate/", views.StreamActivateView.as_view(), name="stream_activate"),
    path("<str:pk>/deactivate/", views.StreamDeactivateView.as_view(), name="stream_deactivate"),
    path("<str:pk>/remove/", views.StreamRemoveView.as_view(), name="stream_delete"),
    path("<str:pk>/push-secret/", views.StreamPushSecretView.as_view(), name="stream_push_secret"),
    path("<str:pk>/refresh/", views.StreamRemoteRefreshView.as_view(), name="stream_refresh"),
    path("<str:pk>/status/", views.StreamRemoteStatusView.as_view(), name="stream_status"),
    path("<str:pk>/verify/", views.StreamVerifyView.as_view(), name="stream_verify"),
    path("<str:pk>/subjects/add/", views.StreamSubjectAddView.as_view(), name="stream_subject_add"),
    path(
        "<str:pk>/subjects/remove/",
        views.StreamSubjectRemoveView.as_view(),
        name="stream_subject_remove",
    ),
]
