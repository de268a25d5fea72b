"""`manage.py ssf_transmitter`: run the bundled SSF test transmitter in the foreground for demos.

It prints where to point the receiver (issuer, well-known URL) and how to authenticate, then serves
until interrupted. Nothing is stored: stopping it forgets the stream.
"""

import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from streams.transmitter import SSFTransmitter
from streams.transmitter.dialects import DIALECTS


class Command(BaseCommand):
    help = "Run the SSF 1.0 test transmitter (loopback by default) until interrupted."
    requires_system_checks = []  # it touches neither models nor the database

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8900, help="0 picks a free port.")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--issuer-path", default="", help="e.g. /t1")
        parser.add_argument("--trailing-slash-issuer", action="store_true")
        parser.add_argument("--static-token", help="Bearer token for the management API.")
        parser.add_argument("--client-id", help="OAuth client credentials (with --client-secret).")
        parser.add_argument("--client-secret")
        parser.add_argument("--audience", help="The stream's aud (default RECEIVER_AUDIENCE).")
        parser.add_argument("--default-subjects", choices=["ALL", "NONE"], default="ALL")
        parser.add_argument("--signing-alg", choices=["RS256", "ES256"], help="Default: dialect's.")
        parser.add_argument(
            "--dialect", choices=sorted(DIALECTS), default="ssf",
            help="Behave as a transmitter in the field: solarssk, authentik or duo (2021 draft).",
        )  # fmt: skip
        parser.add_argument("--min-verification-interval", type=int, default=0)

    def handle(self, *args, **options):
        if bool(options["client_id"]) != bool(options["client_secret"]):
            raise CommandError("--client-id and --client-secret go together.")
        tx = SSFTransmitter(
            audience=options["audience"] or settings.RECEIVER_AUDIENCE,
            host=options["host"],
            port=options["port"],
            issuer_path=options["issuer_path"],
            trailing_slash_issuer=options["trailing_slash_issuer"],
            static_token=options["static_token"],
            client_id=options["client_id"],
            client_secret=options["client_secret"],
            default_subjects=options["default_subjects"],
            signing_alg=options["signing_alg"],
            min_verification_interval=options["min_verification_interval"],
            dialect=DIALECTS[options["dialect"]],
        ).start()
        lines = [
            f"Issuer:         {tx.issuer}",
            f"Well-known URL: {tx.well_known_url}",
            f"JWKS:           {tx.jwks_url}",
            f"Demo page:      {tx.endpoint_base}/_demo",
        ]
        if tx.static_token:
            lines.append(f"Bearer token:   {tx.static_token}")
        if tx.client_id:
            lines.append(f"Token endpoint: {tx.token_url} (client_id {tx.client_id})")
        self.stdout.write("\n".join(lines), ending="\n")
        self.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            tx.stop()
