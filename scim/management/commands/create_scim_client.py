"""`manage.py create_scim_client`: a SCIM client's bearer token, printed alone on the last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scim.services import scim_client_create


class Command(BaseCommand):
    help = (
        "Create a SCIM client (an identity provider that provisions users and groups at "
        "/scim/v2/). Its token is printed once, alone on the last line; only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help='The identity provider, e.g. "Okta".')

    def handle(self, *args, name, **options):
        try:
            client, secret = scim_client_create(name=name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Created SCIM client {client.name!r}; its bearer token, shown once:")
        self.stdout.write(secret)
