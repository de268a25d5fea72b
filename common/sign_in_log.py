"""Console sign-in steps for the System Log, through the one audit writer (common.audit).

The admin is the actor; a username that matched nobody is named as typed (at most 100
characters), as Okta names an unknown user.
"""

from typing import Any

from common.audit import (
    AUTH_VIA_IDP,
    AUTH_VIA_MFA,
    FAILURE,
    MFA_FACTOR_ACTIVATE,
    MFA_FACTOR_DEACTIVATE,
    SESSION_START,
    SUCCESS,
    ChangeRecord,
    admin_actor,
    audit_record,
)
from common.text import storable

__all__ = [
    "AUTH_VIA_IDP", "AUTH_VIA_MFA", "FAILURE", "MFA_FACTOR_ACTIVATE", "MFA_FACTOR_DEACTIVATE",
    "SESSION_START", "SUCCESS", "sign_in_log",
]  # fmt: skip


def sign_in_log(
    event_type: str,
    *,
    user: Any = None,
    username: str = "",
    outcome: str = SUCCESS,
    reason: str = "",
    **debug_data: Any,
) -> None:
    """Record one step; `user` is the admin (None when the username matched nobody)."""
    actor = admin_actor(user=user) if user is not None else {
        "id": "unknown", "type": "User", "alternateId": storable(username[:100]),
        "displayName": "Unknown",
    }  # fmt: skip
    audit_record(ChangeRecord(event_type=event_type, actor=actor, outcome=outcome,
                              reason=reason, debug_data=debug_data))  # fmt: skip
