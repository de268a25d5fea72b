"""A second factor for local (password) admins: TOTP (django-otp) and single-use recovery codes.

django-otp's devices do the checking: a TOTP code is accepted once (its time step is kept in
`last_t`, so the same code cannot be replayed) and every wrong code doubles the wait before the
device accepts another (ThrottlingMixin). Verification locks the device row, so two requests with
one code cannot both pass. Admins who sign in with SSO skip this: their IdP does MFA.
"""

import base64
import enum
import io
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from common import audit
from common.audit import ChangeRecord, admin_actor, audit_record
from common.roles import Role, user_role

TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10
# TOTPDevice's defaults (30 s steps, 6 digits, one step either way), which every app supports.
TOTP_STEP, TOTP_DIGITS, TOTP_TOLERANCE = 30, 6, 1


class OtpCheck(enum.Enum):
    """The outcome of checking one code."""

    VERIFIED = "verified"
    WRONG = "wrong"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class OtpResult:
    """What a code check found; `device` is the one that accepted it."""

    check: OtpCheck
    device: Device | None = None
    retry_after_seconds: int = 0


def totp_device(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def mfa_enrolled(user: User) -> bool:
    """Whether a password sign-in of `user` needs a second factor."""
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def recovery_codes_left(user: User) -> int:
    """How many unused recovery codes the user has."""
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def totp_key_new() -> str:
    """A new TOTP secret (hex, 20 bytes as RFC 4226 recommends), kept in the session until the
    admin proves their app has it."""
    return str(default_key())


def totp_key_uri(*, key: str, user: User) -> str:
    """The otpauth:// URI an authenticator app scans, from django-otp's own formatting."""
    return str(TOTPDevice(user=user, key=key).config_url)


def qr_code_data_uri(text: str) -> str:
    """`text` as a QR code in an SVG data URI: an <img> needs no inline script or style, so a
    Content-Security-Policy of `img-src 'self' data:` shows it."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _totp_match(key: str, token: str) -> TOTP | None:
    """The TOTP positioned at the step where `token` is valid for `key` (± tolerance), or None."""
    totp = TOTP(bytes.fromhex(key), step=TOTP_STEP, digits=TOTP_DIGITS)
    try:
        verified = totp.verify(int(token), tolerance=TOTP_TOLERANCE)
    except ValueError:
        return None
    return totp if verified else None


def totp_enrol(*, user: User, key: str, token: str) -> TOTPDevice | None:
    """Save the authenticator app once `token` proves it holds `key`; None if the code is wrong.

    The code that proved it is spent (the device starts at its time step), so it cannot also
    complete a sign-in. A user who already has an app keeps it (one app per admin).
    """
    match = _totp_match(key, token.strip())
    if match is None:
        return None
    with transaction.atomic():
        existing = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True)
        if existing.exists():
            return existing.first()
        return TOTPDevice.objects.create(
            user=user, name=TOTP_DEVICE_NAME, key=key, confirmed=True, last_t=match.t(),
            drift=match.drift, step=TOTP_STEP, digits=TOTP_DIGITS, tolerance=TOTP_TOLERANCE,
            last_used_at=timezone.now(),
        )  # fmt: skip


def recovery_codes_issue(*, user: User) -> list[str]:
    """New single-use recovery codes (the old ones stop working); shown once, then only their
    count. Each call replaces the set."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.select_for_update().get_or_create(
            user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def _check_device(device: TOTPDevice | StaticDevice, token: str) -> OtpResult:
    allowed, details = device.verify_is_allowed()
    if not allowed:
        locked_until = (details or {}).get("locked_until")
        wait = (locked_until - timezone.now()).total_seconds() if locked_until else 1
        return OtpResult(OtpCheck.THROTTLED, retry_after_seconds=max(1, int(wait) + 1))
    if device.verify_token(token):
        return OtpResult(OtpCheck.VERIFIED, device=device)
    return OtpResult(OtpCheck.WRONG)


def mfa_verify(*, user: User, token: str) -> OtpResult:
    """Check a code from the authenticator app (6 digits) or a recovery code (anything else).

    A TOTP code already used, or one for a time step before the last used one, is WRONG; a
    device that failed recently is THROTTLED without looking at the code.
    """
    token = "".join(token.split()).lower()
    model: type[TOTPDevice] | type[StaticDevice]
    model = TOTPDevice if token.isdigit() and len(token) == TOTP_DIGITS else StaticDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            return OtpResult(OtpCheck.WRONG)
        return _check_device(device, token)


def mfa_reset(*, user: User, actor_name: str = "") -> None:
    """Remove the user's authenticator app and recovery codes (password sign-in alone again);
    a second call removes nothing more (and logs nothing).

    Logged as the user's own reset (user.mfa.factor.deactivate), or, when an operator's command
    (`actor_name`) does it, as Okta logs an admin's reset: user.mfa.factor.reset_all."""
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).delete()[0]
        if not removed:
            return
        if actor_name:
            audit_record(ChangeRecord(event_type=audit.MFA_FACTOR_RESET_ALL,
                                      actor=admin_actor(name=actor_name),
                                      target=[admin_actor(user=user)]))  # fmt: skip
        else:
            audit_record(ChangeRecord(event_type=audit.MFA_FACTOR_DEACTIVATE,
                                      actor=admin_actor(user=user)))  # fmt: skip


def mfa_required_for(user: User) -> bool:
    """Whether MFA_REQUIRED_FOR_SUPER_ADMINS applies to this (password) admin."""
    return bool(settings.MFA_REQUIRED_FOR_SUPER_ADMINS) and user_role(user) == Role.SUPER_ADMIN
