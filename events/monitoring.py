"""What an operator watches: a receiver process's readiness, and the pipeline's series.

Readiness runs every check and answers 503 when one of READINESS_REQUIRED_CHECKS fails. By
default those are the database, Redis and the broker: what this process needs to take SETs in.
Workers not heard from and an old backlog are reported (and alerted on through /metrics) but do
not take a receiver out of its load balancer: a pushed SET is committed before its 202, so
ingest is right to go on while processing is stalled, and pulling every node out would turn
those 202s into connection errors at every transmitter. A worker-side probe can add them.

The series here are read at scrape time from the database and Redis, so every node answers the
same values; the counters come from common.metrics.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from redis.exceptions import RedisError

from common import metrics
from common.health import (
    CheckResult,
    check_broker,
    check_database,
    check_redis,
    check_workers,
    workers_heard,
)
from events.dispatch import running_drains
from events.selectors import processing_backlog
from streams.selectors import stream_monitoring_list

logger = logging.getLogger(__name__)


def check_backlog() -> CheckResult:
    """The oldest SET waiting for processing is younger than READINESS_BACKLOG_MAX_AGE_SECONDS."""
    try:
        pending, oldest = processing_backlog()
    except DatabaseError:
        return CheckResult("backlog", False)
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    ok = age <= settings.READINESS_BACKLOG_MAX_AGE_SECONDS
    return CheckResult("backlog", ok, {"pending": pending, "oldest_age_seconds": round(age, 1)})


READINESS_CHECKS: dict[str, Callable[[], CheckResult]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "workers": check_workers,
    "backlog": check_backlog,
}


def readiness_report() -> tuple[bool, dict[str, Any]]:
    """(ready, the body): `ok`, `degraded` (only checks not required failed) or `fail`."""
    required = set(settings.READINESS_REQUIRED_CHECKS)
    results = [check() for check in READINESS_CHECKS.values()]
    ready = all(result.ok for result in results if result.name in required)
    status = "fail" if not ready else "ok" if all(r.ok for r in results) else "degraded"
    checks = {
        result.name: {"status": "ok" if result.ok else "fail",
                      "required": result.name in required, **result.detail}
        for result in results
    }  # fmt: skip
    return ready, {"status": status, "checks": checks}


def _gauge(name: str, help_text: str, value: float | None = None, **labels: str) -> Metric:
    family = GaugeMetricFamily(name, help_text, labels=list(labels) or None)
    if value is not None:
        family.add_metric(list(labels.values()), value)
    return family


def _database_families() -> list[Metric]:
    pending, oldest = processing_backlog()
    now = timezone.now()
    families = [
        _gauge("ssf_processing_backlog", "Accepted SETs waiting for processing (PENDING).",
               pending),
        _gauge("ssf_processing_lag_seconds",
               "Age of the oldest SET waiting for processing (0 when none waits).",
               (now - oldest).total_seconds() if oldest else 0.0),
    ]  # fmt: skip
    info = GaugeMetricFamily("ssf_stream_info", "Each stream: its name and status (always 1).",
                             labels=["stream", "name", "status"])  # fmt: skip
    last_set = GaugeMetricFamily("ssf_stream_last_set_age_seconds",
                                 "Seconds since the stream's last processed SET.",
                                 labels=["stream"])  # fmt: skip
    verification = GaugeMetricFamily(
        "ssf_stream_verification_age_seconds",
        "Streams managed at the transmitter: seconds since the last verification SET came back "
        "(since the stream was added when none has yet).",
        labels=["stream"],
    )
    for stream in stream_monitoring_list():
        info.add_metric([stream["id"], stream["name"], stream["status"]], 1)
        if stream["last_set_received_at"]:
            age = (now - stream["last_set_received_at"]).total_seconds()
            last_set.add_metric([stream["id"]], age)
        if stream["management__remote_stream_id"] is not None:
            since = stream["management__verified_at"] or stream["created_at"]
            verification.add_metric([stream["id"]], (now - since).total_seconds())
    return [*families, info, last_set, verification]


def _redis_families() -> list[Metric]:
    seen, last_heard = workers_heard()
    families = [
        *metrics.stored_families(),
        _gauge("ssf_workers_seen", "Celery workers heard from within "
               "WORKER_HEARTBEAT_MAX_AGE_SECONDS.", seen),
        _gauge("ssf_drains_running", "Drains (processing tasks) holding a live lease.",
               running_drains()),
    ]  # fmt: skip
    if last_heard is not None:
        families.append(_gauge("ssf_worker_last_seen_seconds",
                               "Seconds since any Celery worker was last heard from.",
                               last_heard))  # fmt: skip
    return families


def metrics_exposition() -> bytes:
    """Every series in the Prometheus text format. A source that is down (the database or
    Redis) leaves its series out and says so in `ssf_metrics_source_up`."""
    metrics.flush()
    up = GaugeMetricFamily("ssf_metrics_source_up",
                           "Whether this scrape could read each source of series (1) or not.",
                           labels=["source"])  # fmt: skip
    families: list[Metric] = []
    for source, read, errors in (("database", _database_families, DatabaseError),
                                 ("redis", _redis_families, RedisError)):  # fmt: skip
        try:
            families += read()
            up.add_metric([source], 1)
        except errors as exc:
            logger.warning("Metrics: %s unavailable (%s)", source, type(exc).__name__)
            up.add_metric([source], 0)
    families.append(up)
    families.append(_gauge("ssf_metrics_scrape_timestamp_seconds",
                           "When this scrape was answered (Unix time).", time.time()))  # fmt: skip
    return metrics.exposition(families)
