"""Celery tasks of the risk app: each takes ids, re-reads rows, and is safe to run twice."""

from celery import shared_task

from risk.services.actions import (
    MAX_ATTEMPTS,
    TransientActionError,
    pending_policy_actions_sweep,
    policy_action_execute,
)
from risk.services.entity_risk import detections_expire
from risk.services.processing import security_events_process_pending
from risk.services.system_log import stream_changes_mirror

ACTION_MAX_RETRIES = MAX_ATTEMPTS - 1


@shared_task(name="risk.process_pending_security_events")
def process_pending_security_events() -> int:
    """Drain the PENDING SETs; safe to run twice or concurrently (rows are claimed, not shared)."""
    return security_events_process_pending()


@shared_task(
    name="risk.run_policy_action",
    bind=True,
    autoretry_for=(TransientActionError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=ACTION_MAX_RETRIES,
)
def run_policy_action(self, action_id: int) -> str | None:
    """One attempt of a policy action; transient failures retry with backoff, a finished action
    is left alone."""
    status = policy_action_execute(
        action_id=action_id, final_attempt=self.request.retries >= ACTION_MAX_RETRIES
    )
    return status and str(status)


@shared_task(name="risk.sweep_pending_policy_actions")
def sweep_pending_policy_actions() -> int:
    """Re-enqueue policy actions stuck PENDING; running them twice is harmless."""
    return pending_policy_actions_sweep()


@shared_task(name="risk.mirror_stream_changes")
def mirror_stream_changes() -> int:
    """Copy stream changes into the System Log; a rerun copies nothing more."""
    return stream_changes_mirror()


@shared_task(name="risk.expire_detections")
def expire_detections() -> int:
    """End detections past their lifetime (entity risk follows); a rerun expires nothing more."""
    return detections_expire()
