"""`manage.py prune`: what the retention beat jobs do, on demand and for as long as it takes."""

from django.core.management.base import BaseCommand

from common.retention import retention_run
from events.retention import security_events_prune
from events.services import rejected_security_events_prune
from risk.retention import log_events_prune, risk_changes_prune


class Command(BaseCommand):
    help = (
        "Delete what is past its retention: rejected and accepted SETs, System Log records, "
        "risk history (README: Operating the receiver). Batched; safe while ingest runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seconds", type=float, default=3600.0,
            help="stop after this long (default 3600); the next run goes on from there",
        )  # fmt: skip

    def handle(self, *args, seconds: float, **options):
        rejected = rejected_security_events_prune()
        accepted = retention_run("security-events", [security_events_prune], seconds=seconds)
        history = retention_run("risk-history", [log_events_prune, risk_changes_prune],
                                seconds=seconds)  # fmt: skip
        self.stdout.write(
            f"Deleted {rejected} rejected SET(s), {accepted} accepted SET(s), "
            f"{history} System Log record(s) and risk change(s)."
        )
