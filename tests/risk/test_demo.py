"""`manage.py demo`: a busy port is told in one line (no traceback), with the setting to change."""

import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.http_server import LocalHTTPServer

pytestmark = pytest.mark.django_db


def test_a_busy_transmitter_port_is_told_with_the_variable_to_change():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=rf"Port {port} .* is in use: .*"
                           rf"DEMO_TRANSMITTER_PORT={port + 1} make demo"):  # fmt: skip
            call_command("demo", "--no-wait", "--transmitter-port", str(port))


def test_a_port_taken_by_another_server_is_not_mistaken_for_the_console(settings):
    other = LocalHTTPServer().start()  # answers 404 to /healthz: not this receiver
    try:
        settings.SITE_URL = other.url().rstrip("/")
        port = int(settings.SITE_URL.rsplit(":", 1)[1])
        with pytest.raises(CommandError, match=rf"Port {port} is in use by something other "
                           rf"than this console: .*PORT={port + 1} make demo"):  # fmt: skip
            call_command("demo", "--no-wait", "--transmitter-port", "0")
    finally:
        other.stop()
