"""The receiver's Prometheus counters, kept in Redis so that one scrape sees every process.

Why not prometheus_client's multiprocess mode: the events worth counting happen in gunicorn
workers (SETs accepted and refused) and in Celery workers (JWKS refreshes, stream management,
policy actions), on as many machines as the receiver runs on. Multiprocess mode only adds up the
processes of one machine that share its directory, so the Celery side would need exporters of
its own. Every one of these processes already talks to Redis, so each adds its counts to one
Redis hash, and `/metrics` on any node answers the totals of the whole deployment (scrape it as
one target, e.g. through the load balancer). Gauges (backlog, lag, verification age) are read
from the database and Redis at scrape time (events.monitoring), never kept in a process.

Counting costs the request a dict update: a daemon thread per process adds the counts to Redis
(one pipelined HINCRBY per series) every FLUSH_SECONDS. Counts that cannot be flushed (Redis down)
are kept and sent with the next flush; a process killed outright loses at most FLUSH_SECONDS of
counts, which Prometheus sees as a slightly smaller increase, never as a reset.
"""

import atexit
import contextlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.exceptions import RedisError

from common.redis import redis_client

logger = logging.getLogger(__name__)

COUNTERS_KEY = "ssf:metrics:counters"
GAUGES_KEY = "ssf:metrics:gauges"
FLUSH_SECONDS = 1.0
UNKNOWN_STREAM = "unknown"

# name (exported with `_total`) -> (help, label names). Only these are ever exported, so no
# value from a request can name a series; label values come from our own ids and enums.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ssf_sets_accepted": (
        "SETs accepted (answered 202 or acknowledged), re-deliveries included, per stream.",
        ("stream",),
    ),
    "ssf_sets_refused": (
        "SETs refused, per stream (unknown: no stream matched) and RFC 8935 error code.",
        ("stream", "err"),
    ),
    "ssf_jwks_fetches": (
        "JWKS fetches of a stream's transmitter, per outcome.",
        ("stream", "outcome"),
    ),
    "ssf_management_calls": (
        "SSF stream management calls to transmitters, per HTTP method and outcome.",
        ("method", "outcome"),
    ),
    "ssf_policy_actions": (
        "Policy action attempts per kind and outcome (succeeded, retrying, failed: gave up).",
        ("kind", "outcome"),
    ),
    "ssf_retention_deleted": ("Rows deleted by the retention jobs, per table.", ("table",)),
}
# Gauges a process sets now and then (not per request), kept in Redis as they were last set.
STORED_GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ssf_retention_last_run_timestamp_seconds": (
        "When each retention job last finished a run (Unix time).",
        ("job",),
    ),
}


class _Buffer:
    """This process's counts not yet in Redis, and the thread that sends them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.pid: int | None = None

    def add(self, field: str, by: int) -> None:
        with self.lock:
            self.counts[field] += by
            if self.pid != os.getpid():  # first count in this process (or since a fork)
                self.pid = os.getpid()
                threading.Thread(target=self._run, name="metrics-flush", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        with self.lock:
            counts, self.counts = self.counts, Counter()
        if not counts:
            return
        try:
            pipeline = redis_client().pipeline(transaction=False)
            for field, by in counts.items():
                pipeline.hincrby(COUNTERS_KEY, field, by)
            pipeline.execute()
        except RedisError as exc:
            logger.debug("Counts kept for the next flush: Redis unavailable (%s)",
                         type(exc).__name__)  # fmt: skip
            with self.lock:
                self.counts.update(counts)


_buffer = _Buffer()
atexit.register(_buffer.flush)


def flush() -> None:
    """Send this process's counts to Redis now (a scrape does, so it sees its own counts)."""
    _buffer.flush()


def increment(name: str, *label_values: str, by: int = 1) -> None:
    """Add to a declared counter; label values in the order COUNTERS declares their names."""
    _help, labels = COUNTERS[name]
    if len(label_values) != len(labels):
        raise ValueError(f"{name} takes the labels {labels}")
    _buffer.add(json.dumps([name, [str(v) for v in label_values]]), by)


def gauge_store(name: str, value: float, *label_values: str) -> None:
    """Set a stored gauge now (unbuffered: for rare events such as a job's run)."""
    if name not in STORED_GAUGES:
        raise ValueError(f"{name} is not a declared gauge")
    field = json.dumps([name, [str(v) for v in label_values]])
    try:
        redis_client().hset(GAUGES_KEY, field, value)
    except RedisError as exc:
        logger.warning("Gauge %s not stored: Redis unavailable (%s)", name, type(exc).__name__)


# --- the calls other modules make where something worth counting happens ---------------------


def set_accepted(*, stream_id: str) -> None:
    increment("ssf_sets_accepted", stream_id)


def set_refused(*, stream_id: str | None, err: str) -> None:
    increment("ssf_sets_refused", stream_id or UNKNOWN_STREAM, err)


@contextlib.contextmanager
def jwks_fetch_counted(*, stream_id: str) -> Iterator[None]:
    """Count the JWKS fetch inside the block: a failure when it raises (the error goes on)."""
    try:
        yield
    except Exception:
        increment("ssf_jwks_fetches", stream_id, "failure")
        raise
    increment("ssf_jwks_fetches", stream_id, "success")


def _call_outcome(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else f"http_{status}"
    return "error"  # no answer (unreachable, timeout) or not the answer the protocol expects


def management_call_counted(call: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate TransmitterClient.call(method, url, ...): counts each call by method and outcome."""

    @wraps(call)
    def counted(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = call(self, method, *args, **kwargs)
        except Exception as exc:
            increment("ssf_management_calls", method.upper(), _call_outcome(exc))
            raise
        increment("ssf_management_calls", method.upper(), "success")
        return result

    return counted


def policy_action_attempted(*, kind: str, done: bool, gave_up: bool) -> None:
    outcome = "succeeded" if done else "failed" if gave_up else "retrying"
    increment("ssf_policy_actions", kind, outcome)


def retention_pruned(*, table: str, rows: int) -> None:
    if rows:
        increment("ssf_retention_deleted", table, by=rows)


def retention_ran(*, job: str) -> None:
    gauge_store("ssf_retention_last_run_timestamp_seconds", time.time(), job)


# --- reading and exposing ---------------------------------------------------------------------


def _stored(key: str) -> dict[tuple[str, tuple[str, ...]], float]:
    values = {}
    for field, value in redis_client().hgetall(key).items():
        try:
            name, labels = json.loads(field)
            values[(name, tuple(labels))] = float(value)
        except (ValueError, TypeError):
            continue  # not ours: never export what we did not write
    return values


def stored_families() -> list[Metric]:
    """Every declared counter and stored gauge, with the values in Redis (RedisError raises)."""
    counters, gauges = _stored(COUNTERS_KEY), _stored(GAUGES_KEY)
    families: list[Metric] = []
    for declared, values, family_type in ((COUNTERS, counters, CounterMetricFamily),
                                          (STORED_GAUGES, gauges, GaugeMetricFamily)):  # fmt: skip
        for name, (help_text, label_names) in declared.items():
            family = family_type(name, help_text, labels=label_names)
            for (value_name, label_values), value in sorted(values.items()):
                if value_name == name and len(label_values) == len(label_names):
                    family.add_metric(list(label_values), value)
            families.append(family)
    return families


class _Families:
    def __init__(self, families: Iterable[Metric]):
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def exposition(families: Iterable[Metric]) -> bytes:
    """The Prometheus text format (prometheus_client's writer: names, escaping, `_total`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))  # type: ignore[arg-type]
    return generate_latest(registry)
