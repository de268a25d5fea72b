"""What each event type means for entity risk: the mapping table, payload checks, event times.

The table (also in the README and on the policy page): each known event type maps to a rule
that reads the event body and returns a RiskLevel (NONE clears its source's detection) or None
(logged, no risk change), the kind of detection it makes, whether that level is the source's own
(`reported`) or inferred, and the kind's lifetime. A stream's MappingOverride replaces the level
for that stream's events of that type.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from risk.models import DetectionKind, MappingOverride, RiskLevel
from streams.vocabulary import CAEP, OKTA, RISC, SSF_STREAM_UPDATED, SSF_VERIFICATION

OKTA_LEVELS = {
    "low": RiskLevel.LOW,
    "medium": RiskLevel.MEDIUM,
    "high": RiskLevel.HIGH,
    "secure": RiskLevel.NONE,
    "none": RiskLevel.NONE,
}
CAEP_LEVELS = {"LOW": RiskLevel.LOW, "MEDIUM": RiskLevel.MEDIUM, "HIGH": RiskLevel.HIGH}
CREDENTIAL_CHANGE_TYPES = {"create", "revoke", "update", "delete"}
COMPLIANCE_STATUSES = {"compliant", "not-compliant"}
# Milliseconds rather than seconds (2021 CAEP drafts; Okta's guide): 10^11 s is the year 5138.
MILLISECONDS_THRESHOLD = 10**11


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""


def _okta_level(body):
    return OKTA_LEVELS[_text(body, "current_level").lower()]


def _caep_risk_level(body):
    if _text(body, "principal").upper() not in ("USER", "DEVICE"):
        return None
    return CAEP_LEVELS[_text(body, "current_level").upper()]


def _compliance(body):
    return RiskLevel.MEDIUM if _text(body, "current_status") == "not-compliant" else RiskLevel.NONE


def _credential_change(body):
    return RiskLevel.LOW if _text(body, "change_type") in ("revoke", "delete") else None


def _assurance(body):
    return RiskLevel.LOW if _text(body, "change_direction") == "decrease" else None


def _account_disabled(body):
    return (
        RiskLevel.HIGH
        if _text(body, "reason") in ("hijacking", "bulk-account")
        else RiskLevel.MEDIUM
    )


def _always(level):
    return lambda body: level


def _never(body):
    return None


@dataclass(frozen=True)
class EventRule:
    """How one event type is read: its required fields, its risk rule, the detection it makes,
    and the table's words.

    `reported`: the source states the detection's level (or state) itself, so its newest signal
    replaces it and it lasts until the source changes it; otherwise the level is inferred from
    the event type, never lowers a detection, and expires.
    """

    label: str
    risk: Callable[[dict[str, Any]], RiskLevel | None]
    meaning: str
    required: tuple[tuple[str, frozenset[str] | None], ...] = ()
    kind: DetectionKind | None = None
    reported: bool = False


def _req(name: str, *values: str) -> tuple[str, frozenset[str] | None]:
    return name, frozenset(values) if values else None


K = DetectionKind
OKTA_LEVEL_VALUES = tuple(OKTA_LEVELS)
OKTA_LEVEL_REQUIRED = (
    _req("current_level", *OKTA_LEVEL_VALUES, *(v.upper() for v in OKTA_LEVEL_VALUES)),
)
RULES: dict[str, EventRule] = {
    CAEP + "risk-level-change": EventRule(
        "Risk level change", _caep_risk_level,
        "current_level LOW/MEDIUM/HIGH when principal is USER or DEVICE (a Device risk "
        "detection); other principals: none",
        (_req("principal"), _req("current_level", *CAEP_LEVELS, *(v.lower() for v in CAEP_LEVELS))),
        kind=K.USER_RISK, reported=True,
    ),
    OKTA + "user-risk-change": EventRule(
        "User risk change (Okta)", _okta_level,
        "low/medium/high -> LOW/MEDIUM/HIGH; secure/none -> clears this source's detection",
        OKTA_LEVEL_REQUIRED, kind=K.USER_RISK, reported=True,
    ),
    OKTA + "device-risk-change": EventRule(
        "Device risk change (Okta)", _okta_level,
        "low/medium/high -> LOW/MEDIUM/HIGH; secure/none -> clears this source's detection",
        OKTA_LEVEL_REQUIRED, kind=K.DEVICE_RISK, reported=True,
    ),
    CAEP + "device-compliance-change": EventRule(
        "Device compliance change", _compliance,
        "current_status not-compliant -> MEDIUM; compliant -> clears this source's detection",
        (
            _req("previous_status", *COMPLIANCE_STATUSES),
            _req("current_status", *COMPLIANCE_STATUSES),
        ),
        kind=K.DEVICE_COMPLIANCE, reported=True,
    ),
    CAEP + "credential-change": EventRule(
        "Credential change", _credential_change,
        "change_type revoke/delete -> LOW; create/update -> none",
        (_req("credential_type"), _req("change_type", *CREDENTIAL_CHANGE_TYPES)),
        kind=K.CREDENTIAL_CHANGE,
    ),
    CAEP + "session-revoked": EventRule(
        "Session revoked", _always(RiskLevel.MEDIUM), "MEDIUM (a provider revoked sessions)",
        kind=K.SESSIONS_REVOKED,
    ),
    CAEP + "assurance-level-change": EventRule(
        "Assurance level change", _assurance,
        "change_direction decrease -> LOW; otherwise none",
        (_req("namespace"), _req("current_level")), kind=K.ASSURANCE_DECREASE,
    ),
    CAEP + "token-claims-change": EventRule(
        "Token claims change", _never, "none", (_req("claims"),), kind=K.TOKEN_CLAIMS_CHANGE
    ),
    CAEP + "session-established": EventRule(
        "Session established", _never, "none", kind=K.SESSION_ACTIVITY
    ),
    CAEP + "session-presented": EventRule(
        "Session presented", _never, "none", kind=K.SESSION_ACTIVITY
    ),
    RISC + "credential-compromise": EventRule(
        "Credential compromise", _always(RiskLevel.HIGH), "HIGH", (_req("credential_type"),),
        kind=K.CREDENTIAL_COMPROMISE,
    ),
    RISC + "account-disabled": EventRule(
        "Account disabled", _account_disabled,
        "reason hijacking/bulk-account -> HIGH; otherwise MEDIUM", kind=K.ACCOUNT_DISABLED,
    ),
    RISC + "account-purged": EventRule(
        "Account purged", _always(RiskLevel.HIGH), "HIGH", kind=K.ACCOUNT_PURGED
    ),
    RISC + "identifier-changed": EventRule(
        "Identifier changed", _always(RiskLevel.LOW), "LOW", kind=K.IDENTIFIER_CHANGED
    ),
    RISC + "identifier-recycled": EventRule(
        "Identifier recycled", _always(RiskLevel.MEDIUM), "MEDIUM", kind=K.IDENTIFIER_RECYCLED
    ),
    RISC + "account-credential-change-required": EventRule(
        "Credential change required", _always(RiskLevel.MEDIUM), "MEDIUM",
        kind=K.CREDENTIAL_CHANGE_REQUIRED,
    ),
    RISC + "sessions-revoked": EventRule(
        "Sessions revoked (RISC, deprecated)", _always(RiskLevel.MEDIUM),
        "MEDIUM, as CAEP session-revoked", kind=K.SESSIONS_REVOKED,
    ),
    RISC + "recovery-activated": EventRule(
        "Recovery activated", _always(RiskLevel.LOW), "LOW", kind=K.ACCOUNT_RECOVERY
    ),
    RISC + "recovery-information-changed": EventRule(
        "Recovery information changed", _always(RiskLevel.LOW), "LOW", kind=K.ACCOUNT_RECOVERY
    ),
    RISC + "account-enabled": EventRule("Account enabled", _never, "none",
                                        kind=K.ACCOUNT_ENABLED),
    RISC + "opt-in": EventRule("Opt in", _never, "none", kind=K.OPT_OUT),
    RISC + "opt-out-initiated": EventRule("Opt out initiated", _never, "none", kind=K.OPT_OUT),
    RISC + "opt-out-cancelled": EventRule("Opt out cancelled", _never, "none", kind=K.OPT_OUT),
    RISC + "opt-out-effective": EventRule("Opt out effective", _never, "none", kind=K.OPT_OUT),
    OKTA + "ip-change": EventRule(
        "IP change (Okta)", _never, "none", (_req("current_ip_address"),), kind=K.IP_CHANGE
    ),
    SSF_VERIFICATION: EventRule("Stream verification", _never, "none (SSF stream health)"),
    SSF_STREAM_UPDATED: EventRule(
        "Stream updated", _never, "none (SSF stream status)",
        (_req("status", "enabled", "paused", "disabled"),),
    ),
}  # fmt: skip

# How long a detection of each kind stays active after its last signal, in days (None: until
# its source changes it, or an admin dismisses it). Inferred levels expire; levels a source
# reports stay. RISK_DETECTION_LIFETIME_DAYS changes any of them ("KIND=days" or "KIND=never").
DEFAULT_LIFETIME_DAYS: dict[DetectionKind, float | None] = {
    K.USER_RISK: None,
    K.DEVICE_RISK: None,
    K.DEVICE_COMPLIANCE: None,
    K.ADMIN: None,
    K.CREDENTIAL_COMPROMISE: 30,
    K.ACCOUNT_DISABLED: 30,
    K.ACCOUNT_PURGED: 30,
    K.IDENTIFIER_RECYCLED: 7,
    K.CREDENTIAL_CHANGE_REQUIRED: 7,
    K.IDENTIFIER_CHANGED: 7,
    K.ACCOUNT_RECOVERY: 7,
    K.CREDENTIAL_CHANGE: 7,
    K.SESSIONS_REVOKED: 1,
    K.ASSURANCE_DECREASE: 1,
    # These events mean no risk; a stream mapping can give them a level.
    K.TOKEN_CLAIMS_CHANGE: 7,
    K.SESSION_ACTIVITY: 7,
    K.ACCOUNT_ENABLED: 7,
    K.OPT_OUT: 7,
    K.IP_CHANGE: 7,
}
NEVER = "never"
MAX_LIFETIME_DAYS = 36500


def lifetime_setting_errors(values: dict[str, str]) -> list[str]:
    """What is wrong with RISK_DETECTION_LIFETIME_DAYS (checked at start-up, risk.checks)."""
    errors = []
    for kind, days in values.items():
        if kind not in DetectionKind.values:
            errors.append(f"{kind!r} is not a detection kind ({', '.join(DetectionKind.values)})")
        elif days != NEVER:
            try:
                valid = 0 < float(days) <= MAX_LIFETIME_DAYS
            except ValueError:
                valid = False
            if not valid:
                errors.append(
                    f"{kind}={days!r}: give a number of days (0 to {MAX_LIFETIME_DAYS}) "
                    f"or {NEVER!r}"
                )
    return errors


def lifetime_days(kind: DetectionKind) -> float | None:
    """A detection kind's lifetime in days (None: it does not expire). A value the start-up
    check refuses falls back to the default here, so that it cannot fail a drain."""
    configured = settings.RISK_DETECTION_LIFETIME_DAYS.get(kind.value)
    if configured is None or lifetime_setting_errors({kind.value: configured}):
        return DEFAULT_LIFETIME_DAYS[kind]
    return None if configured == NEVER else float(configured)


def lifetime(kind: DetectionKind) -> timedelta | None:
    days = lifetime_days(kind)
    return None if days is None else timedelta(days=days)


def lifetime_text(kind: DetectionKind) -> str:
    """The lifetime as the policy page and the README say it."""
    days = lifetime_days(kind)
    if days is None:
        return "until its source changes it"
    return f"{days:g} day{'' if days == 1 else 's'}"


OVERRIDE_LEVELS = {
    MappingOverride.Outcome.CLEAR: RiskLevel.NONE,
    MappingOverride.Outcome.LOW: RiskLevel.LOW,
    MappingOverride.Outcome.MEDIUM: RiskLevel.MEDIUM,
    MappingOverride.Outcome.HIGH: RiskLevel.HIGH,
    MappingOverride.Outcome.NO_CHANGE: None,
}


def event_label(uri: str) -> str:
    rule = RULES.get(uri)
    return rule.label if rule else uri.rstrip("/").rsplit("/", 1)[-1]


def payload_errors(uri: str, body: dict[str, Any]) -> list[str]:
    """What makes the event body not conform to its event type (empty when it conforms)."""
    rule = RULES.get(uri)
    errors = []
    for name, allowed in rule.required if rule else ():
        value = body.get(name)
        if value in (None, "", {}, []):
            errors.append(f"'{name}' is required")
        elif allowed is not None and (not isinstance(value, str) or value not in allowed):
            errors.append(f"'{name}' has the unknown value {value!r}")
    return errors


DEVICE_EVENT_TYPES = frozenset({OKTA + "device-risk-change", CAEP + "device-compliance-change"})


def concerns_device(uri: str, body: dict[str, Any]) -> bool:
    """Whether the event is about the device of a {user, device} subject rather than the user:
    device risk and compliance, and CAEP risk-level-change whose principal is DEVICE."""
    if uri in DEVICE_EVENT_TYPES:
        return True
    return uri == CAEP + "risk-level-change" and _text(body, "principal").upper() == "DEVICE"


def risk_for(uri: str, body: dict[str, Any], override: str | None = None) -> RiskLevel | None:
    """The risk level this event reports (NONE clears its source's detection), or None when it
    reports no risk."""
    if override is not None:
        return OVERRIDE_LEVELS[MappingOverride.Outcome(override)]
    rule = RULES.get(uri)
    return rule.risk(body) if rule else None


def detection_kind(uri: str, body: dict[str, Any]) -> DetectionKind | None:
    """The kind of detection an event makes: its row's, but Device risk for a CAEP
    risk-level-change whose principal is DEVICE."""
    rule = RULES.get(uri)
    if rule is None or rule.kind is None:
        return None
    if rule.kind is DetectionKind.USER_RISK and concerns_device(uri, body):
        return DetectionKind.DEVICE_RISK
    return rule.kind


@dataclass(frozen=True)
class DetectionReport:
    """What one event says about its source's detection of one kind."""

    kind: DetectionKind
    level: RiskLevel  # NONE: the source clears its detection of this kind
    reported: bool


def detection_report(
    uri: str, body: dict[str, Any], override: str | None = None
) -> DetectionReport | None:
    """The detection an event reports, or None when it reports no risk. A stream's mapping
    changes the level an event means, not how that level combines with others."""
    level = risk_for(uri, body, override)
    kind = detection_kind(uri, body)
    if level is None or kind is None:
        return None
    return DetectionReport(kind=kind, level=level, reported=RULES[uri].reported)


def reason_text(body: dict[str, Any]) -> str:
    """reason_admin (a language map or, in older senders, a string), else risk_reason."""
    for name in ("reason_admin", "reason_user"):
        value = body.get(name)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and value:
            text = value.get("en") or next(iter(value.values()))
            if isinstance(text, str):
                return text
    return _text(body, "risk_reason") or _text(body, "reason")


def event_time(claims: dict[str, Any], body: dict[str, Any]) -> tuple[datetime, bool]:
    """When the event happened (event_timestamp, else toe, else iat) and whether it came in ms."""
    for source in (body.get("event_timestamp"), claims.get("toe"), claims.get("iat")):
        if isinstance(source, (int, float)) and not isinstance(source, bool) and source > 0:
            in_ms = source > MILLISECONDS_THRESHOLD
            try:
                seconds = source / 1000 if in_ms else source
                return datetime.fromtimestamp(seconds, tz=UTC), in_ms
            except (OverflowError, OSError, ValueError):
                continue  # a number no clock can hold (10**400): try the next source
    return datetime.now(tz=UTC), False
