"""How stored SETs reach the risk app: one drain request per batch, never one task per SET.

The stored row is the outbox. Publishing a Celery task per SET costs about 1.8 ms of the ingest
path (../shared/docs/PERFORMANCE.md), so ingest only sets a short-lived Redis flag with SET NX
after its commit, and only the request that set it publishes `risk.process_pending_security_events`.
A running drain keeps the flag (refreshing its expiry) while it finds work; when a select comes
back empty it clears the flag and selects once more. A SET committed while the flag was held is
therefore in one of the drain's selects, and one committed after it was cleared finds the flag
clear and asks for a new drain: none is left behind. When Redis or the broker is down the SET
stays PENDING and the sweeper asks again.

Each running drain holds a lease (a member of a sorted set, renewed every batch), so that extra
drains for a backlog, and the sweeper's, are asked for only while fewer than DRAIN_CONCURRENCY
run: drains queued beyond the workers would only hold up the policy actions behind them. The
lease lapses DRAIN_LEASE_SECONDS after its last renewal, so a drain whose worker was killed
holds nothing back for longer than that; the flag lapses sooner still (DRAIN_REQUESTED_TTL_MS).

The drain task is sent by name (DRAIN_TASK): events hands work to risk without importing it.
"""

import logging
import os
import socket
import time
import uuid

from celery import current_app
from django.conf import settings
from kombu.exceptions import OperationalError as BrokerError
from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

DRAIN_TASK = "risk.process_pending_security_events"
DRAIN_REQUESTED_KEY = "ssf:events:drain-requested"
# A drain that never starts (a lost task) stops blocking new requests after this long.
DRAIN_REQUESTED_TTL_MS = 5000

_redis_client: Redis | None = None


def _redis() -> Redis:
    global _redis_client
    if _redis_client is None:
        _redis_client = Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1.0
        )
    return _redis_client


def _send_drain() -> None:
    """Publish the drain task by its name (raises the broker's errors)."""
    current_app.send_task(DRAIN_TASK, retry=False)


def _run_drain_eagerly() -> None:
    """Eager Celery (make run, the tests) runs a task only from the registry, which holds the
    apps' tasks once their modules are imported: import them first if need be."""
    if DRAIN_TASK not in current_app.tasks:
        current_app.loader.import_default_modules()
    current_app.tasks[DRAIN_TASK].apply_async()


def request_processing(*, force: bool = False) -> None:
    """Ask for pending SETs to be processed. Never raises: a stored SET is safe as PENDING.

    `force` publishes even when a drain was already requested (the sweeper uses it).
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        _run_drain_eagerly()
        return
    try:
        client = _redis()
        if force:
            client.delete(DRAIN_REQUESTED_KEY)
        if not client.set(DRAIN_REQUESTED_KEY, "1", nx=True, px=DRAIN_REQUESTED_TTL_MS):
            return
    except RedisError as exc:
        logger.warning("SETs stay pending: Redis is unavailable (%s)", type(exc).__name__)
        return
    try:
        _send_drain()
    except (BrokerError, RedisError) as exc:
        logger.warning("SETs stay pending: the broker is unavailable (%s)", type(exc).__name__)
        try:
            client.delete(DRAIN_REQUESTED_KEY)
        except RedisError:
            logger.debug("Could not clear the drain flag; it expires on its own")


def clear_processing_request() -> None:
    """Called by a drain that found no work, before its last select (module docstring)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    try:
        _redis().delete(DRAIN_REQUESTED_KEY)
    except RedisError as exc:
        logger.warning(
            "Could not clear the drain flag (%s); it expires on its own", type(exc).__name__
        )


def keep_processing_request() -> None:
    """Called by a drain that is finding work: it holds the request (refreshes the flag's
    expiry), so ingest does not publish a drain per batch."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    try:
        _redis().set(DRAIN_REQUESTED_KEY, "1", px=DRAIN_REQUESTED_TTL_MS)
    except RedisError as exc:
        logger.warning("Could not hold the drain flag (%s)", type(exc).__name__)


SECOND_DRAIN_KEY = "ssf:events:second-drain-requested"
# The drains running now, each with the time its lease ends (a sorted set): a drain that dies
# drops out when its lease ends, DRAIN_LEASE_SECONDS after it last renewed it.
DRAINS_KEY = "ssf:events:drains"


def drain_started() -> str | None:
    """Register a running drain; returns its lease token, `<host>:<pid>:<random>` so that an
    operator can tell which worker runs it (None under eager Celery, when drains are not
    counted)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    drain_alive(token)
    return token


def drain_alive(token: str | None) -> None:
    """Renew a running drain's lease (each batch)."""
    if token is None:
        return
    try:
        _redis().zadd(DRAINS_KEY, {token: time.time() + settings.DRAIN_LEASE_SECONDS})
    except RedisError as exc:
        logger.warning("Could not renew a drain's lease (%s)", type(exc).__name__)


def drain_finished(token: str | None) -> None:
    if token is None:
        return
    try:
        _redis().zrem(DRAINS_KEY, token)
    except RedisError as exc:
        logger.warning("Could not end a drain's lease (%s); it expires", type(exc).__name__)


def running_drains() -> int:
    """How many drains hold a live lease."""
    client = _redis()
    client.zremrangebyscore(DRAINS_KEY, "-inf", time.time())
    return int(client.zcard(DRAINS_KEY))


def request_second_drain() -> None:
    """A drain that finds a backlog (a full batch) asks for one more drain, at most every
    DRAIN_REQUESTED_TTL_MS and while fewer than DRAIN_CONCURRENCY drains run, so the workers
    share the backlog (SKIP LOCKED keeps them apart) and drains never crowd out the policy
    actions queued behind them."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    try:
        if running_drains() >= settings.DRAIN_CONCURRENCY:
            return
        if _redis().set(SECOND_DRAIN_KEY, "1", nx=True, px=DRAIN_REQUESTED_TTL_MS):
            _send_drain()
    except (BrokerError, RedisError) as exc:
        logger.warning("No second drain: %s", type(exc).__name__)
