"""Handing work to a Celery task of another app, by its dotted path, once the commit is done."""

import logging

from django.db import transaction
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def enqueue_on_commit(task_path: str, *args, countdown: float | None = None) -> None:
    """After the current transaction commits, send `task_path` with `args` (to run no sooner
    than `countdown` seconds later).

    The task is imported by name, so an app can hand work downstream without importing it. A
    broker outage is logged and swallowed: every caller has a periodic job that catches up.
    """

    def send():
        try:
            import_string(task_path).apply_async(args, countdown=countdown, retry=False)
        except (BrokerError, RedisError) as exc:
            logger.warning("%s%r not sent (%s); its sweeper will retry", task_path, args,
                           type(exc).__name__)  # fmt: skip

    transaction.on_commit(send)
