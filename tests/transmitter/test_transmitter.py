"""The bundled SSF test transmitter, exercised over HTTP as a receiver would use it.

No database: LocalHTTPServer plays the receiver's push endpoint where one is needed.
"""

import base64
import json
import subprocess
import sys
import threading
import time

import pytest
import requests
from jwcrypto.common import JWKeyNotFound
from jwcrypto.jwk import JWKSet
from jwcrypto.jws import JWS

from streams.transmitter import EVENT_TYPES, NoStreamError
from streams.vocabulary import CAEP, OKTA, RISC, SSF
from tests.processes import ROOT
from tests.transmitter.wire import (
    ALL_EVENTS,
    AUDIENCE,
    POLL,
    PUSH,
    TOKEN,
    api,
    client_token,
    create_push_stream,
    create_stream,
    decode,
    event_of,
    metadata,
    poll,
    pushed,
    wait_for,
)

SESSION_REVOKED = CAEP + "session-revoked"
ALICE = {"format": "email", "email": "alice@example.com"}
BOB = {"format": "email", "email": "bob@example.com"}

# Required fields per event type, by family, from the specs (protocol.md §1.9, §6, §7, §8.3), not
# from the catalogue: every type the receiver must understand, and what a well-formed SET carries.
REQUIRED_FIELDS_BY_FAMILY = {
    SSF: {"verification": [], "stream-updated": ["status"]},
    CAEP: {
        "session-revoked": ["event_timestamp", "reason_admin"],
        "token-claims-change": ["event_timestamp", "claims"],
        "credential-change": ["event_timestamp", "credential_type", "change_type", "reason_admin"],
        "assurance-level-change": ["event_timestamp", "namespace", "current_level"],
        "device-compliance-change": ["event_timestamp", "previous_status", "current_status"],
        "session-established": ["event_timestamp"],
        "session-presented": ["event_timestamp"],
        "risk-level-change": ["event_timestamp", "principal", "current_level", "risk_reason"],
    },
    RISC: {
        "account-credential-change-required": [],
        "account-purged": [],
        "account-disabled": [],
        "account-enabled": [],
        "identifier-changed": [],
        "identifier-recycled": [],
        "credential-compromise": ["credential_type"],
        "opt-in": [],
        "opt-out-initiated": [],
        "opt-out-cancelled": [],
        "opt-out-effective": [],
        "recovery-activated": [],
        "recovery-information-changed": [],
        "sessions-revoked": [],
    },
    OKTA: {
        "user-risk-change": ["event_timestamp", "current_level", "previous_level", "reason_admin"],
        "device-risk-change": [
            "event_timestamp",
            "current_level",
            "previous_level",
            "reason_admin",
        ],
        "ip-change": [
            "event_timestamp",
            "current_ip_address",
            "previous_ip_address",
            "reason_admin",
        ],
    },
}
REQUIRED_FIELDS = {
    name: (family + name, required)
    for family, events in REQUIRED_FIELDS_BY_FAMILY.items()
    for name, required in events.items()
}


# Metadata and keys.


def test_metadata_advertises_ssf_1_0_endpoints_and_schemes(tx):
    response = requests.get(tx.well_known_url, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    meta = response.json()
    assert meta["spec_version"] == "1_0"
    assert meta["issuer"] == tx.issuer == tx.url
    assert meta["delivery_methods_supported"] == [PUSH, POLL]
    assert meta["authorization_schemes"] == [{"spec_urn": "urn:ietf:rfc:6749"}]
    assert meta["default_subjects"] == "ALL"
    for name in (
        "jwks_uri",
        "configuration_endpoint",
        "status_endpoint",
        "add_subject_endpoint",
        "remove_subject_endpoint",
        "verification_endpoint",
        "token_endpoint",
    ):
        assert meta[name].startswith(tx.issuer + "/")


def test_well_known_is_inserted_before_the_issuer_path(make_tx):
    tx = make_tx(issuer_path="/t1")
    assert tx.issuer == f"{tx.url}/t1"
    assert tx.well_known_url == f"{tx.url}/.well-known/ssf-configuration/t1"
    assert metadata(tx)["issuer"] == tx.issuer
    assert metadata(tx)["configuration_endpoint"] == f"{tx.url}/t1/ssf/stream"
    assert requests.get(f"{tx.url}/.well-known/ssf-configuration", timeout=5).status_code == 404


def test_trailing_slash_issuer_is_in_metadata_stream_and_sets(make_tx, receiver):
    tx = make_tx(issuer_path="t1", trailing_slash_issuer=True)
    assert tx.issuer == f"{tx.url}/t1/"
    assert tx.well_known_url == f"{tx.url}/.well-known/ssf-configuration/t1"
    assert metadata(tx)["issuer"] == tx.issuer
    assert create_push_stream(tx, receiver)["iss"] == tx.issuer
    tx.send("session-revoked")
    assert decode(tx, pushed(receiver)[0])[1]["iss"] == tx.issuer


def test_jwks_has_an_rsa_and_an_ec_signing_key(tx):
    keys = requests.get(metadata(tx)["jwks_uri"], timeout=5).json()["keys"]
    assert {(k["kty"], k["alg"], k["use"]) for k in keys} == {
        ("RSA", "RS256", "sig"),
        ("EC", "ES256", "sig"),
    }
    assert all(k["kid"] and "d" not in k for k in keys)
    rsa = next(k for k in keys if k["kty"] == "RSA")
    assert len(base64.urlsafe_b64decode(rsa["n"] + "==")) * 8 == 2048


def test_rotated_keys_have_new_kids_and_old_jwks_no_longer_verifies(tx, receiver):
    create_push_stream(tx, receiver)
    old_jwks = JWKSet.from_json(requests.get(tx.jwks_url, timeout=5).text)
    old_kids = {key["kid"] for key in old_jwks.export(as_dict=True, private_keys=False)["keys"]}
    tx.rotate_keys()
    new_kids = {key["kid"] for key in requests.get(tx.jwks_url, timeout=5).json()["keys"]}
    assert not old_kids & new_kids
    tx.send("session-revoked")
    header, _ = decode(tx, pushed(receiver)[0])
    assert header["kid"] in new_kids
    jws = JWS()
    jws.deserialize(pushed(receiver)[0])
    with pytest.raises(JWKeyNotFound):
        jws.verify(old_jwks)


def test_es256_signing_is_a_setting(make_tx, receiver):
    tx = make_tx(signing_alg="ES256")
    create_push_stream(tx, receiver)
    tx.send("session-revoked")
    header, _ = decode(tx, pushed(receiver)[0])
    assert header["alg"] == "ES256"
    assert header["kid"].startswith("ec-")


# Authorization of the management API.


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_management_without_a_valid_token_is_401(tx, token):
    response = api(tx, "GET", "configuration_endpoint", token=token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bearer_token_in_the_query_string_is_not_accepted(tx):
    url = f"{metadata(tx)['configuration_endpoint']}?access_token={TOKEN}"
    assert requests.get(url, timeout=5).status_code == 401


@pytest.mark.parametrize("how", ["basic", "body"])
def test_client_credentials_give_a_short_lived_token_with_both_scopes(make_tx, how):
    tx = make_tx(static_token=None, client_id="rp", client_secret="s3cret:/+")
    assert tx.static_token is None
    if how == "basic":
        response = client_token(tx, basic=("rp", "s3cret:/+"))
    else:
        response = client_token(tx, client_id="rp", client_secret="s3cret:/+")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json()
    assert answer["token_type"] == "Bearer"
    assert answer["scope"] == "ssf.read ssf.manage"
    assert 0 < answer["expires_in"] <= 3600
    assert create_stream(tx, token=answer["access_token"])["stream_id"]


def test_token_endpoint_rejects_bad_clients_grants_and_scopes(make_tx):
    tx = make_tx(client_id="rp", client_secret="s3cret")
    assert client_token(tx, basic=("rp", "nope")).status_code == 401
    assert client_token(tx).json()["error"] == "invalid_client"
    wrong_grant = client_token(tx, basic=("rp", "s3cret"), grant_type="password")
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    bad_scope = client_token(tx, basic=("rp", "s3cret"), scope="admin")
    assert bad_scope.json()["error"] == "invalid_scope"


def test_read_scope_reads_but_cannot_manage(make_tx):
    tx = make_tx(client_id="rp", client_secret="s3cret")
    read_only = client_token(tx, basic=("rp", "s3cret"), scope="ssf.read").json()
    assert read_only["scope"] == "ssf.read"
    assert api(tx, "GET", "configuration_endpoint", token=read_only["access_token"]).json() == []
    denied = api(tx, "POST", "configuration_endpoint", token=read_only["access_token"], json={})
    assert denied.status_code == 403
    assert denied.json()["error"] == "insufficient_scope"


def test_expired_token_is_401(make_tx):
    tx = make_tx(client_id="rp", client_secret="s3cret", token_lifetime=0)
    expired = client_token(tx, basic=("rp", "s3cret")).json()["access_token"]
    assert api(tx, "GET", "configuration_endpoint", token=expired).status_code == 401


def test_without_credentials_a_random_static_token_protects_the_api(make_tx):
    tx = make_tx(static_token=None)
    assert len(tx.static_token) >= 32
    assert api(tx, "GET", "configuration_endpoint").status_code == 401
    assert api(tx, "GET", "configuration_endpoint", token=tx.static_token).status_code == 200


# Stream management.


def test_create_is_201_with_the_full_config_and_a_second_create_is_409(tx, receiver):
    stream = create_push_stream(tx, receiver, events=[SESSION_REVOKED, "urn:example:unknown"])
    assert stream["iss"] == tx.issuer
    assert stream["aud"] == AUDIENCE
    assert stream["events_supported"] == ALL_EVENTS
    assert stream["events_requested"] == [SESSION_REVOKED, "urn:example:unknown"]
    assert stream["events_delivered"] == [SESSION_REVOKED]
    assert stream["delivery"] == {
        "method": PUSH,
        "endpoint_url": receiver.url("/push"),
        "authorization_header": "Bearer rx-1",
    }
    assert stream["min_verification_interval"] == 0
    assert stream["inactivity_timeout"] > 0
    assert tx.stream == stream
    again = api(tx, "POST", "configuration_endpoint", json={"delivery": {"method": POLL}})
    assert again.status_code == 409


def test_create_without_delivery_assumes_poll_with_a_per_stream_endpoint(tx):
    stream = create_stream(tx, description="Acme")
    assert stream["delivery"]["method"] == POLL
    assert stream["delivery"]["endpoint_url"].endswith(f"/ssf/poll/{stream['stream_id']}")
    assert stream["description"] == "Acme"


@pytest.mark.parametrize(
    "body",
    [
        {"json": {"delivery": {"method": "https://schemas.openid.net/secevent/risc/push"}}},
        {"json": {"delivery": {"method": PUSH}}},
        {"json": {"events_requested": "not-a-list"}},
        {"data": "{not json"},
    ],
)
def test_create_with_an_unusable_body_is_400(tx, body):
    assert api(tx, "POST", "configuration_endpoint", **body).status_code == 400


def test_read_one_read_all_update_replace_and_delete(tx, receiver):
    stream = create_push_stream(tx, receiver)
    stream_id = stream["stream_id"]
    one = api(tx, "GET", "configuration_endpoint", params={"stream_id": stream_id})
    assert one.status_code == 200
    assert one.headers["Cache-Control"] == "no-store"
    assert one.json() == stream
    assert api(tx, "GET", "configuration_endpoint").json() == [stream]

    patched = api(
        tx,
        "PATCH",
        "configuration_endpoint",
        json={
            "stream_id": stream_id,
            "description": "new name",
            "iss": tx.issuer,
            "events_requested": [SESSION_REVOKED],
        },
    )
    assert patched.status_code == 200
    assert patched.json()["description"] == "new name"
    assert patched.json()["events_delivered"] == [SESSION_REVOKED]
    assert patched.json()["delivery"]["method"] == PUSH

    replaced = api(
        tx,
        "PUT",
        "configuration_endpoint",
        json={"stream_id": stream_id, "events_requested": ALL_EVENTS},
    )
    assert replaced.status_code == 200
    assert "description" not in replaced.json()  # missing in a PUT = deleted
    assert replaced.json()["delivery"]["method"] == POLL

    deleted = api(tx, "DELETE", "configuration_endpoint", params={"stream_id": stream_id})
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api(tx, "GET", "configuration_endpoint").json() == []
    assert tx.stream is None
    assert create_stream(tx)["stream_id"] != stream_id


def test_update_may_not_change_transmitter_supplied_properties(tx):
    stream = create_stream(tx)
    for name, value in [
        ("aud", "https://other.example"),
        ("iss", "https://evil.example"),
        ("events_delivered", ALL_EVENTS),
    ]:
        body = {"stream_id": stream["stream_id"], name: value}
        assert api(tx, "PATCH", "configuration_endpoint", json=body).status_code == 400


def test_unknown_stream_is_404_everywhere(tx):
    create_stream(tx)
    unknown = {"stream_id": "nope"}
    assert api(tx, "GET", "configuration_endpoint", params=unknown).status_code == 404
    assert api(tx, "PATCH", "configuration_endpoint", json=unknown).status_code == 404
    assert api(tx, "DELETE", "configuration_endpoint", params=unknown).status_code == 404
    assert api(tx, "GET", "status_endpoint", params=unknown).status_code == 404
    assert api(tx, "POST", "verification_endpoint", json=unknown).status_code == 404
    add = api(tx, "POST", "add_subject_endpoint", json=unknown | {"subject": BOB})
    assert add.status_code == 404


# Status.


def test_status_get_and_set(tx):
    stream_id = create_stream(tx)["stream_id"]
    assert api(tx, "GET", "status_endpoint", params={"stream_id": stream_id}).json() == {
        "stream_id": stream_id,
        "status": "enabled",
    }
    body = {"stream_id": stream_id, "status": "paused", "reason": "maintenance"}
    changed = api(tx, "POST", "status_endpoint", json=body)
    assert (changed.status_code, changed.json()) == (200, body)
    assert api(tx, "GET", "status_endpoint", params={"stream_id": stream_id}).json() == body
    bad = api(tx, "POST", "status_endpoint", json=body | {"status": "asleep"})
    assert bad.status_code == 400


def test_paused_holds_events_and_enabling_delivers_them_in_order(tx, receiver):
    stream_id = create_push_stream(tx, receiver)["stream_id"]
    api(tx, "POST", "status_endpoint", json={"stream_id": stream_id, "status": "paused"})
    held = [tx.send("session-revoked"), tx.send("credential-change")]
    assert pushed(receiver) == []
    api(tx, "POST", "status_endpoint", json={"stream_id": stream_id, "status": "enabled"})
    wait_for(lambda: len(pushed(receiver)) == 2)
    assert [decode(tx, s)[1]["jti"] for s in pushed(receiver)] == held


def test_disabled_drops_events(tx, receiver):
    stream_id = create_push_stream(tx, receiver)["stream_id"]
    api(tx, "POST", "status_endpoint", json={"stream_id": stream_id, "status": "paused"})
    tx.send("session-revoked")
    api(tx, "POST", "status_endpoint", json={"stream_id": stream_id, "status": "disabled"})
    tx.send("session-revoked")
    api(tx, "POST", "status_endpoint", json={"stream_id": stream_id, "status": "enabled"})
    time.sleep(0.2)
    assert pushed(receiver) == []


def test_transmitter_initiated_status_change_sends_stream_updated(tx, receiver):
    stream_id = create_push_stream(tx, receiver)["stream_id"]
    tx.set_status_by_transmitter("paused", "planned maintenance")
    tx.send("session-revoked")  # held
    tx.set_status_by_transmitter("enabled")
    events = [event_of(decode(tx, s)[1]) for s in pushed(receiver)]
    updated = SSF + "stream-updated"
    assert events[0] == (updated, {"status": "paused", "reason": "planned maintenance"})
    assert events[1] == (updated, {"status": "enabled"})
    assert events[2][0] == SESSION_REVOKED
    assert decode(tx, pushed(receiver)[0])[1]["sub_id"] == {"format": "opaque", "id": stream_id}
    status = api(tx, "GET", "status_endpoint", params={"stream_id": stream_id}).json()
    assert status["status"] == "enabled"


def test_sending_without_a_stream_is_an_error(tx):
    with pytest.raises(NoStreamError):
        tx.send("session-revoked")


# Subjects.


def test_default_subjects_none_delivers_only_added_subjects(make_tx, receiver):
    tx = make_tx(default_subjects="NONE")
    assert metadata(tx)["default_subjects"] == "NONE"
    stream_id = create_push_stream(tx, receiver)["stream_id"]
    added = api(tx, "POST", "add_subject_endpoint", json={"stream_id": stream_id, "subject": BOB})
    assert (added.status_code, added.content) == (200, b"")
    assert tx.subjects == [BOB]
    tx.send("session-revoked", "alice@example.com")
    bob_jti = tx.send("session-revoked", "bob@example.com")
    assert [decode(tx, s)[1]["jti"] for s in pushed(receiver)] == [bob_jti]

    removed = api(
        tx, "POST", "remove_subject_endpoint", json={"stream_id": stream_id, "subject": BOB}
    )
    assert removed.status_code == 204
    assert tx.subjects == []
    tx.send("session-revoked", "bob@example.com")
    assert len(pushed(receiver)) == 1
    forced = tx.send("session-revoked", "bob@example.com", force=True)
    assert decode(tx, pushed(receiver)[-1])[1]["jti"] == forced


def test_removed_subject_is_dropped_with_default_subjects_all(tx, receiver):
    stream_id = create_push_stream(tx, receiver)["stream_id"]
    api(tx, "POST", "remove_subject_endpoint", json={"stream_id": stream_id, "subject": ALICE})
    tx.send("session-revoked", "alice@example.com")
    tx.send("session-revoked", "bob@example.com")
    assert [decode(tx, s)[1]["sub_id"] for s in pushed(receiver)] == [BOB]


def test_complex_subjects_match_member_by_member(make_tx, receiver):
    tx = make_tx(default_subjects="NONE")
    stream_id = create_push_stream(tx, receiver)["stream_id"]
    api(
        tx,
        "POST",
        "add_subject_endpoint",
        json={"stream_id": stream_id, "subject": {"format": "complex", "user": BOB}},
    )
    device = {"format": "opaque", "id": "laptop-7"}
    tx.send("session-revoked", {"format": "complex", "user": BOB, "device": device})
    tx.send("session-revoked", {"format": "complex", "user": ALICE, "device": device})
    assert [decode(tx, s)[1]["sub_id"]["user"] for s in pushed(receiver)] == [BOB]


def test_events_not_requested_are_not_delivered(tx, receiver):
    create_push_stream(tx, receiver, events=[SESSION_REVOKED])
    tx.send("credential-change")
    tx.send("verification")  # about the stream itself: always delivered
    uris = [event_of(decode(tx, s)[1])[0] for s in pushed(receiver)]
    assert uris == [SSF + "verification"]


def test_subject_without_format_is_400(tx):
    stream_id = create_stream(tx)["stream_id"]
    body = {"stream_id": stream_id, "subject": {"email": "bob@example.com"}}
    assert api(tx, "POST", "add_subject_endpoint", json=body).status_code == 400


# Verification and push.


def test_verification_is_204_then_a_set_with_the_state_and_the_header_verbatim(tx, receiver):
    stream_id = create_push_stream(tx, receiver, authorization="Bearer opaque-rx-value")[
        "stream_id"
    ]
    response = api(
        tx, "POST", "verification_endpoint", json={"stream_id": stream_id, "state": "st-42"}
    )
    assert (response.status_code, response.content) == (204, b"")
    wait_for(lambda: pushed(receiver))
    request = receiver.requests_to("/push")[0]
    assert request.headers["Authorization"] == "Bearer opaque-rx-value"
    assert request.headers["Content-Type"] == "application/secevent+jwt"
    assert request.headers["Accept"] == "application/json"
    header, claims = decode(tx, request.body.decode())
    assert header["typ"] == "secevent+jwt"
    assert event_of(claims) == (SSF + "verification", {"state": "st-42"})
    assert claims["sub_id"] == {"format": "opaque", "id": stream_id}
    assert tx.sent_verification_states == ["st-42"]
    wait_for(lambda: tx.push_results)
    assert tx.push_results[0].status == 202


def test_verification_more_often_than_min_interval_is_429(make_tx, receiver):
    tx = make_tx(min_verification_interval=30)
    stream = create_push_stream(tx, receiver)
    assert stream["min_verification_interval"] == 30
    body = {"stream_id": stream["stream_id"]}
    assert api(tx, "POST", "verification_endpoint", json=body).status_code == 204
    too_soon = api(tx, "POST", "verification_endpoint", json=body)
    assert too_soon.status_code == 429
    assert 0 < int(too_soon.headers["Retry-After"]) <= 30


def test_unsolicited_verification_has_no_state_and_no_header_unless_configured(tx, receiver):
    create_push_stream(tx, receiver, authorization=None)
    tx.send_verification()
    request = receiver.requests_to("/push")[0]
    assert "Authorization" not in request.headers
    assert event_of(decode(tx, request.body.decode())[1]) == (SSF + "verification", {})
    assert tx.sent_verification_states == [None]


def test_push_results_record_the_receivers_answer_or_failure(tx, receiver):
    create_push_stream(tx, receiver)
    receiver.route("POST", "/push", status=400, json_body={"err": "invalid_audience"})
    jti = tx.send("session-revoked")
    result = tx.push_results[-1]
    assert (result.jti, result.event_type, result.status) == (jti, SESSION_REVOKED, 400)
    assert json.loads(result.body) == {"err": "invalid_audience"}
    receiver.stop()
    tx.send("session-revoked")
    assert tx.push_results[-1].status is None
    assert tx.push_results[-1].error


# Poll.


def test_poll_returns_queued_sets_and_acked_ones_are_dropped(tx):
    stream = create_stream(tx, events_requested=ALL_EVENTS)
    jtis = [tx.send("session-revoked"), tx.send("credential-change")]
    first = poll(stream, returnImmediately=True)
    assert first.status_code == 200
    assert first.json()["moreAvailable"] is False
    sets = first.json()["sets"]
    assert list(sets) == jtis
    assert decode(tx, sets[jtis[0]])[1]["jti"] == jtis[0]
    again = poll(stream, returnImmediately=True, ack=jtis).json()
    assert again == {"sets": {}, "moreAvailable": False}


def test_unacked_sets_are_redelivered(tx):
    stream = create_stream(tx, events_requested=ALL_EVENTS)
    jti = tx.send("session-revoked")
    assert list(poll(stream, returnImmediately=True).json()["sets"]) == [jti]
    assert list(poll(stream, returnImmediately=True).json()["sets"]) == [jti]


def test_max_events_limits_the_batch_and_sets_more_available(tx):
    stream = create_stream(tx, events_requested=ALL_EVENTS)
    jtis = [tx.send("session-revoked") for _ in range(3)]
    first = poll(stream, maxEvents=2, returnImmediately=True).json()
    assert (list(first["sets"]), first["moreAvailable"]) == (jtis[:2], True)
    ack_only = poll(stream, maxEvents=0, returnImmediately=True, ack=jtis[:2]).json()
    assert ack_only == {"sets": {}, "moreAvailable": True}
    last = poll(stream, maxEvents=2, returnImmediately=True).json()
    assert (list(last["sets"]), last["moreAvailable"]) == (jtis[2:], False)


def test_set_errs_are_recorded_and_release_the_set(tx):
    stream = create_stream(tx, events_requested=ALL_EVENTS)
    jti = tx.send("session-revoked")
    error = {"err": "invalid_audience", "description": "not ours"}
    answer = poll(stream, returnImmediately=True, setErrs={jti: error}).json()
    assert answer["sets"] == {}
    assert tx.poll_errors == {jti: error}


def test_long_poll_waits_briefly_and_returns_as_soon_as_a_set_arrives(make_tx):
    tx = make_tx(long_poll_timeout=2.0)
    stream = create_stream(tx, events_requested=ALL_EVENTS)
    started = time.monotonic()
    sender = threading.Timer(0.3, tx.send, args=["session-revoked"])
    sender.start()
    answer = poll(stream).json()
    assert len(answer["sets"]) == 1
    assert 0.2 < time.monotonic() - started < 1.9


def test_long_poll_with_nothing_to_send_ends_at_the_cap(tx):
    stream = create_stream(tx)
    started = time.monotonic()
    assert poll(stream).json() == {"sets": {}, "moreAvailable": False}
    assert time.monotonic() - started >= 0.3


def test_poll_needs_auth_and_a_valid_body(tx):
    stream = create_stream(tx)
    assert poll(stream, token="wrong").status_code == 401
    assert poll(stream, maxEvents=-1).status_code == 400
    assert poll(stream, ack="jti").status_code == 400


def test_paused_poll_stream_holds_then_queues(tx):
    stream = create_stream(tx, events_requested=ALL_EVENTS)
    tx.set_status_by_transmitter("paused")
    jti = tx.send("session-revoked")
    sets = poll(stream, returnImmediately=True).json()["sets"]
    assert [event_of(decode(tx, s)[1])[0] for s in sets.values()] == [SSF + "stream-updated"]
    tx.set_status_by_transmitter("enabled")
    assert jti in poll(stream, returnImmediately=True, ack=list(sets)).json()["sets"]


# The event catalogue.


def test_catalogue_has_every_event_type_of_the_protocol_reference():
    assert {name: event.uri for name, event in EVENT_TYPES.items()} == {
        name: uri for name, (uri, _) in REQUIRED_FIELDS.items()
    }


@pytest.mark.parametrize("name", list(REQUIRED_FIELDS))
def test_every_catalogue_event_builds_a_verifiable_ssf_set(tx, receiver, name):
    stream = create_push_stream(tx, receiver)
    tx.send(name)
    header, claims = decode(tx, pushed(receiver)[0])
    assert header["typ"] == "secevent+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"].startswith("rsa-")
    assert claims["iss"] == tx.issuer
    assert claims["aud"] == AUDIENCE
    assert abs(claims["iat"] - time.time()) < 5
    assert len(claims["jti"]) == 32
    assert isinstance(claims["txn"], str)
    assert "sub" not in claims
    assert "exp" not in claims
    uri, body = event_of(claims)
    expected_uri, required = REQUIRED_FIELDS[name]
    assert uri == expected_uri
    assert set(required) <= set(body)
    assert "subject" not in body
    if uri.startswith(SSF):
        assert claims["sub_id"] == {"format": "opaque", "id": stream["stream_id"]}
    else:
        assert claims["sub_id"] == ALICE
    if "event_timestamp" in body:
        assert isinstance(body["event_timestamp"], int)


def test_defaults_match_the_specs_vocabulary(tx, receiver):
    create_push_stream(tx, receiver)
    for name in ("credential-change", "risk-level-change", "user-risk-change"):
        tx.send(name)
    bodies = [event_of(decode(tx, s)[1])[1] for s in pushed(receiver)]
    assert (bodies[0]["credential_type"], bodies[0]["change_type"]) == ("password", "update")
    assert (bodies[1]["principal"], bodies[1]["current_level"], bodies[1]["previous_level"]) == (
        "USER",
        "HIGH",
        "LOW",
    )
    assert (bodies[2]["current_level"], bodies[2]["previous_level"]) == ("high", "low")
    assert bodies[2]["reason_admin"]["en"]


def test_fields_subject_and_txn_can_be_overridden(tx, receiver):
    create_push_stream(tx, receiver)
    phone = {"format": "phone_number", "phone_number": "+12065550100"}
    tx.send("credential-change", phone, txn="cause-1", change_type="revoke", reason_admin=None)
    tx.send("session-revoked", "carol@example.com", txn="cause-1")
    first, second = (decode(tx, s)[1] for s in pushed(receiver))
    body = event_of(first)[1]
    assert (body["change_type"], "reason_admin" in body) == ("revoke", False)
    assert first["sub_id"] == phone
    assert second["sub_id"] == {"format": "email", "email": "carol@example.com"}
    assert first["txn"] == second["txn"] == "cause-1"
    assert first["jti"] != second["jti"]


def test_unknown_event_uri_is_sent_as_is_when_forced(tx, receiver):
    create_push_stream(tx, receiver)
    tx.send("https://example.com/event-type/novel", force=True, detail="x")
    assert event_of(decode(tx, pushed(receiver)[0])[1]) == (
        "https://example.com/event-type/novel",
        {"detail": "x"},
    )
    with pytest.raises(ValueError, match="Unknown event type"):
        tx.send("no-such-event")


# Quirks of transmitters in the field.


def test_legacy_dialect_puts_the_subject_in_the_event_and_no_sub_id(tx, receiver):
    create_push_stream(tx, receiver)
    tx.send("session-revoked", "bob@example.com", legacy=True)
    claims = decode(tx, pushed(receiver)[0])[1]
    assert "sub_id" not in claims
    assert event_of(claims)[1]["subject"] == BOB


def test_subject_in_event_keeps_sub_id_too(tx, receiver):
    create_push_stream(tx, receiver)
    tx.send("session-revoked", subject_in_event=True)
    claims = decode(tx, pushed(receiver)[0])[1]
    assert claims["sub_id"] == event_of(claims)[1]["subject"] == ALICE


def test_okta_shape_nests_user_and_device_without_complex_format(tx, receiver):
    create_push_stream(tx, receiver)
    device = {"format": "opaque", "id": "laptop-7"}
    tx.send(
        "device-risk-change", {"format": "complex", "user": BOB, "device": device}, okta_shape=True
    )
    tx.send("user-risk-change", "bob@example.com", okta_shape=True)
    first, second = (decode(tx, s)[1] for s in pushed(receiver))
    assert "sub_id" not in first
    assert event_of(first)[1]["subject"] == {"user": BOB, "device": device}
    assert event_of(second)[1]["subject"] == {"user": BOB}


def test_timestamp_and_reason_quirks(tx, receiver):
    create_push_stream(tx, receiver)
    tx.send("user-risk-change", float_timestamp=True)
    tx.send("session-revoked", ms_timestamp=True)
    tx.send("session-revoked", plain_reasons=True, reason_user={"en": "Signed out", "de": "Ab"})
    floated, millis, plain = (event_of(decode(tx, s)[1])[1] for s in pushed(receiver))
    assert isinstance(floated["event_timestamp"], float)
    assert abs(floated["event_timestamp"] - time.time()) < 5
    assert millis["event_timestamp"] > 10**11
    assert plain["reason_admin"] == "Landspeed policy violation"
    assert plain["reason_user"] == "Signed out"


# Going down, the demo page, the command.


def test_a_stopped_transmitter_refuses_connections_and_restarts_on_the_same_port(tx):
    stream_id = create_stream(tx)["stream_id"]
    url = tx.well_known_url
    tx.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
    tx.start()
    assert tx.well_known_url == url
    assert tx.stream["stream_id"] == stream_id


def test_answer_delay_makes_the_transmitter_slow_enough_to_time_out(tx):
    tx.answer_delay = 1.0
    with pytest.raises(requests.Timeout):
        requests.get(tx.well_known_url, timeout=0.2)


def test_demo_page_lists_the_catalogue_with_send_forms(tx):
    create_stream(tx)
    page = requests.get(f"{tx.issuer}/_demo", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.text.count('<form method="post"') == len(EVENT_TYPES)
    assert EVENT_TYPES["ip-change"].uri in page.text


def test_demo_send_by_json_and_by_form(tx, receiver):
    send_url = f"{tx.issuer}/_demo/send"
    assert requests.post(send_url, json={"event": "session-revoked"}, timeout=5).status_code == 409
    create_push_stream(tx, receiver)
    answer = requests.post(
        send_url,
        timeout=5,
        json={
            "event": "user-risk-change",
            "subject": "bob@example.com",
            "current_level": "medium",
            "okta_shape": True,
        },
    )
    claims = decode(tx, pushed(receiver)[0])[1]
    assert answer.json() == {"jti": claims["jti"]}
    assert event_of(claims)[1]["current_level"] == "medium"
    assert event_of(claims)[1]["subject"] == {"user": BOB}
    form = requests.post(
        send_url,
        data={"event": "account-disabled", "subject": "x@example.com"},
        allow_redirects=False,
        timeout=5,
    )
    assert form.status_code == 303
    assert form.headers["Location"].startswith(f"{tx.issuer}/_demo?sent=")
    assert requests.post(send_url, json={"event": "nope"}, timeout=5).status_code == 400


def test_command_runs_the_transmitter_and_prints_where_it_is():
    command = [
        sys.executable,
        "manage.py",
        "ssf_transmitter",
        "--port",
        "0",
        "--issuer-path",
        "/t1",
        "--static-token",
        "cli-token",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(5)]
        printed = dict(line.split(":", 1) for line in lines)
        well_known = printed["Well-known URL"].strip()
        assert printed["Bearer token"].strip() == "cli-token"
        meta = requests.get(well_known, timeout=5).json()
        assert meta["issuer"] == printed["Issuer"].strip()
        assert meta["issuer"].endswith("/t1")
    finally:
        process.terminate()
        process.wait(timeout=10)
