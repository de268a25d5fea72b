"""Every write of stored SETs: accepting, rejecting, sweeping and pruning."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from events.dispatch import request_processing
from events.models import RejectedSecurityEvent, SecurityEvent, SecurityEventStatus
from events.verification import SetError, VerifiedSet

REJECTED_RAW_MAX_CHARS = 8192


def security_event_store(*, verified: VerifiedSet, content_type_mislabelled: bool = False) -> None:
    """Commit a verified SET, then ask for its processing.

    A re-delivered SET (same stream and jti) is not stored again and so not processed again
    (RFC 8935 §2.3); its sender still gets the 202 it got the first time.
    """
    stream = verified.stream
    event = SecurityEvent(
        stream=stream,
        stream_ref=stream.pk,
        issuer=stream.issuer,
        jti=verified.jti,
        event_type=verified.event_type,
        raw=verified.raw,
        header=verified.header,
        claims=verified.claims,
        kid=verified.kid,
        alg=verified.alg,
        typ_missing=verified.typ_missing,
        content_type_mislabelled=content_type_mislabelled,
    )
    with transaction.atomic():
        SecurityEvent.objects.bulk_create([event], ignore_conflicts=True)
        transaction.on_commit(request_processing)


def _storable(text: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; the kept copy is for reading, not for replay.
    return text[:limit].replace("\x00", "\ufffd")


def rejected_security_event_record(
    *, error: SetError, body: str, remote_addr: str | None
) -> RejectedSecurityEvent:
    """Keep a refused SET with the answer it got; bounded by `rejected_security_events_prune`."""
    return RejectedSecurityEvent.objects.create(
        stream=error.stream,
        issuer=_storable(error.issuer if isinstance(error.issuer, str) else "", 700),
        jti=_storable(error.jti if isinstance(error.jti, str) else "", 255),
        http_status=error.status,
        err=error.err,
        description=_storable(error.description, 2000),
        raw=_storable(body, REJECTED_RAW_MAX_CHARS),
        remote_addr=remote_addr,
    )


def rejected_security_events_prune() -> int:
    """Delete rejected SETs past the retention period and beyond the per-stream cap.

    Returns how many were deleted; a rerun deletes nothing more.
    """
    cutoff = timezone.now() - timedelta(days=settings.REJECTED_SET_RETENTION_DAYS)
    deleted, _ = RejectedSecurityEvent.objects.filter(received_at__lt=cutoff).delete()
    cap = settings.REJECTED_SET_CAP_PER_STREAM
    over_cap = (
        RejectedSecurityEvent.objects.values("stream_id").annotate(n=Count("id")).filter(n__gt=cap)
    )
    for group in over_cap:
        keep_from = (
            RejectedSecurityEvent.objects.filter(stream_id=group["stream_id"])
            .order_by("-id")
            .values_list("id", flat=True)[cap - 1 : cap]
        )
        threshold = keep_from[0]
        extra, _ = RejectedSecurityEvent.objects.filter(
            stream_id=group["stream_id"], id__lt=threshold
        ).delete()
        deleted += extra
    return deleted


def pending_security_events_sweep() -> int:
    """Ask again for processing when SETs have been PENDING longer than SWEEP_PENDING_AFTER_SECONDS.

    Covers a broker that was down when they arrived. Returns how many were found; processing is
    idempotent, so a sweep that overlaps a running drain does no harm.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.SWEEP_PENDING_AFTER_SECONDS)
    stale = SecurityEvent.objects.filter(
        status=SecurityEventStatus.PENDING, received_at__lt=cutoff
    ).count()
    if stale:
        request_processing(force=True)
    return stale
