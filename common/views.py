"""Console sign-in, and Administration > API tokens: list (with last use), create (the token
shown once), revoke."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, LogoutView, PasswordChangeView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.generic import TemplateView

from common.audit import ACCOUNT_LOCK, FAILURE, PASSWORD_UPDATE, SESSION_END
from common.forms import ApiTokenForm
from common.models import ApiToken
from common.proxy import client_address
from common.roles import ConsoleAccessMixin
from common.selectors import api_token_list
from common.services import api_token_create, api_token_revoke
from common.sessions import session_start
from common.sign_in import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE,
    SignInAttempt,
    sign_in_attempt_for,
    sign_in_begin,
    sign_in_end,
    sign_in_failure_record,
    sign_in_success_record,
)
from common.sign_in_log import sign_in_log
from common.text import has_unstorable_text


class PasswordThrottleMixin:
    """Put a form view's password check behind common.sign_in: an account or address that
    failed too often is answered 429 with Retry-After and its password is not acted on; a
    failure that makes the account wait is in the System Log as user.account.lock."""

    attempt: SignInAttempt

    def throttled_username(self) -> str:
        raise NotImplementedError

    def throttled_user(self) -> User | None:
        """The admin the attempt is for, None when the username names nobody (or cannot be
        looked up: a NUL)."""
        username = self.throttled_username()[:150]
        if has_unstorable_text(username):
            return None
        return get_user_model().objects.filter(username=username).first()

    def post(self, request, *args, **kwargs):
        self.attempt = sign_in_attempt_for(
            username=self.throttled_username(),
            address=client_address(request),
            device_cookie=request.COOKIES.get(DEVICE_COOKIE),
        )
        refusal = sign_in_begin(attempt=self.attempt)
        if refusal is not None:
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, refusal.message)
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(refusal.retry_after)
            return response
        try:
            return super().post(request, *args, **kwargs)
        finally:
            sign_in_end(attempt=self.attempt)

    def password_refused(self) -> None:
        """Count a wrong password against the account, and log the wait it starts."""
        wait = sign_in_failure_record(attempt=self.attempt)
        if wait:
            sign_in_log(ACCOUNT_LOCK, user=self.throttled_user(),
                        username=self.throttled_username(), outcome=FAILURE,
                        reason="LOCKED_OUT", lockedForSeconds=wait)  # fmt: skip

    def password_accepted(self, user, response: HttpResponse) -> HttpResponse:
        """The password was right (a second factor may still follow): forget the failures and
        remember this browser with the device cookie."""
        device = sign_in_success_record(attempt=self.attempt, user=user)
        response.set_cookie(
            DEVICE_COOKIE, device, max_age=DEVICE_COOKIE_MAX_AGE, path=reverse("login"),
            secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax",
        )  # fmt: skip
        return response


class ThrottledLoginView(PasswordThrottleMixin, LoginView):
    """Django's sign-in behind common.sign_in; a success sets the device cookie."""

    def throttled_username(self) -> str:
        return self.request.POST.get("username", "")

    def form_invalid(self, form):
        self.password_refused()
        return super().form_invalid(form)

    def form_valid(self, form):
        response = super().form_valid(form)
        session_start(self.request)
        return self.password_accepted(form.get_user(), response)


class ConsoleLogoutView(LogoutView):
    """Django's sign-out (POST only), in the System Log as user.session.end."""

    def post(self, request, *args, **kwargs):
        user = request.user if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user is not None:
            sign_in_log(SESSION_END, user=user)
        return response


class ThrottledPasswordChangeView(PasswordThrottleMixin, PasswordChangeView):
    """Change one's own password, the current one checked behind the sign-in throttle (a
    session left open must not become a way to guess it); logged as Okta logs it."""

    def throttled_username(self) -> str:
        return self.request.user.get_username()

    def form_invalid(self, form):
        if "old_password" in form.errors:
            self.password_refused()
            sign_in_log(PASSWORD_UPDATE, user=self.request.user, outcome=FAILURE,
                        reason="INVALID_CREDENTIALS")  # fmt: skip
        return super().form_invalid(form)

    def form_valid(self, form):
        response = super().form_valid(form)
        sign_in_log(PASSWORD_UPDATE, user=self.request.user)
        return self.password_accepted(self.request.user, response)


def render_secret_once(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """A page that shows a secret once: never cached, by the browser or anything between."""
    response = render(request, template, context)
    add_never_cache_headers(response)
    return response


class ApiTokenListView(ConsoleAccessMixin, TemplateView):
    """Every token: owner, prefix, created, expiry, last use and state."""

    template_name = "common/api_token_list.html"

    def get_context_data(self, **kwargs):
        example_url = self.request.build_absolute_uri(reverse("api:security_events_provider_list"))
        return super().get_context_data(tokens=api_token_list(), example_url=example_url, **kwargs)


class ApiTokenAddView(ConsoleAccessMixin, View):
    """Create a token acting as the signed-in Super admin; its secret is shown this once."""

    super_admin_only = True
    template_name = "common/api_token_form.html"

    def get(self, request):
        return render(request, self.template_name, {"form": ApiTokenForm()})

    def post(self, request):
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["expires_in_days"]
            try:
                token, secret = api_token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    expires_at=timezone.now() + timedelta(days=days) if days else None,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return render_secret_once(
                    request, "common/api_token_secret.html", {"token": token, "secret": secret}
                )
        return render(request, self.template_name, {"form": form}, status=400)


class ApiTokenRevokeView(ConsoleAccessMixin, View):
    """Revoke a token after a confirmation page (GET shows it, POST revokes)."""

    super_admin_only = True

    def get(self, request, pk):
        token = get_object_or_404(ApiToken, pk=pk)
        return render(request, "common/api_token_confirm_revoke.html", {"token": token})

    def post(self, request, pk):
        token = get_object_or_404(ApiToken, pk=pk)
        api_token_revoke(token=token, actor=request.user)
        messages.success(request, f"API token {token.name!r} revoked; it is refused from now on.")
        return redirect("common:api_token_list")
