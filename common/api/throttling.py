"""Okta-style rate limits: a number of calls a minute per API token (or per signed-in admin).

Counted in the Django cache (Redis in production and tests, so every worker shares the count)
in fixed one-minute windows, as Okta counts; the answer carries Okta's X-Rate-Limit-* headers.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from common.models import ApiToken

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimit:
    """Where a caller stands in the current window."""

    limit: int
    used: int
    reset: int  # UTC epoch second when the window ends

    @property
    def allowed(self) -> bool:
        return self.used <= self.limit

    def headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(max(self.limit - self.used, 0)),
            "X-Rate-Limit-Reset": str(self.reset),
        }


def _count_call(ident: str) -> RateLimit:
    window = int(time.time()) // WINDOW_SECONDS
    key = f"api-rate:{ident}:{window}"
    # add + incr is atomic in Redis; the key outlives its window briefly, then expires.
    cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
        used = 1
    return RateLimit(settings.API_RATE_LIMIT_PER_MINUTE, used, (window + 1) * WINDOW_SECONDS)


def _ident(request) -> str | None:
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    if getattr(request.user, "is_authenticated", False):
        return f"user:{request.user.pk}"
    return None


class ApiRateThrottle(BaseThrottle):
    """API_RATE_LIMIT_PER_MINUTE calls a minute per token or session; a request is counted once
    however often DRF asks (see common.api.views.ManagementApi), and anonymous requests are not
    counted (they get 401 anyway)."""

    def allow_request(self, request, view) -> bool:
        state = getattr(request, "rate_limit", None)
        if state is None:
            ident = _ident(request)
            if ident is None:
                return True
            state = request.rate_limit = _count_call(ident)
        self.state = state
        return state.allowed

    def wait(self) -> float:
        return max(self.state.reset - time.time(), 0)
