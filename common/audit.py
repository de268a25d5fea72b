"""The audit trail: one value for every admin change and sign-in step, and one way into the
System Log.

Every writer (streams, sign-in, API tokens, admins, the policy, the directory) builds a
ChangeRecord and hands it to `audit_record`, which saves it through the risk app's
`change_record_save` in the caller's transaction: the record commits with the change or not at
all, and no broker outage loses it. The System Log model lives in `risk`, downstream of
everything else, so `common` reaches it by a lazy import (STYLE: "a Celery task name or a lazy
import"), never at module level.

Secrets are never recorded: a changed secret is `"changed"` in before/after, whatever its value.
The client (address, user agent) comes from the request being served (AuditClientMiddleware);
a command or a Celery task has none.
"""

import contextvars
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from common.proxy import client_address
from common.text import storable
from common.types import Actor

SUCCESS, FAILURE = "SUCCESS", "FAILURE"
SECRET_CHANGED = "changed"  # noqa: S105 (what a log says instead of a secret)

# Okta's event types (its System Log catalogue), with the displayMessage of each record.
SESSION_START = "user.session.start"
SESSION_END = "user.session.end"
AUTH_VIA_MFA = "user.authentication.auth_via_mfa"
AUTH_VIA_IDP = "user.authentication.auth_via_IDP"
ACCOUNT_LOCK = "user.account.lock"
PASSWORD_UPDATE = "user.account.update_password"  # noqa: S105 (an event type, not a password)
MFA_FACTOR_ACTIVATE = "user.mfa.factor.activate"
MFA_FACTOR_DEACTIVATE = "user.mfa.factor.deactivate"
MFA_FACTOR_RESET_ALL = "user.mfa.factor.reset_all"
API_TOKEN_CREATE = "system.api_token.create"  # noqa: S105 (an event type, not a password)
API_TOKEN_REVOKE = "system.api_token.revoke"  # noqa: S105 (an event type, not a password)
PRIVILEGE_GRANT = "user.account.privilege.grant"
PRIVILEGE_REVOKE = "user.account.privilege.revoke"
POLICY_UPDATE = "policy.lifecycle.update"
RULE_ADD = "policy.rule.add"
RULE_UPDATE = "policy.rule.update"
RULE_DELETE = "policy.rule.delete"
RULE_ACTIVATE = "policy.rule.activate"
RULE_DEACTIVATE = "policy.rule.deactivate"
APP_CREATE = "application.lifecycle.create"
APP_UPDATE = "application.lifecycle.update"
APP_DELETE = "application.lifecycle.delete"
USER_CREATE = "user.lifecycle.create"
USER_UPDATE = "user.account.update_profile"
USER_ACTIVATE = "user.lifecycle.activate"
USER_DEACTIVATE = "user.lifecycle.deactivate"
USER_DELETE = "user.lifecycle.delete.initiated"
GROUP_MEMBERSHIP_ADD = "group.user_membership.add"
AUDIT_MESSAGES = {
    SESSION_START: "User login to the console",
    SESSION_END: "User logout from the console",
    AUTH_VIA_MFA: "Authentication of user via MFA",
    AUTH_VIA_IDP: "Authenticate user with identity provider",
    ACCOUNT_LOCK: "Max sign in attempts exceeded",
    PASSWORD_UPDATE: "User update password for the console",
    MFA_FACTOR_ACTIVATE: "User set up MFA factor",
    MFA_FACTOR_DEACTIVATE: "User reset MFA factors",
    MFA_FACTOR_RESET_ALL: "Reset all factors for user",
    API_TOKEN_CREATE: "Create API token",
    API_TOKEN_REVOKE: "Revoke API token",
    PRIVILEGE_GRANT: "Grant user privilege",
    PRIVILEGE_REVOKE: "Revoke user privilege",
    POLICY_UPDATE: "Update policy",
    RULE_ADD: "Add policy rule",
    RULE_UPDATE: "Update policy rule",
    RULE_DELETE: "Delete policy rule",
    RULE_ACTIVATE: "Activate policy rule",
    RULE_DEACTIVATE: "Deactivate policy rule",
    APP_CREATE: "Add application",
    APP_UPDATE: "Update application",
    APP_DELETE: "Delete application",
    USER_CREATE: "Create okta user",
    USER_UPDATE: "Update user profile for Okta",
    USER_ACTIVATE: "Activate Okta user",
    USER_DEACTIVATE: "Deactivate Okta user",
    USER_DELETE: "Delete Okta user",
    GROUP_MEMBERSHIP_ADD: "Add user to group membership",
}
_client: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "audit_client", default=None
)


@dataclass(frozen=True)
class ChangeRecord:
    """One System Log record of an admin's change or sign-in step, in Okta's LogEvent terms."""

    event_type: str
    actor: dict[str, Any]
    target: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    outcome: str = SUCCESS
    reason: str = ""
    debug_data: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] | None = None
    uuid: str | None = None
    entity_id: str = ""
    stream_ref: str = ""
    stream_change_id: int | None = None
    # Okta's displayMessage; by default the one AUDIT_MESSAGES has for the event type.
    display_message: str = ""

    @property
    def message(self) -> str:
        return self.display_message or AUDIT_MESSAGES.get(self.event_type, self.event_type)


def admin_actor(*, user: Actor = None, name: str = "") -> dict[str, Any]:
    """An admin (or, without a user, a named operator such as a command) as an actor; an admin
    is also the target of a role grant or an MFA reset in the same shape."""
    if user is None:
        return {"id": name or "system", "type": "SystemPrincipal", "alternateId": name,
                "displayName": name}  # fmt: skip
    return {
        "id": str(user.pk),
        "type": "User",
        "alternateId": user.get_username(),
        "displayName": user.get_full_name() or user.get_username(),
    }


def changes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    secret_fields: Iterable[str] = (),
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The fields that differ between two snapshots (all of them on a create or delete), with
    every secret field's value replaced by "changed" so no secret reaches the log."""
    hidden = set(secret_fields)
    names = set(before or {}) | set(after or {})
    if before is not None and after is not None:
        names = {n for n in names if before.get(n) != after.get(n)}

    def pick(snapshot: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if snapshot is None:
            return None
        return {n: SECRET_CHANGED if n in hidden else v for n, v in snapshot.items() if n in names}

    return pick(before), pick(after)


def audit_record(record: ChangeRecord) -> None:
    """Save `record` in the System Log now, in the caller's transaction; the client of the
    request being served is added when the record names none."""
    if record.client is None and _client.get() is not None:
        record = dataclasses.replace(record, client=_client.get())
    import_string("risk.services.system_log.change_record_save")(record)


def request_client(request: HttpRequest) -> dict[str, Any]:
    """The request's client in Okta's LogEvent `client` shape (address behind trusted proxies)."""
    return {
        "userAgent": {"rawUserAgent": storable(request.META.get("HTTP_USER_AGENT", "")[:512]),
                      "os": None, "browser": None},
        "zone": None,
        "device": None,
        "id": None,
        "ipAddress": client_address(request),
        "geographicalContext": None,
    }  # fmt: skip


class AuditClientMiddleware:
    """Make the request's client known to `audit_record` while the request is served, so
    services need no request argument to say where a change came from."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _client.set(request_client(request))
        try:
            return self.get_response(request)
        finally:
            _client.reset(token)
