"""Celery tasks of the risk app."""

from celery import shared_task

from risk.services import security_events_process_pending


@shared_task(name="risk.process_pending_security_events")
def process_pending_security_events() -> int:
    """Drain the PENDING SETs; safe to run twice or concurrently (rows are claimed, not shared)."""
    return security_events_process_pending()
