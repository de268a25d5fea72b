"""System Log records in Okta's LogEvent shape: actors, targets and the records themselves."""

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse

from common.sign_in_log import SIGN_IN_MESSAGES
from common.types import Actor
from risk.log_search import log_search_text
from risk.models import Entity, EntityKind, LogEvent, OutcomeResult, Severity
from streams.models import StreamChange

RECEIVE_EVENT = "security.events.provider.receive_event"
RISK_CHANGE = "user.risk.change"
# Ours (Okta has no record for it): an admin dismissed a detection, with the reason.
DETECTION_DISMISS = "user.risk.detection.dismiss"
POLICY_EVALUATE = "policy.entity_risk.evaluate"
POLICY_ACTION = "policy.entity_risk.action"
UNIVERSAL_LOGOUT = "user.authentication.universal_logout"
WORKFLOW_RUN = "workflows.users.delegatedflow.run"
STREAM_EVENT_TYPES = {
    "CREATE": "security.events.provider.add",
    "UPDATE": "security.events.provider.update",
    "ACTIVATE": "security.events.provider.activate",
    "DEACTIVATE": "security.events.provider.deactivate",
    "DELETE": "security.events.provider.delete",
    "ROTATE_PUSH_SECRET": "security.events.provider.update",
    "CLEAR_PUSH_SECRET": "security.events.provider.update",
}
EVENT_TYPES = [
    RECEIVE_EVENT, RISK_CHANGE, DETECTION_DISMISS, POLICY_EVALUATE, POLICY_ACTION,
    UNIVERSAL_LOGOUT, WORKFLOW_RUN,
    *sorted(set(STREAM_EVENT_TYPES.values())), *SIGN_IN_MESSAGES,
]  # fmt: skip


def system_actor() -> dict[str, Any]:
    """The receiver itself as a LogEvent actor (processing, policy actions)."""
    return {
        "id": "system",
        "type": "SystemPrincipal",
        "alternateId": "system@ssf-receiver",
        "displayName": "SSF Receiver",
    }


def stream_actor(*, stream_ref: str, name: str, issuer: str) -> dict[str, Any]:
    """A stream as a LogEvent actor (Okta's SecurityEventProvider)."""
    return {
        "id": stream_ref,
        "type": "SecurityEventProvider",
        "alternateId": issuer,
        "displayName": name,
    }


def admin_actor(*, user: Actor = None, name: str = "") -> dict[str, Any]:
    """An admin (or, without a user, a named operator such as a command) as an actor."""
    if user is None:
        return {"id": name or "system", "type": "SystemPrincipal", "alternateId": name,
                "displayName": name}  # fmt: skip
    return {
        "id": str(user.pk),
        "type": "User",
        "alternateId": user.get_username(),
        "displayName": user.get_full_name() or user.get_username(),
    }


def entity_target(entity: Entity) -> dict[str, Any]:
    """A user or device as a LogEvent target."""
    return {
        "id": entity.id,
        "type": "User" if entity.kind == EntityKind.USER else "Device",
        "alternateId": entity.login or entity.email or entity.id,
        "displayName": entity.label,
    }


def log_event(
    *,
    event_type: str,
    display_message: str,
    actor: dict[str, Any],
    target: list[dict[str, Any]] | None = None,
    outcome: OutcomeResult = OutcomeResult.SUCCESS,
    reason: str = "",
    severity: Severity = Severity.INFO,
    debug_data: dict[str, Any] | None = None,
    trace_id: str = "",
    entity: Entity | None = None,
    stream_ref: str = "",
    security_event_id: int | None = None,
    **fields: Any,
) -> LogEvent:
    """An unsaved LogEvent; callers save it, alone or in a batch (bulk_create)."""
    target = target or []
    debug_data = dict(debug_data or {})
    if trace_id:
        debug_data.setdefault("TraceId", trace_id)
    display_message, reason = display_message[:255], reason[:255]
    return LogEvent(
        event_type=event_type,
        display_message=display_message,
        actor=actor,
        target=target,
        outcome_result=outcome,
        outcome_reason=reason,
        severity=severity,
        debug_data=debug_data,
        transaction={"type": "JOB", "id": trace_id, "detail": {}} if trace_id else None,
        trace_id=trace_id,
        target_id=target[0]["id"] if target else "",
        entity_id=entity.id if entity is not None else "",
        stream_ref=stream_ref,
        security_event_id=security_event_id,
        search_text=log_search_text(
            event_type=event_type,
            display_message=display_message,
            outcome_reason=reason,
            actor=actor,
            target=target,
        ),
        **fields,
    )


def security_event_url(security_event_id: int) -> str:
    """The console page of a stored SET, linked from its records."""
    return _security_event_url_prefix() + f"{security_event_id}/"


@functools.cache
def _security_event_url_prefix() -> str:
    # reverse() once, not once per SET: it is a measurable share of a drain.
    return reverse("events:security_event_detail", args=[0]).removesuffix("0/")


def stream_change_log_event(change: StreamChange) -> LogEvent:
    """The unsaved System Log record of one stream change, with the admin as actor."""
    target = [{"id": change.stream_ref, "type": "SecurityEventProvider",
               "alternateId": (change.after or change.before or {}).get("issuer", ""),
               "displayName": change.stream_name}]  # fmt: skip
    return log_event(
        event_type=STREAM_EVENT_TYPES.get(change.action, "security.events.provider.update"),
        display_message=f"{change.get_action_display()} security events provider",
        actor=admin_actor(user=change.actor, name=change.actor_name),
        target=target,
        debug_data={
            "change": change.action,
            "before": change.before,
            "after": change.after,
            "changedAt": change.created_at.isoformat(),
        },
        stream_ref=change.stream_ref,
        stream_change_id=change.pk,
    )


def stream_changes_mirror() -> int:
    """Copy stream changes not yet in the System Log into it; a rerun copies nothing more."""
    logged = LogEvent.objects.filter(stream_change_id__isnull=False).values("stream_change_id")
    copied = 0
    for change in StreamChange.objects.exclude(pk__in=logged).select_related("actor"):
        try:
            with transaction.atomic():
                stream_change_log_event(change).save()
            copied += 1
        except IntegrityError:
            continue  # a concurrent mirror copied it first
    return copied


def admin_sign_in_record(
    *,
    record_id: str,
    event_type: str,
    user_id: int | None,
    username: str,
    outcome: str,
    reason: str,
    debug_data: dict[str, Any],
) -> LogEvent:
    """Record one console sign-in step with the admin as actor; a rerun with the same
    `record_id` (the LogEvent uuid) records nothing more."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    actor = admin_actor(user=user) if user is not None else {
        "id": "unknown", "type": "User", "alternateId": username[:100], "displayName": "Unknown"
    }  # fmt: skip
    event = log_event(
        event_type=event_type,
        display_message=SIGN_IN_MESSAGES.get(event_type, event_type),
        actor=actor,
        outcome=OutcomeResult(outcome),
        reason=reason,
        severity=Severity.INFO if outcome == OutcomeResult.SUCCESS else Severity.WARN,
        debug_data=debug_data,
        uuid=record_id,
    )
    with transaction.atomic():
        existing = LogEvent.objects.filter(uuid=record_id).first()
        if existing is not None:
            return existing
        event.save()
    return event


def log_event_to_okta(event: LogEvent) -> dict[str, Any]:
    """A record as Okta's System Log API returns a LogEvent."""
    return {
        "uuid": str(event.uuid),
        "published": event.published.isoformat().replace("+00:00", "Z"),
        "eventType": event.event_type,
        "version": event.version,
        "severity": event.severity,
        "legacyEventType": None,
        "displayMessage": event.display_message,
        "actor": event.actor,
        "client": event.client,
        "outcome": {"result": event.outcome_result, "reason": event.outcome_reason or None},
        "target": event.target,
        "transaction": event.transaction,
        "debugContext": {"debugData": event.debug_data},
        "authenticationContext": None,
        "securityContext": None,
        "request": None,
    }
