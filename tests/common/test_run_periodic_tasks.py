"""`manage.py run_periodic_tasks`: the beat schedule run inline, for `make run`."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from common.management.commands.run_periodic_tasks import InlineBeat
from events.models import SecurityEvent, SecurityEventStatus

SWEEP = "events.sweep_pending_security_events"


def test_each_job_runs_at_start_then_on_its_own_interval():
    beat = InlineBeat({"a": {"task": "fast", "schedule": 10.0},
                       "b": {"task": "slow", "schedule": timedelta(minutes=1)}})  # fmt: skip
    ran = []
    assert beat.tick(0.0, ran.append) == 10.0
    assert beat.tick(9.0, ran.append) == 10.0
    assert beat.tick(10.0, ran.append) == 20.0
    assert ran == ["fast", "slow", "fast"]


def test_a_pending_set_is_processed_by_one_pass(db, stream, make_set, push):
    assert push(make_set()).status_code == 202
    SecurityEvent.objects.update(
        status=SecurityEventStatus.PENDING, received_at=timezone.now() - timedelta(minutes=5)
    )
    call_command("run_periodic_tasks", "--once", "--only", SWEEP, stdout=StringIO())
    assert (
        SecurityEvent.objects.get().status != SecurityEventStatus.PENDING
    )  # processed (ignored: no such person)


def test_refused_outside_eager_mode_and_for_unknown_tasks(db, settings):
    with pytest.raises(CommandError, match="Not in the beat schedule: nope"):
        call_command("run_periodic_tasks", "--once", "--only", "nope")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with pytest.raises(CommandError, match="tasks would go to the broker"):
        call_command("run_periodic_tasks", "--once")
