"""Template context every console page needs: the signed-in admin's role."""

from common.roles import Role, user_role


def console(request):
    role = user_role(request.user) if hasattr(request, "user") else None
    return {"console_role": role, "can_change": role == Role.SUPER_ADMIN}
