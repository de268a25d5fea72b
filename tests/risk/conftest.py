"""Risk fixtures: directory entities, a second source, and a way to push and process a SET."""

import pytest
from django.utils import timezone

from common.audit import admin_actor
from risk.models import LogEvent
from risk.services.directory import entity_create
from risk.services.processing import security_events_process_pending
from risk.services.system_log import log_event
from streams.services import stream_create
from tests.conftest import TransmitterDouble
from tests.http_server import LocalHTTPServer


@pytest.fixture
def alice(db):
    return entity_create(
        email="Alice@Example.com",
        first_name="Alice",
        last_name="Liddell",
        groups=["Engineering"],
        identifiers=[{"format": "iss_sub", "iss": "https://idp.example", "sub": "a-123"}],
    )


@pytest.fixture
def deliver(stream, transmitter, push):
    """Push a SET about `event_uri` (body `event`) and process it; returns the HTTP answer.

    `source` signs it as another transmitter (default: the `stream` fixture's)."""

    def _deliver(event_uri: str, event: dict | None = None, *, source=None, **claims):
        claims.setdefault("events", {event_uri: event or {}})
        response = push((source or transmitter).make_set(**claims))
        assert response.status_code == 202, response.content
        security_events_process_pending()
        return response

    return _deliver


@pytest.fixture
def second_source(db, rotated_rsa_key):
    """Another transmitter with a stream of its own ("SGNL"): a second source of signals."""
    server = LocalHTTPServer().start()
    source = TransmitterDouble(server, rotated_rsa_key)
    source.stream = stream_create(name="SGNL", well_known_url=source.well_known_url)
    yield source
    server.stop()


@pytest.fixture
def make_records(db):
    """Store `n` System Log records "record 0".."record n-1", a second apart, oldest first;
    `fields` go to risk.services.system_log.log_event."""

    def _make(n: int, **fields):
        base = timezone.now()
        fields.setdefault("event_type", "test.event")
        fields.setdefault("actor", admin_actor(name="t"))
        LogEvent.objects.bulk_create(
            log_event(display_message=f"record {i}",
                      published=base - timezone.timedelta(seconds=n - i), **fields)
            for i in range(n)
        )  # fmt: skip

    return _make
