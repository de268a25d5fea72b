from django.urls import path

from common import views

app_name = "common"

urlpatterns = [
    path("", views.ApiTokenListView.as_view(), name="api_token_list"),
    path("add/", views.ApiTokenAddView.as_view(), name="api_token_add"),
    path("<int:pk>/revoke/", views.ApiTokenRevokeView.as_view(), name="api_token_revoke"),
]
