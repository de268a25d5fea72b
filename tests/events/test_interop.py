"""Real transmitters' wire quirks at the push endpoint (protocol.md §11-12), answered unchanged.

Each test posts the bytes a real client was seen to send: the SET as a JSON string (Netskope's
plugin, the Okta SDK), PyJWT's `typ: JWT` (authentik), the SSE-draft and RISC verification
URIs (Duo, Google), a verification naming another stream (the conformance suite).
"""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
from django.urls import reverse

from events.models import SecurityEvent, SecurityEventStatus
from risk.mapping import RULES
from risk.models import LogEvent
from risk.services.system_log import RECEIVE_EVENT
from streams.models import StreamManagement
from streams.vocabulary import EVENT_TYPES_READ, SSF_VERIFICATION
from tests import keys
from tests.events.test_push import assert_error

pytestmark = pytest.mark.django_db

SSE_VERIFICATION = "https://schemas.openid.net/secevent/sse/event-type/verification"
RISC_VERIFICATION = "https://schemas.openid.net/secevent/risc/event-type/verification"
PUSH_PATH = "/security/api/v1/security-events"


def tolerated_text(admin_client, stream) -> str:
    page = admin_client.get(reverse("events:stream_events", args=[stream.pk]))
    assert page.status_code == 200
    return page.content.decode()


# --- issue 9.1: the SET posted as a JSON string -------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/secevent+jwt", "application/json"])
def test_set_posted_as_a_json_string_is_accepted_and_counted(
    stream, make_set, push, admin_client, content_type
):
    token = make_set()
    response = push(json.dumps(token), content_type=content_type)
    assert response.status_code == 202, response.content
    event = SecurityEvent.objects.get()
    assert event.raw == token  # the SET itself, not the quotes around it
    assert event.body_json_quoted
    assert event.content_type_mislabelled is (content_type != "application/secevent+jwt")
    assert "1 posted as a JSON string" in tolerated_text(admin_client, stream)
    detail = admin_client.get(reverse("events:security_event_detail", args=[event.pk]))
    assert "posted as a JSON string (tolerated)" in detail.content.decode()


def test_json_string_replay_is_the_same_set(stream, make_set, push):
    token = make_set()
    assert push(token).status_code == 202
    assert push(json.dumps(token)).status_code == 202
    assert SecurityEvent.objects.count() == 1


@pytest.mark.parametrize(
    "body", ['"not a jwt"', '"a.b"', '["eyJ.eyJ.c2ln"]', '"eyJhbGciOiJSUzI1NiJ9.e30.c2ln" x']
)
def test_json_string_without_a_compact_jws_is_refused(stream, push, body):
    assert_error(push(body), "invalid_request")
    assert push(body, content_type="application/json").status_code == 415


def test_json_string_holding_a_bad_set_is_refused_for_what_the_set_is(
    stream, transmitter, rotated_rsa_key, push
):
    forged = transmitter.make_set(key=rotated_rsa_key, header={"kid": "rsa-1"})
    assert_error(push(json.dumps(forged), content_type="application/json"), "invalid_key")


@pytest.mark.django_db(transaction=True)
def test_requests_json_token_is_accepted_over_http(stream, transmitter, live_server):
    """Netskope CE's Okta plugin: requests.post(url, json=token) under secevent+jwt, and the
    same call with requests' own application/json label."""
    netskope = requests.post(
        live_server.url + PUSH_PATH,
        json=transmitter.make_set(),
        headers={"Content-Type": "application/secevent+jwt", "Accept": "application/json"},
        timeout=10,
    )
    assert netskope.request.body.startswith(b'"eyJ')
    assert netskope.status_code == 202, netskope.text
    plain = requests.post(live_server.url + PUSH_PATH, json=transmitter.make_set(), timeout=10)
    assert plain.request.headers["Content-Type"] == "application/json"
    assert plain.status_code == 202, plain.text
    assert SecurityEvent.objects.filter(body_json_quoted=True).count() == 2


@pytest.mark.django_db(transaction=True)
def test_okta_sdk_publish_security_event_tokens_is_accepted(
    stream, transmitter, live_server, monkeypatch
):
    """The official Okta Python SDK's SSF publish method, unchanged (it sends the SET JSON-quoted
    under application/json, with an SSWS token we do not ask for)."""
    from okta.client import Client

    monkeypatch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")  # http on loopback
    client = Client({"orgUrl": live_server.url, "token": "not-used-here"})
    token = transmitter.make_set()
    # In a thread of its own: Playwright's tests leave an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        call = pool.submit(asyncio.run, client.publish_security_event_tokens(token))
        _data, response, error = call.result(timeout=30)
    assert error is None
    assert response.status_code == 202
    event = SecurityEvent.objects.get()
    assert (event.raw, event.body_json_quoted, event.content_type_mislabelled) == (
        token,
        True,
        True,
    )


# --- issue 9.2: typ JWT (PyJWT's default, authentik) --------------------------------------------


def pyjwt_signed(transmitter, **claims) -> str:
    """Signed as authentik's SSF provider signs: PyJWT with its default header."""
    pem = transmitter.key.export_to_pem(private_key=True, password=None)
    return jwt.encode(transmitter.claims(**claims), pem, algorithm="RS256",
                      headers={"kid": transmitter.key["kid"]})  # fmt: skip


def test_pyjwt_typ_jwt_is_tolerated_and_counted(stream, transmitter, push, admin_client):
    token = pyjwt_signed(transmitter)
    assert jwt.get_unverified_header(token)["typ"] == "JWT"
    assert push(token).status_code == 202
    assert SecurityEvent.objects.get().typ_missing
    assert "Tolerated: 1 SET(s) without <code>typ: secevent+jwt</code>" in tolerated_text(
        admin_client, stream
    )


@pytest.mark.parametrize("typ", ["JWT", None])
def test_typ_other_than_secevent_is_refused_on_a_strict_stream(stream, transmitter, push, typ):
    stream.strict_claims = True
    stream.save()
    token = pyjwt_signed(transmitter) if typ else transmitter.make_set(header={"typ": None})
    assert_error(push(token), "invalid_request", "§4.1.1")
    assert push(transmitter.make_set()).status_code == 202  # typ secevent+jwt still fine


# --- issue 9.3: legacy verification URIs, and a verification naming another stream -------------


@pytest.fixture
def managed(stream):
    """The stream as if created at the transmitter, waiting for the verification of `s-1`."""
    return StreamManagement.objects.create(
        stream=stream, remote_stream_id="tx-stream-1", delivery_method="urn:ietf:rfc:8935",
        delivery_endpoint="x", auth_method="STATIC_TOKEN", verification_state="s-1",
    )  # fmt: skip


@pytest.mark.parametrize("uri", [SSE_VERIFICATION, RISC_VERIFICATION])
def test_legacy_verification_without_subject_verifies_the_stream(
    managed, transmitter, push, uri, django_capture_on_commit_callbacks
):
    token = transmitter.make_set(sub_id=None, events={uri: {"state": "s-1"}})
    with django_capture_on_commit_callbacks(execute=True):
        response = push(token)
    assert response.status_code == 202, response.content
    event = SecurityEvent.objects.get()
    assert event.event_type == SSF_VERIFICATION  # read as the SSF 1.0 event it became
    assert event.status == SecurityEventStatus.PROCESSED
    managed.refresh_from_db()
    assert managed.verified_at is not None
    assert managed.verification_state == ""


def test_legacy_verification_with_another_state_is_invalid_state(managed, transmitter, push):
    token = transmitter.make_set(sub_id=None, events={SSE_VERIFICATION: {"state": "s-2"}})
    assert_error(push(token), "invalid_state")


def test_verification_naming_another_stream_is_refused_and_verifies_nothing(
    managed, transmitter, push, django_capture_on_commit_callbacks
):
    """SSF 1.0 §8.1.4.1: the sub_id is the verified stream's stream_id. The right state under
    another stream's id must not verify this one; the next, right one still does."""
    other = {"format": "opaque", "id": "not-tx-stream-1"}
    token = transmitter.make_set(sub_id=other, events={SSF_VERIFICATION: {"state": "s-1"}})
    assert_error(push(token), "invalid_request", "not-tx-stream-1")
    managed.refresh_from_db()
    assert (managed.verified_at, managed.verification_state) == (None, "s-1")
    ours = {"format": "opaque", "id": "tx-stream-1"}
    token = transmitter.make_set(sub_id=ours, events={SSF_VERIFICATION: {"state": "s-1"}})
    with django_capture_on_commit_callbacks(execute=True):
        response = push(token)
    assert response.status_code == 202
    managed.refresh_from_db()
    assert managed.verified_at is not None


def test_stream_updated_naming_another_stream_is_refused(managed, transmitter, push):
    stream_updated = "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
    token = transmitter.make_set(sub_id={"format": "opaque", "id": "elsewhere"},
                                 events={stream_updated: {"status": "disabled"}})  # fmt: skip
    assert_error(push(token), "invalid_request", "elsewhere")


# --- issue 11.12: the event type stored is the one processed ------------------------------------


def test_stored_event_type_is_the_event_processed_not_the_first_key(
    stream, make_set, push, django_capture_on_commit_callbacks
):
    """SSF 1.0 §4.2.1: several keys are alternative URIs of one event; the first we read wins."""
    events = {
        "https://vendor.example/event-type/session-ended": {"note": "vendor's own URI first"},
        keys.SESSION_REVOKED: {"event_timestamp": 1_700_000_000},
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert push(make_set(events=events)).status_code == 202
    event = SecurityEvent.objects.get()
    assert event.event_type == keys.SESSION_REVOKED
    log = LogEvent.objects.get(event_type=RECEIVE_EVENT)
    assert log.debug_data["partnerRiskReportData"]["eventType"] == event.event_type


def test_every_event_type_read_has_a_risk_rule():
    """The event types ingest chooses from are exactly the ones processing has rules for."""
    assert set(RULES) == EVENT_TYPES_READ
