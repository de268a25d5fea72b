"""Entity risk changes: the rules every change obeys, from a SET or from an admin."""

import uuid
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from common.tasks import enqueue_on_commit
from risk.models import Entity, LogEvent, PolicyAction, RiskChange, RiskLevel, RiskSource, Severity
from risk.services.policy import Policy, policy_evaluate
from risk.services.system_log import RISK_CHANGE, admin_actor, entity_target, log_event

OUT_OF_ORDER = "older than the signal behind the current risk; not applied"
SAME_CAUSE = "a SET with the same txn already changed this entity's risk"
SAME_LEVEL = "the entity already has this risk level"


def risk_change_apply(
    *,
    entity: Entity,
    level: RiskLevel,
    observed_at: datetime,
    known_causes: set[tuple[str, str, str]],
    **change_fields: Any,
) -> tuple[RiskChange | None, str]:
    """Apply `level` to the entity in memory; return the unsaved change, or None and why not.

    Never overwrites a newer signal with an older one (by event time), makes one change per cause
    (`txn` per stream and entity), and makes no change when the level is the same.
    """
    if entity.risk_observed_at is not None and observed_at < entity.risk_observed_at:
        return None, OUT_OF_ORDER
    cause = (entity.pk, change_fields.get("stream_ref", ""), change_fields.get("txn", ""))
    if cause[2] and cause in known_causes:
        return None, SAME_CAUSE
    entity.risk_observed_at = observed_at
    if level == entity.risk_level:
        return None, SAME_LEVEL
    if cause[2]:
        known_causes.add(cause)
    now = timezone.now()
    change = RiskChange(
        entity=entity,
        previous_level=entity.risk_level,
        level=level,
        observed_at=observed_at,
        created_at=now,
        **change_fields,
    )
    entity.risk_level = level
    entity.risk_reason = change.reasons[:500]
    entity.risk_updated_at = now
    entity.risk_stream_ref = change.stream_ref
    return change, ""


def risk_change_log(change: RiskChange, entity: Entity, actor: dict) -> LogEvent:
    """The user.risk.change record (Okta's debugData.Risk shape) for a saved change."""
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


def entity_risk_set(
    *, entity: Entity, level: RiskLevel, actor: User, reason: str = ""
) -> RiskChange | None:
    """An admin sets (or resets) an entity's risk: logged with the admin as actor, then the
    policy runs as for any detection (Okta: ADMIN_REPORTED_USER_RISK). Same level: no change."""
    with transaction.atomic():
        locked = Entity.objects.select_for_update().get(pk=entity.pk)
        locked.risk_observed_at = None  # an admin's word is the newest signal there is
        change, _why = risk_change_apply(
            entity=locked,
            level=level,
            observed_at=timezone.now(),
            known_causes=set(),
            source=RiskSource.ADMIN,
            reasons=reason or f"Set to {level} by {actor.get_username()}",
            trace_id=uuid.uuid4().hex,
            actor_name=actor.get_username(),
        )
        locked.save()
        if change is None:
            return None
        change.save()
        logs = [risk_change_log(change, locked, admin_actor(user=actor))]
        policy_logs, actions = policy_evaluate(
            policy=Policy.load(),
            change=change,
            entity=locked,
            group_ids=entity_group_ids([locked.pk])[locked.pk],
        )
        PolicyAction.objects.bulk_create(actions)
        LogEvent.objects.bulk_create(logs + policy_logs)
        policy_actions_enqueue([a.pk for a in actions])
    entity.refresh_from_db()
    return change
