"""Event-type URIs of SSF, CAEP, RISC and Okta: the protocol's vocabulary, shared by the apps."""

from typing import Any

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
OKTA = "https://schemas.okta.com/secevent/okta/event-type/"

SSF_VERIFICATION = SSF + "verification"
SSF_STREAM_UPDATED = SSF + "stream-updated"

# What a stream created at a transmitter asks for by default: every event this receiver reads.
DEFAULT_EVENTS_REQUESTED = [
    *(CAEP + name for name in (
        "session-revoked", "credential-change", "device-compliance-change",
        "assurance-level-change", "token-claims-change", "risk-level-change",
        "session-established", "session-presented",
    )),
    *(RISC + name for name in (
        "credential-compromise", "account-disabled", "account-enabled", "account-purged",
        "identifier-changed", "identifier-recycled", "account-credential-change-required",
        "recovery-activated", "recovery-information-changed", "sessions-revoked",
    )),
    *(OKTA + name for name in ("user-risk-change", "device-risk-change", "ip-change")),
]  # fmt: skip

# Every event type this receiver reads (risk.mapping.RULES holds a rule for each).
EVENT_TYPES_READ = frozenset(
    [
        *DEFAULT_EVENTS_REQUESTED,
        *(RISC + name for name in ("opt-in", "opt-out-initiated", "opt-out-cancelled",
                                   "opt-out-effective")),
        SSF_VERIFICATION,
        SSF_STREAM_UPDATED,
    ]
)  # fmt: skip

# Older URIs of an event read as the SSF 1.0 one: the 2021 SSE drafts (Duo's transmitter) and
# Google's RISC name the verification event so, with `{state}` and no subject (protocol.md §12).
EVENT_TYPE_ALIASES = {
    "https://schemas.openid.net/secevent/sse/event-type/verification": SSF_VERIFICATION,
    RISC + "verification": SSF_VERIFICATION,
}


def chosen_event(events: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event of a SET this receiver stores and processes, under its SSF 1.0 URI.

    SSF 1.0 §4.2.1: several keys in `events` are alternative URIs of one event, so the first
    one we read is taken (an old alias as its current URI); with none we read, the first key.
    """
    for uri, body in events.items():
        current = EVENT_TYPE_ALIASES.get(uri, uri)
        if current in EVENT_TYPES_READ:
            return current, body
    uri = next(iter(events))
    return uri, events[uri]
