"""Writes of the SCIM service: its clients, and provisioning into the directory (risk.models).

Every change an IdP makes is a System Log record with the SCIM client as actor, in Okta's
event types: user.lifecycle.create/.activate/.deactivate/.delete.initiated,
user.account.update_profile, group.lifecycle.create/.delete, group.user_membership.add/.remove.
Each write is one transaction: a request that fails (a taken userName, an unknown member)
changes nothing.
"""

import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User as AdminUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from scim2_models import Group, InvalidValueException, UniquenessException

from common.selectors import api_token_hash
from risk.models import DirectoryGroup, Entity, EntityIdentifier, EntityKind, UserStatus
from risk.services.system_log import entity_target, log_event
from risk.subjects import canonical_email
from scim.models import ScimClient, ScimGroup, ScimUser
from scim.resources import ScimUserResource, user_primary_email, user_stored
from scim.selectors import SCIM_DISPLAY_PREFIX_LENGTH, SCIM_TOKEN_PREFIX

SCIM_CLIENT_NAME_MAX_LENGTH = 100
# As for API tokens: last use to the minute, so a provisioning run is not a write per request.
LAST_USED_PRECISION = timedelta(minutes=1)
# The identifier formats SCIM derives (the others, such as an iss_sub from CSV, are kept).
DERIVED_FORMATS = ("email:", "opaque:")


@transaction.atomic
def scim_client_create(*, name: str, created_by: AdminUser | None = None) -> tuple[ScimClient, str]:
    """Make a SCIM client; return it and its bearer token, shown once and kept only hashed."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Enter a name for the SCIM client."})
    if len(name) > SCIM_CLIENT_NAME_MAX_LENGTH:
        raise ValidationError({"name": f"Use at most {SCIM_CLIENT_NAME_MAX_LENGTH} characters."})
    secret = SCIM_TOKEN_PREFIX + secrets.token_urlsafe(30)
    client = ScimClient.objects.create(
        name=name,
        prefix=secret[:SCIM_DISPLAY_PREFIX_LENGTH],
        token_hash=api_token_hash(secret),
        created_by=created_by,
    )
    return client, secret


def scim_client_revoke(*, client: ScimClient) -> None:
    """Refuse the client's token from now on; a second revoke keeps the first time."""
    ScimClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    client.refresh_from_db(fields=["revoked_at"])


def scim_client_mark_used(*, client: ScimClient) -> None:
    """Record that the client just called (at most one write a minute)."""
    now = timezone.now()
    ScimClient.objects.filter(pk=client.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_PRECISION)
    ).update(last_used_at=now)


def scim_actor(client: ScimClient) -> dict[str, Any]:
    """A SCIM client as a LogEvent actor: an app acting through an API, as Okta types one."""
    return {
        "id": f"scim{client.pk}",
        "type": "PublicClientApp",
        "alternateId": f"{client.prefix}…",
        "displayName": client.name,
    }


def group_target(group: DirectoryGroup) -> dict[str, Any]:
    """A directory group as a LogEvent target (Okta's UserGroup)."""
    return {"id": str(group.pk), "type": "UserGroup", "alternateId": group.name,
            "displayName": group.name}  # fmt: skip


def scim_log_record(
    *,
    client: ScimClient,
    event_type: str,
    message: str,
    target: list[dict[str, Any]],
    entity: Entity | None = None,
) -> None:
    """The System Log record of one SCIM change; the one place SCIM writes the log."""
    log_event(
        event_type=event_type,
        display_message=message,
        actor=scim_actor(client),
        target=target,
        entity=entity,
    ).save()


def _derived_keys(user: ScimUserResource) -> list[str]:
    """The identifiers SETs may name a provisioned user by: each email, the userName (as an
    email when it is one, and as an opaque id) and the externalId (opaque)."""
    keys = [f"email:{canonical_email(str(e.value))}" for e in user.emails or [] if e.value]
    name = (user.user_name or "").strip()
    if "@" in name:
        keys.append(f"email:{canonical_email(name)}")
    keys.append(f"opaque:{name}")
    if user.external_id:
        keys.append(f"opaque:{user.external_id.strip()}")
    return list(dict.fromkeys(keys))


def _set_identifiers(entity: Entity, keys: list[str]) -> None:
    taken = EntityIdentifier.objects.filter(key__in=keys).exclude(entity=entity)
    names = list(taken.values_list("key", flat=True))
    if names:
        raise UniquenessException(detail=f"Another user is already named by {', '.join(names)}")
    derived = Q()
    for prefix in DERIVED_FORMATS:
        derived |= Q(key__startswith=prefix)
    entity.identifiers.filter(derived).exclude(key__in=keys).delete()
    have = set(entity.identifiers.values_list("key", flat=True))
    EntityIdentifier.objects.bulk_create(
        [EntityIdentifier(entity=entity, key=k) for k in keys if k not in have]
    )


def _write_user(entity: Entity, user: ScimUserResource) -> None:
    """Copy the resource onto the entity's columns and identifiers; not its status."""
    login = (user.user_name or "").strip()
    # RFC 7643 §4.1.1: userName is unique and caseExact=false.
    if Entity.objects.filter(login__iexact=login).exclude(pk=entity.pk).exists():
        raise UniquenessException(detail=f"userName {login!r} is already taken")
    entity.login = login
    entity.email = user_primary_email(user)
    entity.first_name = ((user.name and user.name.given_name) or "")[:100]
    entity.last_name = ((user.name and user.name.family_name) or "")[:100]
    entity.display_name = (user.display_name or "")[:255]
    entity.updated_at = timezone.now()
    try:
        with transaction.atomic():
            entity.save()
    except IntegrityError as exc:  # a concurrent create took the same login
        raise UniquenessException(detail=f"userName {login!r} is already taken") from exc
    _set_identifiers(entity, _derived_keys(user))
    ScimUser.objects.update_or_create(
        entity=entity,
        defaults={"external_id": (user.external_id or "")[:255], "resource": user_stored(user)},
    )


def _set_active(entity: Entity, active: bool, client: ScimClient) -> None:
    """`active` is the user's lifecycle (RFC 7643 §4.1.1): false deactivates, as Okta does."""
    status = UserStatus.ACTIVE if active else UserStatus.DEPROVISIONED
    if entity.status == status:
        return
    now = timezone.now()
    entity.status, entity.status_changed_at = status, now
    if active:
        entity.activated_at = now
    entity.save(update_fields=["status", "status_changed_at", "activated_at"])
    event, message = (
        ("user.lifecycle.activate", "Activate Okta user")
        if active
        else ("user.lifecycle.deactivate", "Deactivate Okta user")
    )
    scim_log_record(
        client=client, event_type=event, message=message, target=[entity_target(entity)],
        entity=entity,
    )  # fmt: skip


@transaction.atomic
def scim_user_create(*, user: ScimUserResource, client: ScimClient) -> Entity:
    """Provision a user (POST /Users); a taken userName or identifier is a uniqueness error."""
    now = timezone.now()
    entity = Entity(kind=EntityKind.USER, status=UserStatus.ACTIVE, activated_at=now,
                    created_at=now)  # fmt: skip
    _write_user(entity, user)
    scim_log_record(
        client=client, event_type="user.lifecycle.create", message="Create okta user",
        target=[entity_target(entity)], entity=entity,
    )  # fmt: skip
    if user.active is False:
        _set_active(entity, False, client)
    return entity


@transaction.atomic
def scim_user_replace(*, entity: Entity, user: ScimUserResource, client: ScimClient) -> Entity:
    """Write the whole new state of a user (PUT, and PATCH after its operations are applied).

    A state equal to the stored one changes nothing and logs nothing; `active` left out keeps
    the user's status.
    """
    before = (entity.login, entity.email, entity.first_name, entity.last_name,
              entity.display_name)  # fmt: skip
    stored = getattr(entity, "scim", None)
    unchanged_resource = stored is not None and stored.resource == user_stored(user)
    _write_user(entity, user)
    after = (entity.login, entity.email, entity.first_name, entity.last_name,
             entity.display_name)  # fmt: skip
    if before != after or not unchanged_resource:
        scim_log_record(
            client=client, event_type="user.account.update_profile",
            message="Update user profile for Okta", target=[entity_target(entity)], entity=entity,
        )  # fmt: skip
    if user.active is not None:
        _set_active(entity, user.active, client)
    return entity


@transaction.atomic
def scim_user_delete(*, entity: Entity, client: ScimClient) -> None:
    """DELETE /Users/{id}: the user leaves the directory (RFC 7644 §3.6: later reads are 404).

    Okta deletes only a deactivated user, so an active one is deactivated first (both logged).
    Its System Log records stay. To keep a person's risk history, IdPs deactivate
    (`active: false`) rather than delete, which Okta's and Entra's provisioning do first.
    """
    _set_active(entity, False, client)
    scim_log_record(
        client=client, event_type="user.lifecycle.delete.initiated", message="Delete Okta user",
        target=[entity_target(entity)], entity=entity,
    )  # fmt: skip
    entity.delete()


def _set_members(group: DirectoryGroup, member_ids: list[str], client: ScimClient) -> None:
    wanted = list(dict.fromkeys(member_ids))
    users = {u.id: u for u in Entity.objects.filter(kind=EntityKind.USER, id__in=wanted)}
    unknown = [i for i in wanted if i not in users]
    if unknown:
        raise InvalidValueException(detail=f"No user has the id {', '.join(unknown)}")
    current = {u.id: u for u in group.members.all()}
    for user_id in wanted:
        if user_id not in current:
            group.members.add(users[user_id])
            scim_log_record(
                client=client, event_type="group.user_membership.add",
                message="Add user to group membership",
                target=[entity_target(users[user_id]), group_target(group)],
                entity=users[user_id],
            )  # fmt: skip
    for user_id, user in current.items():
        if user_id not in users:
            group.members.remove(user)
            scim_log_record(
                client=client, event_type="group.user_membership.remove",
                message="Remove user from group membership",
                target=[entity_target(user), group_target(group)], entity=user,
            )  # fmt: skip


def _write_group(row: DirectoryGroup, group: Group, client: ScimClient) -> None:
    name = (group.display_name or "").strip()
    if DirectoryGroup.objects.filter(name__iexact=name).exclude(pk=row.pk).exists():
        raise UniquenessException(detail=f"displayName {name!r} is already taken")
    row.name = name[:150]
    row.save()
    now = timezone.now()
    ScimGroup.objects.update_or_create(
        group=row,
        defaults={"external_id": (group.external_id or "")[:255], "updated_at": now},
        create_defaults={"external_id": (group.external_id or "")[:255], "created_at": now,
                         "updated_at": now},
    )  # fmt: skip
    _set_members(row, [m.value for m in group.members or [] if m.value], client)


@transaction.atomic
def scim_group_create(*, group: Group, client: ScimClient) -> DirectoryGroup:
    """Provision a group (POST /Groups) with its members; a taken displayName is 409."""
    row = DirectoryGroup()
    _write_group(row, group, client)
    scim_log_record(
        client=client, event_type="group.lifecycle.create", message="Create okta group",
        target=[group_target(row)],
    )  # fmt: skip
    return row


@transaction.atomic
def scim_group_replace(*, row: DirectoryGroup, group: Group, client: ScimClient) -> DirectoryGroup:
    """Write a group's whole new state (PUT, and PATCH after its operations); members that
    join or leave are each a membership record."""
    _write_group(row, group, client)
    return row


@transaction.atomic
def scim_group_delete(*, row: DirectoryGroup, client: ScimClient) -> None:
    """DELETE /Groups/{id}: the group goes, and with it the policy rules' references to it."""
    scim_log_record(
        client=client, event_type="group.lifecycle.delete", message="Delete okta group",
        target=[group_target(row)],
    )  # fmt: skip
    row.delete()
