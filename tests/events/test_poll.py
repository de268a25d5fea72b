"""RFC 8936 poll delivery against the shipped transmitter: the same answers as a push, as
`ack` or `setErrs` (RFC 8936 §2.4.4), for the SETs the push tests exercise."""

import time
import uuid

import pytest
from django.conf import settings

from events.models import SecurityEvent
from events.poll import stream_poll
from streams.models import DeliveryMethod, Stream, StreamManagement
from streams.transmitter.state import SignedSet
from streams.vocabulary import SSF_VERIFICATION
from tests import keys
from tests.streams.test_management import managed, start_transmitter

pytestmark = pytest.mark.django_db


@pytest.fixture
def tx(settings):
    transmitter = start_transmitter(settings)
    yield transmitter
    transmitter.stop()


@pytest.fixture
def poll_stream(tx, django_capture_on_commit_callbacks):
    """A poll stream created at the transmitter, its first verification SET polled (so this
    process holds the stream in its cache, as a busy worker does)."""
    with django_capture_on_commit_callbacks(execute=True):
        stream = managed(tx, method=DeliveryMethod.POLL)
    assert stream_poll(stream=stream).acknowledged == 1
    return Stream.objects.get()


def enqueue(tx, events: dict, *, key=None, sub_id=None) -> str:
    """Queue a SET for the next poll, signed by the transmitter (or `key`) as given."""
    claims = {"iss": tx.issuer, "aud": settings.RECEIVER_AUDIENCE, "iat": int(time.time()),
              "jti": uuid.uuid4().hex, "events": events}  # fmt: skip
    if sub_id is not None:
        claims["sub_id"] = sub_id
    token = keys.sign(claims, key) if key is not None else tx.keys.sign(claims)
    with tx.state.cond:
        tx.state.stream.queue[claims["jti"]] = SignedSet(claims["jti"], next(iter(events)), token)
    return claims["jti"]


def test_polled_unknown_kid_sets_are_each_reported_invalid_key(tx, poll_stream):
    retired = keys.generate_rsa("retired-1")
    jtis = [enqueue(tx, {keys.SESSION_REVOKED: {}}, key=retired, sub_id={"format": "email",
            "email": "a@example.com"}) for _ in range(5)]  # fmt: skip
    outcome = stream_poll(stream=poll_stream)
    assert (outcome.received, outcome.acknowledged, outcome.refused) == (5, 0, 5)
    assert {tx.poll_errors[jti]["err"] for jti in jtis} == {"invalid_key"}
    assert not tx.state.stream.queue  # answered, so not delivered again


@pytest.mark.parametrize(
    "uri",
    [
        "https://schemas.openid.net/secevent/sse/event-type/verification",
        "https://schemas.openid.net/secevent/risc/event-type/verification",
    ],
)
def test_polled_legacy_verification_verifies_the_stream(
    tx, poll_stream, uri, django_capture_on_commit_callbacks
):
    StreamManagement.objects.update(verified_at=None, verification_state="s-legacy")
    jti = enqueue(tx, {uri: {"state": "s-legacy"}})
    with django_capture_on_commit_callbacks(execute=True):  # processed, as by the worker
        assert stream_poll(stream=poll_stream).acknowledged == 1
    assert SecurityEvent.objects.get(jti=jti).event_type == SSF_VERIFICATION
    assert StreamManagement.objects.get().verified_at is not None


def test_polled_verification_naming_another_stream_is_reported_and_verifies_nothing(
    tx, poll_stream
):
    StreamManagement.objects.update(verified_at=None, verification_state="s-2")
    other = {"format": "opaque", "id": "not-" + tx.stream["stream_id"]}
    jti = enqueue(tx, {SSF_VERIFICATION: {"state": "s-2"}}, sub_id=other)
    outcome = stream_poll(stream=poll_stream)
    assert (outcome.acknowledged, outcome.refused) == (0, 1)
    assert tx.poll_errors[jti]["err"] == "invalid_request"
    assert StreamManagement.objects.get().verified_at is None
