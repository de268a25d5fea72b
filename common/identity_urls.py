"""Admin sign-in beyond Django's own views: single sign-on and the second factor (/accounts/)."""

from django.urls import path

from common import identity_views as views

app_name = "identity"

urlpatterns = [
    path("sso/start/", views.SsoStartView.as_view(), name="sso_start"),
    path("sso/callback/", views.SsoCallbackView.as_view(), name="sso_callback"),
    path("login/verify/", views.MfaVerifyView.as_view(), name="mfa_verify"),
    path("mfa/", views.MfaManageView.as_view(), name="mfa_manage"),
    path("mfa/authenticator/", views.TotpSetupView.as_view(), name="totp_setup"),
    path("mfa/recovery-codes/", views.RecoveryCodesView.as_view(), name="recovery_codes"),
    path("mfa/reset/", views.MfaResetView.as_view(), name="mfa_reset"),
]
