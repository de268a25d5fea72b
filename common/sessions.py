"""Console sessions end after SESSION_IDLE_TIMEOUT_SECONDS without a request, and in any case
SESSION_ABSOLUTE_TIMEOUT_SECONDS after sign-in, so a session cookie left behind or stolen stops
working.

The times are kept in the session itself. The last request is written at most once a minute
(`ACTIVITY_PRECISION_SECONDS`), so a busy console does not write its session on every request;
the stored session (and its cookie) expire with the idle window too, so an abandoned session is
also gone from the database's point of view.
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse

SIGNED_IN_AT = "ssf_signed_in_at"
LAST_SEEN_AT = "ssf_last_seen_at"
ACTIVITY_PRECISION_SECONDS = 60


def _mark_seen(session: SessionBase, now: float, signed_in_at: float) -> None:
    session[LAST_SEEN_AT] = now
    left = settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS - (now - signed_in_at)
    session.set_expiry(max(1, int(min(settings.SESSION_IDLE_TIMEOUT_SECONDS, left))))


def session_start(request: HttpRequest) -> None:
    """Start both clocks; called right after sign-in."""
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    _mark_seen(request.session, now, now)


class SessionTimeoutMiddleware:
    """Sign out a session that was idle too long or is older than the absolute lifetime; the
    request then goes on as anonymous (the console redirects to sign-in, the API answers 401)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Without a session cookie (a pushed SET, an API token) there is no session to look at,
        # and touching it would add "Vary: Cookie" to the answer.
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        session, now = request.session, time.time()
        signed_in_at = session.get(SIGNED_IN_AT)
        if signed_in_at is None:  # signed in some other way (force_login, an older session)
            session_start(request)
            return
        last_seen_at = session.get(LAST_SEEN_AT, signed_in_at)
        if (
            now - last_seen_at > settings.SESSION_IDLE_TIMEOUT_SECONDS
            or now - signed_in_at > settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS
        ):
            logout(request)
        elif now - last_seen_at >= ACTIVITY_PRECISION_SECONDS:
            _mark_seen(session, now, signed_in_at)
