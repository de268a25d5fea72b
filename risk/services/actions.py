"""Executing policy actions: Universal Logout at a connected app, and workflow webhooks.

Universal Logout follows the OAuth Global Token Revocation draft: POST `{"sub_id": ...}` as JSON,
bearer-authenticated; 204 (any 2xx) means done. A workflow is a JSON POST signed with HMAC-SHA256
over `"<timestamp>.<body>"` (header `X-SSF-Signature: t=<timestamp>,v1=<hex>`), with an
`Idempotency-Key` that stays the same across retries. 5xx, 429, timeouts and unreachable hosts
are retried (TransientActionError); other answers fail at once. Every attempt is logged.
"""

import hashlib
import hmac
import json
import logging
import re
import time
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common import metrics
from common.crypto import decrypt
from common.logs import bind_trace_id
from risk.models import (
    ActionKind,
    ActionStatus,
    EntityIdentifier,
    LogEvent,
    OutcomeResult,
    PolicyAction,
    Severity,
)
from risk.services.system_log import (
    UNIVERSAL_LOGOUT,
    WORKFLOW_RUN,
    entity_target,
    log_event,
    system_actor,
)
from risk.subjects import subject_of
from streams import fetch

logger = logging.getLogger(__name__)

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")

SIGNATURE_HEADER = "X-SSF-Signature"
# An attempt holds its action this long: more than an outbound call's total limit.
ACTION_CLAIM_SECONDS = 120
# Attempts of one action in all, the sweeper's re-sends included (Celery's retry count restarts).
MAX_ATTEMPTS = 5


class TransientActionError(Exception):
    """The action may succeed if tried again later."""


def _logout_subject(action: PolicyAction) -> dict[str, Any]:
    """The subject to log out: the identifier the SET used for the user when it names the entity
    whose risk changed (a SET can name a user we do not know beside a device we do), else the
    entity's email."""
    change = action.risk_change
    event = change.security_event
    if event is not None:
        events = event.claims.get("events") or {}
        body = events.get(change.event_type) or {}
        subject = subject_of(event.claims, body)
        names_the_entity = EntityIdentifier.objects.filter(
            entity_id=change.entity_id, key__in=subject.user_keys
        ).exists()
        if subject.user_identifier and names_the_entity:
            return subject.user_identifier
    entity = change.entity
    if entity.email:
        return {"format": "email", "email": entity.email}
    return {"format": "opaque", "id": entity.pk}


def _workflow_payload(action: PolicyAction) -> dict[str, Any]:
    change = action.risk_change
    event = change.security_event
    return {
        "id": str(action.uuid),
        "type": "entity_risk.changed",
        "created": change.created_at.isoformat(),
        "rule": action.rule_name,
        "entity": entity_target(change.entity),
        "risk": {
            "previousLevel": change.previous_level,
            "level": change.level,
            "detectionName": change.detection_name,
            "reasons": change.reasons,
            "issuer": change.issuer,
        },
        "traceId": change.trace_id,
        "securityEvent": None
        if event is None
        else {"id": event.pk, "jti": event.jti, "eventType": change.event_type},
    }


def workflow_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`: what receivers recompute."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _send(action: PolicyAction) -> fetch.FetchedResponse:
    if action.app is not None:  # a Universal Logout
        token = decrypt(action.app.encrypted_token)
        return fetch.safe_request(
            "POST",
            action.app.revocation_endpoint,
            json_body={"sub_id": _logout_subject(action)},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
    workflow = action.workflow
    assert workflow is not None  # noqa: S101 - _attempt checked that one of the two is set
    body = json.dumps(_workflow_payload(action), separators=(",", ":")).encode()
    timestamp = int(time.time())
    return fetch.safe_request(
        "POST",
        workflow.url,
        data=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: workflow_signature(
                decrypt(workflow.encrypted_secret), timestamp, body
            ),
            "Idempotency-Key": str(action.uuid),
        },
    )


def _without_urls(exc: Exception) -> str:
    """The failure as the System Log and the action keep it: without URLs, since a webhook's
    often carries its secret in the path."""
    return _URL.sub("<URL>", str(exc))


def _attempt(action: PolicyAction) -> tuple[bool, bool, str]:
    """Try once: (done, worth retrying, what happened)."""
    if (action.kind == ActionKind.UNIVERSAL_LOGOUT and action.app is None) or (
        action.kind == ActionKind.RUN_WORKFLOW and action.workflow is None
    ):
        return False, False, "the app or workflow was removed"
    try:
        response = _send(action)
    except (fetch.FetchTimeout, fetch.Unreachable) as exc:
        return False, True, _without_urls(exc)
    except (fetch.FetchError, ValueError) as exc:
        return False, False, _without_urls(exc)
    if 200 <= response.status < 300:
        return True, False, f"HTTP {response.status}"
    retry = response.status >= 500 or response.status == 429
    return False, retry, f"HTTP {response.status}"


def _attempt_log(action: PolicyAction, *, done: bool, reason: str) -> LogEvent:
    entity = action.risk_change.entity
    is_logout = action.kind == ActionKind.UNIVERSAL_LOGOUT
    target = {
        "id": str(action.app_id or action.workflow_id),
        "type": "AppInstance" if is_logout else "Workflow",
        "alternateId": action.target_name,
        "displayName": action.target_name,
    }
    return log_event(
        event_type=UNIVERSAL_LOGOUT if is_logout else WORKFLOW_RUN,
        display_message=f"{action.get_kind_display()}: {action.target_name}",
        actor=system_actor(),
        target=[entity_target(entity), target],
        outcome=OutcomeResult.SUCCESS if done else OutcomeResult.FAILURE,
        severity=Severity.INFO if done else Severity.WARN,
        reason=reason,
        debug_data={
            "policyActionId": action.pk,
            "attempt": action.attempts,
            "rule": action.rule_name,
            "idempotencyKey": str(action.uuid),
        },
        trace_id=action.risk_change.trace_id,
        entity=entity,
        stream_ref=action.risk_change.stream_ref,
        security_event_id=action.risk_change.security_event_id,
    )


def policy_action_execute(*, action_id: int, final_attempt: bool) -> ActionStatus | None:
    """Run one attempt of a PENDING action and log it; raise TransientActionError to be retried.

    A rerun after the action finished does nothing, and so does one while another attempt is
    running (the sweeper may re-send a task still queued): each attempt claims the action under
    a row lock for ACTION_CLAIM_SECONDS, longer than any outbound call may take, and the
    outbound call happens outside any transaction. MAX_ATTEMPTS bounds the attempts, however
    many times the task was sent.
    """
    now = timezone.now()
    with transaction.atomic():
        action = (
            PolicyAction.objects.select_for_update()
            .filter(pk=action_id, status=ActionStatus.PENDING)
            .first()
        )
        if action is None or (action.claimed_until is not None and action.claimed_until > now):
            return None
        action.attempts += 1
        action.claimed_until = now + timedelta(seconds=ACTION_CLAIM_SECONDS)
        action.save(update_fields=["attempts", "claimed_until"])
    action = PolicyAction.objects.select_related(
        "app", "workflow", "risk_change__entity", "risk_change__security_event"
    ).get(pk=action_id)
    bind_trace_id(action.risk_change.trace_id)
    try:
        done, retry, detail = _attempt(action)
    except Exception as exc:  # a bug of ours: a failed attempt, logged and retried like others
        logger.exception("Policy action %s failed unexpectedly", action.pk)
        done, retry, detail = False, True, f"unexpected error ({type(exc).__name__})"
    gives_up = not done and (final_attempt or not retry or action.attempts >= MAX_ATTEMPTS)
    status = ActionStatus.SUCCEEDED if done else ActionStatus.FAILED if gives_up else None
    reason = detail if done else f"{detail}; {'gave up' if gives_up else 'will retry'}"
    metrics.policy_action_attempted(kind=action.kind, done=done, gave_up=gives_up)
    with transaction.atomic():
        _attempt_log(action, done=done, reason=reason).save()
        fields: dict[str, Any] = {"last_error": "" if done else detail[:500], "claimed_until": None}
        if status is not None:
            fields |= {"status": status, "finished_at": timezone.now()}
        PolicyAction.objects.filter(pk=action.pk, status=ActionStatus.PENDING).update(**fields)
    if status is None:
        raise TransientActionError(detail)
    return status


def pending_policy_actions_sweep(*, older_than_seconds: int = 300) -> int:
    """Re-enqueue actions left PENDING (a broker outage when they were made); returns how many."""
    from risk.services.entity_risk import policy_actions_enqueue

    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    ids = list(
        PolicyAction.objects.filter(
            unclaimed, status=ActionStatus.PENDING, created_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    with transaction.atomic():
        policy_actions_enqueue(ids)
    return len(ids)
