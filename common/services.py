"""Writes shared by every app: console admin accounts and API tokens."""

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common import audit
from common.audit import ChangeRecord, admin_actor, audit_record
from common.models import ApiToken
from common.roles import ROLE_GROUPS, Role, user_role
from common.selectors import DISPLAY_PREFIX_LENGTH, TOKEN_PREFIX, api_token_hash

API_TOKEN_NAME_MAX_LENGTH = 100
# Writing last_used_at on every call would make each API request a write; a minute is precise
# enough for "is this token still in use?".
LAST_USED_PRECISION = timedelta(minutes=1)


@transaction.atomic
def admin_user_create(
    *, username: str, password: str, role: Role, email: str = "", actor_name: str | None = None
) -> User:
    """Create a console admin with `role`; a second call with the same username fails.

    With `actor_name` (the operator's command: admins are made only there) it is logged as Okta
    logs a new admin: user.lifecycle.create, then user.account.privilege.grant naming the role.
    """
    user_model = get_user_model()
    user = user_model.objects.create_user(
        username=username, email=email, password=password, is_staff=role == Role.SUPER_ADMIN
    )
    if role == Role.SUPER_ADMIN:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    group, _ = Group.objects.get_or_create(name=ROLE_GROUPS[role])
    user.groups.add(group)
    if actor_name is not None:
        _log_admin_created(user, role, actor_name)
    return user


def _log_admin_created(user: User, role: Role, actor_name: str) -> None:
    actor = admin_actor(name=actor_name)
    profile = {"username": user.get_username(), "email": user.email,
               "password": audit.SECRET_CHANGED}  # fmt: skip
    audit_record(ChangeRecord(event_type=audit.USER_CREATE, actor=actor,
                              target=[admin_actor(user=user)], after=profile))  # fmt: skip
    audit_record(ChangeRecord(event_type=audit.PRIVILEGE_GRANT, actor=actor,
                              target=[admin_actor(user=user)], after={"role": role.label},
                              debug_data={"privilegeGranted": role.label}))  # fmt: skip


def _token_target(token: ApiToken) -> dict[str, Any]:
    return {"id": str(token.pk), "type": "Token", "alternateId": token.prefix,
            "displayName": token.name}  # fmt: skip


@transaction.atomic
def api_token_create(
    *, user: User, name: str, expires_at: datetime | None = None, actor_name: str = ""
) -> tuple[ApiToken, str]:
    """Make a token acting as `user`; return it and its secret, which is shown once and not kept.

    The user must have a console role (the token acts with it); every call makes a new token.
    The System Log's actor is `user` (who makes their own token in the console), or the
    operator's command when `actor_name` names one.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Enter a name for the token."})
    if len(name) > API_TOKEN_NAME_MAX_LENGTH:
        raise ValidationError({"name": f"Use at most {API_TOKEN_NAME_MAX_LENGTH} characters."})
    if user_role(user) is None:
        raise ValidationError(f"{user.get_username()!r} has no console role to act with.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        name=name,
        user=user,
        prefix=secret[:DISPLAY_PREFIX_LENGTH],
        token_hash=api_token_hash(secret),
        expires_at=expires_at,
    )
    after = {"name": name, "owner": user.get_username(), "prefix": token.prefix,
             "expiresAt": expires_at.isoformat() if expires_at else None}  # fmt: skip
    actor = admin_actor(user=None if actor_name else user, name=actor_name)
    target = [_token_target(token), admin_actor(user=user)]
    audit_record(ChangeRecord(event_type=audit.API_TOKEN_CREATE, actor=actor, target=target,
                              after=after))  # fmt: skip
    return token, secret


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None = None) -> None:
    """Refuse the token from now on; revoking it again keeps the first revocation time (and
    logs nothing more)."""
    now = timezone.now()
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    token.refresh_from_db(fields=["revoked_at"])
    if revoked:
        audit_record(ChangeRecord(event_type=audit.API_TOKEN_REVOKE, actor=admin_actor(user=actor),
                                  target=[_token_target(token)],
                                  before={"revokedAt": None},
                                  after={"revokedAt": now.isoformat()}))  # fmt: skip


def api_token_mark_used(*, token: ApiToken) -> None:
    """Record that the token was just used (to the minute: at most one write a minute)."""
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ).update(last_used_at=now)
