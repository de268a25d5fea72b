"""System Log records in Okta's LogEvent shape: actors, targets and the records themselves."""

import functools
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse

from common.audit import AUDIT_MESSAGES, ChangeRecord
from risk.log_search import log_search_text
from risk.models import Entity, EntityKind, LogEvent, OutcomeResult, Severity
from streams.audit import STREAM_EVENT_TYPES, stream_change_log_record
from streams.models import StreamChange

RECEIVE_EVENT = "security.events.provider.receive_event"
RISK_CHANGE = "user.risk.change"
# Ours (Okta has no record for it): an admin dismissed a detection, with the reason.
DETECTION_DISMISS = "user.risk.detection.dismiss"
POLICY_EVALUATE = "policy.entity_risk.evaluate"
POLICY_ACTION = "policy.entity_risk.action"
UNIVERSAL_LOGOUT = "user.authentication.universal_logout"
WORKFLOW_RUN = "workflows.users.delegatedflow.run"
EVENT_TYPES = [
    RECEIVE_EVENT, RISK_CHANGE, DETECTION_DISMISS, POLICY_EVALUATE, POLICY_ACTION,
    UNIVERSAL_LOGOUT, WORKFLOW_RUN,
    *sorted(set(STREAM_EVENT_TYPES.values())), *AUDIT_MESSAGES,
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


def stream_changes_mirror() -> int:
    """Copy stream changes not yet in the System Log into it (those made before stream changes
    were logged as they happen); a rerun copies nothing more."""
    logged = LogEvent.objects.filter(stream_change_id__isnull=False).values("stream_change_id")
    copied = 0
    for change in StreamChange.objects.exclude(pk__in=logged).select_related("actor"):
        try:
            with transaction.atomic():
                change_record_save(stream_change_log_record(change))
            copied += 1
        except IntegrityError:
            continue  # a concurrent mirror copied it first
    return copied


def change_record_save(record: ChangeRecord) -> LogEvent:
    """Save one audit record (common.audit's one way in); a record whose `uuid` is saved
    already is not saved again."""
    debug_data = dict(record.debug_data)
    if record.before is not None or record.after is not None:
        debug_data.update(before=record.before, after=record.after)
    failed = record.outcome != OutcomeResult.SUCCESS
    event = log_event(
        event_type=record.event_type,
        display_message=record.message,
        actor=record.actor,
        target=record.target,
        outcome=OutcomeResult(record.outcome),
        reason=record.reason,
        severity=Severity.WARN if failed else Severity.INFO,
        debug_data=debug_data,
        client=record.client,
        stream_ref=record.stream_ref,
        stream_change_id=record.stream_change_id,
    )
    event.entity_id = record.entity_id
    if record.uuid:
        event.uuid = record.uuid
    with transaction.atomic():
        existing = LogEvent.objects.filter(uuid=record.uuid).first() if record.uuid else None
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
