"""Readiness checks of what a receiver process depends on, and the Celery workers' heartbeat.

A check says ok or fail and, at most, a few numbers (ages, counts): never a host name, a URL or
an exception's text, since probes are answered without authentication. Which checks a 503 waits
on is READINESS_REQUIRED_CHECKS (events.monitoring explains the default).

Workers: each Celery worker process keeps its name in a Redis sorted set scored by the time it
was last heard from: when it is ready, then with each of Celery's event-loop heartbeats (every
2 s, written at most every HEARTBEAT_WRITE_SECONDS), and it leaves when it shuts down. The
event loop of a `--pool solo` worker is busy while a task runs, so a worker in a long task
(a drain runs at most 10 s) is heard from again when the task ends: WORKER_HEARTBEAT_MAX_AGE_SECONDS
(60 s) allows for that.
"""

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from common.redis import redis_client

logger = logging.getLogger(__name__)

WORKERS_KEY = "ssf:workers"
HEARTBEAT_WRITE_SECONDS = 5.0
BROKER_CONNECT_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class CheckResult:
    """One readiness check: ok or not, and what an operator may see of it (numbers only)."""

    name: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


def check_database() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("Readiness: the database is unavailable (%s)", type(exc).__name__)
        return CheckResult("database", False)
    return CheckResult("database", True)


def check_redis() -> CheckResult:
    try:
        redis_client().ping()
    except RedisError as exc:
        logger.warning("Readiness: Redis is unavailable (%s)", type(exc).__name__)
        return CheckResult("redis", False)
    return CheckResult("redis", True)


def check_broker() -> CheckResult:
    """A connection to CELERY_BROKER_URL (the same server as REDIS_URL unless told otherwise)."""
    from celery import current_app

    try:
        timeout = BROKER_CONNECT_TIMEOUT_SECONDS
        with current_app.connection_for_write(connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
    except (BrokerError, OSError) as exc:
        logger.warning("Readiness: the broker is unavailable (%s)", type(exc).__name__)
        return CheckResult("broker", False)
    return CheckResult("broker", True)


def workers_heard() -> tuple[int, float | None]:
    """(workers heard from within WORKER_HEARTBEAT_MAX_AGE_SECONDS, seconds since the last one
    was heard, None if none ever was). Raises RedisError."""
    client = redis_client()
    now = time.time()
    recent = client.zcount(WORKERS_KEY, now - settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS, "+inf")
    latest = client.zrange(WORKERS_KEY, -1, -1, withscores=True)
    return int(recent), (max(now - float(latest[0][1]), 0.0) if latest else None)


def check_workers() -> CheckResult:
    try:
        recent, age = workers_heard()
    except RedisError:
        return CheckResult("workers", False)
    detail = {"seen": recent, "last_seen_seconds_ago": None if age is None else round(age, 1)}
    return CheckResult("workers", recent > 0, detail)


# --- the worker side: connected to Celery's signals in config/celery.py ------------------------


@dataclass
class _Worker:
    name: str = ""
    written_at: float = 0.0


_worker = _Worker()


def _write_heartbeat() -> None:
    try:
        redis_client().zadd(WORKERS_KEY, {_worker.name: time.time()})
        _worker.written_at = time.monotonic()
    except RedisError as exc:
        logger.warning("Worker heartbeat not written (%s)", type(exc).__name__)


def worker_ready(sender: Any = None, **kwargs: Any) -> None:
    """worker_ready: register the worker under its Celery hostname (`w1@host`)."""
    _worker.name = str(getattr(sender, "hostname", "") or "")
    if _worker.name:
        _write_heartbeat()


def worker_heartbeat(**kwargs: Any) -> None:
    """heartbeat_sent: the worker's event loop is turning."""
    due = time.monotonic() - _worker.written_at >= HEARTBEAT_WRITE_SECONDS
    if _worker.name and due:
        _write_heartbeat()


def worker_shutdown(**kwargs: Any) -> None:
    """worker_shutdown: a worker stopped on purpose is not waited for."""
    if not _worker.name:
        return
    try:
        redis_client().zrem(WORKERS_KEY, _worker.name)
    except RedisError as exc:
        logger.warning("Worker heartbeat not removed (%s)", type(exc).__name__)
