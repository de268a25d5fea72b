"""Processing of accepted SETs: System Log, subject resolution, entity risk and policy, in batches.

A drain claims PENDING SETs with SELECT ... FOR UPDATE SKIP LOCKED, a batch at a time, and does all
of a batch's work in one transaction with a fixed number of queries: concurrent drains share the
work, no SET is processed twice, and a crash rolls the batch back to PENDING (processed again
later, exactly once). Batching is what lets processing keep up with ingest
(../shared/docs/PERFORMANCE.md: one task per SET tops out near 160-200 SETs/s on two cores).
"""

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone

from events.dispatch import (
    clear_processing_request,
    drain_alive,
    drain_finished,
    drain_started,
    keep_processing_request,
    request_processing,
    request_second_drain,
)
from events.models import SecurityEvent, SecurityEventStatus
from risk import mapping
from risk.models import (
    DetectionSignal,
    Entity,
    EntityIdentifier,
    EntityKind,
    LogEvent,
    MappingOverride,
    OutcomeResult,
    RiskChangeCause,
    UserStatus,
)
from risk.services.bulk_write import column_size
from risk.services.entity_risk import SAME_LEVEL, RiskWork, policy_actions_enqueue
from risk.services.system_log import (
    RECEIVE_EVENT,
    entity_target,
    log_event,
    security_event_url,
    stream_actor,
)
from risk.subjects import Subject, subject_of
from streams.models import Stream
from streams.stream_management import stream_remote_status_record, stream_verification_confirm
from streams.vocabulary import chosen_event

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# A drain that finds a small batch waits this long before the next select: fewer, larger batches.
GATHER_SECONDS = 0.1
# Column sizes: longer values from a SET are cut (or not created), not a reason to fail it.
TXN_MAX_CHARS = column_size(DetectionSignal, "txn")
ENTITY_TEXT_MAX_CHARS = column_size(Entity, "email")
IDENTIFIER_MAX_CHARS = column_size(EntityIdentifier, "key")
# A drain under constant load hands over after this long, so other tasks get a worker.
DRAIN_MAX_SECONDS = 10.0


@dataclass
class ParsedEvent:
    """A SET read for processing: its chosen event and what it says its subject is."""

    event: SecurityEvent
    uri: str
    body: dict[str, Any]
    subject: Subject
    stream: Stream | None
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def txn(self) -> str:
        """The SET's `txn`, as DetectionSignal.txn can store it."""
        txn = self.event.claims.get("txn")
        return txn[:TXN_MAX_CHARS] if isinstance(txn, str) else ""


def _parse(event: SecurityEvent, streams: dict[str, Stream]) -> ParsedEvent:
    uri, body = chosen_event(event.claims["events"])
    return ParsedEvent(
        event, uri, body, subject_of(event.claims, body), streams.get(event.stream_ref)
    )


def _auto_create(subject: Subject) -> Entity | None:
    """A new entity named by the subject's identifiers (RISK_AUTO_CREATE_ENTITIES)."""
    kind = EntityKind.USER if subject.user_keys else EntityKind.DEVICE
    keys = subject.user_keys if subject.user_keys else subject.device_keys
    email = next((k.removeprefix("email:") for k in keys if k.startswith("email:")), "")
    if len(email) > ENTITY_TEXT_MAX_CHARS or any(len(k) > IDENTIFIER_MAX_CHARS for k in keys):
        return None  # no column holds it: logged as matching no one, like any unknown subject
    try:
        with transaction.atomic():
            name = "" if email else keys[0].split(":", 1)[1][:ENTITY_TEXT_MAX_CHARS]
            entity = Entity(kind=kind, login=email, email=email, display_name=name,
                            created_automatically=True)  # fmt: skip
            entity.save()
            EntityIdentifier.objects.bulk_create(
                [EntityIdentifier(entity=entity, key=k) for k in keys]
            )
    except IntegrityError:
        # A concurrent batch created it and committed while we waited on its row: use that one.
        found = EntityIdentifier.objects.filter(key__in=keys).values_list("entity_id", flat=True)
        return Entity.objects.filter(pk__in=found[:1]).first()
    return entity


class Batch:
    """One batch of SETs with everything it needs read up front (a fixed number of queries)."""

    def __init__(self, events: list[SecurityEvent]):
        refs = {e.stream_ref for e in events}
        streams = {s.pk: s for s in Stream.objects.filter(pk__in=refs)}
        self.overrides = {
            (o.stream_id, o.event_type): o.outcome
            for o in MappingOverride.objects.filter(stream_id__in=refs)
        }
        self.items = [_parse(e, streams) for e in events]
        keys = {k for item in self.items for k in item.subject.keys}
        self.entity_id_by_key = dict(
            EntityIdentifier.objects.filter(key__in=keys).values_list("key", "entity_id")
        )
        if settings.RISK_AUTO_CREATE_ENTITIES:
            # In key order, so two batches creating the same two entities cannot deadlock.
            for item in sorted(self.items, key=lambda item: sorted(item.subject.keys)):
                if (
                    item.subject
                    and not self._entity_id(item.subject.keys)
                    and self._speaks_of_entity(item)
                ):
                    entity = _auto_create(item.subject)
                    if entity is not None:
                        self.entity_id_by_key.update(dict.fromkeys(item.subject.keys, entity.pk))
        ids = sorted(set(self.entity_id_by_key.values()))
        # Locked in id order, so concurrent batches cannot deadlock on each other.
        self.entities = {
            e.pk: e for e in Entity.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        }
        # The entities' active detections, and the causes (txn) already seen: two queries.
        self.risk = RiskWork(self.entities.values(), txns={item.txn for item in self.items})
        self.logs: list[LogEvent] = []
        self.status: dict[int, str] = {}

    def _entity_id(self, keys: list[str]) -> str | None:
        return next((self.entity_id_by_key[k] for k in keys if k in self.entity_id_by_key), None)

    @staticmethod
    def _speaks_of_entity(item: ParsedEvent) -> bool:
        return item.uri in mapping.RULES and item.uri not in (
            mapping.SSF_VERIFICATION,
            mapping.SSF_STREAM_UPDATED,
        )

    def entity_for(self, item: ParsedEvent) -> tuple[Entity | None, dict[str, str]]:
        """The entity the SET is about, and why (written on its receive_event record).

        One rule for a subject naming a user and a device: the member the event is about (the
        device for device events, the user for the others) when the directory knows it, else
        the other member, so that a signal is not lost because one of the two is not in the
        directory (Okta, which keeps no device risk, raises the user's).
        """
        device_event = mapping.concerns_device(item.uri, item.body)
        members = [("user", item.subject.user_keys), ("device", item.subject.device_keys)]
        if device_event:
            members.reverse()
        named = [member for member, keys in members if keys]
        about = "a device event" if device_event else "not a device event"
        for member, keys in members:
            entity_id = self._entity_id(keys)
            if entity_id is None:
                continue
            if len(named) == 1:
                why = f"the subject names only a {member}"
            elif member == named[0]:
                why = f"{about}: the subject's {member}"
            else:
                why = f"{about}, but its {named[0]} is not in the directory: the subject's {member}"
            return self.entities[entity_id], {"id": entity_id, "member": member, "why": why}
        return None, {}


def _stream_event(item: ParsedEvent) -> dict[str, Any]:
    """SSF events about the stream itself: a verification answer, or a status change."""
    stream_id = item.event.stream_ref
    if item.uri == mapping.SSF_VERIFICATION:
        state = item.body.get("state")
        if not isinstance(state, str):
            return {"verification": "transmitter-initiated (no state)"}
        confirmed = stream_verification_confirm(stream_id=stream_id, state=state)
        return {"verification": "stream verified" if confirmed else "state no longer outstanding"}
    status = item.body["status"]
    stream_remote_status_record(
        stream_id=stream_id, status=status, reason=mapping.reason_text(item.body)
    )
    return {"streamStatus": status}


def _critical_unknown(item: ParsedEvent) -> list[str]:
    metadata = item.stream.metadata if item.stream is not None else None
    critical = (metadata or {}).get("critical_subject_members") or []
    return [m for m in item.subject.unknown_members if m in critical]


def _stream_actor(item: ParsedEvent) -> dict[str, Any]:
    event = item.event
    name = item.stream.name if item.stream is not None else f"(removed stream {event.stream_ref})"
    return stream_actor(stream_ref=event.stream_ref, name=name, issuer=event.issuer)


def _receive_log(
    item: ParsedEvent,
    entity: Entity | None,
    outcome: OutcomeResult,
    reason: str,
    notes: dict[str, Any],
) -> LogEvent:
    event = item.event
    debug = {
        "partnerRiskReportData": {
            "issuer": event.issuer,
            "eventType": item.uri,
            "event": item.body,
        },
        "securityEventId": event.pk,
        "jti": event.jti,
        "txn": event.claims.get("txn"),
        "setUrl": security_event_url(event.pk),
        **notes,
    }
    return log_event(
        event_type=RECEIVE_EVENT,
        display_message="Security Events Provider Reported Risk",
        actor=_stream_actor(item),
        target=[entity_target(entity)] if entity is not None else [],
        outcome=outcome,
        reason=reason,
        debug_data=debug,
        trace_id=item.trace_id,
        entity=entity,
        stream_ref=event.stream_ref,
        security_event_id=event.pk,
        published=timezone.now(),
    )


def _process(batch: Batch, item: ParsedEvent) -> str:
    """Process one SET of the batch; returns its new status."""
    notes: dict[str, Any] = {"eventLabel": mapping.event_label(item.uri)}
    observed_at, in_ms = mapping.event_time(item.event.claims, item.body)
    if in_ms:
        notes["eventTimestampInMilliseconds"] = True
    latest = timezone.now() + timedelta(seconds=settings.SET_CLOCK_SKEW_SECONDS)
    if observed_at > latest:
        # A time in the future would make every later signal of this source look older.
        observed_at = latest
        notes["eventTimeInTheFutureCapped"] = True

    def done(
        status: SecurityEventStatus,
        entity: Entity | None = None,
        outcome: OutcomeResult = OutcomeResult.SUCCESS,
        reason: str = "",
    ) -> SecurityEventStatus:
        batch.logs.append(_receive_log(item, entity, outcome, reason, notes))
        return status

    if item.uri not in mapping.RULES:
        return done(SecurityEventStatus.IGNORED, outcome=OutcomeResult.SKIPPED,
                    reason="Unknown event type; logged and ignored")  # fmt: skip
    errors = mapping.payload_errors(item.uri, item.body)
    if errors:
        reason = "The event does not conform to its type: " + "; ".join(errors)
        return done(SecurityEventStatus.IGNORED, outcome=OutcomeResult.FAILURE, reason=reason)
    if item.uri in (mapping.SSF_VERIFICATION, mapping.SSF_STREAM_UPDATED):
        notes |= _stream_event(item)
        return done(SecurityEventStatus.PROCESSED)
    critical = _critical_unknown(item)
    if critical:
        return done(SecurityEventStatus.IGNORED, outcome=OutcomeResult.FAILURE,
                    reason=f"Discarded: critical subject member(s) {', '.join(critical)} "
                    "cannot be processed")  # fmt: skip
    entity, chosen = batch.entity_for(item)
    if entity is None:
        reason = "The subject matches no user or device" if item.subject else (
            "The SET names no subject we can resolve")  # fmt: skip
        return done(SecurityEventStatus.IGNORED, outcome=OutcomeResult.FAILURE, reason=reason)
    if entity.status == UserStatus.DEPROVISIONED:
        # As at Okta, risk is kept for active people: a deactivated (deprovisioned) user's
        # history stays readable, but a new signal about them changes nothing.
        notes["entityChosen"] = chosen
        reason = f"The subject matches no active user: {entity.id} is deactivated"
        return done(
            SecurityEventStatus.IGNORED, entity=entity, outcome=OutcomeResult.FAILURE, reason=reason
        )
    notes["entityChosen"] = chosen
    override = batch.overrides.get((item.event.stream_ref, item.uri))
    report = mapping.detection_report(item.uri, item.body, override)
    if report is None:
        notes["riskNotChanged"] = "this event type changes no risk" + (
            " (stream override)" if override else ""
        )
        return done(SecurityEventStatus.PROCESSED, entity=entity)
    event = item.event
    signal, why = batch.risk.signal(
        entity=entity,
        report=report,
        source_ref=event.stream_ref,
        observed_at=observed_at,
        reasons=mapping.reason_text(item.body) or mapping.event_label(item.uri),
        txn=item.txn,
        security_event_id=event.pk,
        issuer=event.issuer,
        event_type=item.uri,
        trace_id=item.trace_id,
    )
    change = None
    if signal is not None:
        notes["detection"] = {"kind": report.kind.value, "level": report.level.value,
                              "effect": signal.effect}  # fmt: skip
        change = batch.risk.derive(
            entity, cause=RiskChangeCause.SIGNAL, actor=_stream_actor(item),
            detection=signal.detection, reasons=signal.reasons, issuer=event.issuer,
            event_type=item.uri, security_event_id=event.pk, stream_ref=event.stream_ref,
            txn=item.txn, trace_id=item.trace_id, observed_at=observed_at,
        )  # fmt: skip
    if change is None:
        notes["riskNotChanged"] = why or SAME_LEVEL.format(level=entity.risk_level)
    return done(SecurityEventStatus.PROCESSED, entity=entity)


def _finish(batch: Batch, events: list[SecurityEvent]) -> None:
    """Write the batch's results: a handful of bulk statements, whatever the batch size."""
    action_ids = batch.risk.save(batch.logs)
    now = timezone.now()
    by_status = defaultdict(list)
    for pk, status in batch.status.items():
        by_status[status].append(pk)
    for status, pks in by_status.items():
        SecurityEvent.objects.filter(pk__in=pks).update(status=status, processed_at=now)
    latest = (
        SecurityEvent.objects.filter(pk__in=[e.pk for e in events], stream__isnull=False)
        .values("stream_id")
        .annotate(last=Max("received_at"))
    )
    for row in latest.order_by("stream_id"):  # in id order: concurrent drains cannot deadlock
        Stream.objects.filter(pk=row["stream_id"]).exclude(
            last_set_received_at__gte=row["last"]
        ).update(last_set_received_at=row["last"])
    policy_actions_enqueue(action_ids)


def security_events_process_batch(events: list[SecurityEvent]) -> None:
    """Process a claimed batch inside the caller's transaction."""
    batch = Batch(events)
    for item in batch.items:
        batch.status[item.event.pk] = _process(batch, item)
    _finish(batch, events)


# Errors that one bad SET (or a bug it triggers) can raise; they must not block the others.
# RecursionError: a row nested deep enough to exhaust the stack fails alone (rows deeper than
# common.json_depth.STORED_JSON_MAX_DEPTH read as a placeholder with no `events`: a KeyError).
# OperationalError (a deadlock, a lost connection) is not one: the batch is rolled back and
# stays PENDING for the next drain.
PROCESSING_ERRORS = (
    DatabaseError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    ArithmeticError,
    RecursionError,
)


def _process_claimed(events: list[SecurityEvent]) -> None:
    """Process a claimed batch; if it fails, one SET at a time, marking the failing ones FAILED."""
    try:
        with transaction.atomic():
            security_events_process_batch(events)
        return
    except OperationalError:
        raise
    except PROCESSING_ERRORS:
        logger.exception("A batch of %d SETs failed; processing them one by one", len(events))
    for event in events:
        try:
            with transaction.atomic():
                security_events_process_batch([event])
        except OperationalError:
            raise
        except PROCESSING_ERRORS:
            logger.exception(
                "SET %s (stream %s) could not be processed", event.pk, event.stream_ref
            )
            SecurityEvent.objects.filter(pk=event.pk).update(
                status=SecurityEventStatus.FAILED, processed_at=timezone.now()
            )


def security_events_process_pending(*, batch_size: int = BATCH_SIZE) -> int:
    """Process every PENDING SET, a batch per transaction; returns how many this call processed.

    Safe to run concurrently and to rerun: rows are claimed (FOR UPDATE SKIP LOCKED) and leave
    PENDING in the same transaction that writes their results. A SET whose processing raises is
    marked FAILED (and logged) so it cannot hold up the SETs behind it. The drain holds the
    processing request while it finds work (events.dispatch) and stops after DRAIN_MAX_SECONDS;
    it holds a lease while it runs, which bounds how many drains run at once. A drain that
    fails (the database went away) lets go of the request too, so the next SET asks at once.
    """
    lease = drain_started()
    try:
        return _drain(batch_size, lease)
    except BaseException:
        clear_processing_request()
        raise
    finally:
        drain_finished(lease)


def _drain(batch_size: int, lease: str | None) -> int:
    total, released = 0, False
    started = time.monotonic()
    while True:
        with transaction.atomic():
            events = list(
                SecurityEvent.objects.select_for_update(skip_locked=True)
                .filter(status=SecurityEventStatus.PENDING)
                .defer("raw")  # the token itself is not needed once verified
                .order_by("id")[:batch_size]
            )
            if events:
                _process_claimed(events)
        if not events:
            if released:
                return total
            # Let go of the request, then look once more (events.dispatch explains why).
            clear_processing_request()
            released = True
            continue
        total += len(events)
        drain_alive(lease)
        if time.monotonic() - started > DRAIN_MAX_SECONDS:
            # Give other tasks (policy actions) a turn; a fresh drain carries on after them.
            request_processing(force=True)
            return total
        if not released:
            keep_processing_request()
        if len(events) == batch_size:
            request_second_drain()
        if len(events) < batch_size and not settings.CELERY_TASK_ALWAYS_EAGER:
            time.sleep(GATHER_SECONDS)  # let a few more arrive: fewer, larger batches
