"""The audit trail of streams: who changed what, when, before and after."""

from typing import Any

from common.tasks import enqueue_on_commit
from streams.models import Stream, StreamAction, StreamChange

AUDITED_FIELDS = (
    "name",
    "provider_type",
    "config_method",
    "well_known_url",
    "issuer",
    "jwks_url",
    "status",
    "strict_claims",
)


def stream_snapshot(stream: Stream) -> dict[str, Any]:
    """The audited fields of a stream (never its secrets)."""
    return {name: getattr(stream, name) for name in AUDITED_FIELDS}


def stream_change_record(
    *,
    stream: Stream,
    action: StreamAction,
    actor,
    actor_name: str | None = None,
    before=None,
    after=None,
) -> StreamChange:
    """Audit one change (who, when, before/after); also copied into the System Log."""
    name = actor_name or (actor.get_username() if actor is not None else "system")
    # The System Log (risk app) copies the change; its beat job catches up if this is lost.
    enqueue_on_commit("risk.tasks.mirror_stream_changes")
    return StreamChange.objects.create(
        stream=stream,
        stream_ref=stream.pk,
        stream_name=stream.name,
        action=action,
        actor=actor,
        actor_name=name,
        before=before,
        after=after,
    )
