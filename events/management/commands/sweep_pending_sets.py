"""`manage.py sweep_pending_sets`: what the beat sweeper does, on demand."""

from django.core.management.base import BaseCommand

from events.services import pending_security_events_sweep


class Command(BaseCommand):
    help = "Ask again for processing of SETs left pending longer than SWEEP_PENDING_AFTER_SECONDS."

    def handle(self, *args, **options):
        found = pending_security_events_sweep()
        self.stdout.write(
            f"{found} pending SET(s) older than the threshold; processing requested."
            if found
            else "No stale pending SETs."
        )
