"""Administration > SCIM clients (the console pages)."""

from django.urls import path

from scim import views

app_name = "scim"

urlpatterns = [
    path("", views.ScimClientListView.as_view(), name="scim_client_list"),
    path("add/", views.ScimClientAddView.as_view(), name="scim_client_add"),
    path("<int:pk>/revoke/", views.ScimClientRevokeView.as_view(), name="scim_client_revoke"),
]
