"""The console's roles, for the API: any role reads, only a Super admin writes."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from common.roles import role_allows


class ConsoleRolePermission(BasePermission):
    """Reads for any console role; writes for a Super admin only (a token acts with its user's
    role, so a Read-only admin's token gets 403 on every write)."""

    def has_permission(self, request, view) -> bool:
        return role_allows(request.user, change=request.method not in SAFE_METHODS)
