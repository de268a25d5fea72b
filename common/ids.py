"""Okta-style object ids (`sse1qg25RpusjUP6m0g5`): a short type prefix and random base62."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_LENGTH = 20


def okta_style_id(prefix: str) -> str:
    """Return `prefix` followed by random base62 characters, 20 characters in all."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH - len(prefix)))
