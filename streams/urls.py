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
]
