"""How many drains run: leases in Redis bound them, through the real broker (no worker runs)."""

import json
import os
import time
from datetime import timedelta

import pytest
import redis
from django.db import OperationalError
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


def test_events_never_imports_risk():
    """Data flows streams -> events -> risk: events hands work over by task name only."""
    import ast
    from pathlib import Path

    import events

    imported = []
    for path in Path(events.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.append((path.name, node.module))
            elif isinstance(node, ast.Import):
                imported += [(path.name, alias.name) for alias in node.names]
    assert [(name, module) for name, module in imported if module.split(".")[0] == "risk"] == []


def test_a_dead_drains_lease_lapses_after_drain_lease_seconds(broker, settings):
    settings.DRAIN_LEASE_SECONDS = 0.3
    token = dispatch.drain_started()
    assert token.split(":")[1] == str(os.getpid())  # which worker holds it
    assert dispatch.running_drains() == 1
    time.sleep(0.4)  # the drain's worker was killed: no renewal, no drain_finished
    assert dispatch.running_drains() == 0


def test_a_drain_that_fails_lets_go_of_the_request(broker, stream, make_set, push, monkeypatch):
    """The database went away mid-drain: the next SET must ask for a drain, not find the
    failed drain's request still set."""

    def database_gone(events):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("risk.services.processing._process_claimed", database_gone)
    assert push(make_set()).status_code == 202
    broker.set(dispatch.DRAIN_REQUESTED_KEY, "1")  # as ingest does after its commit
    with pytest.raises(OperationalError):
        security_events_process_pending()
    assert not broker.exists(dispatch.DRAIN_REQUESTED_KEY)
    assert dispatch.running_drains() == 0
