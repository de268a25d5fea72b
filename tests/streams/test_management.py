"""Streams managed at the transmitter, against the shipped SSF transmitter (streams.transmitter).

The transmitter pushes to pytest-django's live server, so these tests commit (transaction=True)
and see SETs arrive over HTTP as a real transmitter would send them.
"""

import pytest
import requests
from django.core.exceptions import ValidationError

from events.models import RejectedSecurityEvent, SecurityEvent, SecurityEventStatus
from events.poll import stream_poll
from risk.models import Entity
from risk.services.directory import entity_create
from streams import stream_management as sm
from streams.discovery import DiscoveryError
from streams.models import (
    DeliveryMethod,
    ManagementAuth,
    Stream,
    StreamManagement,
    push_secret_hash,
)
from streams.services import stream_create, stream_delete
from streams.ssf_client import Credentials, ManagementError
from streams.transmitter import SSFTransmitter
from streams.transmitter.state import SignedSet
from streams.vocabulary import CAEP, DEFAULT_EVENTS_REQUESTED, OKTA
from tests.streams.managing import TOKEN, add_managed_by_form, start_transmitter, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tx(settings):
    transmitter = start_transmitter(settings)
    yield transmitter
    transmitter.stop()


def managed(tx, *, method=DeliveryMethod.PUSH, credentials=None, name="Acme SSF", events=None):
    request = sm.ManagementRequest(
        delivery_method=method,
        events_requested=events or DEFAULT_EVENTS_REQUESTED,
        credentials=credentials
        or Credentials(auth_method=ManagementAuth.STATIC_TOKEN, token=TOKEN),
    )
    return stream_create(name=name, well_known_url=tx.well_known_url, management=request)


def test_push_stream_is_created_at_the_transmitter_and_receives_sets(tx, receiver):
    stream = managed(tx)
    management = StreamManagement.objects.get(stream=stream)
    remote = tx.stream
    assert management.remote_stream_id == remote["stream_id"]
    assert (
        remote["delivery"]["endpoint_url"]
        == f"{receiver.url}/security/api/v1/security-events/{stream.pk}"
    )
    secret = remote["delivery"]["authorization_header"]
    assert Stream.objects.get().push_authorization_hash == push_secret_hash(secret)
    assert set(remote["events_delivered"]) <= set(DEFAULT_EVENTS_REQUESTED)
    tx.send("session-revoked")
    revoked = SecurityEvent.objects.filter(event_type=CAEP + "session-revoked")
    wait_for(revoked.exists)
    assert tx.push_results[-1].status == 202
    assert revoked.get().stream == stream


def test_a_second_create_gets_409_and_the_existing_stream_is_adopted(tx, receiver):
    created = requests.post(
        tx.endpoint_base + "/ssf/stream",
        json={"delivery": {"method": DeliveryMethod.POLL}}, timeout=5,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )  # fmt: skip
    assert created.status_code == 201
    existing_id = created.json()["stream_id"]
    stream = managed(tx)
    assert stream.management.remote_stream_id == existing_id
    assert tx.stream["delivery"]["method"] == DeliveryMethod.PUSH  # adopted and updated (PATCH)


def test_iss_and_aud_of_the_transmitters_answer_are_checked(settings, receiver):
    other = SSFTransmitter(audience="https://someone-else.example", static_token=TOKEN).start()
    try:
        with pytest.raises(DiscoveryError, match="does not name this receiver"):
            managed(other)
        assert not Stream.objects.exists()
    finally:
        other.stop()


def test_read_update_replace_and_delete(tx, receiver):
    stream = managed(tx)
    config = sm.stream_remote_refresh(stream=stream)
    assert config["stream_id"] == stream.management.remote_stream_id
    sm.stream_remote_update(stream=stream, events_requested=[CAEP + "session-revoked"])
    assert tx.stream["events_requested"] == [CAEP + "session-revoked"]
    assert StreamManagement.objects.get().remote_config["events_delivered"] == [
        CAEP + "session-revoked"
    ]
    old_secret = tx.stream["delivery"]["authorization_header"]
    sm.stream_remote_replace(stream=Stream.objects.get())
    new_secret = tx.stream["delivery"]["authorization_header"]
    assert new_secret != old_secret
    assert Stream.objects.get().push_authorization_hash == push_secret_hash(new_secret)
    stream_delete(stream=Stream.objects.get())
    assert tx.stream is None
    assert not Stream.objects.exists()


def test_replace_refused_by_the_transmitter_keeps_the_old_push_secret(tx, receiver):
    stream = managed(tx)
    before = Stream.objects.values_list(
        "push_authorization_hash", "previous_push_authorization_hash"
    ).get()
    StreamManagement.objects.filter(pk=stream.pk).update(remote_stream_id="not-there")
    with pytest.raises(ManagementError):
        sm.stream_remote_replace(stream=Stream.objects.get())  # 404: not applied
    after = Stream.objects.values_list(
        "push_authorization_hash", "previous_push_authorization_hash"
    ).get()
    assert after == before
    StreamManagement.objects.filter(pk=stream.pk).update(remote_stream_id=tx.stream["stream_id"])
    tx.send("session-revoked")
    assert tx.push_results[-1].status == 202


def test_replace_whose_answer_is_lost_still_accepts_the_new_push_secret(tx, receiver):
    """The transmitter applies the PUT but its answer comes after our timeout: it pushes with
    the new secret, which must already be accepted (and the old one, for its grace period)."""
    managed(tx)
    old_header = tx.stream["delivery"]["authorization_header"]
    tx.answer_delay = 1.5  # the tests' OUTBOUND_READ_TIMEOUT is 1 s
    with pytest.raises(ManagementError):
        sm.stream_remote_replace(stream=Stream.objects.get())
    wait_for(lambda: tx.stream["delivery"]["authorization_header"] != old_header)
    tx.answer_delay = 0
    jti = tx.send("session-revoked")  # with the new Authorization value
    assert tx.push_results[-1].status == 202
    assert SecurityEvent.objects.filter(jti=jti).exists()
    with tx.state.cond:  # a push still signed off with the old value, within its grace period
        tx.state.stream.delivery["authorization_header"] = old_header
    tx.send("session-revoked")
    assert tx.push_results[-1].status == 202


def test_status_set_read_and_changed_by_the_transmitter(tx, receiver):
    stream = managed(tx)
    assert sm.stream_status_set(stream=stream, status="paused", reason="maintenance")
    assert StreamManagement.objects.get().remote_status == "paused"
    assert sm.stream_status_refresh(stream=Stream.objects.get()) == "paused"
    sm.stream_status_set(stream=Stream.objects.get(), status="enabled")
    tx.set_status_by_transmitter("disabled", reason="abuse")
    wait_for(lambda: StreamManagement.objects.get().remote_status == "disabled")
    assert StreamManagement.objects.get().remote_status_reason == "abuse"


def test_changes_answered_202_are_read_again_until_the_transmitter_applies_them(tx, receiver):
    from streams.tasks import check_deferred_change

    stream = managed(tx)
    tx.defer_changes = True
    StreamManagement.objects.filter(pk=stream.pk).update(remote_config={})
    assert not sm.stream_status_set(stream=stream, status="paused")  # 202: decided later
    management = StreamManagement.objects.get()
    assert management.remote_status == "enabled"
    # The check sent at the commit read the stream again (eager Celery: at once, and only once).
    assert management.remote_config["stream_id"] == management.remote_stream_id
    sm.stream_remote_update(
        stream=Stream.objects.get(), events_requested=[CAEP + "session-revoked"]
    )
    assert not check_deferred_change(stream.pk, "paused", 4)  # nothing applied yet
    tx.apply_deferred()
    assert check_deferred_change(stream.pk, "paused", 4)
    management = StreamManagement.objects.get()
    assert management.remote_status == "paused"
    assert management.remote_config["events_delivered"] == [CAEP + "session-revoked"]


def test_an_unsettled_202_check_is_sent_again_later_with_a_doubled_delay(tx, receiver, settings,
                                                                         redis_url):  # fmt: skip
    """Through the real Redis broker (no worker): the task queued with its countdown."""
    import json as jsonlib
    from datetime import datetime

    import redis

    from config.celery import app
    from streams.tasks import check_deferred_change

    stream = managed(tx)
    tx.defer_changes = True
    broker = redis.Redis.from_url(redis_url)
    broker.delete("celery")
    settings.CELERY_TASK_ALWAYS_EAGER = app.conf.task_always_eager = False
    try:
        sm.stream_status_set(stream=stream, status="disabled")
        assert not check_deferred_change(stream.pk, "disabled", 1)
        settings.STREAM_DEFERRED_CHECKS = 2
        assert not check_deferred_change(stream.pk, "disabled", 1)  # the last check: no more
    finally:
        app.conf.task_always_eager = True
        queued = [jsonlib.loads(message)["headers"] for message in broker.lrange("celery", 0, -1)]
        broker.delete("celery")
    checks = [h for h in queued if h["task"] == "streams.check_deferred_change"]
    sent = sorted((h["argsrepr"], datetime.fromisoformat(h["eta"])) for h in checks)
    assert [args for args, _ in sent] == [f"('{stream.pk}', 'disabled', 0)",
                                          f"('{stream.pk}', 'disabled', 2)"]  # fmt: skip
    (_, first_eta), (_, second_eta) = sent
    assert 30 < (second_eta - first_eta).total_seconds() < 32  # 10 s, then 10 * 2**2 = 40 s


def test_verification_with_state_unsolicited_and_mismatched(tx, receiver):
    stream = managed(tx)
    wait_for(lambda: StreamManagement.objects.get().verified_at is not None)  # asked on create
    StreamManagement.objects.update(verified_at=None)
    state = sm.stream_verification_request(stream=Stream.objects.get())
    assert tx.sent_verification_states[-1] == state
    wait_for(lambda: StreamManagement.objects.get().verified_at is not None)
    tx.send_verification()  # unsolicited, right after: accepted
    assert tx.push_results[-1].status == 202
    tx.send_verification(state="not-ours")
    assert tx.push_results[-1].status == 400
    assert '"invalid_state"' in tx.push_results[-1].body
    assert stream.pk


def test_verification_too_often_is_429_and_postponed(settings, receiver):
    transmitter = start_transmitter(settings, min_verification_interval=3600)
    try:
        stream = managed(transmitter)
        StreamManagement.objects.update(next_verification_at=None)
        # Creating the stream asked for one verification already; a second one is too soon.
        with pytest.raises(ManagementError) as caught:
            sm.stream_verification_request(stream=Stream.objects.get())
        assert caught.value.status == 429
        assert StreamManagement.objects.get().next_verification_at is not None
        assert stream.pk
    finally:
        transmitter.stop()


def test_subjects_added_and_removed_and_removed_ones_still_accepted(settings, receiver):
    transmitter = start_transmitter(settings, default_subjects="NONE")
    try:
        stream = managed(transmitter)
        bob = {"format": "email", "email": "bob@example.com"}
        row = sm.stream_subject_add(stream=stream, subject=bob)
        assert transmitter.subjects == [bob]
        transmitter.send("session-revoked", subject="bob@example.com")
        wait_for(lambda: SecurityEvent.objects.filter(event_type=CAEP + "session-revoked").exists())
        sm.stream_subject_remove(subject=row)
        assert transmitter.subjects == []
        transmitter.send("session-revoked", subject="bob@example.com", force=True)
        wait_for(
            lambda: SecurityEvent.objects.filter(event_type=CAEP + "session-revoked").count() == 2
        )
        assert transmitter.push_results[-1].status == 202
    finally:
        transmitter.stop()


def client_credentials(transmitter, secret: str) -> Credentials:
    return Credentials(
        auth_method=ManagementAuth.CLIENT_CREDENTIALS,
        token_url=transmitter.token_url,
        client_id="rcv",
        client_secret=secret,
    )


def test_oauth_client_credentials(settings, receiver):
    transmitter = start_transmitter(
        settings, static_token=None, client_id="rcv", client_secret="s3"
    )
    try:
        bad = client_credentials(transmitter, "wrong")
        with pytest.raises(DiscoveryError, match="token endpoint refused"):
            managed(transmitter, credentials=bad)
        good = client_credentials(transmitter, "s3")
        stream = managed(transmitter, credentials=good)
        assert sm.stream_status_refresh(stream=stream) == "enabled"
        assert StreamManagement.objects.get().encrypted_client_secret != "s3"
    finally:
        transmitter.stop()


def test_poll_acknowledges_good_sets_and_reports_bad_ones(tx, receiver):
    alice = entity_create(email="alice@example.com")
    stream = managed(tx, method=DeliveryMethod.POLL)
    assert stream.management.delivery_endpoint.startswith(tx.url)
    for _ in range(3):
        tx.send("user-risk-change", current_level="high")
    with tx.state.cond:
        tx.state.stream.queue["bad-1"] = SignedSet(jti="bad-1", event_type="x", token="a.b.c")
    outcome = stream_poll(stream=Stream.objects.get())
    # Three risk SETs, the verification SET asked for on creation, and the bad one.
    assert (outcome.received, outcome.acknowledged, outcome.refused) == (5, 4, 1)
    assert tx.poll_errors["bad-1"]["err"] == "invalid_request"
    assert not tx.state.stream.queue
    assert SecurityEvent.objects.count() == 4
    assert StreamManagement.objects.get().verified_at is not None
    assert RejectedSecurityEvent.objects.get().jti == ""
    assert Entity.objects.get(pk=alice.pk).risk_level == "HIGH"
    assert StreamManagement.objects.get().last_polled_at is not None


def test_a_set_that_fails_unexpectedly_does_not_stop_the_others_acks(tx, receiver, monkeypatch):
    """Fault injection: our own code raising on one polled SET. It is not acknowledged (so it
    comes again), the others are, and once the fault is gone it is stored."""
    import events.poll

    stream = managed(tx, method=DeliveryMethod.POLL)
    stream_poll(stream=stream)  # the verification SET asked for on creation
    broken = tx.send("session-revoked")
    for _ in range(2):
        tx.send("session-revoked")
    receive = events.poll.security_event_receive

    def failing_on_one(*, raw, **options):
        if raw == tx.state.stream.queue[broken].token:
            raise RuntimeError("a bug")
        return receive(raw=raw, **options)

    monkeypatch.setattr(events.poll, "security_event_receive", failing_on_one)
    outcome = stream_poll(stream=Stream.objects.get())
    assert (outcome.received, outcome.acknowledged, outcome.refused) == (3, 2, 0)
    assert list(tx.state.stream.queue) == [broken]
    monkeypatch.setattr(events.poll, "security_event_receive", receive)
    assert stream_poll(stream=Stream.objects.get()).acknowledged == 1
    assert SecurityEvent.objects.filter(jti=broken).exists()


def test_poll_redelivery_is_stored_once_and_acknowledged_again(tx, receiver):
    stream = managed(tx, method=DeliveryMethod.POLL)
    jti = tx.send("session-revoked")
    with tx.state.cond:
        signed = tx.state.stream.queue[jti]
    stream_poll(stream=stream)
    with tx.state.cond:
        tx.state.stream.queue[jti] = signed  # the transmitter sends it again
    assert stream_poll(stream=stream).acknowledged == 1
    assert SecurityEvent.objects.filter(jti=jti).count() == 1


def test_transmitter_that_stops_answering_is_flagged_and_nothing_is_lost(
    tx, receiver, admin_client
):
    stream = managed(tx, method=DeliveryMethod.POLL)
    jti = tx.send("session-revoked")
    tx.stop()
    with pytest.raises(ManagementError):
        stream_poll(stream=stream)
    assert StreamManagement.objects.get().is_flagged
    html = admin_client.get("/security/device-integrations/shared-signals/").content.decode()
    assert "Transmitter not answering" in html
    tx.start()
    stream_poll(stream=Stream.objects.get())
    assert SecurityEvent.objects.filter(jti=jti).exists()
    assert not StreamManagement.objects.get().is_flagged


def test_upkeep_reads_status_verifies_and_flags_missing_verifications(tx, receiver, settings):
    stream = managed(tx)
    wait_for(lambda: StreamManagement.objects.get().verified_at is not None)
    StreamManagement.objects.update(last_contact_at=None, next_verification_at=None,
                                    remote_status="")  # fmt: skip
    counts = sm.managed_streams_maintain()
    assert counts["status_reads"] == 1
    assert counts["verifications"] == 1
    assert StreamManagement.objects.get().remote_status == "enabled"
    settings.STREAM_VERIFICATION_TIMEOUT_SECONDS = 0
    StreamManagement.objects.update(verification_state="never-answered", verified_at=None)
    assert sm.managed_streams_maintain()["flagged"] == 1
    assert StreamManagement.objects.get().verification_failed_at is not None
    assert stream.pk


def test_okta_shaped_event_via_the_transmitter_changes_risk(tx, receiver):
    alice = entity_create(email="alice@example.com")
    managed(tx)
    tx.send("user-risk-change", okta_shape=True, current_level="high", float_timestamp=True)
    wait_for(lambda: Entity.objects.get(pk=alice.pk).risk_level == "HIGH")
    assert SecurityEvent.objects.filter(event_type=OKTA + "user-risk-change").count() == 1


def test_management_needs_a_configuration_endpoint(transmitter, db):
    credentials = Credentials(auth_method=ManagementAuth.STATIC_TOKEN, token="t")
    request = sm.ManagementRequest(
        delivery_method=DeliveryMethod.PUSH, events_requested=[], credentials=credentials
    )
    with pytest.raises(DiscoveryError, match="no stream management"):
        stream_create(name="x", well_known_url=transmitter.well_known_url, management=request)
    with pytest.raises(ValidationError):
        stream_create(name="", well_known_url=transmitter.well_known_url, management=request)


def test_console_adds_a_managed_stream_and_acts_on_it(tx, receiver, admin_client):
    assert add_managed_by_form(admin_client, tx).status_code == 302
    stream = Stream.objects.get()
    assert tx.stream["events_requested"] == [CAEP + "session-revoked", OKTA + "user-risk-change"]
    base = f"/security/device-integrations/shared-signals/{stream.pk}/"
    page = admin_client.get(base).content.decode()
    assert tx.stream["stream_id"] in page
    assert "Verify stream" in page
    admin_client.post(base + "status/", {"status": "paused"})
    assert StreamManagement.objects.get().remote_status == "paused"
    StreamManagement.objects.update(verified_at=None)
    admin_client.post(base + "verify/")
    wait_for(lambda: StreamManagement.objects.get().verified_at is not None)
    admin_client.post(base + "subjects/add/", {"email": "bob@example.com"})
    assert tx.subjects == [{"format": "email", "email": "bob@example.com"}]
    subject = stream.subjects.get()
    assert admin_client.post(base + "subjects/remove/", {"subject": "abc"}).status_code == 404
    admin_client.post(base + "subjects/remove/", {"subject": subject.pk})
    assert tx.subjects == []
    edit = admin_client.post(
        base + "edit/",
        {
            "name": "Acme SSF",
            "config_method": "WELL_KNOWN_URL",
            "well_known_url": tx.well_known_url,
            "events_requested": [CAEP + "session-revoked"],
        },
    )
    assert edit.status_code == 302
    assert tx.stream["events_requested"] == [CAEP + "session-revoked"]
    admin_client.post(base + "remove/", {"at_transmitter": "1"})
    assert tx.stream is None
    assert not Stream.objects.exists()


def test_console_management_form_needs_a_credential(tx, receiver, admin_client):
    response = add_managed_by_form(admin_client, tx, management_token="")
    assert response.status_code == 400
    assert "required for the chosen credential" in response.content.decode()
    assert tx.stream is None


def test_console_readonly_admin_cannot_act_at_the_transmitter(tx, receiver, readonly_client):
    stream = managed(tx)
    base = f"/security/device-integrations/shared-signals/{stream.pk}/"
    for action in ("status/", "verify/", "refresh/", "subjects/add/"):
        assert readonly_client.post(base + action, {"status": "disabled"}).status_code == 403
    assert StreamManagement.objects.get().remote_status != "disabled"
    assert tx.state.stream.status == "enabled"


def test_beat_polls_each_poll_stream_once_at_a_time(tx, receiver):
    from django.core.cache import cache

    from events.tasks import poll_stream, poll_streams

    stream = managed(tx, method=DeliveryMethod.POLL)
    tx.send("session-revoked")
    cache.add(f"ssf:events:poll:{stream.pk}", "1", timeout=60)  # a poll already running
    assert poll_stream.apply(args=[stream.pk]).result == 0
    cache.delete(f"ssf:events:poll:{stream.pk}")
    assert poll_streams.apply().result == 1  # eager: the per-stream poll ran too
    assert SecurityEvent.objects.filter(event_type=CAEP + "session-revoked").exists()


@pytest.mark.parametrize(
    ("method", "auth"),
    [(DeliveryMethod.PUSH, "static"), (DeliveryMethod.POLL, "oauth")],
)
def test_one_set_of_every_delivered_event_type_is_accepted(settings, receiver, method, auth):
    """What the OpenID conformance suite's receiver plan ends with, in push and in poll."""
    if auth == "oauth":
        transmitter = start_transmitter(settings, static_token=None, client_id="rcv",
                                        client_secret="s3")  # fmt: skip
        credentials = client_credentials(transmitter, "s3")
    else:
        transmitter = start_transmitter(settings)
        credentials = None
    try:
        stream = managed(transmitter, method=method, credentials=credentials)
        delivered = transmitter.stream["events_delivered"]
        assert len(delivered) == len(DEFAULT_EVENTS_REQUESTED)
        for uri in delivered:
            transmitter.send(uri)
        if method == DeliveryMethod.POLL:
            outcome = stream_poll(stream=stream)
            assert outcome.refused == 0
            assert not transmitter.state.stream.queue
        else:
            assert {r.status for r in transmitter.push_results} == {202}
        stored = set(SecurityEvent.objects.values_list("event_type", flat=True))
        assert set(delivered) <= stored
        assert not SecurityEvent.objects.filter(status=SecurityEventStatus.PENDING).exists()
    finally:
        transmitter.stop()


def test_api_adds_lists_and_removes_subjects_at_the_transmitter(settings, receiver, super_admin):
    from rest_framework.test import APIClient

    from common.services import api_token_create

    transmitter = start_transmitter(settings, default_subjects="NONE")
    try:
        stream = managed(transmitter)
        api = APIClient()
        api.credentials(
            HTTP_AUTHORIZATION=f"SSWS {api_token_create(user=super_admin, name='t')[1]}"
        )
        url = f"/api/v1/security-events-providers/{stream.pk}/subjects"
        bob = {"format": "email", "email": "bob@example.com"}
        assert api.post(url, {"subject": bob}, format="json").status_code == 201
        assert transmitter.subjects == [bob]
        assert [row["subject"] for row in api.get(url).json()] == [bob]
        assert api.post(url, {"subject": {"email": "x"}}, format="json").status_code == 400
        assert api.post(url + "/remove", {"subject": bob}, format="json").status_code == 204
        assert transmitter.subjects == []
        assert api.post(url + "/remove", {"subject": bob}, format="json").status_code == 404
        transmitter.stop()
        failed = api.post(url, {"subject": bob}, format="json")
        assert (failed.status_code, failed.json()["errorCode"]) == (502, "E0000009")
    finally:
        transmitter.stop()


def test_a_managed_stream_cannot_be_moved_to_another_origin_with_its_credential(
    tx, receiver, settings
):
    """The management token was given for the transmitter's origin: an edit that points the
    stream at another well-known URL would send it there. Adding the stream again asks for it."""
    from streams.services import stream_update

    stream = managed(tx)
    elsewhere = start_transmitter(settings, static_token="other")
    try:
        with pytest.raises(ValidationError, match="credential"):
            stream_update(stream=stream, name=stream.name, well_known_url=elsewhere.well_known_url)
        assert Stream.objects.get().well_known_url == tx.well_known_url
        stream_update(stream=Stream.objects.get(), name="Renamed", well_known_url=tx.well_known_url)
        assert Stream.objects.get().name == "Renamed"  # the same origin is fine
    finally:
        elsewhere.stop()
