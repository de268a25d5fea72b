"""How long accepted SETs are kept: ACCEPTED_SET_RETENTION_DAYS (90, as the System Log).

A SET is kept as long as the System Log records that link to it. One still PENDING is never
deleted, whatever its age: it has not been processed, and an accepted SET is never lost. System
Log records and risk changes that point at a deleted SET keep their own copy of what it said
(issuer, event type, reasons, trace id); their link to it is cleared (SET_NULL). Rejected SETs
have their own, shorter retention (events.services.rejected_security_events_prune).
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from common.retention import queryset_prune
from events.models import SecurityEvent, SecurityEventStatus


def security_events_prune(*, deadline: float) -> int:
    """Delete processed SETs older than the retention, in batches; returns how many.

    A rerun deletes only what has aged past the retention since.
    """
    days: int = settings.ACCEPTED_SET_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    expired = SecurityEvent.objects.filter(received_at__lt=cutoff).exclude(
        status=SecurityEventStatus.PENDING
    )
    return queryset_prune(
        expired, order_by=("received_at", "id"), deadline=deadline, table="security_events"
    )
