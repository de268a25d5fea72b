"""Policy actions against local servers playing the app and the workflow receiver."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import OperationalError
from django.utils import timezone

from common.crypto import encrypt
from risk.mapping import OKTA
from risk.models import ActionStatus, LogEvent, PolicyAction
from risk.services import actions
from risk.services.actions import (
    MAX_ATTEMPTS,
    MAX_REDELIVERIES,
    SIGNATURE_HEADER,
    policy_actions_deliver_due,
    workflow_signature,
)
from risk.services.policy_config import connected_app_create, policy_rule_save, workflow_create
from risk.services.system_log import UNIVERSAL_LOGOUT, WORKFLOW_RUN
from risk.tasks import run_policy_action, sweep_pending_policy_actions
from tests.http_server import LocalHTTPServer

pytestmark = pytest.mark.django_db
USER_RISK = OKTA + "user-risk-change"


@pytest.fixture
def retry_at_once(settings):
    """No back-off between attempts, so one sweep makes every attempt left."""
    settings.POLICY_ACTION_RETRY_SECONDS = 0


@pytest.fixture
def remote():
    server = LocalHTTPServer().start()
    yield server
    server.stop()


def high_risk_action(deliver, **rule):
    """A PENDING action whose task was never sent (a test transaction never commits)."""
    policy_rule_save(name="High", risk_level="HIGH", **rule)
    deliver(USER_RISK, {"current_level": "high"})
    return PolicyAction.objects.get()


def fire(alice, deliver, **rule):
    """The action of a HIGH risk change, after its task ran once."""
    action = high_risk_action(deliver, **rule)
    run_policy_action.apply(args=[action.pk])
    action.refresh_from_db()
    return action


def answers(*statuses):
    """A handler answering with each status in turn (the last one repeats)."""
    remaining = list(statuses)

    def handler(request):
        status = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return status, {}, b""

    return handler


@pytest.fixture
def app(remote):
    return connected_app_create(name="Slack", revocation_endpoint=remote.url("/revoke"),
                                token="app-token")  # fmt: skip


def test_universal_logout_posts_the_subject_with_the_apps_token(alice, deliver, remote, app):
    remote.route("POST", "/revoke", status=204)
    action = fire(alice, deliver, terminate_sessions=True)
    assert (action.status, action.attempts) == (ActionStatus.SUCCEEDED, 1)
    (request,) = remote.requests_to("/revoke")
    assert request.headers["Authorization"] == "Bearer app-token"
    assert request.headers["Idempotency-Key"] == str(action.uuid)
    assert request.json() == {"sub_id": {"format": "email", "email": "alice@example.com"}}
    log = LogEvent.objects.get(event_type=UNIVERSAL_LOGOUT)
    assert (log.outcome_result, log.target[1]["displayName"]) == ("SUCCESS", "Slack")
    assert (log.debug_data["attempt"], log.debug_data["redelivery"]) == (1, 0)


def test_logout_never_names_a_user_other_than_the_entity_at_risk(deliver, remote, app):
    """A SET about an unknown user on a known device changes the device's risk; the apps must
    not be told to log out the unknown user."""
    from risk.services.directory import entity_create

    device = entity_create(kind="DEVICE", display_name="Laptop 9",
                           identifiers=[{"format": "opaque", "id": "dev-9"}])  # fmt: skip
    remote.route("POST", "/revoke", status=204)
    policy_rule_save(name="High", risk_level="HIGH", terminate_sessions=True)
    subject = {"format": "complex", "user": {"format": "email", "email": "ghost@example.com"},
               "device": {"format": "opaque", "id": "dev-9"}}  # fmt: skip
    deliver(USER_RISK, {"current_level": "high"}, sub_id=subject)
    action = PolicyAction.objects.get()
    assert action.risk_change.entity == device
    run_policy_action.apply(args=[action.pk])
    (request,) = remote.requests_to("/revoke")
    assert request.json()["sub_id"] != subject["user"]
    assert request.json()["sub_id"] == {"format": "opaque", "id": device.pk}


def test_server_error_is_retried_then_succeeds(alice, deliver, remote, app, retry_at_once):
    remote.route("POST", "/revoke", handler=answers(503, 204))
    action = fire(alice, deliver, terminate_sessions=True)
    assert (action.status, action.attempts) == (ActionStatus.PENDING, 1)
    assert policy_actions_deliver_due() == 1
    action.refresh_from_db()
    assert (action.status, action.attempts) == (ActionStatus.SUCCEEDED, 2)
    outcomes = list(LogEvent.objects.filter(event_type=UNIVERSAL_LOGOUT).order_by("id")
                    .values_list("outcome_result", "outcome_reason"))  # fmt: skip
    assert outcomes == [("FAILURE", "HTTP 503; will retry"), ("SUCCESS", "HTTP 204")]


def test_a_retry_waits_for_its_backoff(alice, deliver, remote, app, settings):
    settings.POLICY_ACTION_RETRY_SECONDS = 5
    remote.route("POST", "/revoke", handler=answers(503, 204))
    action = fire(alice, deliver, terminate_sessions=True)
    wait = action.next_attempt_at - timezone.now()
    assert timedelta(seconds=2) <= wait <= timedelta(seconds=5)
    run_policy_action.apply(args=[action.pk])  # another copy of the task, before it is due
    assert policy_actions_deliver_due() == 0
    assert len(remote.requests_to("/revoke")) == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        assert policy_actions_deliver_due() == 1
    action.refresh_from_db()
    assert (action.status, action.attempts) == (ActionStatus.SUCCEEDED, 2)


def test_timeouts_are_retried_then_given_up(alice, deliver, remote, app, settings, retry_at_once):
    settings.OUTBOUND_READ_TIMEOUT = 0.2
    remote.route("POST", "/revoke", status=204, delay=0.6)
    fire(alice, deliver, terminate_sessions=True)
    assert policy_actions_deliver_due() == MAX_ATTEMPTS - 1
    action = PolicyAction.objects.get()
    assert (action.status, action.attempts) == (ActionStatus.FAILED, MAX_ATTEMPTS)
    last = LogEvent.objects.filter(event_type=UNIVERSAL_LOGOUT).order_by("id").last()
    assert last.outcome_reason.endswith("gave up")


def test_client_error_fails_at_once(alice, deliver, remote, app):
    remote.route("POST", "/revoke", status=401)
    action = fire(alice, deliver, terminate_sessions=True)
    assert (action.status, action.attempts, action.last_error) == (
        ActionStatus.FAILED,
        1,
        "HTTP 401",
    )


def test_finished_action_is_not_run_again(alice, deliver, remote, app):
    remote.route("POST", "/revoke", status=204)
    action = fire(alice, deliver, terminate_sessions=True)
    run_policy_action.apply(args=[action.pk])
    assert len(remote.requests_to("/revoke")) == 1


def test_an_action_whose_task_was_lost_is_delivered_by_the_sweep(alice, deliver, remote, app):
    """The broker was down after the commit: the row is the outbox, and the sweep sends it."""
    remote.route("POST", "/revoke", status=204)
    high_risk_action(deliver, terminate_sessions=True)
    assert policy_actions_deliver_due() == 1
    assert PolicyAction.objects.get().status == ActionStatus.SUCCEEDED
    assert policy_actions_deliver_due() == 0
    assert len(remote.requests_to("/revoke")) == 1


def test_an_action_claimed_by_a_running_attempt_is_not_run_again(alice, deliver, remote, app):
    """A copy of the task, or a sweep, while an attempt is under way: the claim keeps it to one
    call."""
    remote.route("POST", "/revoke", status=204)
    action = high_risk_action(deliver, terminate_sessions=True)
    PolicyAction.objects.filter(pk=action.pk).update(
        attempts=1, claimed_until=timezone.now() + timedelta(seconds=60)
    )
    run_policy_action.apply(args=[action.pk])
    assert policy_actions_deliver_due() == 0
    assert remote.requests_to("/revoke") == []


class WorkerKilled(BaseException):
    """Stands for a kill -9 between the outbound call and the record of its outcome."""


def test_a_redelivery_after_a_crash_is_the_same_attempt_with_the_same_key(
    alice, deliver, remote, monkeypatch
):
    workflow, _secret = workflow_create(name="Ticket", url=remote.url("/hook"))
    remote.route("POST", "/hook", status=200)
    action = high_risk_action(deliver, workflow=workflow)

    def killed(*args, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr(actions, "_record", killed)
        with pytest.raises(WorkerKilled):
            run_policy_action.apply(args=[action.pk], throw=True)
    assert policy_actions_deliver_due() == 0  # its claim holds: the call may still be running
    claim = PolicyAction.objects.get().claimed_until
    with time_machine.travel(claim + timedelta(seconds=1)):
        assert policy_actions_deliver_due() == 1
    action.refresh_from_db()
    assert (action.status, action.attempts, action.redeliveries) == (ActionStatus.SUCCEEDED, 1, 1)
    first, second = remote.requests_to("/hook")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == str(action.uuid)
    assert first.body == second.body
    (log,) = LogEvent.objects.filter(event_type=WORKFLOW_RUN)
    assert (log.outcome_result, log.debug_data["attempt"], log.debug_data["redelivery"]) == (
        "SUCCESS", 1, 1,
    )  # fmt: skip


def test_redeliveries_are_bounded(alice, deliver, remote, app):
    """A call that kills its worker every time is not sent for ever."""
    remote.route("POST", "/revoke", status=204)
    high_risk_action(deliver, terminate_sessions=True)
    PolicyAction.objects.update(attempts=1, redeliveries=MAX_REDELIVERIES,
                                claimed_until=timezone.now() - timedelta(seconds=1))  # fmt: skip
    assert policy_actions_deliver_due() == 1
    action = PolicyAction.objects.get()
    assert (action.status, action.attempts) == (ActionStatus.FAILED, 1)
    assert remote.requests_to("/revoke") == []
    log = LogEvent.objects.get(event_type=UNIVERSAL_LOGOUT)
    assert log.outcome_reason.startswith("the worker stopped during each of")


@pytest.mark.parametrize("step", ["_claim", "_record"])
def test_a_database_blip_is_retried_inside_the_task(alice, deliver, remote, app, step, monkeypatch):
    """A PostgreSQL restart before the call, or between the call and its outcome: the task tries
    the database again instead of failing (and being acknowledged) with the call already made."""
    remote.route("POST", "/revoke", status=204)
    action = high_risk_action(deliver, terminate_sessions=True)
    original, failures = getattr(actions, step), []

    def blip(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise OperationalError("the database system is starting up")
        return original(*args, **kwargs)

    monkeypatch.setattr(actions, step, blip)
    assert run_policy_action.apply(args=[action.pk], throw=True).result == "SUCCEEDED"
    assert len(failures) == 2
    action.refresh_from_db()
    assert (action.status, action.attempts, action.claimed_until) == (
        ActionStatus.SUCCEEDED, 1, None,
    )  # fmt: skip
    assert len(remote.requests_to("/revoke")) == 1
    assert LogEvent.objects.filter(event_type=UNIVERSAL_LOGOUT).count() == 1


def test_an_outcome_is_kept_only_under_its_own_claim(alice, deliver, remote, app, monkeypatch):
    """A run whose claim lapsed and was taken over records nothing: the attempt is logged once,
    by the run that holds it."""
    remote.route("POST", "/revoke", status=204)
    action = high_risk_action(deliver, terminate_sessions=True)
    original = actions._attempt

    def taken_over_meanwhile(claimed):
        outcome = original(claimed)
        later = timezone.now() + timedelta(seconds=30)
        PolicyAction.objects.filter(pk=claimed.pk).update(claimed_until=later, redeliveries=1)
        return outcome

    monkeypatch.setattr(actions, "_attempt", taken_over_meanwhile)
    run_policy_action.apply(args=[action.pk], throw=True)
    action.refresh_from_db()
    assert (action.status, action.redeliveries) == (ActionStatus.PENDING, 1)
    assert not LogEvent.objects.filter(event_type=UNIVERSAL_LOGOUT).exists()


def test_attempts_are_bounded_across_sweeps(alice, deliver, remote, app):
    """However many tasks and sweeps run it, the action's attempts are counted on its row."""
    remote.route("POST", "/revoke", status=204)
    action = fire(alice, deliver, terminate_sessions=True)
    remote.route("POST", "/revoke", status=503)
    PolicyAction.objects.filter(pk=action.pk).update(
        status=ActionStatus.PENDING, attempts=MAX_ATTEMPTS - 1
    )
    run_policy_action.apply(args=[action.pk])
    action.refresh_from_db()
    assert (action.status, action.attempts) == (ActionStatus.FAILED, MAX_ATTEMPTS)
    assert len(remote.requests_to("/revoke")) == 2  # the first run, then one last attempt


def test_workflow_webhook_is_signed_and_idempotent_across_retries(
    alice, deliver, remote, retry_at_once
):
    workflow, secret = workflow_create(name="Ticket", url=remote.url("/hook"))
    remote.route("POST", "/hook", handler=answers(500, 200))
    fire(alice, deliver, workflow=workflow)
    policy_actions_deliver_due()
    action = PolicyAction.objects.get()
    assert action.status == ActionStatus.SUCCEEDED
    first, second = remote.requests_to("/hook")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == str(action.uuid)
    signature = second.headers[SIGNATURE_HEADER]
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    assert signature == workflow_signature(secret, timestamp, second.body)
    payload = json.loads(second.body)
    assert payload["risk"]["level"] == "HIGH"
    assert payload["entity"]["id"] == alice.pk
    assert LogEvent.objects.filter(event_type=WORKFLOW_RUN, outcome_result="SUCCESS").count() == 1


def test_a_failure_is_logged_without_the_url_and_its_secret(alice, deliver, settings):
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = False  # plain http is refused, naming the URL
    workflow, _ = workflow_create(name="Ticket", url="https://hooks.example/s3cr3t-path")
    workflow.encrypted_url = encrypt("http://hooks.example/s3cr3t-path")
    workflow.save()
    policy_rule_save(name="High", risk_level="HIGH", workflow=workflow)
    deliver(USER_RISK, {"current_level": "high"})
    action = PolicyAction.objects.get()
    run_policy_action.apply(args=[action.pk])
    action.refresh_from_db()
    log = LogEvent.objects.get(event_type=WORKFLOW_RUN)
    assert action.status == ActionStatus.FAILED
    assert "<URL>" in log.outcome_reason
    assert "s3cr3t" not in log.outcome_reason + action.last_error


def test_outbound_urls_follow_the_safe_fetch_rules(settings, db):
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = False
    with pytest.raises(Exception, match="must use https"):
        connected_app_create(name="x", revocation_endpoint="http://app.example/revoke", token="t")


def test_attempts_are_counted_by_outcome_and_log_the_trace_id(
    alice, deliver, remote, app, counters, monkeypatch, retry_at_once
):
    """Each attempt counts once by its outcome; while it runs, log lines carry the SET's trace
    id and the task's id (common.logs); the retry is the sweep's, run here as its beat task."""
    from common.logs import log_context
    from risk.models import RiskChange
    from risk.services import actions

    contexts, send = [], actions._send
    monkeypatch.setattr(actions, "_send", lambda action: contexts.append(log_context()) or
                        send(action))  # fmt: skip
    remote.route("POST", "/revoke", handler=answers(503, 204))
    action = fire(alice, deliver, terminate_sessions=True)
    kind = "TERMINATE_ALL_SESSIONS"
    assert counters("ssf_policy_actions", kind=kind, outcome="retrying") == 1
    sweep_pending_policy_actions.apply()
    action.refresh_from_db()
    assert counters("ssf_policy_actions", kind=kind, outcome="succeeded") == 1
    assert counters("ssf_policy_actions", kind=kind, outcome="failed") == 0
    assert action.status == ActionStatus.SUCCEEDED
    trace_id = RiskChange.objects.get().trace_id
    assert [c["trace_id"] for c in contexts] == [trace_id, trace_id]
    assert [c["task_name"] for c in contexts] == [
        "risk.run_policy_action",
        "risk.sweep_pending_policy_actions",
    ]
    assert log_context() == {}  # nothing left bound once the task is over
