"""Console sign-in throttling: slow password guessing down without letting anyone lock an admin
out (OWASP's "Slow Down Online Guessing Attacks with Device Cookies").

- **Per account**, on the account Django authenticates (its id; the NFKC-normalised name when no
  such user exists), so `admin` spelt with U+FF41 (fullwidth a) counts against `admin`: the first
  SIGN_IN_FREE_FAILURES failures in a row cost nothing, then each one makes the account wait
  SIGN_IN_DELAY_SECONDS, doubling with every further failure up to SIGN_IN_MAX_DELAY_SECONDS,
  before a password is checked again (429 + Retry-After meanwhile; refused attempts do not count).
  Nothing locks: the right password after the wait signs in. One check runs at a time per
  account, so guesses sent in parallel the moment a wait ends get one check, not one each.
- **Per client address** (common.proxy.client_address): at most SIGN_IN_ADDRESS_MAX_FAILURES
  failures, whatever the usernames, per SIGN_IN_ADDRESS_WINDOW_SECONDS window.
- **Device cookies**: a browser that signed in to an account gets a signed cookie naming it. Its
  attempts for that account are counted apart (delayed the same way when they fail) and skip the
  address budget, so a stranger's failures delay strangers only, not the admin's own browser.

The counts live in the cache (Redis): shared by every worker, forgotten a day after the last
failure.
"""

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UsernameField
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.cache import cache

from common.text import has_unstorable_text

DEVICE_COOKIE = "ssf_sign_in_device"
DEVICE_COOKIE_MAX_AGE = 180 * 24 * 3600
_DEVICE_SALT = "ssf-receiver:sign-in-device"
# Long enough that waiting out the capped delay does not also wipe the count.
FAILURE_MEMORY_SECONDS = 24 * 3600
# A check (one password hash) takes well under a second; a crashed request frees it after this.
CHECK_LOCK_SECONDS = 10
_KEY = "ssf:sign-in"


@dataclass(frozen=True)
class SignInAttempt:
    """Who is trying: the account's throttle bucket, the client's address, a trusted device."""

    account: str
    address: str | None
    device: str | None = None

    @property
    def bucket(self) -> str:
        return f"{_KEY}:{self.account}:{self.device or 'any'}"


@dataclass(frozen=True)
class SignInRefusal:
    """Why an attempt is refused before its password is checked, and for how long."""

    retry_after: int
    by_address: bool = False

    @property
    def message(self) -> str:
        source = "from your address" if self.by_address else "for this account"
        return f"Too many failed sign-ins {source}; try again in {self.retry_after} seconds."


def _account_of(username: str) -> str:
    # Exactly the value AuthenticationForm hands to authenticate(): stripped, NFKC-normalised.
    name = UsernameField().to_python(username) or ""
    by_name = "name:" + hashlib.sha256(name.encode(errors="surrogatepass")).hexdigest()
    if has_unstorable_text(name):  # the form refuses it before authenticating; so do we
        return by_name
    user_model = get_user_model()
    try:
        user = user_model._default_manager.get_by_natural_key(name)
    except (user_model.DoesNotExist, user_model.MultipleObjectsReturned):
        return by_name
    return f"user:{user.pk}"


def sign_in_attempt_for(
    *, username: str, address: str | None, device_cookie: str | None
) -> SignInAttempt:
    """The attempt to throttle: the account `username` names, and the device when the cookie
    was issued to this very account."""
    account = _account_of(username)
    device = None
    if device_cookie:
        try:
            claimed = signing.loads(device_cookie, salt=_DEVICE_SALT, max_age=DEVICE_COOKIE_MAX_AGE)
        except signing.BadSignature:
            claimed = None
        if isinstance(claimed, dict) and claimed.get("account") == account:
            device = str(claimed.get("device"))
    return SignInAttempt(account=account, address=address, device=device)


def _address_window() -> tuple[str, int]:
    window: int = settings.SIGN_IN_ADDRESS_WINDOW_SECONDS
    now = int(time.time())
    return str(now // window), window - now % window


def _address_key(address: str, window_id: str) -> str:
    return f"{_KEY}:address:{window_id}:{address}"


def sign_in_begin(*, attempt: SignInAttempt) -> SignInRefusal | None:
    """Claim the account's one password check, or say why and how long to wait.

    Every `None` must be followed by `sign_in_end` (the view does it in a `finally`).
    """
    if not cache.add(f"{attempt.bucket}:checking", 1, timeout=CHECK_LOCK_SECONDS):
        return SignInRefusal(retry_after=1)
    state = cache.get(attempt.bucket) or {}
    wait = math.ceil(state.get("until", 0) - time.time())
    if wait > 0:
        sign_in_end(attempt=attempt)
        return SignInRefusal(retry_after=wait)
    if attempt.address and attempt.device is None:
        window_id, remaining = _address_window()
        failures: int = cache.get(_address_key(attempt.address, window_id), 0)
        if failures >= settings.SIGN_IN_ADDRESS_MAX_FAILURES:
            sign_in_end(attempt=attempt)
            return SignInRefusal(retry_after=remaining, by_address=True)
    return None


def sign_in_end(*, attempt: SignInAttempt) -> None:
    """Release the account's password check claimed by `sign_in_begin`."""
    cache.delete(f"{attempt.bucket}:checking")


def _delay_after(failures: int) -> float:
    free: int = settings.SIGN_IN_FREE_FAILURES
    if failures <= free:
        return 0.0
    doublings = min(failures - free - 1, 32)  # the cap is reached long before; no huge powers
    delay: int = settings.SIGN_IN_DELAY_SECONDS * 2**doublings
    return float(min(delay, settings.SIGN_IN_MAX_DELAY_SECONDS))


def sign_in_failure_record(*, attempt: SignInAttempt) -> int:
    """Count a failed check: the account (or device) waits longer, the address has less left.
    Called while the check is claimed, so no other request updates the account meanwhile.
    Returns the seconds the account (or device) must now wait, 0 while failures are free."""
    state = cache.get(attempt.bucket) or {}
    failures = int(state.get("failures", 0)) + 1
    delay = _delay_after(failures)
    until = time.time() + delay
    cache.set(attempt.bucket, {"failures": failures, "until": until}, FAILURE_MEMORY_SECONDS)
    if attempt.address and attempt.device is None:
        window_id, remaining = _address_window()
        key = _address_key(attempt.address, window_id)
        cache.add(key, 0, timeout=remaining + 1)
        try:
            cache.incr(key)
        except ValueError:  # the window lapsed between add and incr
            cache.set(key, 1, timeout=remaining + 1)
    return math.ceil(delay)


def sign_in_success_record(*, attempt: SignInAttempt, user: AbstractBaseUser) -> str:
    """Forget the failures of the bucket that signed in, and return the device cookie's value
    for this browser (a new device, or the one it already was)."""
    cache.delete(attempt.bucket)
    device = attempt.device or secrets.token_urlsafe(16)
    return signing.dumps({"account": f"user:{user.pk}", "device": device}, salt=_DEVICE_SALT)
