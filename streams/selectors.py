"""Every read of streams for pages, the CLI and other apps."""

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from streams.discovery import normalize_issuer
from streams.keys import NoUsableKey, SigningKey, signing_keys
from streams.models import Stream, StreamChange, StreamManagement


def stream_list() -> QuerySet[Stream]:
    """All streams by name, as the console list and `list_streams` show them."""
    return Stream.objects.select_related("management").order_by("name")


def stream_get(*, stream_id: str) -> Stream:
    """One stream by id (DoesNotExist when unknown)."""
    return Stream.objects.get(pk=stream_id)


def stream_for_issuer(*, issuer: str) -> Stream | None:
    """The stream whose issuer matches a SET's `iss` (trailing slashes aside), or None."""
    return Stream.objects.filter(issuer_key=normalize_issuer(issuer)).first()


def stream_changes(*, stream: Stream, limit: int = 50) -> QuerySet[StreamChange]:
    """A stream's audit trail, newest first (kept after the stream is removed)."""
    return StreamChange.objects.filter(stream_ref=stream.pk).select_related("actor")[:limit]


def stream_signing_keys(*, stream: Stream) -> list[SigningKey]:
    """The usable keys of the stream's cached JWKS (empty when none is usable any more)."""
    try:
        return signing_keys(stream.jwks)
    except NoUsableKey:
        return []


def stream_jwks(*, stream_id: str) -> tuple[dict[str, Any], datetime]:
    """The stream's cached JWKS and when it was fetched, as stored now."""
    return Stream.objects.values_list("jwks", "jwks_fetched_at").get(pk=stream_id)


def stream_remote_id(*, stream_id: str) -> str:
    """The stream's stream_id at the transmitter ('' when it is not managed there)."""
    found = StreamManagement.objects.filter(pk=stream_id).values_list("remote_stream_id")
    return next((remote for (remote,) in found), "")
