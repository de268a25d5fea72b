"""Every write of stored SETs: accepting, rejecting, sweeping and pruning."""

import json
import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import Count
from django.utils import timezone
from redis.exceptions import RedisError

from common import metrics
from events.dispatch import request_processing, running_drains
from events.models import RejectedSecurityEvent, SecurityEvent, SecurityEventStatus
from events.selectors import rejections_dropped_key, security_event_seen
from events.verification import SetError, SetErrorCode, VerifiedSet, verify_set
from streams.models import StreamStatus

logger = logging.getLogger(__name__)

REJECTED_RAW_MAX_CHARS = 8192


# One statement, one transaction (autocommit): the SET is stored only if its stream is still
# as it was when the SET was verified (Active, not saved since, same keys), since verification
# may have used a stream read a few seconds ago. A replayed jti stores nothing (RFC 8935 §2.3):
# neither on the same stream (the unique constraint) nor one kept from a removed stream of the
# same issuer (NOT EXISTS), since a jti is unique per issuer (RFC 8417 §2.2); the issuer is
# compared as streams match it (issuer_key), so re-adding it spelled `https://tr//` is no escape.
_INSERT_SQL = """
INSERT INTO events_securityevent (stream_id, stream_ref, issuer, issuer_key, jti, event_type, raw,
    header, claims, kid, alg, typ_missing, content_type_mislabelled, body_json_quoted,
    received_at, status)
SELECT s.id, s.id, s.issuer, s.issuer_key, %s, %s, %s, %s{json}, %s{json}, %s, %s, %s, %s, %s,
    %s, %s
FROM streams_stream s
WHERE s.id = %s AND s.status = %s AND s.updated_at = %s AND s.jwks_fetched_at = %s
    AND NOT EXISTS (
        SELECT 1 FROM events_securityevent e WHERE e.issuer_key = s.issuer_key AND e.jti = %s
    )
ON CONFLICT (stream_id, jti) DO NOTHING
RETURNING id
"""


class StreamChanged(Exception):
    """The stream changed since the SET was verified against it; verify again."""


def security_event_store(
    *, verified: VerifiedSet, content_type_mislabelled: bool = False, body_json_quoted: bool = False
) -> None:
    """Commit a verified SET, then ask for its processing.

    A re-delivered SET (same stream and jti) is not stored again and so not processed again
    (RFC 8935 §2.3); its sender still gets the 202 it got the first time. Raises StreamChanged
    when the stream was deactivated, saved or got new keys meanwhile.
    """
    stream = verified.stream
    json_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    as_db = connection.ops.adapt_datetimefield_value  # SQLite compares datetimes as text
    params: list[Any] = [
        verified.jti, verified.event_type, verified.raw, json.dumps(verified.header),
        json.dumps(verified.claims), verified.kid, verified.alg, verified.typ_missing,
        content_type_mislabelled, body_json_quoted, as_db(timezone.now()),
        SecurityEventStatus.PENDING,
        stream.pk, StreamStatus.ACTIVE, as_db(stream.updated_at), as_db(stream.jwks_fetched_at),
        verified.jti,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL.format(json=json_cast), params)
        stored = cursor.fetchone() is not None
    if stored:
        transaction.on_commit(request_processing)
    elif not security_event_seen(issuer_key=stream.issuer_key, jti=verified.jti):
        raise StreamChanged(stream.pk)


def security_event_receive(
    *,
    raw: str,
    authorization: str | None = None,
    check_authorization: bool = True,
    stream_id: str | None = None,
    content_type_mislabelled: bool = False,
    body_json_quoted: bool = False,
) -> VerifiedSet:
    """Verify a SET (push or poll) and commit it; SetError says why it is refused.

    Verification first uses the stream as this process last read it (a few seconds ago at
    most). A refusal decided on that copy, or a stream that changed since, is decided again
    against the stream as it is now, so a cached copy never turns a good SET away nor lets a
    bad one in. A stream that changes again meanwhile is a 503: the transmitter retries.
    """
    options: dict[str, Any] = {"authorization": authorization,
                               "check_authorization": check_authorization,
                               "stream_id": stream_id}  # fmt: skip
    store = {"content_type_mislabelled": content_type_mislabelled,
             "body_json_quoted": body_json_quoted}  # fmt: skip
    try:
        verified = verify_set(raw, **options)
        security_event_store(verified=verified, **store)
    except SetError as error:
        if not (error.on_cached_stream and error.status == 400):
            raise
        verified = _receive_fresh(raw, options, store)
    except StreamChanged:
        verified = _receive_fresh(raw, options, store)
    metrics.set_accepted(stream_id=verified.stream.pk)
    return verified


def _receive_fresh(raw: str, options: dict[str, Any], store: dict[str, Any]) -> VerifiedSet:
    verified = verify_set(raw, fresh=True, **options)
    try:
        security_event_store(verified=verified, **store)
    except StreamChanged as exc:
        raise SetError(
            SetErrorCode.STREAM_CHANGED,
            "The stream changed while this SET was checked; try again.",
            stream=verified.stream,
            issuer=verified.stream.issuer,
            jti=verified.jti,
            status=503,
            retry_after=1,
        ) from exc
    return verified


def _storable(text: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; the kept copy is for reading, not for replay.
    return text[:limit].replace("\x00", "\ufffd")


def _over_rejection_cap(error: SetError) -> bool:
    bucket = f"ssf:rejected:{error.stream.pk if error.stream else '-'}:{int(time.time()) // 60}"
    try:
        cache.add(bucket, 0, timeout=120)
        try:
            limit: int = settings.REJECTED_SET_MAX_PER_MINUTE
            return cache.incr(bucket) > limit
        except ValueError:  # the counter expired between add and incr: count this one as first
            cache.set(bucket, 1, timeout=120)
    except RedisError as exc:  # uncounted, still bounded by rejected_security_events_prune
        logger.warning("Rejected SETs are not counted: Redis is unavailable (%s)",
                       type(exc).__name__)  # fmt: skip
    return False


def _count_dropped(error: SetError) -> None:
    """One more refused SET of the stream not kept this day (shown on the stream page)."""
    if error.stream is None:
        return
    key = rejections_dropped_key(stream_id=error.stream.pk, day=int(time.time() // 86400))
    try:
        cache.add(key, 0, timeout=(settings.REJECTED_SET_RETENTION_DAYS + 1) * 86400)
        cache.incr(key)
    except (RedisError, ValueError):  # uncounted: the count is a hint, the answer is sent
        return


def rejected_security_event_record(
    *, error: SetError, body: str, remote_addr: str | None, polled: bool = False
) -> RejectedSecurityEvent | None:
    """Keep a refused SET with the answer it got and the full description.

    A refusal whose sender is known (its push secret or signature checked out, or a SET we
    polled from the transmitter) is always kept: a flood of forged SETs must not hide the real
    transmitter's. Others are dropped (and counted) once their stream (or, for unknown issuers,
    everyone's) had REJECTED_SET_MAX_PER_MINUTE this minute: a flood must not fill the disk.
    Bounded over time by `rejected_security_events_prune`.

    Best effort: the refusal's answer matters more than its record, so a database that cannot
    keep it is logged, not raised.
    """
    metrics.set_refused(stream_id=error.stream.pk if error.stream else None, err=error.err)
    if not (polled or error.sender_authenticated) and _over_rejection_cap(error):
        _count_dropped(error)
        return None
    try:
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
    except DatabaseError:
        logger.exception("Could not keep a rejected SET")
        return None


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

    Covers a broker that was down when they arrived, and a drain that died. Returns how many
    were found. While a drain runs (holds a live lease, events.dispatch) it asks for nothing:
    that drain reaches them, and more drains would only queue ahead of the policy actions. A
    dead drain's lease lapses DRAIN_LEASE_SECONDS after its last renewal, so with the beat
    interval (SWEEP_PENDING_INTERVAL_SECONDS) a crashed drain holds its backlog for seconds.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.SWEEP_PENDING_AFTER_SECONDS)
    stale = SecurityEvent.objects.filter(
        status=SecurityEventStatus.PENDING, received_at__lt=cutoff
    ).count()
    if stale and not _drain_running():
        request_processing(force=True)
    return stale


def _drain_running() -> bool:
    # A running drain reaches these SETs; without Redis we cannot tell, so ask anyway.
    try:
        return running_drains() > 0
    except RedisError:
        return False
