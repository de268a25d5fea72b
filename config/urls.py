from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter
from django.views.generic import RedirectView

from common.identity_views import ConsoleLoginView
from common.ids import ObjectIdConverter
from common.views import ConsoleLogoutView, ThrottledPasswordChangeView

register_converter(ObjectIdConverter, "oid")

# Sign in and out and change one's password; no password reset by e-mail (admins are made with
# manage.py create_admin, and no mail is configured).
account_urlpatterns = [
    path("login/", ConsoleLoginView.as_view(), name="login"),
    path("logout/", ConsoleLogoutView.as_view(), name="logout"),
    path("password_change/", ThrottledPasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="streams:stream_list"), name="home"),
    path("accounts/", include(account_urlpatterns)),
    path("accounts/", include("common.identity_urls", namespace="identity")),
    path(
        "security/device-integrations/shared-signals/",
        include("streams.urls", namespace="streams"),
    ),
    path("", include("events.urls", namespace="events")),
    path("", include("risk.urls", namespace="risk")),
    path("admin/api-tokens/", include("common.urls", namespace="common")),
    path("admin/scim-clients/", include("scim.urls", namespace="scim")),
    path("api/v1/", include("config.api_urls")),
    path("scim/v2/", include("scim.api_urls", namespace="scim_api")),
]
