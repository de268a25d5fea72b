"""Fixtures of the streams tests."""

import pytest


@pytest.fixture
def receiver(live_server, settings):
    """Our push endpoints, reachable by the transmitter (pytest-django's live server)."""
    settings.SITE_URL = live_server.url
    return live_server
