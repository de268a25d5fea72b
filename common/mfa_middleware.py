"""MFA_REQUIRED_FOR_SUPER_ADMINS: until a Super admin who signed in with a password has a second
factor, every page sends them to set one up (they may still sign out)."""

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import DEVICE_ID_SESSION_KEY

from common import sso
from common.mfa import mfa_required_for

# What such an admin may still reach: the MFA pages themselves and signing out.
ENROLMENT_VIEWS = frozenset({
    "identity:mfa_manage", "identity:totp_setup", "identity:recovery_codes", "logout",
})  # fmt: skip


class MfaEnrolmentRequiredMiddleware:
    """Redirects to the authenticator set-up page; costs nothing unless the setting is on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not settings.MFA_REQUIRED_FOR_SUPER_ADMINS or not request.user.is_authenticated:
            return None
        session = request.session
        # SSO sessions: the IdP does MFA. A session that passed a second factor carries its device.
        if session.get(BACKEND_SESSION_KEY) == sso.BACKEND_PATH or DEVICE_ID_SESSION_KEY in session:
            return None
        match = request.resolver_match
        if match is not None and match.view_name in ENROLMENT_VIEWS:
            return None
        if not mfa_required_for(request.user):
            return None
        query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
        return redirect(reverse("identity:totp_setup") + (f"?{query}" if query else ""))
