"""Celery tasks of the risk app: each takes ids, re-reads rows, and is safe to run twice."""

from celery import shared_task

from common.retention import retention_run
from risk.retention import log_events_prune, risk_changes_prune
from risk.services.actions import policy_action_execute, policy_actions_deliver_due
from risk.services.entity_risk import detections_expire
from risk.services.processing import security_events_process_pending
from risk.services.system_log import stream_changes_mirror


@shared_task(name="risk.process_pending_security_events")
def process_pending_security_events() -> int:
    """Drain the PENDING SETs; safe to run twice or concurrently (rows are claimed, not shared)."""
    return security_events_process_pending()


@shared_task(name="risk.run_policy_action")
def run_policy_action(action_id: int) -> str | None:
    """Deliver a new policy action at once. Not retried by Celery: a transient failure makes
    the action due again later and the sweep delivers it; a finished, running or not yet due
    action is left alone, so a second copy of this task does nothing."""
    status = policy_action_execute(action_id=action_id)
    return status and str(status)


@shared_task(name="risk.sweep_pending_policy_actions")
def sweep_pending_policy_actions() -> int:
    """Deliver every policy action that is due: new ones whose task was lost (broker down,
    worker killed), retries after their back-off, attempts whose worker died. Safe to run
    concurrently and twice (rows are claimed)."""
    return policy_actions_deliver_due()


@shared_task(name="risk.mirror_stream_changes")
def mirror_stream_changes() -> int:
    """Copy stream changes into the System Log; a rerun copies nothing more."""
    return stream_changes_mirror()


@shared_task(name="risk.prune_risk_history")
def prune_risk_history() -> int:
    """Beat job: delete System Log records and risk changes past their retention, for at most
    common.retention.RUN_SECONDS; a rerun, or a run overlapping another, deletes nothing twice."""
    return retention_run("risk-history", [log_events_prune, risk_changes_prune])


@shared_task(name="risk.expire_detections")
def expire_detections() -> int:
    """End detections past their lifetime (entity risk follows); a rerun expires nothing more."""
    return detections_expire()
