"""Deleting old rows without stalling ingest: bounded batches, each its own short transaction.

A batch selects at most RETENTION_BATCH_SIZE primary keys in index order and deletes them in one
transaction, then pauses, so row locks are held for one batch only and ingest (which never
touches old rows) only shares the disk and CPU with it. The ORM's delete is used on purpose:
it clears the SET_NULL links and cascades to dependent rows (whatever model points here) in
the same transaction. A run stops at its deadline and the next run goes on from there, so a
Celery worker is never held for long, and two runs of one job never overlap (a lock in Redis).
Works the same on PostgreSQL and SQLite.
"""

import logging
import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model, QuerySet

from common import metrics

logger = logging.getLogger(__name__)

# How long a beat run of a job may take: short, so a solo worker gets back to drains.
RUN_SECONDS = 30.0
BATCH_PAUSE_SECONDS = 0.05

Pruner = Callable[..., int]


def queryset_prune(
    queryset: QuerySet[Model], *, order_by: Sequence[str], deadline: float, table: str
) -> int:
    """Delete the rows of `queryset` in batches, oldest first by `order_by` (an indexed
    ordering), until none is left or `deadline` (time.monotonic()) passes; returns how many.

    The queryset is applied again when each batch is deleted, so a row that stopped matching
    meanwhile stays.
    """
    deleted = 0
    batch_size = settings.RETENTION_BATCH_SIZE
    while time.monotonic() < deadline:
        ids = list(queryset.order_by(*order_by).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            _total, per_model = queryset.filter(pk__in=ids).only("pk").delete()
        rows = per_model.get(queryset.model._meta.label, 0)
        deleted += rows
        metrics.retention_pruned(table=table, rows=rows)
        if len(ids) < batch_size:
            break
        time.sleep(BATCH_PAUSE_SECONDS)
    return deleted


def retention_run(job: str, pruners: Sequence[Pruner], *, seconds: float = RUN_SECONDS) -> int:
    """Run a job's pruners one after the other within `seconds`; returns the rows deleted.

    A run of the same job already going (another worker, or `manage.py prune`) makes this one
    a no-op; the lock expires on its own if that run died.
    """
    lock = f"ssf:retention:{job}"
    if not cache.add(lock, "1", timeout=int(seconds) + 60):
        return 0
    try:
        deadline = time.monotonic() + seconds
        deleted = sum(prune(deadline=deadline) for prune in pruners)
    finally:
        cache.delete(lock)
    metrics.retention_ran(job=job)
    if deleted:
        logger.info("Retention %s: %d rows deleted", job, deleted)
    return deleted
