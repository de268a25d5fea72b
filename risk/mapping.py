"""What each event type means for entity risk: the mapping table, payload checks, event times.

The table (also in the README): each known event type maps to a rule that reads the event body
and returns a RiskLevel (NONE clears the risk) or None (logged, no risk change). A stream's
MappingOverride replaces the rule for that stream's events of that type.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from risk.models import MappingOverride, RiskLevel
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
    return RiskLevel.MEDIUM if _text(body, "current_status") == "not-compliant" else None


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
    """How one event type is read: its required fields, its risk rule, and the table's words."""

    label: str
    risk: Callable[[dict[str, Any]], RiskLevel | None]
    meaning: str
    required: tuple[tuple[str, frozenset[str] | None], ...] = ()


def _req(name: str, *values: str) -> tuple[str, frozenset[str] | None]:
    return name, frozenset(values) if values else None


OKTA_LEVEL_VALUES = tuple(OKTA_LEVELS)
RULES: dict[str, EventRule] = {
    CAEP + "risk-level-change": EventRule(
        "Risk level change", _caep_risk_level,
        "current_level LOW/MEDIUM/HIGH when principal is USER or DEVICE; other principals: none",
        (_req("principal"), _req("current_level", *CAEP_LEVELS, *(v.lower() for v in CAEP_LEVELS))),
    ),
    OKTA + "user-risk-change": EventRule(
        "User risk change (Okta)", _okta_level,
        "low/medium/high -> LOW/MEDIUM/HIGH; secure/none -> clears the risk",
        (_req("current_level", *OKTA_LEVEL_VALUES, *(v.upper() for v in OKTA_LEVEL_VALUES)),),
    ),
    OKTA + "device-risk-change": EventRule(
        "Device risk change (Okta)", _okta_level,
        "low/medium/high -> LOW/MEDIUM/HIGH; secure/none -> clears the risk",
        (_req("current_level", *OKTA_LEVEL_VALUES, *(v.upper() for v in OKTA_LEVEL_VALUES)),),
    ),
    CAEP + "device-compliance-change": EventRule(
        "Device compliance change", _compliance,
        "current_status not-compliant -> MEDIUM; compliant -> none (does not clear other risk)",
        (
            _req("previous_status", *COMPLIANCE_STATUSES),
            _req("current_status", *COMPLIANCE_STATUSES),
        ),
    ),
    CAEP + "credential-change": EventRule(
        "Credential change", _credential_change,
        "change_type revoke/delete -> LOW; create/update -> none",
        (_req("credential_type"), _req("change_type", *CREDENTIAL_CHANGE_TYPES)),
    ),
    CAEP + "session-revoked": EventRule(
        "Session revoked", _always(RiskLevel.MEDIUM), "MEDIUM (a provider revoked sessions)"
    ),
    CAEP + "assurance-level-change": EventRule(
        "Assurance level change", _assurance,
        "change_direction decrease -> LOW; otherwise none",
        (_req("namespace"), _req("current_level")),
    ),
    CAEP + "token-claims-change": EventRule(
        "Token claims change", _never, "none", (_req("claims"),)
    ),
    CAEP + "session-established": EventRule("Session established", _never, "none"),
    CAEP + "session-presented": EventRule("Session presented", _never, "none"),
    RISC + "credential-compromise": EventRule(
        "Credential compromise", _always(RiskLevel.HIGH), "HIGH", (_req("credential_type"),)
    ),
    RISC + "account-disabled": EventRule(
        "Account disabled", _account_disabled,
        "reason hijacking/bulk-account -> HIGH; otherwise MEDIUM",
    ),
    RISC + "account-purged": EventRule("Account purged", _always(RiskLevel.HIGH), "HIGH"),
    RISC + "identifier-changed": EventRule("Identifier changed", _always(RiskLevel.LOW), "LOW"),
    RISC + "identifier-recycled": EventRule(
        "Identifier recycled", _always(RiskLevel.MEDIUM), "MEDIUM"
    ),
    RISC + "account-credential-change-required": EventRule(
        "Credential change required", _always(RiskLevel.MEDIUM), "MEDIUM"
    ),
    RISC + "sessions-revoked": EventRule(
        "Sessions revoked (RISC, deprecated)", _always(RiskLevel.MEDIUM),
        "MEDIUM, as CAEP session-revoked",
    ),
    RISC + "recovery-activated": EventRule("Recovery activated", _always(RiskLevel.LOW), "LOW"),
    RISC + "recovery-information-changed": EventRule(
        "Recovery information changed", _always(RiskLevel.LOW), "LOW"
    ),
    RISC + "account-enabled": EventRule("Account enabled", _never, "none"),
    RISC + "opt-in": EventRule("Opt in", _never, "none"),
    RISC + "opt-out-initiated": EventRule("Opt out initiated", _never, "none"),
    RISC + "opt-out-cancelled": EventRule("Opt out cancelled", _never, "none"),
    RISC + "opt-out-effective": EventRule("Opt out effective", _never, "none"),
    OKTA + "ip-change": EventRule(
        "IP change (Okta)", _never, "none", (_req("current_ip_address"),)
    ),
    SSF_VERIFICATION: EventRule("Stream verification", _never, "none (SSF stream health)"),
    SSF_STREAM_UPDATED: EventRule(
        "Stream updated", _never, "none (SSF stream status)",
        (_req("status", "enabled", "paused", "disabled"),),
    ),
}  # fmt: skip

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
    """The risk level this event sets (NONE clears it), or None when it changes no risk."""
    if override is not None:
        return OVERRIDE_LEVELS[MappingOverride.Outcome(override)]
    rule = RULES.get(uri)
    return rule.risk(body) if rule else None


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
