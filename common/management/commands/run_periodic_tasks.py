"""`manage.py run_periodic_tasks`: the Celery beat schedule, run in this process, each job eagerly.

Why: `make run` has no Redis, no worker and no beat. Celery's eager mode runs a task only when
something sends it, so nothing periodic ever happens there: poll streams are never polled,
managed streams get no keep-alive or verification, pending SETs are not swept. Run this beside
`make run` (`make periodic`) to get all of it. Production runs Celery beat and workers instead.
"""

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.celery import app


class InlineBeat:
    """Which beat jobs are due when: each runs at start, then every `schedule` seconds."""

    def __init__(self, schedule: dict[str, dict], only: list[str] | None = None):
        self.every: dict[str, float] = {}
        for entry in schedule.values():
            if only and entry["task"] not in only:
                continue
            every = entry["schedule"]
            if isinstance(every, timedelta):
                every = every.total_seconds()
            if not isinstance(every, (int, float)):
                raise CommandError(f"{entry['task']}: only interval schedules run inline.")
            self.every[entry["task"]] = float(every)
        if only and set(only) - set(self.every):
            raise CommandError(
                f"Not in the beat schedule: {', '.join(set(only) - set(self.every))}"
            )
        self.due = dict.fromkeys(self.every, float("-inf"))

    def tick(self, now: float, run: Callable[[str], None]) -> float:
        """Run the jobs due at `now`; returns when the next one is due."""
        for name, due in self.due.items():
            if due <= now:
                run(name)
                self.due[name] = now + self.every[name]
        return min(self.due.values())


class Command(BaseCommand):
    help = "Run the Celery beat jobs in this process, eagerly (for make run; not production)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run each job once, then exit.")
        parser.add_argument(
            "--only", action="append", metavar="TASK", help="Only this task (repeatable), "
            "e.g. events.poll_streams.",
        )  # fmt: skip

    def handle(self, *args, **options):
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError(
                "CELERY_TASK_ALWAYS_EAGER is off: tasks would go to the broker. Run Celery beat "
                "and a worker instead (make beat, make worker)."
            )
        self.verbosity = options["verbosity"]
        app.loader.import_default_modules()  # registers every app's tasks, as a worker does
        beat = InlineBeat(settings.CELERY_BEAT_SCHEDULE, options["only"])
        self.stdout.write(f"Running {', '.join(beat.every)} (Ctrl-C stops).")
        try:
            while True:
                next_due = beat.tick(time.monotonic(), self._run)
                if options["once"]:
                    return
                time.sleep(max(0.05, min(next_due - time.monotonic(), 1.0)))
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def _run(self, name: str) -> None:
        result = app.tasks[name].apply()
        if result.failed():
            self.stderr.write(f"{name} failed: {result.result!r}")
        elif self.verbosity > 1:
            self.stdout.write(f"{name}: {result.result!r}")
