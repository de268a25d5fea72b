"""Template context every console page needs: the signed-in admin's role."""

from common.roles import role_allows, user_role


def console(request):
    user = getattr(request, "user", None)
    return {
        "console_role": user_role(user) if user is not None else None,
        "can_change": user is not None and role_allows(user, change=True),
    }
