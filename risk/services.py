"""Processing of accepted SETs (filled in by the Risk issue: log, risk, policy)."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from events.dispatch import clear_processing_request
from events.models import SecurityEvent, SecurityEventStatus
from streams.models import Stream

BATCH_SIZE = 200


def _process_batch(batch: list[SecurityEvent]) -> None:
    now = timezone.now()
    SecurityEvent.objects.filter(pk__in=[e.pk for e in batch]).update(
        status=SecurityEventStatus.PROCESSED, processed_at=now
    )
    latest = (
        SecurityEvent.objects.filter(pk__in=[e.pk for e in batch], stream__isnull=False)
        .values("stream_id")
        .annotate(last=Max("received_at"))
    )
    for row in latest:
        Stream.objects.filter(pk=row["stream_id"]).exclude(
            last_set_received_at__gte=row["last"]
        ).update(last_set_received_at=row["last"])


def security_events_process_pending(*, batch_size: int = BATCH_SIZE) -> int:
    """Process every PENDING SET, batch by batch, each batch in one transaction.

    Rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent drains share the work
    and no SET is processed twice; a crash mid-batch rolls the batch back to PENDING.
    Returns how many SETs this call processed.
    """
    total = 0
    while True:
        clear_processing_request()
        with transaction.atomic():
            batch = list(
                SecurityEvent.objects.select_for_update(skip_locked=True)
                .filter(status=SecurityEventStatus.PENDING)
                .order_by("id")[:batch_size]
            )
            if not batch:
                return total
            _process_batch(batch)
        total += len(batch)
