"""The entity risk policy: rule matching and order, the records it writes, the actions it fires."""

import pytest

from risk.mapping import OKTA
from risk.models import ActionKind, DirectoryGroup, LogEvent, PolicyAction, PolicyRule, RiskLevel
from risk.services.entity_risk import entity_risk_set
from risk.services.policy_config import (
    connected_app_create,
    policy_rule_delete,
    policy_rule_save,
    workflow_create,
)
from risk.services.system_log import POLICY_ACTION, POLICY_EVALUATE

pytestmark = pytest.mark.django_db
USER_RISK = OKTA + "user-risk-change"


@pytest.fixture
def app(db):
    return connected_app_create(name="Slack", revocation_endpoint="http://127.0.0.1:9/revoke",
                                token="app-token")  # fmt: skip


@pytest.fixture
def workflow(db):
    return workflow_create(name="Open ticket", url="http://127.0.0.1:9/hook")[0]


def rule_names():
    return [a.rule_name for a in PolicyAction.objects.order_by("id")]


def evaluated_rule():
    return LogEvent.objects.get(event_type=POLICY_EVALUATE).debug_data["RuleName"]


def test_catch_all_rule_only_logs(alice, deliver):
    deliver(USER_RISK, {"current_level": "high"})
    assert evaluated_rule() == "Catch-all rule"
    action = LogEvent.objects.get(event_type=POLICY_ACTION)
    assert action.debug_data["PolicyAction"] == ["NULL"]
    assert not PolicyAction.objects.exists()


def test_high_rule_logs_out_everywhere_and_runs_the_workflow(alice, deliver, app, workflow):
    policy_rule_save(name="High", risk_level="HIGH", terminate_sessions=True,
                     app_selection="ALL", workflow=workflow)  # fmt: skip
    deliver(USER_RISK, {"current_level": "high"})
    assert evaluated_rule() == "High"
    kinds = sorted(PolicyAction.objects.values_list("kind", "target_name"))
    assert kinds == [
        (ActionKind.RUN_WORKFLOW, "Open ticket"),
        (ActionKind.UNIVERSAL_LOGOUT, "Slack"),
    ]
    log = LogEvent.objects.get(event_type=POLICY_ACTION)
    assert log.debug_data["PolicySingleLogOutSelectionMode"] == "ALL"
    assert log.debug_data["PolicySingleLogoutAppInstanceIds"] == [app.pk]
    assert log.debug_data["PolicyWorkflowId"] == workflow.pk


def test_rule_level_must_match(alice, deliver, app):
    policy_rule_save(name="High only", risk_level="HIGH", terminate_sessions=True)
    deliver(USER_RISK, {"current_level": "medium"})
    assert evaluated_rule() == "Catch-all rule"
    assert not PolicyAction.objects.exists()


def test_rules_are_tried_by_priority(alice, deliver, app, workflow):
    policy_rule_save(name="Second", risk_level="ANY", workflow=workflow, priority=2)
    policy_rule_save(name="First", risk_level="ANY", terminate_sessions=True, priority=1)
    deliver(USER_RISK, {"current_level": "low"})
    assert evaluated_rule() == "First"


def test_group_include_and_exclude(alice, deliver, app):
    engineering = DirectoryGroup.objects.get(name="Engineering")
    contractors = DirectoryGroup.objects.create(name="Contractors")
    policy_rule_save(name="Not engineering", risk_level="ANY", groups_exclude=[engineering],
                     terminate_sessions=True, priority=1)  # fmt: skip
    policy_rule_save(name="Contractors", risk_level="ANY", groups_include=[contractors],
                     terminate_sessions=True, priority=2)  # fmt: skip
    policy_rule_save(name="Engineering", risk_level="ANY", groups_include=[engineering],
                     terminate_sessions=True, priority=3)  # fmt: skip
    deliver(USER_RISK, {"current_level": "high"})
    assert evaluated_rule() == "Engineering"


def test_detection_source_and_stream_conditions(alice, stream, deliver, super_admin):
    policy_rule_save(name="Admin-reported", risk_level="ANY",
                     detection_types=["ADMIN_REPORTED_USER_RISK"], priority=1)  # fmt: skip
    policy_rule_save(name="From Acme", risk_level="ANY", source_streams=[stream], priority=2)
    deliver(USER_RISK, {"current_level": "high"})
    assert evaluated_rule() == "From Acme"
    LogEvent.objects.all().delete()
    entity_risk_set(entity=alice, level=RiskLevel.LOW, actor=super_admin)
    assert evaluated_rule() == "Admin-reported"


def test_specified_apps_only(alice, deliver, app):
    other = connected_app_create(name="Zoom", revocation_endpoint="http://127.0.0.1:9/z", token="t")
    policy_rule_save(name="Zoom only", risk_level="ANY", terminate_sessions=True,
                     app_selection="SPECIFIED", apps=[other])  # fmt: skip
    deliver(USER_RISK, {"current_level": "high"})
    assert list(PolicyAction.objects.values_list("target_name", flat=True)) == ["Zoom"]


def test_clearing_the_risk_evaluates_no_policy(alice, deliver, app):
    policy_rule_save(name="Any", risk_level="ANY", terminate_sessions=True)
    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "secure"})
    assert LogEvent.objects.filter(event_type=POLICY_EVALUATE).count() == 1
    assert PolicyAction.objects.count() == 1


def test_inactive_rules_are_skipped_and_catch_all_cannot_be_removed(alice, deliver, app):
    policy_rule_save(name="Off", risk_level="ANY", terminate_sessions=True, active=False)
    deliver(USER_RISK, {"current_level": "high"})
    assert evaluated_rule() == "Catch-all rule"
    with pytest.raises(Exception, match="cannot be removed"):
        policy_rule_delete(rule=PolicyRule.objects.get(is_catch_all=True))


def test_admin_sets_risk_with_admin_as_actor(alice, super_admin):
    change = entity_risk_set(entity=alice, level=RiskLevel.HIGH, actor=super_admin, reason="Phish")
    assert (change.previous_level, change.level, change.source) == (
        "NONE",
        "HIGH",
        "ADMIN_REPORTED_USER_RISK",
    )
    log = LogEvent.objects.get(event_type="user.risk.change")
    assert log.actor["alternateId"] == "sam"
    assert log.debug_data["Risk"]["detectionName"] == "Admin Reported User Risk"
    assert entity_risk_set(entity=alice, level=RiskLevel.HIGH, actor=super_admin) is None
