"""The production shape for real: gunicorn, PostgreSQL, Redis broker, Celery worker processes."""

import os
import time

import pytest
import requests
from django.conf import settings

from events.models import SecurityEvent, SecurityEventStatus
from risk.mapping import OKTA
from risk.models import Entity, LogEvent, RiskChange
from risk.services.directory import entity_create
from tests.processes import production_env, run_manage, start_celery_worker, start_gunicorn
from tests.servers import RedisServer, free_port

pytestmark = pytest.mark.django_db(transaction=True)


def push(port: int, token: str) -> requests.Response:
    return requests.post(
        f"http://127.0.0.1:{port}/security/api/v1/security-events",
        data=token,
        headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        timeout=10,
    )


def wait_until_processed(count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = SecurityEvent.objects.exclude(status=SecurityEventStatus.PENDING).count()
        if done == count:
            return
        time.sleep(0.1)
    statuses = list(SecurityEvent.objects.values_list("status", flat=True))
    raise AssertionError(f"not all {count} SETs were processed: {statuses}")


def test_pushed_sets_change_risk_through_a_real_worker(
    stream, transmitter, database_url, redis_url
):
    alice = entity_create(email="alice@example.com")
    env = production_env(
        database_url=database_url, redis_url=redis_url, RECEIVER_AUDIENCE=settings.RECEIVER_AUDIENCE
    )
    port = free_port()
    server = start_gunicorn(env, port=port)
    worker = start_celery_worker(env)
    try:
        event = {OKTA + "user-risk-change": {"current_level": "high"}}
        tokens = [transmitter.make_set(events=event) for _ in range(25)]
        for token in tokens:
            response = push(port, token)
            assert response.status_code == 202, response.text
            assert response.content == b""
        assert push(port, tokens[0]).status_code == 202  # a re-delivery
        chunked = requests.post(  # a generator body goes out chunked, without Content-Length
            f"http://127.0.0.1:{port}/security/api/v1/security-events",
            data=iter([transmitter.make_set(events=event).encode()]),
            headers={"Content-Type": "application/secevent+jwt"},
            timeout=10,
        )
        assert chunked.status_code == 411, chunked.text
        wait_until_processed(25)
        assert SecurityEvent.objects.filter(status=SecurityEventStatus.PROCESSED).count() == 25
        assert Entity.objects.get(pk=alice.pk).risk_level == "HIGH"
        assert RiskChange.objects.get().security_event.stream == stream
        receive = "security.events.provider.receive_event"
        assert LogEvent.objects.filter(event_type=receive).count() == 25
    finally:
        worker.stop()
        server.stop()


def test_broker_down_at_ingest_keeps_the_set_until_the_sweeper_runs(
    stream, transmitter, database_url
):
    broker = RedisServer()  # its port is chosen, but nothing listens there yet
    env = production_env(
        database_url=database_url,
        redis_url=broker.url,
        RECEIVER_AUDIENCE=settings.RECEIVER_AUDIENCE,
        SWEEP_PENDING_AFTER_SECONDS="0",
    )
    port = free_port()
    server = start_gunicorn(env, port=port)
    worker = None
    try:
        assert push(port, transmitter.make_set()).status_code == 202
        event = SecurityEvent.objects.get()
        assert event.status == SecurityEventStatus.PENDING

        broker.start()
        assert "1 pending SET(s)" in run_manage(env, "sweep_pending_sets")
        worker = start_celery_worker(env)
        wait_until_processed(1)
        event.refresh_from_db()
        assert (
            event.status == SecurityEventStatus.IGNORED
        )  # processed: alice is not in the directory
        assert SecurityEvent.objects.count() == 1
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
        broker.stop()


@pytest.mark.parametrize("module", ["config.wsgi", "config.celery"])
def test_a_server_started_without_settings_gets_production_not_debug(module):
    """gunicorn config.wsgi (or a Celery worker) with no DJANGO_SETTINGS_MODULE must not run
    with DEBUG and the development secret key: production settings refuse to start instead."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}; import django.conf as c; c.settings.DEBUG"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr
