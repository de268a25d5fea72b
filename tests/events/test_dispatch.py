"""How many drains run: leases in Redis bound them, through the real broker (no worker runs)."""

import json
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from events import dispatch
from events.models import SecurityEvent
from events.services import pending_security_events_sweep
from risk.services.processing import security_events_process_pending

pytestmark = pytest.mark.django_db
DRAIN_TASK = "risk.process_pending_security_events"
KEYS = (dispatch.DRAINS_KEY, dispatch.SECOND_DRAIN_KEY, dispatch.DRAIN_REQUESTED_KEY, "celery")


@pytest.fixture
def broker(settings, redis_url):
    """Celery publishing for real (not eager); the Redis keys involved start and end empty."""
    from config.celery import app

    client = redis.Redis.from_url(redis_url)
    client.delete(*KEYS)
    settings.CELERY_TASK_ALWAYS_EAGER = app.conf.task_always_eager = False
    yield client
    app.conf.task_always_eager = True
    client.delete(*KEYS)


def drains_queued(client) -> int:
    headers = [json.loads(message)["headers"] for message in client.lrange("celery", 0, -1)]
    return sum(1 for h in headers if h["task"] == DRAIN_TASK)


def test_a_second_drain_only_while_fewer_than_drain_concurrency_run(broker, settings):
    settings.DRAIN_CONCURRENCY = 2
    first, second = dispatch.drain_started(), dispatch.drain_started()
    dispatch.request_second_drain()
    assert drains_queued(broker) == 0  # two run already
    dispatch.drain_finished(second)
    dispatch.request_second_drain()
    assert drains_queued(broker) == 1
    broker.delete(dispatch.SECOND_DRAIN_KEY)
    broker.zadd(dispatch.DRAINS_KEY, {first: time.time() - 1})  # a drain that died: lease over
    assert dispatch.running_drains() == 0


def test_the_sweeper_asks_for_a_drain_only_when_none_runs(broker, stream, make_set, push):
    assert push(make_set()).status_code == 202
    broker.delete("celery", dispatch.DRAIN_REQUESTED_KEY)
    SecurityEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    lease = dispatch.drain_started()
    assert pending_security_events_sweep() == 1
    assert drains_queued(broker) == 0  # the running drain reaches it
    dispatch.drain_finished(lease)
    assert pending_security_events_sweep() == 1
    assert drains_queued(broker) == 1


def test_a_drain_holds_a_lease_only_while_it_runs(broker, stream, make_set, push, monkeypatch):
    seen = []
    original = dispatch.drain_alive

    def alive(token):
        original(token)
        seen.append(dispatch.running_drains())

    monkeypatch.setattr("risk.services.processing.drain_alive", alive)
    assert push(make_set()).status_code == 202
    assert security_events_process_pending() == 1
    assert seen == [1]
    assert dispatch.running_drains() == 0
