"""The events app's periodic jobs: the pending-SET sweeper and the SET pruners."""

from celery import shared_task
from django.core.cache import cache

from common.retention import retention_run
from events.poll import stream_poll
from events.retention import security_events_prune
from events.services import pending_security_events_sweep, rejected_security_events_prune
from streams.models import DeliveryMethod, Stream, StreamStatus
from streams.ssf_client import ManagementError

POLL_LOCK_SECONDS = 300


@shared_task(name="events.sweep_pending_security_events")
def sweep_pending_security_events() -> int:
    """Re-request processing of SETs left PENDING (broker down at ingest); a rerun is harmless."""
    return pending_security_events_sweep()


@shared_task(name="events.prune_rejected_security_events")
def prune_rejected_security_events() -> int:
    """Apply the rejected-SET retention and cap; a rerun deletes nothing more."""
    return rejected_security_events_prune()


@shared_task(name="events.prune_security_events")
def prune_security_events() -> int:
    """Beat job: delete accepted SETs past ACCEPTED_SET_RETENTION_DAYS, for at most
    common.retention.RUN_SECONDS; a rerun, or a run overlapping another, deletes nothing twice."""
    return retention_run("security-events", [security_events_prune])


@shared_task(name="events.poll_streams")
def poll_streams() -> int:
    """Beat job: one poll task per active poll stream."""
    stream_ids = Stream.objects.filter(
        status=StreamStatus.ACTIVE, management__delivery_method=DeliveryMethod.POLL
    ).values_list("pk", flat=True)
    for stream_id in stream_ids:
        poll_stream.delay(stream_id)
    return len(stream_ids)


@shared_task(name="events.poll_stream")
def poll_stream(stream_id: str) -> int:
    """Poll one stream; a poll already running for it (a lock in the cache) makes this a no-op.

    Nothing is acknowledged before it is stored, so a run cut short loses nothing.
    """
    lock = f"ssf:events:poll:{stream_id}"
    if not cache.add(lock, "1", timeout=POLL_LOCK_SECONDS):
        return 0
    try:
        stream = Stream.objects.filter(pk=stream_id, status=StreamStatus.ACTIVE).first()
        if stream is None or not hasattr(stream, "management"):
            return 0
        return stream_poll(stream=stream).received
    except ManagementError:
        return 0  # recorded on the stream, which the list flags; the next beat tries again
    finally:
        cache.delete(lock)
