"""Every read shared by the apps: API tokens."""

import hashlib
import hmac
import re

from django.db.models import QuerySet

from common.models import ApiToken

TOKEN_PREFIX = "ssf_"  # noqa: S105 (a marker that says what the secret is, not a secret)
# What `common.services.api_token_create` makes: the marker and 40 URL-safe base64 characters.
TOKEN_PATTERN = re.compile(r"ssf_[A-Za-z0-9_-]{40}")
DISPLAY_PREFIX_LENGTH = 12


def api_token_hash(secret: str) -> str:
    """How a token is stored: SHA-256 (the token is random, 240 bits, so no salt or stretching)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_list() -> QuerySet[ApiToken]:
    """Every API token, newest first, with its owner (the console's token list)."""
    return ApiToken.objects.select_related("user").order_by("-created_at", "-id")


def api_token_for_secret(*, secret: str) -> ApiToken | None:
    """The token whose hash matches `secret` (revoked and expired ones too), or None.

    The row is found by its display prefix and the hashes compared in constant time, so the
    answer time says nothing about how much of a guess was right.
    """
    if not TOKEN_PATTERN.fullmatch(secret):
        return None
    digest = api_token_hash(secret)
    candidates = ApiToken.objects.select_related("user").filter(
        prefix=secret[:DISPLAY_PREFIX_LENGTH]
    )
    return next((t for t in candidates if hmac.compare_digest(t.token_hash, digest)), None)
