"""Every read of streams for pages, the CLI and other apps."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from streams.discovery import normalize_issuer
from streams.keys import NoUsableKey, SigningKey, signing_keys
from streams.models import ConfigMethod, Stream, StreamAction, StreamChange, StreamManagement


def stream_list() -> QuerySet[Stream]:
    """All streams by name, as the console list, the API and `list_streams` show them; not
    those still being created at the transmitter (pending for the seconds the call takes)."""
    return (
        Stream.objects.filter(pending_since__isnull=True)
        .select_related("management")
        .order_by("name")
    )


def stream_get(*, stream_id: str) -> Stream:
    """One stream by id (DoesNotExist when unknown)."""
    return Stream.objects.get(pk=stream_id)


def stream_for_issuer(*, issuer: str) -> Stream | None:
    """The stream whose issuer matches a SET's `iss` (trailing slashes aside), or None."""
    return Stream.objects.filter(issuer_key=normalize_issuer(issuer)).first()


def stream_changes(*, stream_id: str, limit: int = 50) -> QuerySet[StreamChange]:
    """A stream's audit trail, newest first (kept after the stream is removed)."""
    return StreamChange.objects.filter(stream_ref=stream_id).select_related("actor")[:limit]


@dataclass(frozen=True)
class RemovedStream:
    """A removed stream as its removal record keeps it, for the read-only pages: the row itself
    is deleted (so its issuer can be added again), its audit trail and SETs stay."""

    pk: str
    name: str
    config_method: str
    well_known_url: str
    issuer: str
    jwks_url: str
    removed_at: datetime
    removed_by: str
    is_removed = True

    @property
    def issuer_key(self) -> str:
        return normalize_issuer(self.issuer)

    def get_config_method_display(self) -> str:
        method = self.config_method
        return ConfigMethod(method).label if method in ConfigMethod.values else method


def _removed(change: StreamChange) -> RemovedStream:
    before = change.before or {}
    return RemovedStream(
        pk=change.stream_ref,
        name=change.stream_name,
        config_method=str(before.get("config_method", "")),
        well_known_url=str(before.get("well_known_url", "")),
        issuer=str(before.get("issuer", "")),
        jwks_url=str(before.get("jwks_url", "")),
        removed_at=change.created_at,
        removed_by=change.actor_name,
    )


def _removals() -> QuerySet[StreamChange]:
    return StreamChange.objects.filter(action=StreamAction.DELETE).exclude(
        stream_ref__in=Stream.objects.values("pk")
    )


def removed_stream_list() -> list[RemovedStream]:
    """The removed streams, last removed first (the list's Removed filter)."""
    return [_removed(change) for change in _removals().order_by("-created_at", "-id")]


def removed_stream_count() -> int:
    """How many removed streams the Removed filter lists."""
    return _removals().count()


def stream_or_removed(*, stream_id: str) -> Stream | RemovedStream:
    """The stream, or what its removal record keeps of it; Stream.DoesNotExist when neither."""
    stream = Stream.objects.select_related("management").filter(pk=stream_id).first()
    if stream is not None:
        return stream
    change = _removals().filter(stream_ref=stream_id).order_by("-created_at").first()
    if change is None:
        raise Stream.DoesNotExist(stream_id)
    return _removed(change)


def stream_signing_keys(*, stream: Stream) -> list[SigningKey]:
    """The usable keys of the stream's cached JWKS (empty when none is usable any more)."""
    try:
        return signing_keys(stream.jwks)
    except NoUsableKey:
        return []


def stream_jwks(*, stream_id: str) -> tuple[dict[str, Any], datetime]:
    """The stream's cached JWKS and when it was fetched, as stored now."""
    return Stream.objects.values_list("jwks", "jwks_fetched_at").get(pk=stream_id)


def stream_monitoring_list() -> list[dict[str, Any]]:
    """Every stream with what its monitoring series need: name, status, when a SET last
    arrived, and for a stream we manage at the transmitter when it was last verified."""
    rows = Stream.objects.order_by("pk").values(
        "id", "name", "status", "created_at", "last_set_received_at",
        "management__remote_stream_id", "management__verified_at",
    )  # fmt: skip
    return [dict(row) for row in rows]


def stream_remote_id(*, stream_id: str) -> str:
    """The stream's stream_id at the transmitter ('' when it is not managed there)."""
    found = StreamManagement.objects.filter(pk=stream_id).values_list("remote_stream_id")
    return next((remote for (remote,) in found), "")
