"""Okta-style object ids (`sse1qg25RpusjUP6m0g5`): a short type prefix and random base62."""

import re
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_LENGTH = 20
# Ids we look up (Okta's and ours): letters and digits. Anything else is unknown without a query.
_LOOKUP_PATTERN = re.compile(r"[A-Za-z0-9]{1,64}")


def okta_style_id(prefix: str) -> str:
    """Return `prefix` followed by random base62 characters, 20 characters in all."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH - len(prefix)))


class ObjectIdConverter:
    """`<oid:pk>` in URLs: an id we could have made, so junk (a NUL byte) is a 404, not a
    query the database refuses."""

    regex = _LOOKUP_PATTERN.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def is_okta_style_id(value: str) -> bool:
    """Whether `value` can be an id at all (so junk, such as a NUL byte, never reaches a query)."""
    return bool(_LOOKUP_PATTERN.fullmatch(value))
