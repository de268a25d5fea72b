"""`manage.py create_admin`: a console admin, or with --first the first login `make run` needs."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from common.roles import Role
from common.services import admin_user_create

ROLE_ARGS = {"super": Role.SUPER_ADMIN, "read-only": Role.READ_ONLY_ADMIN}


class Command(BaseCommand):
    help = (
        "Create a console admin. Username and password default to DJANGO_SUPERUSER_USERNAME / "
        "DJANGO_SUPERUSER_PASSWORD / DJANGO_SUPERUSER_EMAIL; a missing password is generated and "
        "printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("DJANGO_SUPERUSER_USERNAME"))
        parser.add_argument("--email", default=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""))
        parser.add_argument("--password", default=os.environ.get("DJANGO_SUPERUSER_PASSWORD"))
        parser.add_argument("--role", choices=sorted(ROLE_ARGS), default="super")
        parser.add_argument(
            "--first",
            action="store_true",
            help="Do nothing when any user exists already (how `make run` makes the first login).",
        )

    def handle(self, *args, username, email, password, role, first, **options):
        if first and get_user_model().objects.exists():
            return
        username = username or ("admin" if first else None)
        if not username:
            raise CommandError("--username is required (or set DJANGO_SUPERUSER_USERNAME).")
        if get_user_model().objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} exists already.")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        admin_user_create(
            username=username, email=email, password=password, role=ROLE_ARGS[role],
            actor_name="manage.py create_admin",
        )  # fmt: skip
        self.stdout.write(f"Created {ROLE_ARGS[role].label} {username!r}.")
        if generated:
            # "First admin login" only for the first one (`make run`); any other names its role.
            what = "First admin login" if first else f"{ROLE_ARGS[role].label} login"
            self.stdout.write(
                self.style.WARNING(
                    f"{what}: {username} / {password}  (shown once; change it after "
                    "signing in, or set DJANGO_SUPERUSER_PASSWORD next time)"
                )
            )
