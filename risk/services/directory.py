"""The directory of users and devices: added in the console, imported from CSV, through the
Users API, or automatic; and the users' Okta lifecycle (STAGED, ACTIVE, DEPROVISIONED)."""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from common import audit
from common.audit import ChangeRecord, admin_actor, audit_record
from common.types import Actor
from risk.models import DirectoryGroup, Entity, EntityIdentifier, EntityKind, UserStatus
from risk.services.system_log import entity_target
from risk.subjects import canonical_email, identifier_keys

CSV_COLUMNS = ("login", "email", "first_name", "last_name", "groups", "iss", "sub")


def _keys(email: str, identifiers: list[dict[str, Any]]) -> list[str]:
    keys = [f"email:{canonical_email(email)}"] if email else []
    for identifier in identifiers:
        found = identifier_keys(identifier)
        if not found:
            raise ValidationError(f"{identifier!r} is not a subject identifier we can match.")
        keys += found
    return list(dict.fromkeys(keys))


@transaction.atomic
def entity_create(
    *,
    kind: str = EntityKind.USER,
    login: str = "",
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    display_name: str = "",
    groups: list[str] | None = None,
    identifiers: list[dict[str, Any]] | None = None,
    status: UserStatus = UserStatus.ACTIVE,
    actor: Actor = None,
) -> Entity:
    """Add a user or device and the identifiers SETs may name it by (its email, iss/sub pairs...).

    A login or identifier that another entity has already, or an email that is not an address
    (`not-an-email`), is a ValidationError; nothing is saved.
    With an `actor` (console, CSV import, Users API) the creation is in the System Log, as Okta
    logs it, with each group the user joined (group.user_membership.add).
    """
    email = email.strip()
    _check_email(email)
    login = login.strip() or (email if kind == EntityKind.USER else "")
    _check_login_free(login)
    keys = _keys(email, identifiers or [])
    _check_keys_free(keys[:1] if email else [], field="email")
    _check_keys_free(keys)
    now = timezone.now()
    entity = Entity(
        kind=kind,
        login=login,
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        display_name=display_name.strip(),
        status=status,
        activated_at=now if status == UserStatus.ACTIVE else None,
        created_at=now,
        updated_at=now,
    )
    entity.save()
    EntityIdentifier.objects.bulk_create([EntityIdentifier(entity=entity, key=k) for k in keys])
    joined = []
    for name in groups or []:
        if name.strip():
            group = DirectoryGroup.objects.get_or_create(name=name.strip())[0]
            entity.groups.add(group)
            joined.append(group)
    if actor is not None:
        _log_user_change(entity, actor, audit.USER_CREATE, after=_profile(entity))
        for group in joined:
            target = {"id": str(group.pk), "type": "UserGroup", "alternateId": group.name,
                      "displayName": group.name}  # fmt: skip
            _log_user_change(entity, actor, audit.GROUP_MEMBERSHIP_ADD, also=target)
    return entity


def _check_email(email: str) -> None:
    """The directory's emails are the addresses SETs name people by, so they must be ones."""
    try:
        if email:
            validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": f"{email!r} is not an email address."}) from exc


def _check_login_free(login: str, *, besides: Entity | None = None) -> None:
    others = Entity.objects.filter(login=login).exclude(pk=besides.pk if besides else None)
    if login and others.exists():
        raise ValidationError({"login": f"A user with login {login!r} exists already."})


def _check_keys_free(
    keys: list[str], *, besides: Entity | None = None, field: str | None = None
) -> None:
    taken = EntityIdentifier.objects.filter(key__in=keys)
    if besides is not None:
        taken = taken.exclude(entity=besides)
    names = list(taken.values_list("key", flat=True))
    if names:
        message = f"Another entity is already named by {', '.join(names)}."
        raise ValidationError({field: message} if field else message)


def _log_user_change(
    user: Entity,
    actor: Actor,
    event_type: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    also: dict[str, Any] | None = None,
) -> None:
    """The System Log record of an admin's change to a user (Okta's user.lifecycle.*)."""
    audit_record(ChangeRecord(
        event_type=event_type, actor=admin_actor(user=actor),
        target=[entity_target(user), *([also] if also else [])],
        before=before, after=after, entity_id=user.pk,
    ))  # fmt: skip


# The profile fields a user update may set (the Users API's profile, in model names).
PROFILE_FIELDS = ("login", "email", "first_name", "last_name", "display_name")


def _profile(user: Entity) -> dict[str, Any]:
    return {"kind": user.kind, "status": user.status,
            **{name: getattr(user, name) for name in PROFILE_FIELDS}}  # fmt: skip


@transaction.atomic
def user_update(*, user: Entity, profile: dict[str, str], actor: Actor) -> Entity:
    """Set the given profile fields (Okta's partial update; a full replace passes them all).

    The email is also the identifier SETs name the user by, so it moves with the profile. A login
    or email that another entity has is a ValidationError; nothing is saved. Setting the same
    values again changes nothing but lastUpdated.
    """
    values = {name: profile[name].strip() for name in PROFILE_FIELDS if name in profile}
    profile_before = _profile(user)
    if "login" in values:
        if not values["login"]:
            raise ValidationError({"login": "The field cannot be left blank"})
        _check_login_free(values["login"], besides=user)
    if "email" in values and canonical_email(values["email"]) != canonical_email(user.email):
        _check_email(values["email"])
        keys = _keys(values["email"], [])
        _check_keys_free(keys, besides=user, field="email")
        if user.email:
            user.identifiers.filter(key=f"email:{canonical_email(user.email)}").delete()
        EntityIdentifier.objects.bulk_create([EntityIdentifier(entity=user, key=k) for k in keys])
    for name, value in values.items():
        setattr(user, name, value)
    user.updated_at = timezone.now()
    user.save(update_fields=[*values, "updated_at"])
    before, after = audit.changes(profile_before, _profile(user))
    _log_user_change(user, actor, audit.USER_UPDATE, before=before, after=after)
    return user


class UserLifecycleError(ValueError):
    """A lifecycle step the user's status does not allow (activating an active user)."""


def _user_set_status(user: Entity, status: UserStatus) -> None:
    now = timezone.now()
    user.status, user.status_changed_at, user.updated_at = status, now, now
    fields = ["status", "status_changed_at", "updated_at"]
    if status == UserStatus.ACTIVE:
        user.activated_at = now
        fields.append("activated_at")
    user.save(update_fields=fields)


@transaction.atomic
def user_activate(*, user: Entity, actor: Actor) -> Entity:
    """STAGED or DEPROVISIONED -> ACTIVE. An ACTIVE user is a UserLifecycleError, as at Okta."""
    if user.status == UserStatus.ACTIVE:
        raise UserLifecycleError("Activation failed because the user is already active")
    before = {"status": user.status}
    _user_set_status(user, UserStatus.ACTIVE)
    _log_user_change(user, actor, audit.USER_ACTIVATE, before=before, after={"status": user.status})
    return user


@transaction.atomic
def user_deactivate(*, user: Entity, actor: Actor) -> Entity:
    """-> DEPROVISIONED; the user's risk and history stay readable. Deactivating a deactivated
    user changes nothing."""
    if user.status != UserStatus.DEPROVISIONED:
        before = {"status": user.status}
        _user_set_status(user, UserStatus.DEPROVISIONED)
        _log_user_change(user, actor, audit.USER_DEACTIVATE, before=before,
                         after={"status": user.status})  # fmt: skip
    return user


@transaction.atomic
def user_delete(*, user: Entity, actor: Actor) -> bool:
    """Okta's delete: a user not yet DEPROVISIONED is deactivated (False); a DEPROVISIONED one
    is deleted with its identifiers and risk changes (True). Its System Log records stay."""
    if user.status != UserStatus.DEPROVISIONED:
        user_deactivate(user=user, actor=actor)
        return False
    _log_user_change(user, actor, audit.USER_DELETE, before=_profile(user))
    user.delete()
    return True


@dataclass
class ImportResult:
    created: int = 0
    errors: list[str] = field(default_factory=list)


def entities_import_csv(*, text: str, actor: Actor = None) -> ImportResult:
    """Import users from CSV with a header row of CSV_COLUMNS (all but login/email optional).

    `groups` is a `;`-separated list; `iss` + `sub` add an iss_sub identifier. Each row is saved
    or refused on its own; a refused row is reported with its line number and changes nothing.
    Each user created is in the System Log with the admin who imported it as actor.
    """
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"login", "email"} & set(reader.fieldnames):
        result.errors.append(f"The header row must name some of: {', '.join(CSV_COLUMNS)}.")
        return result
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        if not row.get("login") and not row.get("email"):
            result.errors.append(f"Line {line}: give a login or an email.")
            continue
        identifiers = []
        if row.get("iss") and row.get("sub"):
            identifiers.append({"format": "iss_sub", "iss": row["iss"], "sub": row["sub"]})
        try:
            entity_create(
                login=row.get("login", ""),
                email=row.get("email", ""),
                first_name=row.get("first_name", ""),
                last_name=row.get("last_name", ""),
                groups=row.get("groups", "").split(";"),
                identifiers=identifiers,
                actor=actor,
            )
            result.created += 1
        except ValidationError as exc:
            result.errors.append(f"Line {line}: {' '.join(exc.messages)}")
    return result
