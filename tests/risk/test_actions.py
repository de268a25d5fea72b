"""Policy actions against local servers playing the app and the workflow receiver."""

import json

import pytest

from risk.mapping import OKTA
from risk.models import ActionStatus, LogEvent, PolicyAction
from risk.services.actions import SIGNATURE_HEADER, workflow_signature
from risk.services.policy_config import connected_app_create, policy_rule_save, workflow_create
from risk.services.system_log import UNIVERSAL_LOGOUT, WORKFLOW_RUN
from risk.tasks import ACTION_MAX_RETRIES, run_policy_action
from tests.http_server import LocalHTTPServer

pytestmark = pytest.mark.django_db
USER_RISK = OKTA + "user-risk-change"


@pytest.fixture(autouse=True)
def _eager_retries():
    """Eager Celery re-runs a retried task at once only when eager errors do not propagate."""
    from config.celery import app

    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


@pytest.fixture
def remote():
    server = LocalHTTPServer().start()
    yield server
    server.stop()


def fire(alice, deliver, **rule):
    policy_rule_save(name="High", risk_level="HIGH", **rule)
    deliver(USER_RISK, {"current_level": "high"})
    action = PolicyAction.objects.get()
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
    assert request.json() == {"sub_id": {"format": "email", "email": "alice@example.com"}}
    log = LogEvent.objects.get(event_type=UNIVERSAL_LOGOUT)
    assert (log.outcome_result, log.target[1]["displayName"]) == ("SUCCESS", "Slack")


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


def test_server_error_is_retried_then_succeeds(alice, deliver, remote, app):
    remote.route("POST", "/revoke", handler=answers(503, 204))
    action = fire(alice, deliver, terminate_sessions=True)
    assert (action.status, action.attempts) == (ActionStatus.SUCCEEDED, 2)
    outcomes = list(LogEvent.objects.filter(event_type=UNIVERSAL_LOGOUT).order_by("id")
                    .values_list("outcome_result", "outcome_reason"))  # fmt: skip
    assert outcomes == [("FAILURE", "HTTP 503; will retry"), ("SUCCESS", "HTTP 204")]


def test_timeouts_are_retried_then_given_up(alice, deliver, remote, app, settings):
    settings.OUTBOUND_READ_TIMEOUT = 0.2
    remote.route("POST", "/revoke", status=204, delay=0.6)
    action = fire(alice, deliver, terminate_sessions=True)
    assert (action.status, action.attempts) == (ActionStatus.FAILED, ACTION_MAX_RETRIES + 1)
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


def test_an_action_claimed_by_a_running_attempt_is_not_run_again(
    alice, deliver, remote, app, django_capture_on_commit_callbacks
):
    """The sweeper may re-send a task still queued or running: the claim keeps it to one call."""
    from datetime import timedelta

    from django.utils import timezone

    from risk.services.actions import pending_policy_actions_sweep

    remote.route("POST", "/revoke", status=204)
    action = fire(alice, deliver, terminate_sessions=True)
    running = {"status": ActionStatus.PENDING, "created_at": timezone.now() - timedelta(hours=1),
               "claimed_until": timezone.now() + timedelta(seconds=60)}  # fmt: skip
    PolicyAction.objects.filter(pk=action.pk).update(**running)
    assert pending_policy_actions_sweep() == 0
    run_policy_action.apply(args=[action.pk])
    assert len(remote.requests_to("/revoke")) == 1
    PolicyAction.objects.filter(pk=action.pk).update(claimed_until=timezone.now())  # expired
    with django_capture_on_commit_callbacks(execute=True):
        assert pending_policy_actions_sweep() == 1
    action.refresh_from_db()
    assert (action.status, action.attempts, action.claimed_until) == (
        ActionStatus.SUCCEEDED, 2, None,
    )  # fmt: skip
    assert len(remote.requests_to("/revoke")) == 2


def test_attempts_are_bounded_across_sweeps(alice, deliver, remote, app):
    """Celery's retry count restarts with each task the sweeper sends; the action's does not."""
    from risk.services.actions import MAX_ATTEMPTS

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


def test_workflow_webhook_is_signed_and_idempotent_across_retries(alice, deliver, remote):
    workflow, secret = workflow_create(name="Ticket", url=remote.url("/hook"))
    remote.route("POST", "/hook", handler=answers(500, 200))
    action = fire(alice, deliver, workflow=workflow)
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
    workflow.url = "http://hooks.example/s3cr3t-path"
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
    alice, deliver, remote, app, counters, monkeypatch
):
    """Each attempt counts once by its outcome; while it runs, log lines carry the SET's trace
    id and the task's id (common.logs)."""
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
    assert counters("ssf_policy_actions", kind=kind, outcome="succeeded") == 1
    assert counters("ssf_policy_actions", kind=kind, outcome="failed") == 0
    assert action.status == ActionStatus.SUCCEEDED
    trace_id = RiskChange.objects.get().trace_id
    assert [c["trace_id"] for c in contexts] == [trace_id, trace_id]
    assert {c["task_name"] for c in contexts} == {"risk.run_policy_action"}
    assert log_context() == {}  # nothing left bound once the task is over
