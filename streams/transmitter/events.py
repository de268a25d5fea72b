"""The transmitter's event catalogue and the builder of SET claims, field dialects included.

A receiver has to be tried with one well-formed SET of every event type it may meet (SSF 1.0,
CAEP 1.0, RISC 1.0 and Okta's inbound types: protocol.md §1.9, §6, §7, §8.3) and with the shapes
transmitters in the field really send (protocol.md §1.10, §11). Each type has defaults that fill its
required fields, so a test names only what it cares about.
"""

import copy
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from streams.vocabulary import CAEP, OKTA, RISC
from streams.vocabulary import SSF_STREAM_UPDATED as STREAM_UPDATED
from streams.vocabulary import SSF_VERIFICATION as VERIFICATION

# The 2021 SSE drafts' verification event (Duo's example transmitter).
SSE_VERIFICATION = "https://schemas.openid.net/secevent/sse/event-type/verification"
# Events about the stream itself: the subject is the stream (opaque stream_id); SSF lets them be
# sent whatever the stream requested (protocol.md §1.9).
STREAM_EVENTS = (VERIFICATION, STREAM_UPDATED, SSE_VERIFICATION)
DEFAULT_SUBJECT = "alice@example.com"


@dataclass(frozen=True)
class EventType:
    """One event type: its URI, the fields it gets by default, and whether it is timestamped."""

    uri: str
    defaults: dict[str, Any] = field(default_factory=dict)
    timestamped: bool = False


def _english(text: str) -> dict[str, str]:
    return {"en": text}


def _family(base: str, defaults_by_name: dict[str, dict], *, timestamped: bool) -> dict:
    return {
        name: EventType(base + name, defaults, timestamped)
        for name, defaults in defaults_by_name.items()
    }


_FINGERPRINT = "abb0b6e7da81a42233f8f2b1a8ddb1b9a4c81611"
_CAEP: dict[str, dict[str, Any]] = {
    "session-revoked": {
        "initiating_entity": "policy",
        "reason_admin": _english("Landspeed policy violation"),
    },
    "token-claims-change": {"claims": {"role": "ro-admin"}},
    "credential-change": {
        "credential_type": "password",
        "change_type": "update",
        "reason_admin": _english("User changed their password"),
    },
    "assurance-level-change": {
        "namespace": "NIST-AAL",
        "current_level": "nist-aal2",
        "previous_level": "nist-aal1",
        "change_direction": "increase",
    },
    "device-compliance-change": {"previous_status": "compliant", "current_status": "not-compliant"},
    "session-established": {"fp_ua": _FINGERPRINT, "acr": "AAL2", "amr": ["pwd", "otp"]},
    "session-presented": {"fp_ua": _FINGERPRINT, "ext_id": "session-12345"},
    "risk-level-change": {
        "principal": "USER",
        "current_level": "HIGH",
        "previous_level": "LOW",
        "risk_reason": "PASSWORD_FOUND_IN_DATA_BREACH",
    },
}
_RISC: dict[str, dict[str, Any]] = {
    "account-credential-change-required": {},
    "account-purged": {},
    "account-disabled": {"reason": "hijacking"},
    "account-enabled": {},
    "identifier-changed": {"new-value": "alice.new@example.com"},
    "identifier-recycled": {},
    "opt-in": {},
    "opt-out-initiated": {},
    "opt-out-cancelled": {},
    "opt-out-effective": {},
    "recovery-activated": {},
    "recovery-information-changed": {},
    "sessions-revoked": {},
}
_OKTA: dict[str, dict[str, Any]] = {
    "user-risk-change": {
        "current_level": "high",
        "previous_level": "low",
        "reason_admin": _english("Impossible travel detected"),
    },
    "device-risk-change": {
        "current_level": "high",
        "previous_level": "secure",
        "reason_admin": _english("Device jailbroken"),
    },
    "ip-change": {
        "current_ip_address": "203.0.113.7",
        "previous_ip_address": "198.51.100.3",
        "reason_admin": _english("Session moved to a new network"),
    },
}

EVENT_TYPES: dict[str, EventType] = {
    "verification": EventType(VERIFICATION),
    "stream-updated": EventType(STREAM_UPDATED, {"status": "enabled"}),
    **_family(CAEP, _CAEP, timestamped=True),
    **_family(RISC, _RISC, timestamped=False),
    # RISC's only event with an event_timestamp (time the compromise was discovered).
    "credential-compromise": EventType(
        RISC + "credential-compromise", {"credential_type": "password"}, timestamped=True
    ),
    **_family(OKTA, _OKTA, timestamped=True),
}
_BY_URI = {event_type.uri: event_type for event_type in EVENT_TYPES.values()}


def event_type(name_or_uri: str) -> EventType:
    """The catalogue entry for a name or URI; any other URI is an event type with no fields."""
    found = EVENT_TYPES.get(name_or_uri) or _BY_URI.get(name_or_uri)
    if found is not None:
        return found
    if "://" in name_or_uri:
        return EventType(name_or_uri)
    raise ValueError(f"Unknown event type {name_or_uri!r}; use a catalogue name or a URI.")


def as_subject(subject: str | dict | None) -> dict[str, Any]:
    """An RFC 9493 / SSF subject: an email address becomes an `email` identifier; dicts pass."""
    if isinstance(subject, dict):
        return subject
    return {"format": "email", "email": subject or DEFAULT_SUBJECT}


def okta_subject(subject: dict[str, Any]) -> dict[str, Any]:
    """Okta's event-level subject: `{"user": ..., "device": ...}` with no `"format": "complex"`."""
    if subject.get("format") == "complex":
        return {name: member for name, member in subject.items() if name != "format"}
    return {"user": subject}


@dataclass(frozen=True)
class Quirks:
    """Dialects met in the field (protocol.md §1.10, §11), chosen per SET."""

    legacy: bool = False  # pre-2024 drafts: subject inside the event, no top-level sub_id
    subject_in_event: bool = False  # SGNL's test transmitter: sub_id *and* the event's subject
    okta_shape: bool = False  # Okta inbound API: event subject {"user", "device"}, no sub_id
    float_timestamp: bool = False  # Netskope: event_timestamp as a float
    ms_timestamp: bool = False  # 2021 CAEP drafts, one Okta example: milliseconds
    plain_reasons: bool = False  # pre-2025 SSF examples, SGNL: reason_* as plain strings
    no_subject: bool = False  # 2021 SSE drafts' verification SET (Duo): no subject at all
    jwt_typ: bool = False  # authentik (PyJWT's default): JOSE header typ "JWT"

    @classmethod
    def pop_from(cls, options: dict[str, Any], base: "Quirks | None" = None) -> "Quirks":
        """Take the quirk flags out of `options` (a send call's keyword arguments), on top of
        `base` (the transmitter's own dialect)."""
        chosen = {f.name: getattr(base, f.name) for f in fields(cls)} if base else {}
        chosen |= {f.name: bool(options.pop(f.name)) for f in fields(cls) if f.name in options}
        return cls(**chosen)


def _timestamp(value: float, quirks: Quirks) -> float:
    if quirks.ms_timestamp:
        return int(value * 1000)
    return float(value) if quirks.float_timestamp else int(value)


def _plain(text: Any) -> Any:
    return (text.get("en") or next(iter(text.values()), "")) if isinstance(text, dict) else text


def build_claims(
    event: EventType,
    *,
    subject: dict[str, Any],
    issuer: str,
    audience: str | list[str],
    txn: str,
    quirks: Quirks,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """The claims of one SSF 1.0 SET (one event, sub_id at the top) in the dialect `quirks` asks.

    `overrides` replace the event's default fields; an override of None removes the field.
    """
    now = time.time()
    body = copy.deepcopy(event.defaults)
    if event.timestamped:
        body["event_timestamp"] = now
    body.update(overrides)
    body = {name: value for name, value in body.items() if value is not None}
    if "event_timestamp" in body:
        body["event_timestamp"] = _timestamp(body["event_timestamp"], quirks)
    if quirks.plain_reasons:
        body.update({k: _plain(body[k]) for k in ("reason_admin", "reason_user") if k in body})
    if quirks.okta_shape:
        body["subject"] = okta_subject(subject)
    elif (quirks.legacy or quirks.subject_in_event) and not quirks.no_subject:
        body["subject"] = subject
    claims: dict[str, Any] = {
        "iss": issuer, "aud": audience, "iat": int(now), "jti": uuid.uuid4().hex, "txn": txn,
    }  # fmt: skip
    if not (quirks.legacy or quirks.okta_shape or quirks.no_subject):
        claims["sub_id"] = subject
    claims["events"] = {event.uri: body}
    return claims
