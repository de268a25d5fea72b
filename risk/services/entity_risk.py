"""Entity risk from detections: every source's detection of every kind, and the level derived.

The rule (README "Entity risk"): an entity's risk is the **highest level among its active
detections** (NONE without any). A detection is one source's (a stream's, or the admins') view
of one kind; risk.mapping names the kind of each event type.

- A level the source reports itself (Okta user/device-risk-change, CAEP risk-level-change,
  device compliance) replaces that source's detection of that kind, up or down; Okta
  secure/none and CAEP compliant clear it.
- A level we infer from an event type (session revoked -> MEDIUM...) raises its detection but
  never lowers it, and the detection expires after its kind's lifetime.
- A signal older (by event time) than the newest one applied to the same (entity, source,
  kind) does not replace a reported level, nor open again a detection its source cleared
  later; other sources' signals do not matter to it.
- A signal no newer (by event time) than the newest one behind a detection an admin dismissed
  does not open it again: the admin overruled that news already. A newer signal does.
- SETs of one stream sharing a `txn` are one cause: the first one's signal counts.

So no source, and no routine follow-up event, can lower another source's detection: only the
source itself, expiry, or an admin (dismiss, reset, or setting LOW) ends a detection.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from common.audit import admin_actor
from common.tasks import enqueue_on_commit
from risk import mapping
from risk.models import (
    Detection,
    DetectionKind,
    DetectionSignal,
    DetectionState,
    Entity,
    LogEvent,
    PolicyAction,
    RiskChange,
    RiskChangeCause,
    RiskLevel,
    Severity,
    SignalEffect,
)
from risk.services.bulk_write import column_size, rows_insert, rows_update
from risk.services.policy import Policy, policy_evaluate, policy_match
from risk.services.system_log import (
    DETECTION_DISMISS,
    RISK_CHANGE,
    entity_target,
    log_event,
    system_actor,
)

OUT_OF_ORDER = "older than the signal behind this source's detection; not applied"
CLEARED_LATER = "older than this source's clearing of its detection of this kind; not applied"
DISMISSED_LATER = "no newer than the signal behind the detection an admin dismissed; not applied"
SAME_CAUSE = "a SET with the same txn already reported this entity's detection"
NOT_LOWERED = "an inferred level never lowers a detection; the detection keeps its level"
NOTHING_TO_CLEAR = "this source has no active detection of this kind to clear"
SAME_LEVEL = "the entity's risk stays {level}"
REASONS_MAX_CHARS = column_size(Detection, "reasons")
ENTITY_RISK_FIELDS = ("risk_level", "risk_reason", "risk_updated_at", "risk_stream_ref")
DETECTION_FIELDS = ("level", "state", "reasons", "issuer", "event_type", "security_event",
                    "last_seen_at", "observed_at", "expires_at", "ended_at", "ended_by",
                    "end_reason")  # fmt: skip
# Entities whose detections expire per transaction, and transactions per expiry run.
EXPIRY_BATCH = 200
EXPIRY_MAX_BATCHES = 50


def _rank(level: str) -> int:
    return RiskLevel(level).rank


def detection_summary(detection: Detection) -> dict[str, Any]:
    """A detection as user.risk.change records and RiskChange.detections name it."""
    return {
        "id": detection.pk,
        "kind": detection.kind,
        "level": detection.level,
        "sourceRef": detection.source_ref,
        "detectionType": DetectionKind(detection.kind).detection_type.value,
        "since": detection.first_seen_at.isoformat(),
        "expiresAt": detection.expires_at.isoformat() if detection.expires_at else None,
        "reasons": detection.reasons,
        "securityEventId": detection.security_event_id,
    }


@dataclass
class EntityDetections:
    """An entity and its active detections by (source, kind)."""

    entity: Entity
    active: dict[tuple[str, str], Detection] = field(default_factory=dict)

    def derived(self) -> tuple[RiskLevel, list[Detection]]:
        """The highest level among the active detections, and the detections at that level
        (the newest signal first): the detections behind the entity's risk."""
        if not self.active:
            return RiskLevel.NONE, []
        top = max(_rank(d.level) for d in self.active.values())
        behind = [d for d in self.active.values() if _rank(d.level) == top]
        behind.sort(key=lambda d: (d.observed_at, d.last_seen_at), reverse=True)
        return RiskLevel(behind[0].level), behind


@dataclass
class PendingChange:
    """A change of derived level, with the log actor and the detections behind it then."""

    change: RiskChange
    entity: Entity
    actor: dict[str, Any]
    behind: list[tuple[Detection, dict[str, Any]]]


class RiskWork:
    """Risk work on entities the caller has locked: signals, admin changes and expiries are
    applied in memory, then `save` writes everything with a fixed number of statements.

    Reads one query for the active detections of all the entities, one for the event times
    at which their sources cleared detections, one for the newest event times behind the
    detections admins dismissed, and one for the causes already seen (when `txns` are given).
    """

    def __init__(
        self, entities: Iterable[Entity], *, txns: Iterable[str] = (), now: datetime | None = None
    ):
        self.now = now or timezone.now()
        self.states = {entity.pk: EntityDetections(entity) for entity in entities}
        ids = list(self.states)
        for detection in Detection.objects.filter(entity_id__in=ids, state=DetectionState.ACTIVE):
            state = self.states[detection.entity_id]
            detection.entity = state.entity
            state.active[(detection.source_ref, detection.kind)] = detection
        self.cleared_at: dict[tuple[str, str, str], datetime] = {
            (entity_id, source_ref, kind): newest
            for entity_id, source_ref, kind, newest in DetectionSignal.objects.filter(
                entity_id__in=ids, effect__in=(SignalEffect.CLEARED, SignalEffect.NOTHING_TO_CLEAR)
            )
            .values_list("entity_id", "source_ref", "kind")
            .annotate(newest=Max("observed_at"))
            .order_by()
        }
        self.dismissed_at: dict[tuple[str, str, str], datetime] = {
            (entity_id, source_ref, kind): newest
            for entity_id, source_ref, kind, newest in Detection.objects.filter(
                entity_id__in=ids, state=DetectionState.DISMISSED
            )
            .values_list("entity_id", "source_ref", "kind")
            .annotate(newest=Max("observed_at"))
            .order_by()
        }
        txns = set(txns) - {""}
        self.known_causes: set[tuple[str, str, str]] = (
            set(
                DetectionSignal.objects.filter(entity_id__in=ids, txn__in=txns).values_list(
                    "entity_id", "source_ref", "txn"
                )
            )
            if txns
            else set()
        )
        self.touched: dict[int, Detection] = {}
        self.signals: list[DetectionSignal] = []
        self.changes: list[PendingChange] = []
        self.modified: dict[str, Entity] = {}
        self._lifetimes: dict[DetectionKind, timedelta | None] = {}

    def _expiry(self, kind: DetectionKind) -> datetime | None:
        if kind not in self._lifetimes:
            self._lifetimes[kind] = mapping.lifetime(kind)
        lifetime = self._lifetimes[kind]
        return None if lifetime is None else self.now + lifetime

    def _end(
        self,
        state: EntityDetections,
        detection: Detection,
        how: DetectionState,
        *,
        by: str = "",
        reason: str = "",
    ) -> None:
        detection.state = how
        detection.ended_at = self.now
        detection.ended_by = by
        detection.end_reason = reason[:REASONS_MAX_CHARS]
        state.active.pop((detection.source_ref, detection.kind), None)
        self.touched[id(detection)] = detection

    def signal(
        self,
        *,
        entity: Entity,
        report: mapping.DetectionReport,
        source_ref: str,
        observed_at: datetime,
        reasons: str,
        txn: str = "",
        security_event_id: int | None = None,
        issuer: str = "",
        event_type: str = "",
        actor_name: str = "",
        trace_id: str = "",
    ) -> tuple[DetectionSignal | None, str]:
        """Apply one signal to its source's detection of its kind, in memory. Returns the
        unsaved signal (None for a cause already seen) and, when it changed no level, why."""
        cause = (entity.pk, source_ref, txn)
        if txn and cause in self.known_causes:
            return None, SAME_CAUSE
        if txn:
            self.known_causes.add(cause)
        state = self.states[entity.pk]
        key = (source_ref, report.kind.value)
        detection = state.active.get(key)
        cleared_at = self.cleared_at.get((entity.pk, *key))
        dismissed_at = self.dismissed_at.get((entity.pk, *key))
        level, why = report.level, ""
        reasons = reasons[:REASONS_MAX_CHARS]
        evidence = {"reasons": reasons, "issuer": issuer, "event_type": event_type,
                    "security_event_id": security_event_id}  # fmt: skip
        if detection is None:
            if level == RiskLevel.NONE:
                effect, why = SignalEffect.NOTHING_TO_CLEAR, NOTHING_TO_CLEAR
            elif report.reported and cleared_at is not None and observed_at < cleared_at:
                effect, why = SignalEffect.OUT_OF_ORDER, CLEARED_LATER
            elif dismissed_at is not None and observed_at <= dismissed_at:
                effect, why = SignalEffect.OUT_OF_ORDER, DISMISSED_LATER
            else:
                effect = SignalEffect.NEW
                detection = Detection(
                    entity=entity, source_ref=source_ref, kind=report.kind, level=level,
                    reported=report.reported, actor_name=actor_name, first_seen_at=self.now,
                    last_seen_at=self.now, observed_at=observed_at,
                    expires_at=self._expiry(report.kind), **evidence,
                )  # fmt: skip
                state.active[key] = detection
        elif report.reported and observed_at < detection.observed_at:
            effect, why = SignalEffect.OUT_OF_ORDER, OUT_OF_ORDER
        elif level == RiskLevel.NONE:
            effect = SignalEffect.CLEARED
            self._end(state, detection, DetectionState.CLEARED, reason=reasons)
        else:
            rise = _rank(level) - _rank(detection.level)
            if rise < 0 and not report.reported:
                effect, why = SignalEffect.NOT_LOWERED, NOT_LOWERED
            else:
                effect = (SignalEffect.RAISED if rise > 0 else
                          SignalEffect.LOWERED if rise < 0 else SignalEffect.REPEATED)  # fmt: skip
                detection.level = level
                for name, value in evidence.items():
                    setattr(detection, name, value)
            detection.last_seen_at = self.now
            detection.observed_at = max(detection.observed_at, observed_at)
            detection.expires_at = self._expiry(report.kind)
        if level == RiskLevel.NONE and effect != SignalEffect.OUT_OF_ORDER:
            self.cleared_at[(entity.pk, *key)] = max(cleared_at or observed_at, observed_at)
        if detection is not None and effect != SignalEffect.OUT_OF_ORDER:
            self.touched[id(detection)] = detection
        signal = DetectionSignal(
            entity=entity, detection=detection, source_ref=source_ref, kind=report.kind,
            level=level, effect=effect, reasons=reasons, issuer=issuer, event_type=event_type,
            security_event_id=security_event_id, txn=txn, trace_id=trace_id,
            actor_name=actor_name, observed_at=observed_at, created_at=self.now,
        )  # fmt: skip
        self.signals.append(signal)
        return signal, why

    def derive(
        self,
        entity: Entity,
        *,
        cause: RiskChangeCause,
        actor: dict[str, Any],
        detection: Detection | None = None,
        reasons: str = "",
        **change_fields: Any,
    ) -> RiskChange | None:
        """Give the entity the level its active detections derive. A new level is an unsaved
        RiskChange, saved (and logged, and the policy evaluated) by `save`; `reasons` say why
        when no detection is left."""
        level, behind = self.states[entity.pk].derived()
        top = behind[0] if behind else None
        entity.risk_reason = top.reasons if top else ""
        entity.risk_stream_ref = top.source_ref if top else ""
        self.modified[entity.pk] = entity
        if level == entity.risk_level:
            return None
        named = top or detection
        change = RiskChange(
            entity=entity,
            previous_level=entity.risk_level,
            level=level,
            source=(
                DetectionKind(named.kind).detection_type
                if named is not None
                else DetectionKind.ADMIN.detection_type
            ),
            cause=cause,
            reasons=(top.reasons if top else reasons)[:REASONS_MAX_CHARS],
            detection=detection,
            created_at=self.now,
            observed_at=change_fields.pop("observed_at", self.now),
            **change_fields,
        )
        entity.risk_level = level
        entity.risk_updated_at = self.now
        self.changes.append(
            PendingChange(change, entity, actor, [(d, detection_summary(d)) for d in behind])
        )
        return change

    def expire(self, entity: Entity) -> list[Detection]:
        """End the entity's active detections whose lifetime is over."""
        state = self.states[entity.pk]
        ended = [
            d
            for d in state.active.values()
            if d.expires_at is not None and d.expires_at <= self.now
        ]
        for detection in ended:
            self._end(state, detection, DetectionState.EXPIRED, reason="Its lifetime is over")
        return ended

    def dismiss(self, entity: Entity, detections: list[Detection], *, by: str, reason: str) -> None:
        """An admin ends detections (each logged with the admin's reason by `save`)."""
        state = self.states[entity.pk]
        for detection in detections:
            self._end(state, detection, DetectionState.DISMISSED, by=by, reason=reason)
            key = (entity.pk, detection.source_ref, detection.kind)
            self.dismissed_at[key] = max(self.dismissed_at.get(key, detection.observed_at),
                                         detection.observed_at)  # fmt: skip

    def save(self, logs: list[LogEvent]) -> list[int]:
        """Write the work after `logs` (the caller's records come first): detections, signals,
        risk changes with their records, policy actions, entities. Returns the new policy
        actions' ids, for the caller to enqueue after commit."""
        touched = list(self.touched.values())
        # Updates first: a detection ended here frees its (entity, source, kind) for a new one.
        rows_update(Detection, DETECTION_FIELDS, [d for d in touched if d.pk is not None])
        Detection.objects.bulk_create([d for d in touched if d.pk is None])
        for signal in self.signals:
            signal.detection_id = signal.detection.pk if signal.detection is not None else None
        rows_insert(DetectionSignal, self.signals)
        actions: list[PolicyAction] = []
        if self.changes:
            policy = Policy.load()
            groups = entity_group_ids([pending.entity.pk for pending in self.changes])
            policy_logs = []
            for pending in self.changes:
                change = pending.change
                change.detections = [{**summary, "id": d.pk} for d, summary in pending.behind]
                records, fired = policy_evaluate(
                    policy=policy, change=change, entity=pending.entity,
                    group_ids=groups[pending.entity.pk],
                )  # fmt: skip
                policy_logs.append(records)
                actions += fired
            RiskChange.objects.bulk_create([pending.change for pending in self.changes])
            for pending, records in zip(self.changes, policy_logs, strict=True):
                logs.append(risk_change_log(pending.change, pending.entity, pending.actor))
                logs += records
            PolicyAction.objects.bulk_create(actions)
        rows_update(Entity, ENTITY_RISK_FIELDS, self.modified.values())
        rows_insert(LogEvent, logs)
        return [action.pk for action in actions]


def risk_change_log(change: RiskChange, entity: Entity, actor: dict) -> LogEvent:
    """The user.risk.change record of a saved change: Okta's debugData.Risk, and beside it the
    detections behind the new level and what caused the change."""
    return log_event(
        event_type=RISK_CHANGE,
        display_message=f"User risk level changed to {change.level}",
        actor=actor,
        target=[entity_target(entity)],
        severity=Severity.WARN if change.level == RiskLevel.HIGH else Severity.INFO,
        debug_data={
            "Risk": {
                "previousLevel": change.previous_level,
                "level": change.level,
                "detectionName": change.detection_name,
                "reasons": change.reasons,
                "issuer": change.issuer,
            },
            "detections": change.detections,
            "cause": change.cause,
            "causeDetectionId": change.detection_id,
            "riskChangeId": change.pk,
            "securityEventId": change.security_event_id,
        },
        trace_id=change.trace_id,
        entity=entity,
        stream_ref=change.stream_ref,
        security_event_id=change.security_event_id,
    )


def policy_actions_enqueue(action_ids: list[int]) -> None:
    """After commit, hand each action to a worker (a broker outage leaves it PENDING for
    `risk.sweep_pending_policy_actions`)."""
    for action_id in action_ids:
        enqueue_on_commit("risk.tasks.run_policy_action", action_id)


def entity_group_ids(entity_ids: list[str]) -> dict[str, set[int]]:
    """The directory groups of each entity, in one query (for the policy's conditions)."""
    through = Entity.groups.through
    groups: dict[str, set[int]] = {pk: set() for pk in entity_ids}
    for entity_id, group_id in through.objects.filter(entity_id__in=entity_ids).values_list(
        "entity_id", "directorygroup_id"
    ):
        groups[entity_id].add(group_id)
    return groups


# --- Admins: set a level, dismiss a detection, reset -------------------------------------------


class DetectionNotActive(ValueError):
    """The detection to dismiss is not an active detection of this entity (any more)."""


@dataclass(frozen=True)
class AdminRiskAction:
    """What an admin asks for.

    SET raises with an admin detection (Okta's ADMIN_REPORTED_USER_RISK) at `level`; SET LOW is
    a review: every other active detection is dismissed and the admin's LOW stays, so the
    entity is at LOW as Okta's PUT LOW leaves it. DISMISS ends one detection, RESET all.
    """

    SET = "SET"
    DISMISS = "DISMISS"
    RESET = "RESET"

    action: str
    reason: str = ""
    level: RiskLevel | None = None
    detection_id: int | None = None


def _admin_apply(
    work: RiskWork,
    entity: Entity,
    request: AdminRiskAction,
    *,
    actor: dict[str, Any],
    actor_name: str,
    trace_id: str,
) -> tuple[RiskChange | None, list[Detection]]:
    """Apply an admin's action in memory; returns the change (None: the level stays) and the
    detections it dismissed. Raises DetectionNotActive for a detection not to be found."""
    state = work.states[entity.pk]
    cause, cause_detection = RiskChangeCause.RESET, None
    if request.action == AdminRiskAction.SET:
        assert request.level is not None  # noqa: S101 - a SET always names its level
        level = request.level
        reason = request.reason or f"Set to {level} by {actor_name}"
        dismissed = [d for d in state.active.values()
                     if level == RiskLevel.LOW and d.kind != DetectionKind.ADMIN]  # fmt: skip
        own = state.active.get(("", DetectionKind.ADMIN))
        if not dismissed and own is not None and own.level == level:
            return None, []  # the admin's own level again: nothing to do
        work.dismiss(entity, dismissed, by=actor_name, reason=f"Risk set to LOW: {reason}")
        report = mapping.DetectionReport(kind=DetectionKind.ADMIN, level=level, reported=True)
        work.signal(entity=entity, report=report, source_ref="", observed_at=work.now,
                    reasons=reason, actor_name=actor_name, trace_id=trace_id)  # fmt: skip
        cause, cause_detection = RiskChangeCause.ADMIN_SET, state.active[("", report.kind.value)]
    elif request.action == AdminRiskAction.DISMISS:
        found = [d for d in state.active.values() if d.pk == request.detection_id]
        if not found:
            raise DetectionNotActive("That detection is not active any more.")
        dismissed, reason = found, request.reason
        work.dismiss(entity, dismissed, by=actor_name, reason=reason)
        cause, cause_detection = RiskChangeCause.DISMISSED, found[0]
    else:
        dismissed, reason = list(state.active.values()), request.reason
        work.dismiss(entity, dismissed, by=actor_name, reason=reason)
    change = work.derive(
        entity, cause=cause, actor=actor, detection=cause_detection, reasons=reason,
        trace_id=trace_id, actor_name=actor_name,
    )  # fmt: skip
    return change, dismissed


def _dismiss_log(
    detection: Detection, *, entity: Entity, actor: dict[str, Any], trace_id: str
) -> LogEvent:
    return log_event(
        event_type=DETECTION_DISMISS,
        display_message=f"Detection dismissed: {DetectionKind(detection.kind).label}",
        actor=actor,
        target=[entity_target(entity)],
        reason=detection.end_reason,
        debug_data={"Detection": detection_summary(detection), "reason": detection.end_reason},
        trace_id=trace_id,
        entity=entity,
        stream_ref=detection.source_ref,
    )


def entity_risk_admin_change(
    *, entity: Entity, request: AdminRiskAction, actor: User
) -> RiskChange | None:
    """An admin sets a level, dismisses a detection or resets the entity: every dismissal is
    logged with the admin as actor, and a new derived level is a user.risk.change after which
    the policy runs. Returns the change, or None when the level stays (a repeat does nothing)."""
    username = actor.get_username()
    trace_id = uuid.uuid4().hex
    with transaction.atomic():
        locked = Entity.objects.select_for_update().get(pk=entity.pk)
        work = RiskWork([locked])
        logged_as = admin_actor(user=actor)
        change, dismissed = _admin_apply(
            work, locked, request, actor=logged_as, actor_name=username, trace_id=trace_id
        )
        dismissals = [
            _dismiss_log(d, entity=locked, actor=logged_as, trace_id=trace_id) for d in dismissed
        ]
        action_ids = work.save(dismissals)
        policy_actions_enqueue(action_ids)
    entity.refresh_from_db()
    return change


def entity_risk_set(
    *, entity: Entity, level: RiskLevel, actor: User, reason: str = ""
) -> RiskChange | None:
    """An admin sets an entity's risk (the API's PUT, the console's Set risk): see
    AdminRiskAction for what HIGH, MEDIUM and LOW do."""
    return entity_risk_admin_change(
        entity=entity,
        request=AdminRiskAction(AdminRiskAction.SET, reason=reason, level=level),
        actor=actor,
    )


@dataclass
class AdminRiskPreview:
    """What an admin's action would do, for the console's confirmation."""

    level_before: RiskLevel
    level_after: RiskLevel
    dismissed: list[Detection]
    changes_nothing: bool
    rule_name: str = ""
    actions: list[str] = field(default_factory=list)


def entity_risk_admin_preview(*, entity: Entity, request: AdminRiskAction) -> AdminRiskPreview:
    """A dry run of entity_risk_admin_change (nothing is written): the level it leads to, the
    detections it dismisses, and the policy rule and actions that would run. It runs the same
    plan as the change, so the two cannot drift apart."""
    fresh = Entity.objects.get(pk=entity.pk)
    work = RiskWork([fresh])
    before = RiskLevel(fresh.risk_level)
    change, dismissed = _admin_apply(work, fresh, request, actor={}, actor_name="", trace_id="")
    preview = AdminRiskPreview(
        level_before=before,
        level_after=RiskLevel(fresh.risk_level),
        dismissed=dismissed,
        changes_nothing=change is None and not dismissed and not work.signals,
    )
    if change is not None and change.level != RiskLevel.NONE:
        change.detections = [summary for _d, summary in work.changes[0].behind]
        loaded, actions = policy_match(
            policy=Policy.load(), change=change, group_ids=entity_group_ids([fresh.pk])[fresh.pk]
        )
        preview.rule_name = loaded.rule.name if loaded is not None else ""
        preview.actions = [f"{a.get_kind_display()}: {a.target_name}" for a in actions]
    return preview


# --- Expiry ------------------------------------------------------------------------------------


def _expire_batch(now: datetime) -> int:
    with transaction.atomic():
        ids = list(
            Detection.objects.filter(state=DetectionState.ACTIVE, expires_at__lte=now)
            .order_by("entity_id")
            .values_list("entity_id", flat=True)
            .distinct()[:EXPIRY_BATCH]
        )
        if not ids:
            return 0
        # Locked in id order, as drains lock them, so the two cannot deadlock.
        entities = list(Entity.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        work = RiskWork(entities, now=now)
        expired = 0
        for entity in entities:
            ended = work.expire(entity)
            expired += len(ended)
            if ended:
                names = ", ".join(sorted({DetectionKind(d.kind).label for d in ended}))
                work.derive(
                    entity, cause=RiskChangeCause.EXPIRED, actor=system_actor(),
                    detection=ended[0] if len(ended) == 1 else None,
                    reasons=f"Expired: {names}", trace_id=uuid.uuid4().hex,
                )  # fmt: skip
        policy_actions_enqueue(work.save([]))
        return expired


def detections_expire(*, now: datetime | None = None) -> int:
    """End active detections whose lifetime is over; each entity's risk follows (a lower level
    is a user.risk.change, and the policy runs as for any change). A batch of entities per
    transaction; returns how many detections expired. A rerun expires nothing more."""
    now = now or timezone.now()
    total = 0
    for _ in range(EXPIRY_MAX_BATCHES):
        expired = _expire_batch(now)
        if not expired:
            break
        total += expired
    return total
