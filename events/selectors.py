"""Every read of stored SETs for pages and other apps."""

import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, QuerySet, TextField
from django.db.models.functions import Cast
from redis.exceptions import RedisError

from events.models import RejectedSecurityEvent, SecurityEvent, SecurityEventStatus


def stream_sets(*, stream_id: str, removed_issuer_key: str = "") -> QuerySet[SecurityEvent]:
    """A stream's accepted SETs. Those of a removed stream (no row to point at any more) are
    found by the issuer it had and its id, on the (issuer_key, jti) index."""
    if removed_issuer_key:
        return SecurityEvent.objects.filter(issuer_key=removed_issuer_key, stream_ref=stream_id)
    return SecurityEvent.objects.filter(stream_id=stream_id)


def stream_ingest_summary(*, sets: QuerySet[SecurityEvent]) -> dict[str, int]:
    """Counts of a stream's accepted SETs (`stream_sets`) by outcome and of the deviations we
    tolerated."""
    return sets.aggregate(
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


def stream_recent_events(
    *, sets: QuerySet[SecurityEvent], limit: int = 20
) -> QuerySet[SecurityEvent]:
    """A stream's last accepted SETs (`stream_sets`), newest first."""
    return sets.order_by("-received_at", "-id")[:limit]


def stream_recent_rejections(*, stream_id: str, limit: int = 20) -> QuerySet[RejectedSecurityEvent]:
    """A stream's last refused SETs, newest first."""
    return RejectedSecurityEvent.objects.filter(stream_id=stream_id).order_by(
        "-received_at", "-id"
    )[:limit]


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


def stream_set_event_types(*, sets: QuerySet[SecurityEvent]) -> list[str]:
    """The event types among a stream's accepted SETs, for the list's filter."""
    return sorted(set(sets.values_list("event_type", flat=True).distinct()))


def stream_sets_filtered(
    *, sets: QuerySet[SecurityEvent], event_type: str = "", status: str = "", q: str = ""
) -> QuerySet[SecurityEvent]:
    """A stream's accepted SETs, newest first, by event type, status, and a jti or a piece of
    the subject (matched in the claims as stored, case-insensitively)."""
    if event_type:
        sets = sets.filter(event_type=event_type)
    if status:
        sets = sets.filter(status=status)
    if q:
        text = Cast("claims", output_field=TextField())
        sets = sets.alias(claims_text=text).filter(Q(jti=q) | Q(claims_text__icontains=q))
    return sets.order_by("-received_at", "-id")


def stream_rejection_errors(*, stream_id: str) -> list[str]:
    """The error codes among a stream's kept refusals, for the list's filter."""
    return [row["err"] for row in stream_rejections_by_error(stream_id=stream_id)]


def stream_rejections_filtered(
    *, stream_id: str, err: str = "", q: str = ""
) -> QuerySet[RejectedSecurityEvent]:
    """A stream's kept refusals, newest first, by error code and jti."""
    rejected = RejectedSecurityEvent.objects.filter(stream_id=stream_id)
    if err:
        rejected = rejected.filter(err=err)
    if q:
        rejected = rejected.filter(jti=q)
    return rejected.order_by("-received_at", "-id")


def rejected_security_event_get(*, pk: int) -> RejectedSecurityEvent:
    """One kept refusal with its stream (DoesNotExist when unknown or pruned)."""
    return RejectedSecurityEvent.objects.select_related("stream").get(pk=pk)
