"""`manage.py demo` (what `make demo` runs): signals arriving and risk changing in a minute.

Starts the shipped SSF transmitter (streams.transmitter) on loopback, serves the console with
runserver unless something already answers at SITE_URL (a running `make run`), adds a stream
created at the transmitter, adds a few people, sends events in each provider's shape, and keeps
both running until Ctrl-C.
"""

import contextlib
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
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
    ("Jamf: device compliance, device and user subject", "device-compliance-change",
     "bob@example.com", {"current_status": "not-compliant", "previous_status": "compliant"}),
    ("SGNL: session revoked, plain-string reason, both subjects", "session-revoked",
     "carol@example.com", {"plain_reasons": True, "subject_in_event": True}),
    ("Zscaler Deception: user risk medium", "user-risk-change", "bob@example.com",
     {"current_level": "medium", "okta_shape": True}),
    ("RISC: credential compromise, legacy dialect", "credential-compromise", "carol@example.com",
     {"legacy": True}),
    ("CAEP: risk level change", "risk-level-change", "alice@example.com",
     {"current_level": "HIGH", "principal": "USER"}),
]  # fmt: skip


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    with (
        contextlib.suppress(OSError),
        socket.create_connection((parts.hostname, parts.port or 80), timeout=0.5),
    ):
        return True
    return False


class Command(BaseCommand):
    help = "Start a local SSF transmitter, add a stream for it, and send sample signals."

    def add_arguments(self, parser):
        parser.add_argument("--transmitter-port", type=int, default=8900)
        parser.add_argument("--no-wait", action="store_true", help="Exit after sending.")

    def handle(self, *args, transmitter_port, no_wait, **options):
        server = None
        if not _listening(settings.SITE_URL):
            port = str(urlsplit(settings.SITE_URL).port or 8000)
            command = [sys.executable, "manage.py", "runserver", port, "--noreload"]
            server = subprocess.Popen(command)  # noqa: S603 - our own interpreter and manage.py
            deadline = time.monotonic() + 30
            while not _listening(settings.SITE_URL):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise CommandError(f"The console did not start at {settings.SITE_URL}.")
                time.sleep(0.2)
        transmitter = SSFTransmitter(
            audience=settings.RECEIVER_AUDIENCE, port=transmitter_port, static_token=TOKEN
        ).start()
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
            while not no_wait:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            transmitter.stop()
            if server is not None:
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
