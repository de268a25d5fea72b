"""The audit trail of streams: who changed what, when, before and after."""

from typing import Any

from common.audit import ChangeRecord, admin_actor, audit_record
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
# Okta's event types for changes to a SecurityEventProvider.
STREAM_EVENT_TYPES = {
    "CREATE": "security.events.provider.add",
    "UPDATE": "security.events.provider.update",
    "ACTIVATE": "security.events.provider.activate",
    "DEACTIVATE": "security.events.provider.deactivate",
    "DELETE": "security.events.provider.delete",
    "ROTATE_PUSH_SECRET": "security.events.provider.update",
    "CLEAR_PUSH_SECRET": "security.events.provider.update",
}
# What a stream change says about the push secret (never the secret itself).
PUSH_SECRET_CHANGES = {"ROTATE_PUSH_SECRET": "changed", "CLEAR_PUSH_SECRET": "removed"}


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
    """Audit one change (who, when, before/after) on the stream's trail and in the System Log."""
    name = actor_name or (actor.get_username() if actor is not None else "system")
    change = StreamChange.objects.create(
        stream=stream,
        stream_ref=stream.pk,
        stream_name=stream.name,
        action=action,
        actor=actor,
        actor_name=name,
        before=before,
        after=after,
    )
    audit_record(stream_change_log_record(change))
    return change


def stream_change_log_record(change: StreamChange) -> ChangeRecord:
    """The System Log record of one stream change, with the admin as actor."""
    target = [{"id": change.stream_ref, "type": "SecurityEventProvider",
               "alternateId": (change.after or change.before or {}).get("issuer", ""),
               "displayName": change.stream_name}]  # fmt: skip
    before, after = change.before, change.after
    if change.action in PUSH_SECRET_CHANGES:
        before, after = None, {"pushAuthorization": PUSH_SECRET_CHANGES[change.action]}
    return ChangeRecord(
        event_type=STREAM_EVENT_TYPES.get(change.action, "security.events.provider.update"),
        display_message=f"{change.get_action_display()} security events provider",
        actor=admin_actor(user=change.actor, name=change.actor_name),
        target=target,
        before=before,
        after=after,
        debug_data={"change": change.action, "changedAt": change.created_at.isoformat()},
        stream_ref=change.stream_ref,
        stream_change_id=change.pk,
    )
