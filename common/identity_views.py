"""Admin sign-in: the sign-in page, single sign-on (OpenID Connect) and the second factor.

A password sign-in of an admin with an authenticator app is not a sign-in yet: the password step
keeps only a pending marker in the session, and Django's login() runs after the code checks out,
so no half-signed-in session can reach a console page or the API.
"""

import time
from base64 import b32encode

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from common import sso
from common.mfa import (
    RECOVERY_CODE_COUNT,
    OtpCheck,
    mfa_enrolled,
    mfa_required_for,
    mfa_reset,
    mfa_verify,
    qr_code_data_uri,
    recovery_codes_issue,
    recovery_codes_left,
    totp_device,
    totp_enrol,
    totp_key_new,
    totp_key_uri,
)
from common.roles import user_role
from common.sign_in_log import (
    AUTH_VIA_IDP,
    AUTH_VIA_MFA,
    FAILURE,
    MFA_FACTOR_ACTIVATE,
    SESSION_START,
    sign_in_log,
)
from common.views import ThrottledLoginView, render_secret_once

MFA_PENDING_KEY = "ssf_mfa_pending"
TOTP_SETUP_KEY = "ssf_mfa_totp_key"
# The second step must follow the first within this time, or the password is asked again.
MFA_PENDING_SECONDS = 300
TOTP_FACTOR = "token:software:totp"  # Okta's factorType for an authenticator app
RECOVERY_FACTOR = "recovery_code"


def _is_sso_session(request: HttpRequest) -> bool:
    return request.session.get(auth.BACKEND_SESSION_KEY) == sso.BACKEND_PATH


def _safe_next(request: HttpRequest, url: str | None) -> str:
    allowed = url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return url if url and allowed else reverse(settings.LOGIN_REDIRECT_URL)


class ConsoleLoginView(ThrottledLoginView):
    """The sign-in page: "Sign in with <IdP>" when SSO is on, the password form unless
    LOCAL_PASSWORD_SIGN_IN is off (then every password POST is refused, 403), and the hand-over
    to the second factor for admins who set one up."""

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            sso_enabled=sso.sso_enabled(),
            sso_name=settings.SSO_DISPLAY_NAME,
            local_passwords=settings.LOCAL_PASSWORD_SIGN_IN,
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_PASSWORD_SIGN_IN:
            context = self.get_context_data(
                refusal="Password sign-in is turned off; sign in with single sign-on."
            )
            return self.render_to_response(context, status=403)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        sign_in_log(SESSION_START, user=self.throttled_user(),
                    username=self.throttled_username()[:150], outcome=FAILURE,
                    reason="INVALID_CREDENTIALS", authnMethod="PASSWORD")  # fmt: skip
        return super().form_invalid(form)

    def form_valid(self, form):
        user = form.get_user()
        if mfa_enrolled(user):
            self.request.session[MFA_PENDING_KEY] = {
                "user_id": user.pk,
                "backend": user.backend,
                "next": self.get_success_url(),
                "started": time.time(),
            }
            return self.password_accepted(user, redirect("identity:mfa_verify"))
        response = super().form_valid(form)
        sign_in_log(SESSION_START, user=user, authnMethod="PASSWORD")
        return response


class MfaVerifyView(View):
    """The second step of a password sign-in: a code from the authenticator app or a recovery
    code. Wrong codes are throttled by django-otp (429 with Retry-After while it waits)."""

    template_name = "common/mfa_verify.html"

    def _pending_user(self, request):
        pending = request.session.get(MFA_PENDING_KEY)
        if not pending or time.time() - pending["started"] > MFA_PENDING_SECONDS:
            request.session.pop(MFA_PENDING_KEY, None)
            return None, None
        user = get_user_model().objects.filter(pk=pending["user_id"], is_active=True).first()
        return pending, user

    def get(self, request):
        _pending, user = self._pending_user(request)
        if user is None:
            return redirect("login")
        return render(request, self.template_name, {"username": user.get_username()})

    def post(self, request):
        pending, user = self._pending_user(request)
        if user is None:
            messages.error(request, "That sign-in took too long; enter your password again.")
            return redirect("login")
        result = mfa_verify(user=user, token=request.POST.get("code", "")[:64])
        if result.check is OtpCheck.VERIFIED:
            del request.session[MFA_PENDING_KEY]
            user.otp_device = result.device  # django-otp marks the session verified at login
            auth.login(request, user, backend=pending["backend"])
            factor = TOTP_FACTOR if isinstance(result.device, TOTPDevice) else RECOVERY_FACTOR
            sign_in_log(AUTH_VIA_MFA, user=user, factor=factor)
            sign_in_log(SESSION_START, user=user, authnMethod="PASSWORD", factor=factor)
            if factor == RECOVERY_FACTOR:
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {recovery_codes_left(user)} are left. "
                    "Make new ones under Two-step verification.",
                )
            return redirect(_safe_next(request, pending["next"]))
        context = {"username": user.get_username()}
        if result.check is OtpCheck.THROTTLED:
            context["error"] = (
                f"Too many wrong codes. Wait {result.retry_after_seconds} seconds and try again."
            )
            response = render(request, self.template_name, context, status=429)
            response["Retry-After"] = str(result.retry_after_seconds)
            return response
        sign_in_log(AUTH_VIA_MFA, user=user, outcome=FAILURE, reason="INVALID_CODE")
        context["error"] = "That code is not right, or it was already used."
        return render(request, self.template_name, context, status=400)


class PasswordAdminMixin(LoginRequiredMixin):
    """An admin (any role) signed in with a password: MFA pages are theirs alone to change."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            if user_role(request.user) is None:
                raise PermissionDenied("Your account has no console role.")
            if _is_sso_session(request) and request.method != "GET":
                raise PermissionDenied(
                    f"You signed in with {settings.SSO_DISPLAY_NAME}, which handles MFA."
                )
        return super().dispatch(request, *args, **kwargs)


class MfaManageView(PasswordAdminMixin, View):
    """Two-step verification: the admin's authenticator app and recovery codes."""

    def get(self, request):
        return render(request, "common/mfa_manage.html", {
            "sso_session": _is_sso_session(request),
            "sso_name": settings.SSO_DISPLAY_NAME,
            "device": totp_device(request.user),
            "codes_left": recovery_codes_left(request.user),
            "required": mfa_required_for(request.user),
        })  # fmt: skip


class TotpSetupView(PasswordAdminMixin, View):
    """Set up an authenticator app: scan the QR code (or type the key), then prove it with a
    code. The key waits in the session until then; the recovery codes are shown once."""

    template_name = "common/mfa_totp_setup.html"

    def _context(self, request, key: str, **extra):
        uri = totp_key_uri(key=key, user=request.user)
        return {
            "qr_code": qr_code_data_uri(uri),
            "manual_key": b32encode(bytes.fromhex(key)).decode(),
            "next": request.GET.get("next", ""),
            "required": mfa_required_for(request.user),
            **extra,
        }

    def get(self, request):
        if _is_sso_session(request) or totp_device(request.user) is not None:
            return redirect("identity:mfa_manage")
        key = request.session.setdefault(TOTP_SETUP_KEY, totp_key_new())
        return render(request, self.template_name, self._context(request, key))

    def post(self, request):
        key = request.session.get(TOTP_SETUP_KEY)
        if not key:
            return redirect("identity:totp_setup")
        device = totp_enrol(user=request.user, key=key, token=request.POST.get("code", "")[:64])
        if device is None:
            context = self._context(request, key, error="That code is not right; try the next.")
            return render(request, self.template_name, context, status=400)
        del request.session[TOTP_SETUP_KEY]
        codes = recovery_codes_issue(user=request.user)
        otp_login(request, device)  # this session has now passed a second factor
        sign_in_log(MFA_FACTOR_ACTIVATE, user=request.user, factor=TOTP_FACTOR)
        return render_secret_once(request, "common/mfa_recovery_codes.html", {
            "codes": codes, "next": _safe_next(request, request.POST.get("next")),
        })  # fmt: skip


class RecoveryCodesView(PasswordAdminMixin, View):
    """Make a new set of recovery codes (POST); the old set stops working."""

    http_method_names = ["post"]

    def post(self, request):
        if totp_device(request.user) is None:
            return redirect("identity:totp_setup")
        codes = recovery_codes_issue(user=request.user)
        return render_secret_once(request, "common/mfa_recovery_codes.html", {
            "codes": codes, "next": reverse("identity:mfa_manage"), "count": RECOVERY_CODE_COUNT,
        })  # fmt: skip


class MfaResetView(PasswordAdminMixin, View):
    """Remove the authenticator app and recovery codes, after a current code proves it is the
    admin (a session left open is not enough)."""

    http_method_names = ["post"]

    def post(self, request):
        result = mfa_verify(user=request.user, token=request.POST.get("code", "")[:64])
        if result.check is not OtpCheck.VERIFIED:
            messages.error(request, "That code is not right; MFA was not reset.")
            return redirect("identity:mfa_manage")
        mfa_reset(user=request.user)
        messages.success(request, "Two-step verification was reset; set it up again any time.")
        return redirect("identity:mfa_manage")


def sso_refusal(request: HttpRequest, reason: str, *, status: int) -> HttpResponse:
    """The page a refused single sign-on lands on: why, and a way back to the sign-in page."""
    context = {"reason": reason, "sso_name": settings.SSO_DISPLAY_NAME}
    return render(request, "common/sso_refused.html", context, status=status)


def _library_setting(attr: str, *default):
    """mozilla-django-oidc's settings, from ours (so tests and operators set SSO_* only)."""
    ours = {
        "OIDC_RP_CLIENT_ID": settings.SSO_CLIENT_ID,
        "OIDC_RP_SCOPES": settings.SSO_SCOPES,
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_AUTHENTICATION_CALLBACK_URL": "identity:sso_callback",
    }
    return ours[attr] if attr in ours else import_from_settings(attr, *default)


class SsoStartView(OIDCAuthenticationRequestView):
    """Send the browser to the IdP's authorization endpoint (code flow, PKCE S256, nonce)."""

    get_settings = staticmethod(_library_setting)

    def __init__(self, **kwargs):
        # The library reads the authorization endpoint here; ours is discovered in get(), where
        # an unreachable IdP can be answered with a page instead of a 500.
        View.__init__(self, **kwargs)

    def get(self, request):
        if not sso.sso_enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            config = sso.provider_config()
        except sso.SsoError as exc:
            return sso_refusal(request, str(exc), status=502)
        self.OIDC_OP_AUTH_ENDPOINT = config.authorization_endpoint
        self.OIDC_RP_CLIENT_ID = settings.SSO_CLIENT_ID
        return super().get(request)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """Where the IdP sends the browser back: the library checks the state against this browser's
    session; the backend (common.sso) does the rest. Every refusal is a page saying why."""

    get_settings = staticmethod(_library_setting)

    def get(self, request):
        if not sso.sso_enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            return super().get(request)
        except SuspiciousOperation:  # the library's answer to a state this session never made
            reason = (
                "This answer from the identity provider does not belong to a sign-in started "
                "in this browser (unknown state). Start the sign-in again."
            )
            sign_in_log(SESSION_START, outcome=FAILURE, reason="INVALID_STATE",
                        authnMethod="IDP")  # fmt: skip
            return sso_refusal(request, reason, status=400)

    def login_failure(self):
        request = self.request
        if request.GET.get("error"):
            reason = (
                f"{settings.SSO_DISPLAY_NAME} did not sign you in: "
                f"{request.GET.get('error_description') or request.GET['error']}"[:300]
            )
        elif "oidc_states" not in request.session:
            reason = "No sign-in was started in this browser (or it expired). Start again."
        else:
            reason = getattr(request, "sso_refusal", "") or "This account is deactivated."
        user = getattr(self, "user", None)
        sign_in_log(AUTH_VIA_IDP, user=user, outcome=FAILURE, reason=reason[:255],
                    idp=settings.SSO_DISPLAY_NAME)  # fmt: skip
        return sso_refusal(request, reason, status=403)

    def login_success(self):
        self.request.session.pop(MFA_PENDING_KEY, None)
        response = super().login_success()
        sign_in_log(AUTH_VIA_IDP, user=self.user, idp=settings.SSO_DISPLAY_NAME)
        sign_in_log(SESSION_START, user=self.user, authnMethod="IDP")
        return response
