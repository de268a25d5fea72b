"""The streams app's Celery tasks: verification requests and the upkeep of managed streams."""

from celery import shared_task
from django.conf import settings

from common.tasks import enqueue_on_commit
from streams.models import Stream
from streams.services import streams_jwks_refresh, streams_pending_discard
from streams.ssf_client import ManagementError
from streams.stream_management import (
    managed_streams_maintain,
    stream_deferred_change_check,
    stream_verification_request,
)


@shared_task(name="streams.request_stream_verification")
def request_stream_verification(stream_id: str) -> bool:
    """Ask the transmitter for a verification SET; a gone or unmanaged stream is left alone.

    A failure is recorded on the stream (and retried by the upkeep job), not raised.
    """
    stream = Stream.objects.filter(pk=stream_id, management__isnull=False).first()
    if stream is None:
        return False
    try:
        stream_verification_request(stream=stream)
    except ManagementError:
        return False
    return True


@shared_task(name="streams.check_deferred_change")
def check_deferred_change(stream_id: str, expected_status: str = "", attempt: int = 0) -> bool:
    """Re-read a stream whose change the transmitter answered 202; until it shows the change,
    check again with a doubled delay, STREAM_DEFERRED_CHECKS times in all. (Eager Celery runs
    only the first check: its countdowns would not wait.)"""
    stream = Stream.objects.filter(pk=stream_id, management__isnull=False).first()
    if stream is None:
        return False
    try:
        settled = stream_deferred_change_check(stream=stream, expected_status=expected_status)
    except ManagementError:
        settled = False
    again = attempt + 1 < settings.STREAM_DEFERRED_CHECKS and not settings.CELERY_TASK_ALWAYS_EAGER
    if not settled and again:
        delay = settings.STREAM_DEFERRED_CHECK_SECONDS * 2 ** (attempt + 1)
        enqueue_on_commit("streams.tasks.check_deferred_change", stream_id, expected_status,
                          attempt + 1, countdown=delay)  # fmt: skip
    return settled


@shared_task(name="streams.maintain_managed_streams")
def maintain_managed_streams() -> dict[str, int]:
    """Keep-alive status reads, periodic verification, flags, and streams left pending by a
    create that never finished; a rerun only repeats reads."""
    return managed_streams_maintain() | {"pending_discarded": streams_pending_discard()}


@shared_task(name="streams.refresh_jwks")
def refresh_jwks() -> dict[str, int]:
    """Refetch the transmitters' JWKS; an unreachable one keeps its cached keys."""
    return streams_jwks_refresh()
