"""Risk fixtures: directory entities and a way to push and process a SET in one step."""

import pytest

from risk.services.directory import entity_create
from risk.services.processing import security_events_process_pending


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
    """Push a SET about `event_uri` (body `event`) and process it; returns the HTTP answer."""

    def _deliver(event_uri: str, event: dict | None = None, **claims):
        claims.setdefault("events", {event_uri: event or {}})
        response = push(transmitter.make_set(**claims))
        assert response.status_code == 202, response.content
        security_events_process_pending()
        return response

    return _deliver
