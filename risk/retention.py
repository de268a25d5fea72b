"""How long the System Log and the risk history are kept.

SYSTEM_LOG_RETENTION_DAYS (90) is Okta's System Log retention. RISK_HISTORY_RETENTION_DAYS (365)
keeps a year of risk changes, with their policy actions: one row per actual change of an
entity's level, far fewer than SETs, and what an audit asks for. The latest change of each
entity is kept whatever its age, since it explains the entity's current level.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from common.retention import queryset_prune
from risk.models import ActionStatus, LogEvent, PolicyAction, RiskChange


def log_events_prune(*, deadline: float) -> int:
    """Delete System Log records published more than the retention ago; returns how many."""
    days: int = settings.SYSTEM_LOG_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    return queryset_prune(
        LogEvent.objects.filter(published__lt=cutoff),
        order_by=("published", "id"),
        deadline=deadline,
        table="system_log",
    )


def risk_changes_prune(*, deadline: float) -> int:
    """Delete risk changes (and their policy actions) older than the retention, except each
    entity's latest one and any with an action still pending; returns how many."""
    days: int = settings.RISK_HISTORY_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    newer = RiskChange.objects.filter(entity_id=OuterRef("entity_id")).filter(
        Q(created_at__gt=OuterRef("created_at"))
        | Q(created_at=OuterRef("created_at"), id__gt=OuterRef("id"))
    )
    pending = PolicyAction.objects.filter(risk_change=OuterRef("pk"), status=ActionStatus.PENDING)
    expired = RiskChange.objects.filter(Exists(newer), created_at__lt=cutoff).exclude(
        Exists(pending)
    )
    return queryset_prune(
        expired, order_by=("created_at", "id"), deadline=deadline, table="risk_changes"
    )
