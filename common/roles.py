"""The console's two roles and the view mixin that enforces them.

A *Super admin* (Django superuser, or member of the "Super admin" group) changes streams, policy
and tokens; a *Read-only admin* (member of the "Read-only admin" group) sees everything and
changes nothing. A signed-in user in neither group has no console access.
"""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db import models


class Role(models.TextChoices):
    SUPER_ADMIN = "SUPER_ADMIN", "Super admin"
    READ_ONLY_ADMIN = "READ_ONLY_ADMIN", "Read-only admin"


# Group names equal the role labels; the groups are made by common/migrations/0001.
ROLE_GROUPS = {
    Role.SUPER_ADMIN: Role.SUPER_ADMIN.label,
    Role.READ_ONLY_ADMIN: Role.READ_ONLY_ADMIN.label,
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def user_role(user) -> Role | None:
    """The user's console role, or None; memoised on the user object for the request."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if not hasattr(user, "_console_role"):
        role: Role | None
        if user.is_superuser:
            role = Role.SUPER_ADMIN
        else:
            names = set(user.groups.values_list("name", flat=True))
            role = next((r for r, name in ROLE_GROUPS.items() if name in names), None)
        user._console_role = role
    return user._console_role


def role_allows(user, *, change: bool) -> bool:
    """The console's one rule: any role may read; only a Super admin may change."""
    role = user_role(user)
    return role is not None and (not change or role == Role.SUPER_ADMIN)


class ConsoleAccessMixin(AccessMixin):
    """Sign-in for every console view; Super admin for unsafe methods and for change-only pages.

    Set `super_admin_only = True` on views whose GET is itself part of a change (the Add form).
    """

    super_admin_only = False

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        role = user_role(request.user)
        if role is None:
            raise PermissionDenied("Your account has no console role.")
        needs_change = self.super_admin_only or request.method not in SAFE_METHODS
        if not role_allows(request.user, change=needs_change):
            raise PermissionDenied("Read-only admins cannot change anything.")
        return super().dispatch(request, *args, **kwargs)
