"""Delivering policy actions: Universal Logout at a connected app, and workflow webhooks.

The PolicyAction row is the outbox, as a stored SET is: the task sent after its commit delivers
a new action at once, and a sweep every POLICY_ACTION_SWEEP_INTERVAL_SECONDS delivers every
action that is due (its task lost with the broker, its worker killed, its back-off over),
claiming rows with SELECT ... FOR UPDATE SKIP LOCKED so that two workers never take one.

One effect per action: an attempt is claimed, and the claim committed, before its call; its
outcome is recorded after it, with its System Log record, in one transaction and only under that
claim. A run that finds the action finished, or claimed by a live attempt, or not yet due, does
nothing. A run that finds a lapsed claim (the attempt's worker died before recording what
happened) sends that same attempt again, with the same Idempotency-Key, and logs it as a
redelivery of that attempt, not as a new one. Delivery is at least once: receivers deduplicate
on the Idempotency-Key. Database errors (a restart) are retried inside the task with back-off,
so a call already made is not forgotten over a blip.

Universal Logout follows the OAuth Global Token Revocation draft: POST `{"sub_id": ...}` as JSON,
bearer-authenticated; 204 (any 2xx) means done. A workflow is a JSON POST signed with HMAC-SHA256
over `"<timestamp>.<body>"` (header `X-SSF-Signature: t=<timestamp>,v1=<hex>`). Both carry the
action's `Idempotency-Key`, the same on every attempt. 5xx, 429, timeouts and unreachable hosts
are retried after a back-off; other answers fail at once. Every attempt is logged.
"""

import hashlib
import hmac
import json
import logging
import random
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from common import metrics
from common.crypto import decrypt
from common.logs import bound
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
# Attempts of one action in all, however many tasks and sweeps ran it.
MAX_ATTEMPTS = 5
# Sends of one attempt whose worker died each time: a call that kills its worker is not repeated
# for ever.
MAX_REDELIVERIES = 3
# A claim outlasts the longest outbound call (fetch.exchange_time_limit) by this much.
CLAIM_MARGIN_SECONDS = 5.0
# Between transient failures: POLICY_ACTION_RETRY_SECONDS, doubling, at most this.
RETRY_MAX_SECONDS = 300.0
# How long a task keeps trying the database (a restart) before leaving the action to a sweep.
DATABASE_RETRY_SECONDS = 30.0
# A sweep takes no new action after this long, so other tasks get the worker.
SWEEP_MAX_SECONDS = 10.0

T = TypeVar("T")


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
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                # Revoking twice is harmless, but a receiver that logs calls can tell a re-send.
                "Idempotency-Key": str(action.uuid),
            },
        )
    workflow = action.workflow
    assert workflow is not None  # noqa: S101 - _attempt checked that one of the two is set
    body = json.dumps(_workflow_payload(action), separators=(",", ":")).encode()
    timestamp = int(time.time())
    return fetch.safe_request(
        "POST",
        decrypt(workflow.encrypted_url),
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
            # > 0: this attempt sent again, its first worker having died before recording it.
            "redelivery": action.redeliveries,
            "rule": action.rule_name,
            "idempotencyKey": str(action.uuid),
        },
        trace_id=action.risk_change.trace_id,
        entity=entity,
        stream_ref=action.risk_change.stream_ref,
        security_event_id=action.risk_change.security_event_id,
    )


def _retrying_database_errors(call: Callable[[], T]) -> T:
    """`call()`, tried again with back-off for DATABASE_RETRY_SECONDS while the database is
    unreachable (a restart): without this a task would fail and be acknowledged, and its action
    would wait for a sweep, or the outcome of a call already made would be lost."""
    deadline = time.monotonic() + DATABASE_RETRY_SECONDS
    delay = 0.2
    while True:
        try:
            return call()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("Database unavailable (%s); policy action retried in %.1f s",
                           type(exc).__name__, delay)  # fmt: skip
            if not connection.in_atomic_block:
                connection.close()  # a broken connection is not reopened by itself
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def _claim(*, action_id: int | None) -> PolicyAction | None:
    """Claim one attempt of the action (without an id: of the action due longest), committed
    before any call is made; None if it is finished, claimed by a live attempt or not yet due."""
    now = timezone.now()
    unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    due = (
        PolicyAction.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("app", "workflow", "risk_change__entity", "risk_change__security_event")
        .filter(unclaimed, status=ActionStatus.PENDING, next_attempt_at__lte=now)
    )
    if action_id is not None:
        due = due.filter(pk=action_id)
    with transaction.atomic():
        action = due.order_by("next_attempt_at", "id").first()
        if action is None:
            return None
        if action.claimed_until is None:
            action.attempts += 1
            action.redeliveries = 0
        else:  # its worker died between the call and the outcome: the same attempt, sent again
            action.redeliveries += 1
        lease = fetch.exchange_time_limit() + CLAIM_MARGIN_SECONDS
        action.claimed_until = now + timedelta(seconds=lease)
        action.save(update_fields=["attempts", "redeliveries", "claimed_until"])
    return action


def _backoff(attempts: int) -> timedelta:
    delay = min(RETRY_MAX_SECONDS, settings.POLICY_ACTION_RETRY_SECONDS * 2 ** (attempts - 1))
    return timedelta(seconds=random.uniform(delay / 2, delay))  # noqa: S311 - jitter, no secret


def _record(action: PolicyAction, *, status: ActionStatus | None, done: bool, detail: str,
            reason: str) -> None:  # fmt: skip
    """The attempt's outcome and its System Log record, in one transaction, under the claim the
    attempt was made with: if that claim lapsed and another run took the action, the other
    run's outcome is the one kept, so an attempt is never logged twice."""
    now = timezone.now()
    fields: dict[str, Any] = {"last_error": "" if done else detail[:500], "claimed_until": None}
    if status is None:
        fields["next_attempt_at"] = now + _backoff(action.attempts)
    else:
        fields |= {"status": status, "finished_at": now}
    with transaction.atomic():
        mine = PolicyAction.objects.filter(
            pk=action.pk, status=ActionStatus.PENDING, claimed_until=action.claimed_until
        ).update(**fields)
        if mine:
            _attempt_log(action, done=done, reason=reason).save()
        else:
            logger.warning("Policy action %s: another run took it over; outcome %r not kept",
                           action.pk, reason)  # fmt: skip


def _deliver(action: PolicyAction) -> ActionStatus | None:
    """Make the claimed attempt and record it; the action's new status (None: still PENDING,
    due again after a back-off)."""
    # Log lines name this action's SET; a sweep delivers actions of many SETs in turn.
    with bound(trace_id=action.risk_change.trace_id or None):
        if action.redeliveries > MAX_REDELIVERIES:
            done, retry = False, False
            detail = f"the worker stopped during each of {action.redeliveries} sends"
        else:
            try:
                done, retry, detail = _attempt(action)
            except Exception as exc:  # our bug: a failed attempt, logged and retried
                logger.exception("Policy action %s failed unexpectedly", action.pk)
                done, retry, detail = False, True, f"unexpected error ({type(exc).__name__})"
        gives_up = not done and (not retry or action.attempts >= MAX_ATTEMPTS)
        status = ActionStatus.SUCCEEDED if done else ActionStatus.FAILED if gives_up else None
        reason = detail if done else f"{detail}; {'gave up' if gives_up else 'will retry'}"
        metrics.policy_action_attempted(kind=action.kind, done=done, gave_up=gives_up)
        _retrying_database_errors(
            lambda: _record(action, status=status, done=done, detail=detail, reason=reason)
        )
        return status


def policy_action_execute(*, action_id: int) -> ActionStatus | None:
    """Deliver one action if it is due (the task sent after the action's commit); returns its
    new status. A rerun does nothing once the action finished, while another attempt runs, or
    before its back-off is over; MAX_ATTEMPTS bounds the attempts, however many runs there are."""
    action = _retrying_database_errors(lambda: _claim(action_id=action_id))
    return None if action is None else _deliver(action)


def policy_actions_deliver_due(*, max_seconds: float = SWEEP_MAX_SECONDS) -> int:
    """Deliver every action that is due, one claimed attempt at a time, for at most
    `max_seconds` (the sweep; the next one carries on); returns how many attempts were made.
    Concurrent sweeps share the work: claimed rows are skipped."""
    started, made = time.monotonic(), 0
    while time.monotonic() - started < max_seconds:
        action = _retrying_database_errors(lambda: _claim(action_id=None))
        if action is None:
            break
        _deliver(action)
        made += 1
    return made
