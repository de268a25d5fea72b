"""Retention on PostgreSQL: what is past its time goes, in bounded batches; the rest stays."""

import io
import os
import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common import retention
from events.models import SecurityEvent, SecurityEventStatus
from events.retention import security_events_prune
from risk.mapping import OKTA
from risk.models import ActionStatus, LogEvent, PolicyAction, RiskChange
from risk.retention import log_events_prune, risk_changes_prune
from risk.services.directory import entity_create
from risk.tasks import prune_risk_history
from tests.processes import ROOT

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    monkeypatch.setattr(retention, "BATCH_PAUSE_SECONDS", 0)


def later() -> float:
    return time.monotonic() + 30


def log(age: timedelta, message: str = "record") -> LogEvent:
    return LogEvent.objects.create(published=timezone.now() - age, event_type="user.risk.change",
                                   display_message=message)  # fmt: skip


def test_system_log_past_retention_goes_in_batches_of_the_set_size(settings, counters):
    settings.SYSTEM_LOG_RETENTION_DAYS, settings.RETENTION_BATCH_SIZE = 90, 3
    old = [log(91 * DAY) for _ in range(7)]
    kept = [log(89 * DAY), log(timedelta(0))]
    with CaptureQueriesContext(connection) as queries:
        assert log_events_prune(deadline=later()) == 7
    assert set(LogEvent.objects.values_list("pk", flat=True)) == {r.pk for r in kept}
    deletes = [q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "risk_logevent"')]
    sizes = [len(re.search(r"IN \(([^)]*)\)", sql).group(1).split(",")) for sql in deletes]
    assert sizes == [3, 3, 1]
    assert old[0].pk not in set(LogEvent.objects.values_list("pk", flat=True))
    assert counters("ssf_retention_deleted", table="system_log") == 7


def test_a_run_stops_at_its_deadline_and_zero_days_keeps_everything(settings):
    settings.RETENTION_BATCH_SIZE = 2
    for _ in range(3):
        log(400 * DAY)
    assert log_events_prune(deadline=time.monotonic() - 1) == 0
    settings.SYSTEM_LOG_RETENTION_DAYS = 0
    assert log_events_prune(deadline=later()) == 0
    assert LogEvent.objects.count() == 3


def test_old_sets_go_unless_pending_and_what_points_at_them_stays(
    settings, alice, deliver, push, transmitter
):
    settings.ACCEPTED_SET_RETENTION_DAYS = 90
    deliver(OKTA + "user-risk-change", {"current_level": "high"})
    processed = SecurityEvent.objects.get()
    assert push(transmitter.make_set()).status_code == 202
    pending = SecurityEvent.objects.exclude(pk=processed.pk).get()
    assert pending.status == SecurityEventStatus.PENDING
    recent = SecurityEvent.objects.create(stream_ref="sseX", issuer="https://x", jti="j",
                                          event_type="e", raw="r", header={}, claims={},
                                          alg="RS256", status="PROCESSED")  # fmt: skip
    SecurityEvent.objects.exclude(pk=recent.pk).update(received_at=timezone.now() - 91 * DAY)

    assert security_events_prune(deadline=later()) == 1
    assert set(SecurityEvent.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    change = RiskChange.objects.get()
    expected = (None, "HIGH", transmitter.issuer)
    assert (change.security_event_id, change.level, change.issuer) == expected
    receive = LogEvent.objects.get(event_type="security.events.provider.receive_event")
    assert receive.security_event_id is None
    assert receive.debug_data["jti"] == processed.jti  # the record still says which SET it was


def test_risk_history_keeps_each_entitys_latest_change_and_pending_actions(settings):
    settings.RISK_HISTORY_RETENTION_DAYS = 365
    alice, bob = entity_create(email="a@example.com"), entity_create(email="b@example.com")

    def change(entity, age, level="HIGH"):
        at = timezone.now() - age
        return RiskChange.objects.create(entity=entity, previous_level="NONE", level=level,
                                         trace_id="t", observed_at=at, created_at=at)  # fmt: skip

    def action(of, status):
        return PolicyAction.objects.create(risk_change=of, rule_name="r", kind="RUN_WORKFLOW",
                                           target_name="w", status=status)  # fmt: skip

    oldest, waiting, latest = change(alice, 400 * DAY), change(alice, 390 * DAY), change(alice, DAY)
    bobs_only = change(bob, 500 * DAY)
    done = action(oldest, ActionStatus.SUCCEEDED)
    action(waiting, ActionStatus.PENDING)

    assert risk_changes_prune(deadline=later()) == 1
    assert set(RiskChange.objects.values_list("pk", flat=True)) == {waiting.pk, latest.pk,
                                                                    bobs_only.pk}  # fmt: skip
    assert not PolicyAction.objects.filter(pk=done.pk).exists()  # went with its change


def test_the_beat_job_twice_or_overlapping_deletes_once(settings):
    from django.core.cache import cache  # not at import: pytest's collection would connect it

    settings.SYSTEM_LOG_RETENTION_DAYS = 90
    log(100 * DAY)
    cache.add("ssf:retention:risk-history", "1", timeout=60)  # a run already going
    assert prune_risk_history.apply().get() == 0
    cache.delete("ssf:retention:risk-history")
    assert prune_risk_history.apply().get() == 1
    assert prune_risk_history.apply().get() == 0


def test_prune_command_says_what_it_deleted(settings):
    log(100 * DAY)
    out = io.StringIO()
    call_command("prune", seconds=5, stdout=out)
    assert "1 System Log record(s) and risk change(s)" in out.getvalue()


SQLITE_SCRIPT = """
from datetime import timedelta
from django.core.management import call_command
from django.utils import timezone
from risk.models import LogEvent
for days in (100, 100, 100, 1):
    LogEvent.objects.create(published=timezone.now() - timedelta(days=days), event_type="e",
                            display_message="m")
call_command("prune")
print("left", LogEvent.objects.count())
"""


def test_pruning_works_on_sqlite_too(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.local", "RETENTION_BATCH_SIZE": "2",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}  # fmt: skip
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=120)
    result = subprocess.run([*manage, "shell", "-c", SQLITE_SCRIPT], env=env, cwd=ROOT,
                            check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "Deleted 0 rejected SET(s), 0 accepted SET(s), 3 System Log" in result.stdout
    assert "left 1" in result.stdout
