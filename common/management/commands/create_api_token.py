"""`manage.py create_api_token`: a console admin's API token, printed alone on the last line."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.services import api_token_create


class Command(BaseCommand):
    help = (
        "Create an API token acting as --user (with that admin's console role). The token is "
        "printed once, alone on the last line; only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username of a console admin.")
        parser.add_argument("--name", default="CLI", help="What the token is for.")
        parser.add_argument(
            "--expires", type=int, metavar="DAYS", help="Expire after DAYS days (default: never)."
        )

    def handle(self, *args, user, name, expires, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"No user named {user!r}.")
        if expires is not None and expires < 1:
            raise CommandError("--expires must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=expires) if expires else None
        try:
            token, secret = api_token_create(
                user=owner,
                name=name,
                expires_at=expires_at,
                actor_name="manage.py create_api_token",
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "no expiry"
        self.stdout.write(f"Created API token {token.name!r} for {user!r} ({expiry}); shown once:")
        self.stdout.write(secret)
