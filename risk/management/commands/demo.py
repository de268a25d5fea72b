"""`manage.py demo` (what `make demo` runs): signals arriving and risk changing in a minute.

Makes the first admin (as `make run` does), starts the shipped SSF transmitter
(streams.transmitter) on loopback, serves the console with runserver unless our console already
answers at SITE_URL (a running `make run`), adds a stream created at the transmitter, adds a few
people, sends events in each provider's shape, repeats the login, and keeps both running until
Ctrl-C. `make demo` passes PORT (SITE_URL follows it) and DEMO_TRANSMITTER_PORT; a port taken by
something else is told plainly, without a traceback.
"""

import contextlib
import io
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from risk.models import Entity
from risk.services.directory import entity_create
from streams.discovery import DiscoveryError
from streams.models import DeliveryMethod, ManagementAuth, Stream
from streams.services import stream_create, stream_delete
from streams.ssf_client import Credentials
from streams.stream_management import ManagementRequest
from streams.transmitter import SSFTransmitter
from streams.vocabulary import DEFAULT_EVENTS_REQUESTED

STREAM_NAME = "Demo transmitter"
TOKEN = "demo-management-token"  # noqa: S105 - the loopback demo transmitter's, not a secret
PEOPLE = [
    ("alice@example.com", "Alice", "Liddell", ["Engineering"]),
    ("bob@example.com", "Bob", "Builder", ["Sales"]),
    ("carol@example.com", "Carol", "Danvers", ["Engineering", "Admins"]),
]
# (what it imitates, event, subject, fields): the shapes of protocol.md §11.
SIGNALS = [
    ("Netskope: Okta user-risk-change, float timestamp", "user-risk-change", "alice@example.com",
     {"current_level": "high", "okta_shape": True, "float_timestamp": True}),
    ("Jamf: device compliance, {user, device} subject", "device-compliance-change",
     {"user": {"format": "email", "email": "bob@example.com"},
      "device": {"format": "opaque", "id": "C02XK1JHJG5H"}},
     {"current_status": "not-compliant", "previous_status": "compliant"}),
    ("SGNL: session revoked, plain-string reason, both subjects", "session-revoked",
     "carol@example.com", {"plain_reasons": True, "subject_in_event": True}),
    ("Zscaler Deception: user risk medium", "user-risk-change", "bob@example.com",
     {"current_level": "medium", "okta_shape": True}),
    ("RISC: credential compromise, legacy dialect", "credential-compromise", "carol@example.com",
     {"legacy": True}),
    ("CAEP: risk level change", "risk-level-change", "alice@example.com",
     {"current_level": "HIGH", "principal": "USER"}),
]  # fmt: skip


DEFAULT_TRANSMITTER_PORT = 8900
# Answered by this receiver (the readiness probe): tells our console from another server.
PROBE_PATH = "/healthz"


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    with (
        contextlib.suppress(OSError),
        socket.create_connection((parts.hostname, parts.port or 80), timeout=0.5),
    ):
        return True
    return False


def _is_our_console(url: str) -> bool:
    """Whether what answers at `url` is this receiver (a running `make run`), not another server."""
    import requests

    try:
        answer = requests.get(url + PROBE_PATH, timeout=2)
        return answer.status_code == 200 and answer.json() == {"status": "ok"}
    except (requests.RequestException, ValueError):
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Start a local SSF transmitter, add a stream for it, and send sample signals."

    def add_arguments(self, parser):
        parser.add_argument("--transmitter-port", type=int, default=DEFAULT_TRANSMITTER_PORT)
        parser.add_argument("--no-wait", action="store_true", help="Exit after sending.")

    def handle(self, *args, transmitter_port, no_wait, **options):
        created = self._first_admin()
        if not _port_free("127.0.0.1", transmitter_port):
            raise CommandError(
                f"Port {transmitter_port} (the demo transmitter's) is in use: stop what uses it, "
                f"or choose another, e.g. DEMO_TRANSMITTER_PORT={transmitter_port + 1} make demo."
            )
        server = self._serve_console()
        try:
            transmitter = SSFTransmitter(
                audience=settings.RECEIVER_AUDIENCE, port=transmitter_port, static_token=TOKEN
            ).start()
        except OSError as exc:
            self._stop(server)
            raise CommandError(
                f"The demo transmitter could not start on port {transmitter_port}: {exc}."
            ) from exc
        try:
            self._add_people()
            stream = self._add_stream(transmitter)
            for label, event, subject, fields in SIGNALS:
                transmitter.send(event, subject, **fields)
                result = transmitter.push_results[-1]
                self.stdout.write(f"  sent {label}: HTTP {result.status}")
            self.stdout.write(self.style.SUCCESS(
                f"\nStream {stream.name!r} ({stream.pk}) is receiving. Open {settings.SITE_URL}"
                "/reports/entity-risk/ and the System Log. The transmitter's page, to send more: "
                f"{transmitter.endpoint_base}/_demo"
            ))  # fmt: skip
            self._repeat_login(created)
            while not no_wait:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            transmitter.stop()
            self._stop(server)

    def _first_admin(self) -> str:
        """`create_admin --first`, its output shown now and kept to be repeated at the end."""
        out = io.StringIO()
        call_command("create_admin", first=True, stdout=out)
        self.stdout.write(out.getvalue(), ending="")
        return out.getvalue()

    def _repeat_login(self, created: str) -> None:
        login = next((line for line in created.splitlines() if "login:" in line), "")
        admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
        username = admin.get_username() if admin else "admin"
        self.stdout.write(
            f"\nSign in at {settings.SITE_URL}/ "
            + (f"with {login.split('login:', 1)[1].split('(')[0].strip()}." if login
               else f"as {username} with the password printed when it was created.")
        )  # fmt: skip
        self.stdout.write(
            f"Forgot it? Set a new one: .venv/bin/python manage.py changepassword {username}"
        )

    def _serve_console(self) -> subprocess.Popen | None:
        """runserver at SITE_URL, unless our console answers there already."""
        if _listening(settings.SITE_URL):
            if _is_our_console(settings.SITE_URL):
                return None
            port = urlsplit(settings.SITE_URL).port or 80
            raise CommandError(
                f"Port {port} is in use by something other than this console: stop it, or "
                f"choose another, e.g. PORT={port + 1} make demo."
            )
        parts = urlsplit(settings.SITE_URL)
        address = f"{parts.hostname}:{parts.port or 8000}"
        command = [sys.executable, "manage.py", "runserver", address, "--noreload"]
        server = subprocess.Popen(command)  # noqa: S603 - our own interpreter and manage.py
        deadline = time.monotonic() + 30
        while not _listening(settings.SITE_URL):
            if time.monotonic() > deadline or server.poll() is not None:
                self._stop(server)
                raise CommandError(f"The console did not start at {settings.SITE_URL}.")
            time.sleep(0.2)
        return server

    @staticmethod
    def _stop(server: subprocess.Popen | None) -> None:
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait(10)

    def _add_people(self):
        for email, first, last, groups in PEOPLE:
            if not Entity.objects.filter(email=email).exists():
                entity_create(email=email, first_name=first, last_name=last, groups=groups)

    def _add_stream(self, transmitter: SSFTransmitter) -> Stream:
        old = Stream.objects.filter(name=STREAM_NAME).first()
        if old is not None:
            stream_delete(stream=old, at_transmitter=False, actor_name="manage.py demo")
        request = ManagementRequest(
            delivery_method=DeliveryMethod.PUSH,
            events_requested=DEFAULT_EVENTS_REQUESTED,
            credentials=Credentials(auth_method=ManagementAuth.STATIC_TOKEN, token=TOKEN),
        )
        try:
            return stream_create(
                name=STREAM_NAME, well_known_url=transmitter.well_known_url, management=request,
                provider_type="demo", actor_name="manage.py demo",
            )  # fmt: skip
        except (ValidationError, DiscoveryError) as exc:
            raise CommandError(f"Could not add the demo stream: {exc}") from exc
