"""Fixtures of the test transmitter's tests: transmitters on loopback and a receiver double."""

import pytest

from streams.transmitter import SSFTransmitter
from tests.http_server import LocalHTTPServer
from tests.transmitter.wire import AUDIENCE, TOKEN


@pytest.fixture
def make_tx():
    """Start transmitters with test defaults; all are stopped after the test."""
    started = []

    def _make(**options) -> SSFTransmitter:
        defaults = {"audience": AUDIENCE, "static_token": TOKEN, "long_poll_timeout": 0.3}
        tx = SSFTransmitter(**(defaults | options)).start()
        started.append(tx)
        return tx

    yield _make
    for tx in started:
        tx.stop()


@pytest.fixture
def tx(make_tx):
    return make_tx()


@pytest.fixture
def receiver():
    """The receiver's push endpoint: answers 202 and records every SET."""
    server = LocalHTTPServer().start()
    server.route("POST", "/push", status=202)
    yield server
    server.stop()
