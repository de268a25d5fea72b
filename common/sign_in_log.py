"""Console sign-ins for the System Log: handed to the risk app's task after the commit.

Only the records the sign-in flow yields naturally (session start, MFA, IdP, factor set-up);
the broader audit trail is for later. A broker outage loses a record (logged), not a sign-in.
"""

import uuid
from typing import Any

from common.tasks import enqueue_on_commit

SUCCESS, FAILURE = "SUCCESS", "FAILURE"
# Okta's event types for these steps, and the displayMessage of each.
SESSION_START = "user.session.start"
AUTH_VIA_MFA = "user.authentication.auth_via_mfa"
AUTH_VIA_IDP = "user.authentication.auth_via_IDP"
MFA_FACTOR_ACTIVATE = "user.mfa.factor.activate"
MFA_FACTOR_DEACTIVATE = "user.mfa.factor.deactivate"
SIGN_IN_MESSAGES = {
    SESSION_START: "User login to the console",
    AUTH_VIA_MFA: "Authentication of user via MFA",
    AUTH_VIA_IDP: "Authenticate user with identity provider",
    MFA_FACTOR_ACTIVATE: "User set up MFA factor",
    MFA_FACTOR_DEACTIVATE: "User reset MFA factors",
}


def sign_in_log(
    event_type: str,
    *,
    user: Any = None,
    username: str = "",
    outcome: str = SUCCESS,
    reason: str = "",
    **debug_data: Any,
) -> None:
    """Queue one record; `user` is the admin (None when the username matched nobody)."""
    enqueue_on_commit(
        "risk.tasks.record_admin_sign_in",
        str(uuid.uuid4()),
        event_type,
        user.pk if user is not None else None,
        user.get_username() if user is not None else username,
        outcome,
        reason,
        debug_data,
    )
