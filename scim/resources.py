"""The directory's users and groups as SCIM resources (scim2-models), and back.

A user's directory columns (login, email, names, status, groups) are what the console, the
Users API and the policy read; the rest of what the IdP wrote is kept in ScimUser.resource and
read back as written. The password an IdP may send is never kept: this receiver signs nobody in.
"""

from typing import Any

from scim2_models import (
    Context,
    Email,
    EnterpriseUser,
    Group,
    GroupMember,
    GroupMembership,
    Meta,
    Name,
    Reference,
    ScimPolicy,
    User,
)

from risk.models import DirectoryGroup, Entity, UserStatus

ScimUserResource = User[EnterpriseUser]
# What real IdPs send, read as they mean it: Entra's `remove` with a value names the members
# to remove, and its `emails[type eq "work"].value` creates the work address when none is
# there; attributes of an IdP's own extension are dropped rather than failing the whole user.
IDP_POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
# Attributes the directory owns: never read from the stored resource.
DIRECTORY_OWNED = ("id", "meta", "groups", "password", "active", "userName")


def user_resource(entity: Entity, *, location: str, group_location: str) -> ScimUserResource:
    """The SCIM User for a directory user, whether or not an IdP provisioned it;
    `group_location` has `{}` for a group's id."""
    stored = getattr(entity, "scim", None)
    payload: dict[str, Any] = dict(stored.resource) if stored is not None else {}
    for name in DIRECTORY_OWNED:
        payload.pop(name, None)
    user = ScimUserResource.model_validate(payload, scim_ctx=None) if payload else None
    if user is None:
        user = ScimUserResource(
            display_name=entity.display_name or None,
            name=Name(given_name=entity.first_name or None, family_name=entity.last_name or None)
            if entity.first_name or entity.last_name
            else None,
            emails=[Email(value=entity.email, primary=True, type=Email.Type.work)]
            if entity.email
            else None,
        )
    user.id = entity.id
    user.user_name = entity.login or entity.email or entity.id
    user.active = entity.status == UserStatus.ACTIVE
    user.external_id = stored.external_id or None if stored is not None else None
    user.groups = [
        GroupMembership(
            value=str(group.pk),
            display=group.name,
            type="direct",
            ref=Reference(group_location.format(group.pk)),
        )
        for group in entity.groups.all()
    ] or None
    user.meta = Meta(
        resource_type="User",
        created=entity.created_at,
        last_modified=entity.updated_at,
        location=location,
    )
    return user


def user_stored(user: ScimUserResource) -> dict[str, Any]:
    """What ScimUser.resource keeps of a written user: all but what the directory owns."""
    payload = user.model_dump(scim_ctx=Context.DEFAULT)
    for name in DIRECTORY_OWNED:
        payload.pop(name, None)
    return payload


def user_primary_email(user: ScimUserResource) -> str:
    """The address the directory shows: the primary one, else the work one, else the first."""
    emails = [e for e in user.emails or [] if e.value]
    chosen = (
        next((e for e in emails if e.primary), None)
        or next((e for e in emails if e.type == Email.Type.work), None)
        or (emails[0] if emails else None)
    )
    return str(chosen.value) if chosen is not None else ""


def group_resource(group: DirectoryGroup, *, location: str, user_location: str) -> Group:
    """The SCIM Group for a directory group; `user_location` has `{}` for a member's id."""
    stored = getattr(group, "scim", None)
    return Group(
        id=str(group.pk),
        display_name=group.name,
        external_id=stored.external_id or None if stored is not None else None,
        members=[
            GroupMember(
                value=member.id,
                display=member.label,
                type="User",
                ref=Reference(user_location.format(member.id)),
            )
            for member in group.members.all()
        ]
        or None,
        meta=Meta(
            resource_type="Group",
            created=stored.created_at if stored is not None else None,
            last_modified=stored.updated_at if stored is not None else None,
            location=location,
        ),
    )
