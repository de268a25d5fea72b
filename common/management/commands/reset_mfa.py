"""`manage.py reset_mfa`: remove an admin's authenticator app and recovery codes."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from common.mfa import mfa_reset


class Command(BaseCommand):
    help = (
        "Remove --user's authenticator app and recovery codes, for an admin who lost both: "
        "their next password sign-in needs no code (and, with MFA_REQUIRED_FOR_SUPER_ADMINS, "
        "leads a Super admin to set up a new app)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username of a console admin.")

    def handle(self, *args, user, **options):
        admin = get_user_model().objects.filter(username=user).first()
        if admin is None:
            raise CommandError(f"No user named {user!r}.")
        mfa_reset(user=admin, actor_name="manage.py reset_mfa")
        self.stdout.write(f"Two-step verification of {user!r} was reset.")
