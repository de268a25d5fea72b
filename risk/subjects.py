"""Subjects of SETs as canonical identifier keys, for finding the entity a SET speaks of.

Covers RFC 9493 formats (email, iss_sub, opaque, phone_number, account, did, uri, aliases), SSF's
complex subjects (user, device, session, ...), Okta's `{user, device}` without a format, Google
RISC's `subject_type` with dashed values, and `phone` (the SSF spec's typo). The top-level
`sub_id` comes first; the event's own `subject` (the pre-2024 dialect, Okta's shape) is the
fallback. Keys look like `email:alice@example.com` (see `identifier_keys`).
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from streams.discovery import normalize_issuer

FORMAT_ALIASES = {"phone": "phone_number", "iss-sub": "iss_sub", "phone-number": "phone_number"}
COMPLEX_MEMBERS = frozenset(
    {"user", "device", "session", "application", "tenant", "org_unit", "group"}
)
# The members this receiver acts on: it keeps no sessions, applications or tenants.
PROCESSED_MEMBERS = frozenset({"user", "device"})
# Formats that name something other than a user or a device.
NON_ENTITY_FORMATS = frozenset({"jwt_id", "saml_assertion_id", "ip-addresses"})


@dataclass
class Subject:
    """What a SET says it is about, as lookup keys in order of preference."""

    user_keys: list[str] = field(default_factory=list)
    device_keys: list[str] = field(default_factory=list)
    # The simple identifier that named the user, as sent (used as sub_id in Universal Logout).
    user_identifier: dict[str, Any] | None = None
    device_identifier: dict[str, Any] | None = None
    # Complex-subject members we cannot act on (checked against critical_subject_members).
    unknown_members: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return self.user_keys + self.device_keys

    def __bool__(self) -> bool:
        return bool(self.keys)


def canonical_email(address: str) -> str:
    """Lower-case the domain, and the local part unless EMAIL_LOCAL_PART_CASE_SENSITIVE is set."""
    address = address.strip().removeprefix("mailto:")
    local, _, domain = address.rpartition("@")
    if not local:
        return address.lower()
    if not settings.EMAIL_LOCAL_PART_CASE_SENSITIVE:
        local = local.lower()
    return f"{local}@{domain.lower()}"


def identifier_format(identifier: dict[str, Any]) -> str:
    fmt = identifier.get("format", identifier.get("subject_type", ""))
    fmt = fmt if isinstance(fmt, str) else ""
    return FORMAT_ALIASES.get(fmt, fmt)


def _text(identifier: dict[str, Any], name: str) -> str:
    value = identifier.get(name)
    return value.strip() if isinstance(value, str) else ""


def identifier_keys(identifier: Any) -> list[str]:
    """Canonical keys of one simple identifier (several for `aliases`); [] when none apply."""
    if not isinstance(identifier, dict):
        return []
    fmt = identifier_format(identifier)
    if fmt == "aliases":
        found = []
        for alias in identifier.get("identifiers") or []:
            if isinstance(alias, dict) and identifier_format(alias) != "aliases":
                found += identifier_keys(alias)
        return found
    if fmt == "email" and _text(identifier, "email"):
        return [f"email:{canonical_email(_text(identifier, 'email'))}"]
    if fmt == "iss_sub" and _text(identifier, "iss") and _text(identifier, "sub"):
        return [f"iss_sub:{normalize_issuer(_text(identifier, 'iss'))}|{_text(identifier, 'sub')}"]
    if fmt == "phone_number":
        digits = "".join(c for c in _text(identifier, "phone_number") if c.isdigit())
        return [f"phone_number:+{digits}"] if digits else []
    if fmt == "account" and _text(identifier, "uri"):
        return [f"account:{canonical_email(_text(identifier, 'uri').removeprefix('acct:'))}"]
    if fmt == "opaque" and _text(identifier, "id"):
        return [f"opaque:{_text(identifier, 'id')}"]
    if fmt == "did" and _text(identifier, "url"):
        return [f"did:{_text(identifier, 'url')}"]
    if fmt == "uri" and _text(identifier, "uri"):
        return [f"uri:{_text(identifier, 'uri')}"]
    return []


def _is_complex(value: dict[str, Any]) -> bool:
    # Okta's {user, device} and some legacy senders omit "format": "complex".
    return identifier_format(value) == "complex" or (
        not identifier_format(value)
        and any(isinstance(value.get(m), dict) for m in COMPLEX_MEMBERS)
    )


def _read(value: Any, subject: Subject) -> None:
    if not isinstance(value, dict):
        return
    if not _is_complex(value):
        keys = identifier_keys(value)
        if keys and identifier_format(value) not in NON_ENTITY_FORMATS:
            subject.user_keys += keys
            subject.user_identifier = subject.user_identifier or value
        return
    for member, identifier in value.items():
        if member in ("format", "subject_type"):
            continue
        if member not in PROCESSED_MEMBERS:
            # SSF §3.2: a member we cannot act on (a session, a tenant...) discards the event
            # when the transmitter lists it in critical_subject_members.
            subject.unknown_members.append(member)
        if member == "user" and identifier_keys(identifier):
            subject.user_keys += identifier_keys(identifier)
            subject.user_identifier = subject.user_identifier or identifier
        elif member == "device" and identifier_keys(identifier):
            subject.device_keys += identifier_keys(identifier)
            subject.device_identifier = subject.device_identifier or identifier


def subject_of(claims: dict[str, Any], event: dict[str, Any]) -> Subject:
    """The subject of a SET: `sub_id` first, then the event's `subject` (legacy and Okta shape)."""
    subject = Subject()
    _read(claims.get("sub_id"), subject)
    if not subject:
        _read(event.get("subject"), subject)
    return subject
