"""Opaque pagination cursors (Okta's `after`): a page's position, signed with the secret key.

A cursor names the last row a page showed, so the next page starts right after it however many
rows arrive meanwhile. It is signed (HMAC, `django.core.signing`, with a salt per list and
order) because it comes back from the client: a cursor we did not make, one made for another
list or another order, or one that was edited is refused (BadCursor, a 400), never read as some
other position or as the first page again. Only URL-safe characters, so it survives a client
that pastes it into a URL unencoded. SECRET_KEY_FALLBACKS keeps cursors valid across a rotation.
"""

from typing import Any

from django.core import signing

SEPARATOR = "."  # URL-safe and outside the base64url alphabet of the payload and signature


class BadCursor(ValueError):
    """A pagination cursor that we did not make for this list."""


def _signer(kind: str) -> signing.Signer:
    return signing.Signer(salt=f"risk.cursor.{kind}", sep=SEPARATOR)


def cursor_make(*, kind: str, position: list[Any]) -> str:
    """The cursor for `position` (JSON values) in the list `kind`."""
    return _signer(kind).sign_object(position)


def cursor_read(*, kind: str, cursor: str) -> list[Any]:
    """The position a cursor of the list `kind` names; BadCursor for anything else."""
    try:
        position = _signer(kind).unsign_object(cursor)
    except (signing.BadSignature, ValueError) as exc:
        raise BadCursor("The pagination cursor is not valid.") from exc
    if not isinstance(position, list):
        raise BadCursor("The pagination cursor is not valid.")
    return position
