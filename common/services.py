"""Writes shared by every app: console admin accounts."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from common.roles import ROLE_GROUPS, Role


@transaction.atomic
def admin_user_create(*, username: str, password: str, role: Role, email: str = ""):
    """Create a console admin with `role`; a second call with the same username fails."""
    user_model = get_user_model()
    user = user_model.objects.create_user(
        username=username, email=email, password=password, is_staff=role == Role.SUPER_ADMIN
    )
    if role == Role.SUPER_ADMIN:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    group, _ = Group.objects.get_or_create(name=ROLE_GROUPS[role])
    user.groups.add(group)
    return user
