"""Processing of accepted SETs: the System Log records, subject resolution, risk rules, reruns."""

import time

import pytest

from events.models import SecurityEvent, SecurityEventStatus
from risk.mapping import CAEP, OKTA, RISC
from risk.models import Entity, EntityKind, LogEvent, RiskChange, RiskLevel
from risk.services.directory import entity_create
from risk.services.processing import security_events_process_pending
from risk.services.system_log import RECEIVE_EVENT, RISK_CHANGE

pytestmark = pytest.mark.django_db

USER_RISK = OKTA + "user-risk-change"


def high(**extra):
    return {"current_level": "high", **extra}


def test_receive_event_is_logged_okta_style_and_links_the_set(alice, stream, deliver):
    deliver(USER_RISK, high(reason_admin={"en": "Malware"}), txn="cause-1")
    event = SecurityEvent.objects.get()
    log = LogEvent.objects.get(event_type=RECEIVE_EVENT)
    assert log.actor == {"id": stream.pk, "type": "SecurityEventProvider",
                         "alternateId": stream.issuer, "displayName": "Acme MDM"}  # fmt: skip
    assert log.target[0]["id"] == alice.pk
    assert log.target[0]["type"] == "User"
    assert log.outcome_result == "SUCCESS"
    report = log.debug_data["partnerRiskReportData"]
    assert report == {"issuer": stream.issuer, "eventType": USER_RISK,
                      "event": event.claims["events"][USER_RISK]}  # fmt: skip
    assert log.debug_data["setUrl"] == f"/security/events/{event.pk}/"
    assert log.security_event == event


def test_risk_change_is_logged_with_previous_and_new_level_and_a_shared_trace(alice, deliver):
    deliver(USER_RISK, high(reason_admin={"en": "Malware"}))
    change = RiskChange.objects.get()
    log = LogEvent.objects.get(event_type=RISK_CHANGE)
    assert log.debug_data["Risk"] == {
        "previousLevel": "NONE",
        "level": "HIGH",
        "detectionName": "Security Events Provider Reported Risk",
        "reasons": "Malware",
        "issuer": change.issuer,
    }
    receive = LogEvent.objects.get(event_type=RECEIVE_EVENT)
    assert change.trace_id == log.trace_id == receive.trace_id
    assert log.severity == "WARN"


def test_processing_twice_changes_nothing_more(alice, deliver):
    deliver(USER_RISK, high())
    counts = (LogEvent.objects.count(), RiskChange.objects.count())
    assert security_events_process_pending() == 0
    # Forced back to PENDING, the database constraints refuse a second set of records, and
    # the SET is set aside as FAILED instead of blocking the SETs behind it.
    SecurityEvent.objects.update(status=SecurityEventStatus.PENDING)
    security_events_process_pending()
    assert (LogEvent.objects.count(), RiskChange.objects.count()) == counts
    assert SecurityEvent.objects.get().status == SecurityEventStatus.FAILED


def test_a_failing_set_does_not_block_the_others(alice, stream, transmitter, push, monkeypatch):
    from risk.services import processing

    for _ in range(3):
        push(transmitter.make_set(events={USER_RISK: high()}))
    poisoned = SecurityEvent.objects.order_by("id")[1].pk
    real = processing._process

    def flaky(batch, item):
        if item.event.pk == poisoned:
            raise KeyError("boom")
        return real(batch, item)

    monkeypatch.setattr(processing, "_process", flaky)
    security_events_process_pending()
    statuses = dict(SecurityEvent.objects.values_list("pk", "status"))
    assert statuses.pop(poisoned) == SecurityEventStatus.FAILED
    assert set(statuses.values()) == {SecurityEventStatus.PROCESSED}


def test_unknown_subject_is_logged_as_failure_and_changes_no_risk(stream, deliver):
    deliver(USER_RISK, high(), sub_id={"format": "email", "email": "nobody@example.com"})
    log = LogEvent.objects.get(event_type=RECEIVE_EVENT)
    assert (log.outcome_result, log.target) == ("FAILURE", [])
    assert "matches no user" in log.outcome_reason
    assert SecurityEvent.objects.get().status == SecurityEventStatus.IGNORED
    assert not RiskChange.objects.exists()


def test_unknown_event_type_is_logged_and_ignored(alice, deliver):
    deliver("https://vendor.example/event-type/thing", {"x": 1})
    log = LogEvent.objects.get(event_type=RECEIVE_EVENT)
    assert (log.outcome_result, log.outcome_reason) == (
        "SKIPPED",
        "Unknown event type; logged and ignored",
    )
    assert SecurityEvent.objects.get().status == SecurityEventStatus.IGNORED


def test_malformed_event_payload_is_logged_and_ignored(alice, deliver):
    deliver(CAEP + "credential-change", {"credential_type": "password"})
    log = LogEvent.objects.get(event_type=RECEIVE_EVENT)
    assert log.outcome_result == "FAILURE"
    assert "'change_type' is required" in log.outcome_reason
    assert not RiskChange.objects.exists()


def test_first_known_uri_of_several_is_used(alice, deliver):
    events = {"https://vendor.example/x": {}, USER_RISK: high()}
    deliver(USER_RISK, events=events)
    assert Entity.objects.get(pk=alice.pk).risk_level == "HIGH"


def test_older_event_never_overwrites_a_newer_level(alice, deliver):
    now = time.time()
    deliver(USER_RISK, high(event_timestamp=now))
    deliver(USER_RISK, {"current_level": "low", "event_timestamp": now - 600})
    alice.refresh_from_db()
    assert alice.risk_level == RiskLevel.HIGH
    assert RiskChange.objects.count() == 1
    late = LogEvent.objects.filter(event_type=RECEIVE_EVENT).order_by("id").last()
    assert "older than the signal" in late.debug_data["riskNotChanged"]
    deliver(USER_RISK, {"current_level": "low", "event_timestamp": now + 1})
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.LOW


def test_an_event_time_in_the_future_is_capped_and_does_not_freeze_the_risk(alice, deliver):
    deliver(USER_RISK, high(event_timestamp=9_999_999_999))  # the year 2286
    capped = LogEvent.objects.get(event_type=RECEIVE_EVENT)
    assert capped.debug_data["eventTimeInTheFutureCapped"] is True
    assert RiskChange.objects.get().observed_at.year == time.gmtime().tm_year
    time.sleep(0.01)
    deliver(USER_RISK, {"current_level": "low", "event_timestamp": time.time() + 400})
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.LOW


def test_a_reason_or_txn_longer_than_its_column_is_cut_not_failed(alice, deliver):
    deliver(RISC + "credential-compromise",
            {"credential_type": "password", "reason_admin": {"en": "r" * 2000}},
            txn="t" * 300)  # fmt: skip
    assert SecurityEvent.objects.get().status == SecurityEventStatus.PROCESSED
    change = RiskChange.objects.get()
    assert (len(change.reasons), len(change.txn)) == (500, 255)
    deliver(RISC + "credential-compromise", {"credential_type": "password"}, txn="t" * 301)
    assert RiskChange.objects.count() == 1  # the same (cut) cause


def test_one_risk_change_per_txn(alice, deliver):
    deliver(CAEP + "session-revoked", {}, txn="cause-7")
    deliver(RISC + "credential-compromise", {"credential_type": "password"}, txn="cause-7")
    assert RiskChange.objects.count() == 1
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.MEDIUM
    deliver(RISC + "credential-compromise", {"credential_type": "password"}, txn="cause-8")
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.HIGH


def test_sets_of_one_batch_are_applied_in_order(alice, stream, transmitter, push):
    now = int(time.time())
    for level, at in (("low", now), ("high", now + 1), ("medium", now + 2)):
        push(
            transmitter.make_set(
                events={USER_RISK: {"current_level": level, "event_timestamp": at}}
            )
        )
    assert security_events_process_pending() == 3
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.MEDIUM
    assert RiskChange.objects.count() == 3


@pytest.mark.parametrize(
    "subject",
    [
        {"sub_id": {"format": "email", "email": "ALICE@example.COM"}},
        {"sub_id": {"format": "iss_sub", "iss": "https://idp.example/", "sub": "a-123"}},
        {"sub_id": {"subject_type": "iss-sub", "iss": "https://idp.example", "sub": "a-123"}},
        {"sub_id": {"format": "aliases", "identifiers": [
            {"format": "opaque", "id": "zzz"}, {"format": "email", "email": "alice@example.com"}]}},
        {"sub_id": {"format": "complex", "user": {"format": "email", "email": "alice@example.com"},
                    "session": {"format": "opaque", "id": "s-1"}}},
        {"sub_id": None, "legacy_subject": {"format": "email", "email": "alice@example.com"}},
        {"sub_id": None,
         "legacy_subject": {"user": {"format": "email", "email": "alice@example.com"},
                            "device": {"format": "opaque", "id": "d-9"}}},
    ],
)  # fmt: skip
def test_every_subject_format_resolves_alice(alice, deliver, subject):
    event = high()
    if "legacy_subject" in subject:
        event["subject"] = subject.pop("legacy_subject")
    deliver(USER_RISK, event, **subject)
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.HIGH


@pytest.mark.parametrize(
    ("identifier", "kind"),
    [
        ({"format": "phone_number", "phone_number": "+1 (555) 0100"}, "phone"),
        ({"format": "phone", "phone_number": "+15550100"}, "phone"),
        ({"format": "account", "uri": "acct:Bob@Example.com"}, "account"),
        ({"format": "did", "url": "did:example:123"}, "did"),
        ({"format": "uri", "uri": "https://example.com/u/1"}, "uri"),
        ({"format": "opaque", "id": "emp-42"}, "opaque"),
    ],
)
def test_other_formats_resolve_entities_with_those_identifiers(deliver, identifier, kind):
    stored = {
        "phone": {"format": "phone_number", "phone_number": "+15550100"},
        "account": {"format": "account", "uri": "acct:bob@example.com"},
    }.get(kind, identifier)
    bob = entity_create(login="bob", identifiers=[stored])
    deliver(USER_RISK, high(), sub_id=identifier)
    assert Entity.objects.get(pk=bob.pk).risk_level == RiskLevel.HIGH


def test_device_only_subject_changes_the_device(deliver):
    laptop = entity_create(kind=EntityKind.DEVICE, display_name="laptop-7",
                           identifiers=[{"format": "opaque", "id": "dev-7"}])  # fmt: skip
    subject = {"format": "complex", "device": {"format": "opaque", "id": "dev-7"}}
    deliver(OKTA + "device-risk-change", high(), sub_id=subject)
    assert Entity.objects.get(pk=laptop.pk).risk_level == RiskLevel.HIGH


@pytest.mark.parametrize(
    ("uri", "event", "at_risk"),
    [
        (OKTA + "device-risk-change", {"current_level": "high"}, "device"),
        (CAEP + "risk-level-change", {"principal": "DEVICE", "current_level": "HIGH"}, "device"),
        (CAEP + "risk-level-change", {"principal": "USER", "current_level": "HIGH"}, "user"),
        (USER_RISK, {"current_level": "high"}, "user"),
    ],
)
def test_a_user_and_device_subject_changes_whichever_the_event_is_about(
    alice, deliver, uri, event, at_risk
):
    laptop = entity_create(kind=EntityKind.DEVICE, display_name="Laptop",
                           identifiers=[{"format": "opaque", "id": "dev-1"}])  # fmt: skip
    subject = {"format": "complex", "user": {"format": "email", "email": "alice@example.com"},
               "device": {"format": "opaque", "id": "dev-1"}}  # fmt: skip
    deliver(uri, event, sub_id=subject)
    changed = RiskChange.objects.get().entity
    assert changed == (laptop if at_risk == "device" else Entity.objects.get(pk=alice.pk))


@pytest.mark.parametrize("member", ["tenant_x", "session"])
def test_critical_subject_member_we_cannot_process_discards_the_event(
    alice, stream, deliver, member
):
    stream.metadata = {**stream.metadata, "critical_subject_members": [member]}
    stream.save()
    subject = {"format": "complex", "user": {"format": "email", "email": "alice@example.com"},
               member: {"format": "opaque", "id": "t"}}  # fmt: skip
    deliver(USER_RISK, high(), sub_id=subject)
    assert (
        "critical subject member" in LogEvent.objects.get(event_type=RECEIVE_EVENT).outcome_reason
    )
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.NONE


def test_auto_create_is_off_by_default_and_on_by_setting(stream, deliver, settings):
    deliver(USER_RISK, high(), sub_id={"format": "email", "email": "new@example.com"})
    assert not Entity.objects.exists()
    settings.RISK_AUTO_CREATE_ENTITIES = True
    deliver(USER_RISK, high(), sub_id={"format": "email", "email": "New@Example.com"})
    entity = Entity.objects.get()
    assert (entity.email, entity.risk_level, entity.created_automatically) == (
        "new@example.com",
        "HIGH",
        True,
    )


@pytest.mark.django_db(transaction=True)
def test_auto_create_racing_another_batch_uses_the_entity_it_made(stream, transmitter, push,
                                                                  settings, redis_url):  # fmt: skip
    """Another batch creates the same entity and commits while ours waits on its row: our SET
    goes to that entity instead of being logged as matching no one."""
    import threading

    import redis
    from django.db import connection, connections, transaction

    from events.dispatch import DRAIN_REQUESTED_KEY
    from risk.models import EntityIdentifier

    settings.RISK_AUTO_CREATE_ENTITIES = True
    flag = redis.Redis.from_url(redis_url)
    flag.set(DRAIN_REQUESTED_KEY, "1", px=60_000)  # a drain "is running": the push starts none
    settings.CELERY_TASK_ALWAYS_EAGER = False
    subject = {"format": "email", "email": "race@example.com"}
    token = transmitter.make_set(events={USER_RISK: high()}, sub_id=subject)
    assert push(token).status_code == 202
    settings.CELERY_TASK_ALWAYS_EAGER = True
    flag.delete(DRAIN_REQUESTED_KEY)
    assert SecurityEvent.objects.get().status == SecurityEventStatus.PENDING
    inserted, release = threading.Event(), threading.Event()

    def other_batch():
        try:
            with transaction.atomic():
                rival = Entity.objects.create(email="race@example.com", login="race@example.com")
                EntityIdentifier.objects.create(entity=rival, key="email:race@example.com")
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_batch)
    thread.start()
    assert inserted.wait(10)
    threading.Timer(0.5, release.set).start()  # commits while our INSERT waits on its key
    security_events_process_pending()
    thread.join(10)
    assert connection.vendor == "postgresql"
    rival = Entity.objects.get()
    assert rival.risk_level == RiskLevel.HIGH
    assert SecurityEvent.objects.get().status == SecurityEventStatus.PROCESSED


def test_ssf_verification_event_is_processed_without_a_subject_entity(stream, deliver):
    uri = "https://schemas.openid.net/secevent/ssf/event-type/verification"
    deliver(uri, {}, sub_id={"format": "opaque", "id": "stream-1"})  # unsolicited: no state
    assert SecurityEvent.objects.get().status == SecurityEventStatus.PROCESSED
    assert LogEvent.objects.get(event_type=RECEIVE_EVENT).outcome_result == "SUCCESS"


def test_removed_stream_keeps_its_sets_and_log_readable(alice, stream, deliver):
    deliver(USER_RISK, high())
    stream_id = stream.pk
    stream.delete()
    event = SecurityEvent.objects.get()
    assert (event.stream, event.stream_ref) == (None, stream_id)
    assert LogEvent.objects.get(event_type=RECEIVE_EVENT).stream_ref == stream_id
    assert RiskChange.objects.get().stream_ref == stream_id


def test_absurd_timestamps_and_shapes_neither_stop_processing_nor_fail_it(alice, deliver):
    deliver(USER_RISK, high(event_timestamp=10**400), toe=10**400)
    deliver(CAEP + "device-compliance-change", {"previous_status": ["compliant"],
                                                "current_status": {"x": 1}})  # fmt: skip
    deliver(USER_RISK, {"current_level": "low"})
    statuses = list(SecurityEvent.objects.order_by("id").values_list("status", flat=True))
    assert statuses == [SecurityEventStatus.PROCESSED, SecurityEventStatus.IGNORED,
                        SecurityEventStatus.PROCESSED]  # fmt: skip
    assert "unknown value" in LogEvent.objects.filter(outcome_result="FAILURE").get().outcome_reason
    assert Entity.objects.get(pk=alice.pk).risk_level == RiskLevel.LOW
