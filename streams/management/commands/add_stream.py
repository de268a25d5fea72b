"""`manage.py add_stream`: add a stream exactly as the console's form does."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from streams.discovery import DiscoveryError
from streams.services import stream_create


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Add a stream: --name NAME and either --well-known-url URL or --issuer URL --jwks-url URL. "
        "Prints the new stream's id alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        method = parser.add_mutually_exclusive_group(required=True)
        method.add_argument("--well-known-url")
        method.add_argument("--issuer")
        parser.add_argument("--jwks-url", help="Required with --issuer.")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Refuse SETs with sub or exp, or without typ secevent+jwt.",
        )

    def handle(self, *args, name, well_known_url, issuer, jwks_url, strict, **options):
        if issuer and not jwks_url:
            raise CommandError("--issuer needs --jwks-url.")
        if well_known_url and jwks_url:
            raise CommandError("--jwks-url goes with --issuer, not with --well-known-url.")
        try:
            stream = stream_create(
                name=name,
                well_known_url=well_known_url or "",
                issuer=issuer or "",
                jwks_url=jwks_url or "",
                strict_claims=strict,
                actor_name="manage.py add_stream",
            )
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc
        except DiscoveryError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Stream {stream.name!r} added and Active; issuer {stream.issuer}.")
        self.stdout.write(stream.pk)
