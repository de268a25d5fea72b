"""A SET's subject in a few words, for the lists of SETs (the pages keep the full claims)."""

from typing import Any

# The member of each simple identifier that names it (RFC 9493 §3.2; `phone` is the SSF typo).
NAMING_MEMBERS = ("email", "phone_number", "phone", "sub", "id", "uri", "url", "ip", "username")


def _simple(identifier: dict[str, Any]) -> str:
    for name in NAMING_MEMBERS:
        value = identifier.get(name)
        if isinstance(value, str) and value:
            return value
    if isinstance(identifier.get("identifiers"), list):  # aliases: the first one
        first = next((i for i in identifier["identifiers"] if isinstance(i, dict)), None)
        return _simple(first) if first else ""
    return str(identifier.get("format", ""))


def set_subject(claims: Any) -> dict[str, Any] | None:
    """The SET's subject as sent: the top-level `sub_id`, else the first event's own `subject`
    (pre-2024 drafts, Okta's `{user, device}`); None when it names none."""
    if not isinstance(claims, dict):
        return None
    if isinstance(claims.get("sub_id"), dict) and claims["sub_id"]:
        return claims["sub_id"]
    events = claims.get("events")
    for body in events.values() if isinstance(events, dict) else ():
        if isinstance(body, dict) and isinstance(body.get("subject"), dict):
            return body["subject"]
    return None


def subject_label(claims: dict[str, Any]) -> str:
    """`alice@example.com`, or `user: alice@example.com · device: 9f3c…` for a complex subject
    (Okta's {user, device}); of `set_subject`."""
    subject = set_subject(claims)
    if not subject:
        return ""
    if "format" not in subject or subject.get("format") == "complex":
        parts = [
            f"{member}: {_simple(value)}"
            for member, value in subject.items()
            if isinstance(value, dict)
        ]
        if parts:
            return " · ".join(parts)
    return _simple(subject)
