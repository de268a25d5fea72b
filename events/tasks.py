"""The events app's periodic jobs: the pending-SET sweeper and the rejected-SET pruner."""

from celery import shared_task

from events.services import pending_security_events_sweep, rejected_security_events_prune


@shared_task(name="events.sweep_pending_security_events")
def sweep_pending_security_events() -> int:
    """Re-request processing of SETs left PENDING (broker down at ingest); a rerun is harmless."""
    return pending_security_events_sweep()


@shared_task(name="events.prune_rejected_security_events")
def prune_rejected_security_events() -> int:
    """Apply the rejected-SET retention and cap; a rerun deletes nothing more."""
    return rejected_security_events_prune()
