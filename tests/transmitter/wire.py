"""What the test transmitter's tests send and read: its metadata, API calls, pushed SETs."""

import json
import time

import requests
from jwcrypto.jwk import JWKSet
from jwcrypto.jws import JWS

from streams.transmitter import EVENT_TYPES

AUDIENCE = "http://127.0.0.1:8000"
TOKEN = "static-test-token"
PUSH, POLL = "urn:ietf:rfc:8935", "urn:ietf:rfc:8936"
ALL_EVENTS = [event.uri for event in EVENT_TYPES.values()]


def metadata(tx) -> dict:
    return requests.get(tx.well_known_url, timeout=5).json()


def api(tx, method: str, endpoint: str, *, token: str | None = TOKEN, **kwargs):
    """Call the endpoint the metadata advertises under `endpoint`, with a bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, metadata(tx)[endpoint], headers=headers, timeout=5, **kwargs)


def create_stream(tx, *, token: str = TOKEN, **body) -> dict:
    response = api(tx, "POST", "configuration_endpoint", token=token, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def create_push_stream(tx, receiver, *, events=ALL_EVENTS, authorization="Bearer rx-1") -> dict:
    delivery = {"method": PUSH, "endpoint_url": receiver.url("/push")}
    if authorization is not None:
        delivery["authorization_header"] = authorization
    return create_stream(tx, events_requested=events, delivery=delivery)


def poll(stream: dict, token: str = TOKEN, **body):
    url = stream["delivery"]["endpoint_url"]
    headers = {"Authorization": f"Bearer {token}"}
    return requests.post(url, json=body, headers=headers, timeout=5)


def pushed(receiver) -> list[str]:
    return [request.body.decode() for request in receiver.requests_to("/push", "POST")]


def decode(tx, token: str) -> tuple[dict, dict]:
    """Header and claims of a SET whose signature verifies against the published JWKS."""
    jws = JWS()
    jws.deserialize(token)
    jws.verify(JWKSet.from_json(requests.get(tx.jwks_url, timeout=5).text))
    return jws.jose_header, json.loads(jws.payload)


def event_of(claims: dict) -> tuple[str, dict]:
    ((uri, body),) = claims["events"].items()
    return uri, body


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return result


def client_token(tx, *, basic=None, scope: str | None = None, **form) -> requests.Response:
    """Ask the advertised token endpoint; `basic` is (client_id, secret) for HTTP Basic."""
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {}) | form
    url = metadata(tx)["token_endpoint"]
    return requests.post(url, data=form, auth=basic, timeout=5)
