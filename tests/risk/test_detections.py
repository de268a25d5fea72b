"""Entity risk from detections: several sources, none can silently erase another.

Each scenario pushes real SETs through the push endpoint and the drain, and reads the rows and
the System Log records they leave.
"""

import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from risk.checks import detection_lifetimes_check
from risk.mapping import CAEP, OKTA, RISC
from risk.models import (
    Detection,
    DetectionKind,
    DetectionSignal,
    DetectionState,
    Entity,
    LogEvent,
    PolicyAction,
    RiskChange,
    RiskLevel,
    SignalEffect,
)
from risk.services.directory import entity_create
from risk.services.entity_risk import AdminRiskAction, entity_risk_admin_change, entity_risk_set
from risk.services.policy_config import policy_rule_save, workflow_create
from risk.services.system_log import DETECTION_DISMISS, RECEIVE_EVENT, RISK_CHANGE
from risk.tasks import expire_detections

pytestmark = pytest.mark.django_db
USER_RISK = OKTA + "user-risk-change"


def level_of(entity) -> str:
    return Entity.objects.get(pk=entity.pk).risk_level


def active(entity) -> dict[tuple[str, str], str]:
    """(source, kind) -> level of the entity's active detections."""
    return {
        (d.source_ref, d.kind): d.level
        for d in Detection.objects.filter(entity_id=entity.pk, state=DetectionState.ACTIVE)
    }


def last_receipt() -> LogEvent:
    return LogEvent.objects.filter(event_type=RECEIVE_EVENT).order_by("id").last()


# --- The four sequences of the issue: a follow-up never lowers a serious detection ------------


def test_account_purged_then_identifier_changed_from_the_same_transmitter_stays_high(
    alice, stream, deliver
):
    deliver(RISC + "account-purged", {})
    deliver(RISC + "identifier-changed", {"new-value": "alice2@example.com"})
    assert level_of(alice) == RiskLevel.HIGH
    assert active(alice) == {
        (stream.pk, DetectionKind.ACCOUNT_PURGED): "HIGH",
        (stream.pk, DetectionKind.IDENTIFIER_CHANGED): "LOW",
    }
    assert last_receipt().debug_data["riskNotChanged"] == "the entity's risk stays HIGH"
    assert RiskChange.objects.count() == 1


def test_account_disabled_for_hijacking_then_sessions_revoked_stays_high(alice, deliver):
    deliver(RISC + "account-disabled", {"reason": "hijacking"})
    deliver(RISC + "sessions-revoked", {})
    assert level_of(alice) == RiskLevel.HIGH
    # A plain account-disabled afterwards is the same kind, inferred: it does not lower it.
    deliver(RISC + "account-disabled", {})
    assert level_of(alice) == RiskLevel.HIGH
    signal = DetectionSignal.objects.order_by("id").last()
    assert (signal.level, signal.effect) == ("MEDIUM", SignalEffect.NOT_LOWERED)
    assert Detection.objects.get(kind=DetectionKind.ACCOUNT_DISABLED).level == "HIGH"


def test_caep_risk_level_high_then_an_assurance_decrease_a_second_later_stays_high(alice, deliver):
    now = int(time.time())
    deliver(CAEP + "risk-level-change",
            {"principal": "USER", "current_level": "HIGH", "event_timestamp": now,
             "risk_reason": "PASSWORD_FOUND_IN_DATA_BREACH"})  # fmt: skip
    deliver(CAEP + "assurance-level-change",
            {"namespace": "NIST-AAL", "current_level": "nist-aal1", "change_direction": "decrease",
             "event_timestamp": now + 1})  # fmt: skip
    assert level_of(alice) == RiskLevel.HIGH
    assert Entity.objects.get(pk=alice.pk).risk_reason == "PASSWORD_FOUND_IN_DATA_BREACH"


def test_netskope_high_then_an_sgnl_session_revoked_stays_high(alice, stream, deliver,
                                                                second_source):  # fmt: skip
    deliver(USER_RISK, {"current_level": "high", "reason_admin": {"en": "Score 910"}})
    deliver(CAEP + "session-revoked", {"reason_admin": {"en": "Admin revoked"}},
            source=second_source)  # fmt: skip
    assert level_of(alice) == RiskLevel.HIGH
    assert active(alice) == {
        (stream.pk, DetectionKind.USER_RISK): "HIGH",
        (second_source.stream.pk, DetectionKind.SESSIONS_REVOKED): "MEDIUM",
    }


# --- Several sources --------------------------------------------------------------------------


def test_two_sources_the_higher_wins_and_the_lower_clearing_its_own_leaves_it(
    alice, stream, deliver, second_source
):
    deliver(USER_RISK, {"current_level": "medium"}, source=second_source)
    deliver(USER_RISK, {"current_level": "high"})
    assert level_of(alice) == RiskLevel.HIGH
    deliver(USER_RISK, {"current_level": "secure"}, source=second_source)
    assert level_of(alice) == RiskLevel.HIGH
    cleared = Detection.objects.get(source_ref=second_source.stream.pk)
    assert cleared.state == DetectionState.CLEARED
    # The higher source lowering its own detection leaves the other's at its level.
    deliver(USER_RISK, {"current_level": "medium"}, source=second_source)
    deliver(USER_RISK, {"current_level": "low"})
    assert level_of(alice) == RiskLevel.MEDIUM
    assert [c.level for c in RiskChange.objects.order_by("id")] == ["MEDIUM", "HIGH", "MEDIUM"]


def test_the_higher_source_clearing_leaves_the_lower_level_named_in_the_log(
    alice, stream, deliver, second_source
):
    deliver(USER_RISK, {"current_level": "high"})
    deliver(CAEP + "device-compliance-change",
            {"previous_status": "compliant", "current_status": "not-compliant",
             "reason_admin": {"en": "Jailbroken"}}, source=second_source)  # fmt: skip
    deliver(USER_RISK, {"current_level": "none"})
    assert level_of(alice) == RiskLevel.MEDIUM
    log = LogEvent.objects.filter(event_type=RISK_CHANGE).order_by("id").last()
    risk = log.debug_data["Risk"]
    assert (risk["previousLevel"], risk["level"], risk["reasons"]) == ("HIGH", "MEDIUM",
                                                                        "Jailbroken")  # fmt: skip
    assert risk["detectionName"] == "Security Events Provider Reported Risk"
    behind = log.debug_data["detections"]
    assert [(d["kind"], d["level"], d["sourceRef"]) for d in behind] == [
        ("DEVICE_COMPLIANCE", "MEDIUM", second_source.stream.pk)
    ]
    assert behind[0]["id"] == Detection.objects.get(kind=DetectionKind.DEVICE_COMPLIANCE).pk
    assert log.debug_data["cause"] == "SIGNAL"
    # Compliant again clears that source's compliance detection, and nothing else.
    deliver(CAEP + "device-compliance-change",
            {"previous_status": "not-compliant", "current_status": "compliant"},
            source=second_source)  # fmt: skip
    assert level_of(alice) == RiskLevel.NONE


def test_out_of_order_is_judged_per_source_and_kind(alice, stream, deliver, second_source):
    now = time.time()
    deliver(USER_RISK, {"current_level": "high", "event_timestamp": now})
    deliver(USER_RISK, {"current_level": "low", "event_timestamp": now + 100},
            source=second_source)  # fmt: skip
    # Older than the other source's signal, newer than its own: applied.
    deliver(USER_RISK, {"current_level": "medium", "event_timestamp": now + 50})
    assert active(alice)[(stream.pk, DetectionKind.USER_RISK)] == "MEDIUM"
    assert level_of(alice) == RiskLevel.MEDIUM
    # Older than its own newest signal: not applied, but recorded.
    deliver(USER_RISK, {"current_level": "high", "event_timestamp": now - 100})
    assert level_of(alice) == RiskLevel.MEDIUM
    signal = DetectionSignal.objects.order_by("id").last()
    assert signal.effect == SignalEffect.OUT_OF_ORDER
    assert "older than the signal" in last_receipt().debug_data["riskNotChanged"]


def test_a_late_older_signal_does_not_reopen_what_its_source_cleared_since(alice, deliver):
    now = time.time()
    deliver(USER_RISK, {"current_level": "high", "event_timestamp": now})
    deliver(USER_RISK, {"current_level": "secure", "event_timestamp": now + 100})
    deliver(USER_RISK, {"current_level": "high", "event_timestamp": now + 50})
    assert level_of(alice) == RiskLevel.NONE
    assert DetectionSignal.objects.order_by("id").last().effect == SignalEffect.OUT_OF_ORDER
    assert "clearing" in last_receipt().debug_data["riskNotChanged"]
    # A clear that found nothing counts too, and a newer signal opens a detection again.
    deliver(USER_RISK, {"current_level": "none", "event_timestamp": now + 300})
    deliver(USER_RISK, {"current_level": "medium", "event_timestamp": now + 200})
    assert level_of(alice) == RiskLevel.NONE
    deliver(USER_RISK, {"current_level": "medium", "event_timestamp": now + 400})
    assert level_of(alice) == RiskLevel.MEDIUM


# --- Expiry -----------------------------------------------------------------------------------


def test_expiry_lowers_the_level_as_a_risk_change_and_runs_twice_harmlessly(alice, deliver):
    deliver(CAEP + "session-revoked", {})  # MEDIUM, 1 day
    deliver(CAEP + "credential-change", {"credential_type": "password", "change_type": "revoke"})
    sessions = Detection.objects.get(kind=DetectionKind.SESSIONS_REVOKED)
    assert sessions.expires_at - sessions.last_seen_at == timedelta(days=1)
    assert expire_detections() == 0
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert expire_detections() == 1
        assert expire_detections() == 0
    assert level_of(alice) == RiskLevel.LOW
    change = RiskChange.objects.order_by("id").last()
    assert (change.previous_level, change.level, change.cause) == ("MEDIUM", "LOW", "EXPIRED")
    log = LogEvent.objects.filter(event_type=RISK_CHANGE).order_by("id").last()
    assert log.actor["type"] == "SystemPrincipal"
    assert log.debug_data["causeDetectionId"] == sessions.pk
    assert Detection.objects.get(pk=sessions.pk).state == DetectionState.EXPIRED
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        expire_detections()
    assert level_of(alice) == RiskLevel.NONE


def test_a_repeat_renews_an_inferred_detection_and_reported_levels_do_not_expire(
    alice, deliver, settings
):
    deliver(USER_RISK, {"current_level": "medium"})
    assert Detection.objects.get().expires_at is None
    with time_machine.travel(timezone.now() + timedelta(days=400)):
        assert expire_detections() == 0
    settings.RISK_DETECTION_LIFETIME_DAYS = {"SESSIONS_REVOKED": "3"}
    deliver(CAEP + "session-revoked", {})
    first = Detection.objects.get(kind=DetectionKind.SESSIONS_REVOKED).expires_at
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        deliver(CAEP + "session-revoked", {})
    renewed = Detection.objects.get(kind=DetectionKind.SESSIONS_REVOKED).expires_at
    assert renewed - first > timedelta(days=1.9)


def test_the_lifetime_setting_is_checked_at_start_up(settings):
    settings.RISK_DETECTION_LIFETIME_DAYS = {"USER_RISK": "never", "SESSIONS_REVOKED": "0.5"}
    assert detection_lifetimes_check(None) == []
    settings.RISK_DETECTION_LIFETIME_DAYS = {"SESSION": "1", "USER_RISK": "inf"}
    errors = [e.msg for e in detection_lifetimes_check(None)]
    assert len(errors) == 2
    assert "'SESSION' is not a detection kind" in errors[0]
    assert "USER_RISK='inf'" in errors[1]


# --- Admins -----------------------------------------------------------------------------------


def test_an_admin_dismisses_one_detection_then_resets_the_entity(alice, stream, deliver,
                                                                  super_admin):  # fmt: skip
    deliver(RISC + "credential-compromise", {"credential_type": "password"})
    deliver(CAEP + "session-revoked", {})
    compromise = Detection.objects.get(kind=DetectionKind.CREDENTIAL_COMPROMISE)
    change = entity_risk_admin_change(
        entity=alice, actor=super_admin,
        request=AdminRiskAction(AdminRiskAction.DISMISS, detection_id=compromise.pk,
                                reason="Password was rotated"),
    )  # fmt: skip
    assert (change.level, change.cause, change.actor_name) == ("MEDIUM", "DISMISSED", "sam")
    compromise.refresh_from_db()
    assert (compromise.state, compromise.ended_by, compromise.end_reason) == (
        DetectionState.DISMISSED, "sam", "Password was rotated")  # fmt: skip
    dismissal = LogEvent.objects.get(event_type=DETECTION_DISMISS)
    assert dismissal.actor["alternateId"] == "sam"
    assert dismissal.outcome_reason == "Password was rotated"
    assert dismissal.trace_id == change.trace_id
    change = entity_risk_admin_change(
        entity=alice, actor=super_admin,
        request=AdminRiskAction(AdminRiskAction.RESET, reason="False positive"),
    )  # fmt: skip
    assert (change.level, change.cause) == ("NONE", "RESET")
    assert not active(alice)
    assert LogEvent.objects.filter(event_type=DETECTION_DISMISS).count() == 2
    record = LogEvent.objects.filter(event_type=RISK_CHANGE).order_by("id").last()
    assert record.actor["alternateId"] == "sam"


def test_a_late_signal_no_newer_than_a_dismissed_detection_does_not_reopen_it(
    alice, stream, deliver, super_admin, second_source
):
    now = time.time()
    deliver(USER_RISK, {"current_level": "high", "event_timestamp": now})
    dismissed = Detection.objects.get()
    entity_risk_admin_change(
        entity=alice, actor=super_admin,
        request=AdminRiskAction(AdminRiskAction.DISMISS, detection_id=dismissed.pk,
                                reason="Reviewed: travel"),
    )  # fmt: skip
    # The same news again (a retransmission) and older news arriving late: not applied.
    for late in (now, now - 50):
        deliver(USER_RISK, {"current_level": "high", "event_timestamp": late})
        assert level_of(alice) == RiskLevel.NONE
        assert DetectionSignal.objects.order_by("id").last().effect == SignalEffect.OUT_OF_ORDER
        assert "admin dismissed" in last_receipt().debug_data["riskNotChanged"]
    # Another source's older signal is its own news; this source's newer one opens it again.
    deliver(USER_RISK, {"current_level": "medium", "event_timestamp": now - 50},
            source=second_source)  # fmt: skip
    assert level_of(alice) == RiskLevel.MEDIUM
    deliver(USER_RISK, {"current_level": "high", "event_timestamp": now + 10})
    assert active(alice)[(stream.pk, DetectionKind.USER_RISK)] == "HIGH"
    assert Detection.objects.get(pk=dismissed.pk).state == DetectionState.DISMISSED


def test_dismissing_a_detection_that_is_no_longer_active_is_refused(alice, deliver,
                                                                     super_admin):  # fmt: skip
    from risk.services.entity_risk import DetectionNotActive

    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "secure"})
    with pytest.raises(DetectionNotActive):
        entity_risk_admin_change(
            entity=alice, actor=super_admin,
            request=AdminRiskAction(AdminRiskAction.DISMISS,
                                    detection_id=Detection.objects.get().pk, reason="x"),
        )  # fmt: skip


def test_an_admin_high_is_a_detection_of_its_own_and_low_reviews_the_entity(
    alice, stream, deliver, super_admin
):
    deliver(CAEP + "session-revoked", {})
    entity_risk_set(entity=alice, level=RiskLevel.HIGH, actor=super_admin, reason="Phished")
    assert active(alice) == {(stream.pk, "SESSIONS_REVOKED"): "MEDIUM", ("", "ADMIN"): "HIGH"}
    # The provider keeps reporting; an admin's HIGH is not lowered by it.
    deliver(CAEP + "session-revoked", {})
    assert level_of(alice) == RiskLevel.HIGH
    change = entity_risk_set(entity=alice, level=RiskLevel.LOW, actor=super_admin)
    assert (change.previous_level, change.level) == ("HIGH", "LOW")
    assert active(alice) == {("", "ADMIN"): "LOW"}
    dismissed = Detection.objects.get(kind=DetectionKind.SESSIONS_REVOKED)
    assert dismissed.end_reason == "Risk set to LOW: Set to LOW by sam"
    # A later signal raises it again, as in Okta.
    deliver(RISC + "credential-compromise", {"credential_type": "password"})
    assert level_of(alice) == RiskLevel.HIGH


# --- Policy -----------------------------------------------------------------------------------


def test_policy_fires_once_per_rise_not_once_per_signal(alice, stream, deliver, second_source):
    workflow, _secret = workflow_create(name="Ticket", url="http://127.0.0.1:9/hook")
    policy_rule_save(name="High", risk_level="HIGH", workflow=workflow)
    deliver(USER_RISK, {"current_level": "high"})
    deliver(USER_RISK, {"current_level": "high"})
    deliver(RISC + "credential-compromise", {"credential_type": "password"},
            source=second_source)  # fmt: skip
    assert PolicyAction.objects.count() == 1
    assert RiskChange.objects.count() == 1
    deliver(USER_RISK, {"current_level": "secure"})
    assert PolicyAction.objects.count() == 1  # still HIGH: the other source's compromise
    deliver(RISC + "credential-compromise", {"credential_type": "password"})  # HIGH already
    assert PolicyAction.objects.count() == 1
    # Every detection ends (NONE evaluates no policy); the next rise fires the rule again.
    Detection.objects.filter(state=DetectionState.ACTIVE).update(expires_at=timezone.now())
    expire_detections()
    assert level_of(alice) == RiskLevel.NONE
    deliver(USER_RISK, {"current_level": "high"})
    assert PolicyAction.objects.count() == 2
    rule_changes = RiskChange.objects.exclude(rule_name="").order_by("id")
    assert list(rule_changes.values_list("rule_name", flat=True)) == ["High", "High"]


def test_a_rules_source_condition_matches_the_detections_behind_the_level(
    alice, stream, deliver, second_source
):
    policy_rule_save(name="From SGNL", risk_level="ANY", source_streams=[second_source.stream],
                     priority=1)  # fmt: skip
    deliver(USER_RISK, {"current_level": "medium"}, source=second_source)
    deliver(USER_RISK, {"current_level": "high"})
    assert list(RiskChange.objects.order_by("id").values_list("rule_name", flat=True)) == [
        "From SGNL",
        "Catch-all rule",
    ]


# --- Devices on a {user, device} subject -----------------------------------------------------


def test_the_entity_chosen_for_a_user_and_device_subject_is_written_with_why(alice, deliver):
    subject = {"format": "complex", "user": {"format": "email", "email": "alice@example.com"},
               "device": {"format": "opaque", "id": "dev-1"}}  # fmt: skip
    deliver(OKTA + "device-risk-change", {"current_level": "high"}, sub_id=subject)
    chosen = last_receipt().debug_data["entityChosen"]
    assert chosen == {"id": alice.pk, "member": "user",
                      "why": "a device event, but its device is not in the directory: "
                             "the subject's user"}  # fmt: skip
    assert Detection.objects.get().kind == DetectionKind.DEVICE_RISK
    laptop = entity_create(kind="DEVICE", display_name="Laptop",
                           identifiers=[{"format": "opaque", "id": "dev-1"}])  # fmt: skip
    deliver(OKTA + "device-risk-change", {"current_level": "high"}, sub_id=subject)
    assert last_receipt().debug_data["entityChosen"] == {
        "id": laptop.pk,
        "member": "device",
        "why": "a device event: the subject's device",
    }
    deliver(USER_RISK, {"current_level": "low"}, sub_id=subject)
    assert last_receipt().debug_data["entityChosen"]["why"] == (
        "not a device event: the subject's user"
    )
