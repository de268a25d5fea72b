"""Every read of stored SETs for pages and other apps."""

import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, QuerySet
from redis.exceptions import RedisError

from events.models import RejectedSecurityEvent, SecurityEvent, SecurityEventStatus


def stream_ingest_summary(*, stream_id: str) -> dict[str, int]:
    """Counts of a stream's accepted SETs by outcome and of the deviations we tolerated."""
    return SecurityEvent.objects.filter(stream_id=stream_id).aggregate(
        received=Count("id"),
        pending=Count("id", filter=Q(status=SecurityEventStatus.PENDING)),
        processed=Count("id", filter=Q(status=SecurityEventStatus.PROCESSED)),
        ignored=Count("id", filter=Q(status=SecurityEventStatus.IGNORED)),
        typ_missing=Count("id", filter=Q(typ_missing=True)),
        content_type_mislabelled=Count("id", filter=Q(content_type_mislabelled=True)),
        body_json_quoted=Count("id", filter=Q(body_json_quoted=True)),
    )


def stream_rejections_by_error(*, stream_id: str) -> QuerySet:
    """How many of a stream's SETs were refused, per error code (within retention)."""
    return (
        RejectedSecurityEvent.objects.filter(stream_id=stream_id)
        .values("err")
        .annotate(n=Count("id"))
        .order_by("-n")
    )


def rejections_dropped_key(*, stream_id: str, day: int) -> str:
    """The counter of a stream's refused SETs not kept on `day` (days since the epoch)."""
    return f"ssf:rejected-dropped:{stream_id}:{day}"


def stream_rejections_dropped(*, stream_id: str) -> int | None:
    """How many of the stream's refused SETs were not kept (over REJECTED_SET_MAX_PER_MINUTE,
    sender unknown) within REJECTED_SET_RETENTION_DAYS; None when Redis cannot say."""
    today = int(time.time() // 86400)
    keys = [
        rejections_dropped_key(stream_id=stream_id, day=today - n)
        for n in range(settings.REJECTED_SET_RETENTION_DAYS)
    ]
    try:
        counts: dict[str, int] = cache.get_many(keys)
    except RedisError:
        return None
    return sum(counts.values())


def stream_recent_events(*, stream_id: str, limit: int = 20) -> QuerySet[SecurityEvent]:
    """A stream's last accepted SETs, newest first."""
    return SecurityEvent.objects.filter(stream_id=stream_id).order_by("-received_at", "-id")[:limit]


def stream_recent_rejections(*, stream_id: str, limit: int = 20) -> QuerySet[RejectedSecurityEvent]:
    """A stream's last refused SETs, newest first."""
    return RejectedSecurityEvent.objects.filter(stream_id=stream_id).order_by(
        "-received_at", "-id"
    )[:limit]


def stream_events_export(
    *, stream_id: str, status: str = "", event_type: str = ""
) -> QuerySet[SecurityEvent]:
    """A stream's accepted SETs, newest first, of one status and event type when given."""
    events = SecurityEvent.objects.filter(stream_id=stream_id)
    if status:
        events = events.filter(status=status)
    if event_type:
        events = events.filter(event_type=event_type)
    return events.order_by("-received_at", "-id")


def stream_rejections_export(*, stream_id: str, err: str = "") -> QuerySet[RejectedSecurityEvent]:
    """A stream's refused SETs (within retention), newest first, of one error code when given."""
    rejections = RejectedSecurityEvent.objects.filter(stream_id=stream_id)
    if err:
        rejections = rejections.filter(err=err)
    return rejections.order_by("-received_at", "-id")


def security_event_get(*, pk: int) -> SecurityEvent:
    """One stored SET with its stream (DoesNotExist when unknown)."""
    return SecurityEvent.objects.select_related("stream").get(pk=pk)


def security_event_seen(*, issuer_key: str, jti: str) -> bool:
    """Whether a SET with this jti from this issuer (as streams match it: Stream.issuer_key) is
    stored, on any stream, removed ones too (a jti is unique per issuer, RFC 8417 §2.2)."""
    return SecurityEvent.objects.filter(issuer_key=issuer_key, jti=jti).exists()


def processing_backlog() -> tuple[int, datetime | None]:
    """(SETs waiting for processing, when the oldest of them was received): the drain's
    backlog and lag, read on the partial index of PENDING SETs."""
    row = SecurityEvent.objects.filter(status=SecurityEventStatus.PENDING).aggregate(
        count=Count("id"), oldest=Min("received_at")
    )
    return row["count"], row["oldest"]
