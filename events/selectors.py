"""Every read of stored SETs for pages and other apps."""

from datetime import datetime

from django.db.models import Count, Min, Q, QuerySet

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
    )


def stream_rejections_by_error(*, stream_id: str) -> QuerySet:
    """How many of a stream's SETs were refused, per error code (within retention)."""
    return (
        RejectedSecurityEvent.objects.filter(stream_id=stream_id)
        .values("err")
        .annotate(n=Count("id"))
        .order_by("-n")
    )


def stream_recent_events(*, stream_id: str, limit: int = 20) -> QuerySet[SecurityEvent]:
    """A stream's last accepted SETs, newest first."""
    return SecurityEvent.objects.filter(stream_id=stream_id).order_by("-received_at", "-id")[:limit]


def stream_recent_rejections(*, stream_id: str, limit: int = 20) -> QuerySet[RejectedSecurityEvent]:
    """A stream's last refused SETs, newest first."""
    return RejectedSecurityEvent.objects.filter(stream_id=stream_id).order_by(
        "-received_at", "-id"
    )[:limit]


def security_event_get(*, pk: int) -> SecurityEvent:
    """One stored SET with its stream (DoesNotExist when unknown)."""
    return SecurityEvent.objects.select_related("stream").get(pk=pk)


def security_event_seen(*, issuer: str, jti: str) -> bool:
    """Whether a SET with this jti from this issuer is stored, on any stream, removed ones too
    (a jti is unique per issuer, RFC 8417 §2.2)."""
    return SecurityEvent.objects.filter(issuer=issuer, jti=jti).exists()


def processing_backlog() -> tuple[int, datetime | None]:
    """(SETs waiting for processing, when the oldest of them was received): the drain's
    backlog and lag, read on the partial index of PENDING SETs."""
    row = SecurityEvent.objects.filter(status=SecurityEventStatus.PENDING).aggregate(
        count=Count("id"), oldest=Min("received_at")
    )
    return row["count"], row["oldest"]
