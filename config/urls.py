from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="streams:stream_list"), name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path(
        "security/device-integrations/shared-signals/",
        include("streams.urls", namespace="streams"),
    ),
    path("", include("events.urls", namespace="events")),
    path("", include("risk.urls", namespace="risk")),
    path("admin/api-tokens/", include("common.urls", namespace="common")),
    path("api/v1/", include("config.api_urls")),
    path("django-admin/", admin.site.urls),
]
