"""The test transmitter's dialects: what solarssk, authentik and Duo's example put on the wire
(protocol.md §12), and its token endpoint restricted to one client authentication.

No database: LocalHTTPServer plays the receiver's push endpoint.
"""

import pytest
import requests

from streams.transmitter.dialects import AUTHENTIK, DUO_2021, SOLARSSK
from streams.transmitter.events import SSE_VERIFICATION, VERIFICATION
from streams.transmitter.state import RISC_POLL, RISC_PUSH
from streams.vocabulary import CAEP
from tests.transmitter.wire import (
    AUDIENCE,
    PUSH,
    api,
    client_token,
    decode,
    event_of,
    metadata,
    pushed,
    wait_for,
)

SESSION_REVOKED = CAEP + "session-revoked"
RISK_LEVEL_CHANGE = CAEP + "risk-level-change"


def push_delivery(receiver, method=PUSH) -> dict:
    return {"method": method, "endpoint_url": receiver.url("/push"), "authorization_header": "B x"}


def create(tx, **body) -> requests.Response:
    return api(tx, "POST", "configuration_endpoint", json=body)


def test_solarssk_refuses_description_and_a_missing_aud_in_one_422(make_tx, receiver):
    tx = make_tx(dialect=SOLARSSK)
    answer = create(tx, delivery=push_delivery(receiver), description="Acme",
                    events_requested=[SESSION_REVOKED])  # fmt: skip
    assert answer.status_code == 422
    problems = {(e["type"], tuple(e["loc"])) for e in answer.json()["detail"]}
    assert problems == {("missing", ("body", "aud")), ("extra_forbidden", ("body", "description"))}
    assert tx.stream is None


def test_solarssk_refuses_unknown_event_types_naming_the_supported_ones(make_tx, receiver):
    tx = make_tx(dialect=SOLARSSK)
    answer = create(tx, aud=AUDIENCE, delivery=push_delivery(receiver),
                    events_requested=[SESSION_REVOKED, RISK_LEVEL_CHANGE])  # fmt: skip
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "events_requested"]
    assert error["input"] == [SESSION_REVOKED, RISK_LEVEL_CHANGE]
    assert f"Unsupported event URI(s): ['{RISK_LEVEL_CHANGE}']" in error["msg"]
    assert "Supported: [" in error["msg"]


def test_solarssk_verifies_before_answering_and_answers_without_iss(make_tx, receiver):
    tx = make_tx(dialect=SOLARSSK)
    answer = create(tx, aud=[AUDIENCE], delivery=push_delivery(receiver),
                    events_requested=[SESSION_REVOKED])  # fmt: skip
    assert answer.status_code == 201
    config = answer.json()
    assert "iss" not in config
    assert config["delivery"]["method"] == RISC_PUSH  # whatever it was asked for
    (token,) = pushed(receiver)  # before the answer came
    header, claims = decode(tx, token)
    assert header["typ"] == "secevent+jwt"
    assert claims["sub_id"] == {"format": "opaque", "id": config["stream_id"]}
    assert event_of(claims) == (VERIFICATION, {})
    assert receiver.requests_to("/push")[0].headers["Authorization"] == "B x"


def test_solarssk_undoes_the_stream_when_its_verification_is_not_accepted(make_tx, receiver):
    receiver.route("POST", "/push", status=400, json_body={"err": "invalid_issuer"})
    tx = make_tx(dialect=SOLARSSK)
    answer = create(tx, aud=AUDIENCE, delivery=push_delivery(receiver))
    assert answer.status_code == 502
    assert answer.json() == {
        "detail": "Verification SET delivery failed; stream registration was not confirmed."
    }
    assert tx.stream is None


def test_authentik_names_its_configuration_url_as_issuer_and_offers_legacy_push(make_tx):
    tx = make_tx(dialect=AUTHENTIK, issuer_path="/application/ssf/acme")
    meta = metadata(tx)
    assert meta["issuer"] == tx.issuer == tx.well_known_url
    assert tx.well_known_url.endswith("/.well-known/ssf-configuration/application/ssf/acme")
    assert meta["spec_version"] == "1_0-ID2"
    assert meta["delivery_methods_supported"] == [RISC_PUSH]
    assert "verification_endpoint" not in meta
    assert "status_endpoint" not in meta


def test_authentik_wants_aud_and_format_and_only_its_event_types(make_tx, receiver):
    tx = make_tx(dialect=AUTHENTIK)
    answer = create(tx, delivery=push_delivery(receiver, RISC_PUSH),
                    events_requested=[SESSION_REVOKED, RISK_LEVEL_CHANGE])  # fmt: skip
    assert answer.status_code == 400
    assert answer.json() == {
        "aud": ["This field is required."],
        "format": ["This field is required."],
        "events_requested": {"1": [f'"{RISK_LEVEL_CHANGE}" is not a valid choice.']},
    }
    standard = create(tx, aud=[AUDIENCE], format="email", delivery=push_delivery(receiver))
    assert standard.json() == {"delivery": {"method": [f'"{PUSH}" is not a valid choice.']}}


def test_authentik_pushes_a_jwt_typed_verification_during_the_create(make_tx, receiver):
    tx = make_tx(dialect=AUTHENTIK)
    answer = create(tx, aud=[AUDIENCE], format="email", description="ignored",
                    delivery=push_delivery(receiver, RISC_PUSH))  # fmt: skip
    assert answer.status_code == 201
    assert answer.json()["iss"] == tx.well_known_url
    (token,) = pushed(receiver)
    header, claims = decode(tx, token)
    assert header["typ"] == "JWT"
    assert claims["iss"] == tx.well_known_url
    assert claims["sub_id"]["format"] == "opaque"


def test_authentik_keeps_the_stream_even_when_the_push_is_refused(make_tx, receiver):
    receiver.route("POST", "/push", status=400)
    tx = make_tx(dialect=AUTHENTIK)
    answer = create(tx, aud=[AUDIENCE], format="email", delivery=push_delivery(receiver, RISC_PUSH))
    assert answer.status_code == 201
    assert tx.stream is not None


def test_duo_fixed_issuer_single_stream_without_stream_id(make_tx, receiver):
    tx = make_tx(dialect=DUO_2021)
    assert tx.well_known_url == f"{tx.url}/.well-known/sse-configuration"
    meta = metadata(tx)
    assert meta["issuer"] == "https://most-secure.com/"
    assert meta["delivery_methods_supported"] == [RISC_PUSH, RISC_POLL]
    assert "spec_version" not in meta
    answer = create(tx, delivery=push_delivery(receiver, RISC_PUSH), events_requested=[])
    assert answer.status_code == 200
    assert "stream_id" not in answer.json()
    read = api(tx, "GET", "configuration_endpoint")
    assert read.status_code == 200
    assert "stream_id" not in read.json()
    assert read.json()["delivery"]["method"] == RISC_PUSH
    assert api(tx, "GET", "status_endpoint").json()["status"] == "enabled"


def test_duo_verification_carries_state_under_the_sse_uri_and_no_subject(make_tx, receiver):
    tx = make_tx(dialect=DUO_2021)
    create(tx, delivery=push_delivery(receiver, RISC_PUSH))
    assert api(tx, "POST", "verification_endpoint", json={"state": "s-1"}).status_code == 204
    (token,) = wait_for(lambda: pushed(receiver))
    header, claims = decode(tx, token)
    assert header["alg"] == "ES256"
    assert claims["iss"] == "https://most-secure.com/"
    assert "sub_id" not in claims
    assert event_of(claims) == (SSE_VERIFICATION, {"state": "s-1"})


@pytest.mark.parametrize("only", ["client_secret_basic", "client_secret_post"])
def test_token_endpoint_limited_to_one_client_authentication(make_tx, only):
    tx = make_tx(static_token=None, client_id="rp", client_secret="s3",
                 token_auth_methods=(only,))  # fmt: skip
    basic = client_token(tx, basic=("rp", "s3"))
    post = client_token(tx, client_id="rp", client_secret="s3")
    statuses = {"client_secret_basic": basic.status_code, "client_secret_post": post.status_code}
    assert statuses == {m: 200 if m == only else 401 for m in statuses}
