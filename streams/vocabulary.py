"""Event-type URIs of SSF, CAEP, RISC and Okta: the protocol's vocabulary, shared by the apps."""

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
