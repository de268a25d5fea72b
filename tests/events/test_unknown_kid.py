"""Unknown `kid`s at the push endpoint: 400 invalid_key once a fresh JWKS fetch lacks the kid
(RFC 8935 §2.3), a 503 only for a kid no fetch has been allowed to look for yet.

The conformance suite's invalid-set-rejection module pushes a SET signed with a key absent from
the JWKS one second after others, and fails on a 503; a transmitter signing with a retired key
sends bursts. The stream is first read into the per-process cache by a good SET, as in
production, where refusals decided on the cached copy are checked again on a fresh one.
"""

import datetime as dt
import json

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from events.models import SecurityEvent
from tests import keys
from tests.events.test_push import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def retired_key():
    return keys.generate_rsa("retired-1")


@pytest.fixture
def cached_stream(stream, transmitter, push):
    """The stream as a busy process holds it: cached by a good SET a moment ago."""
    assert push(transmitter.make_set()).status_code == 202
    SecurityEvent.objects.all().delete()
    return stream


def jwks_fetches(transmitter) -> int:
    return len(transmitter.server.requests_to("/jwks.json"))


def test_unknown_kid_burst_is_each_invalid_key_after_one_fetch(
    cached_stream, transmitter, retired_key, push
):
    before = jwks_fetches(transmitter)
    for _ in range(5):
        assert_error(push(transmitter.make_set(key=retired_key)), "invalid_key", "retired-1")
    assert jwks_fetches(transmitter) == before + 1


def test_unknown_kid_stays_invalid_key_across_the_refetch_interval(
    cached_stream, transmitter, retired_key, push
):
    """One SET every 10 s for a minute and a half: every answer a 400, one fetch per interval
    (at 0 s, then 40 s and 80 s: the first times the 30 s interval has passed)."""
    assert settings.JWKS_REFETCH_MIN_INTERVAL_SECONDS == 30
    before = jwks_fetches(transmitter)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(10):
            assert_error(push(transmitter.make_set(key=retired_key)), "invalid_key")
            clock.shift(dt.timedelta(seconds=10))
    assert jwks_fetches(transmitter) - before == 3


def test_rotated_in_kid_is_accepted_once_a_fetch_may_look_for_it(
    cached_stream, transmitter, retired_key, rotated_rsa_key, push
):
    """A retired kid used the refetch; a new kid that no fetch has looked for yet is told to
    retry (503), and its retry after the interval is fetched for and accepted."""
    assert_error(push(transmitter.make_set(key=retired_key)), "invalid_key")
    transmitter.publish_jwks(transmitter.key, rotated_rsa_key)
    token = transmitter.make_set(key=rotated_rsa_key)
    response = push(token)
    assert response.status_code == 503
    assert int(response["Retry-After"]) == settings.JWKS_REFETCH_MIN_INTERVAL_SECONDS
    assert json.loads(response.content)["description"].startswith("The transmitter's JWKS")
    later = timezone.now() + dt.timedelta(seconds=settings.JWKS_REFETCH_MIN_INTERVAL_SECONDS + 1)
    with time_machine.travel(later):
        assert_error(push(transmitter.make_set(key=retired_key)), "invalid_key")
        assert push(token).status_code == 202
    assert SecurityEvent.objects.get().kid == "rsa-2"
