"""Refused SETs: which are kept for admins, and what an unauthenticated sender is told.

A flood of forged SETs must not crowd out the real transmitter's refusal (issue 11.6), and an
answer must not tell a sender who proved nothing our stream names or fetch details (11.7);
the `err` codes stay RFC 8935's.
"""

import json

import pytest
from django.urls import reverse

from events.models import RejectedSecurityEvent
from streams.services import stream_deactivate, stream_push_secret_rotate
from tests.events.test_push import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def capped(settings):
    settings.REJECTED_SET_MAX_PER_MINUTE = 3


def flood(transmitter, push, forger_key, n: int = 6, **headers) -> None:
    """`n` SETs with the stream's kid but another key's signature: nobody we know sent them."""
    for _ in range(n):
        forged = transmitter.make_set(key=forger_key, header={"kid": "rsa-1"})
        assert push(forged, **headers).status_code == 400


def test_signed_refusal_is_kept_after_a_flood_of_forged_sets(
    stream, transmitter, rotated_rsa_key, push, admin_client, capped
):
    flood(transmitter, push, rotated_rsa_key)
    assert RejectedSecurityEvent.objects.count() == 3  # the cap
    real = transmitter.make_set(aud="https://another-receiver.example", jti="real-1")
    assert_error(push(real), "invalid_audience")  # signature good, audience not ours
    assert RejectedSecurityEvent.objects.filter(jti="real-1").exists()
    page = admin_client.get(reverse("events:stream_events", args=[stream.pk])).content.decode()
    assert 'data-testid="rejections-dropped">3<' in page


def test_refusal_with_the_right_push_secret_is_kept_after_a_flood(
    stream, transmitter, rotated_rsa_key, push, capped
):
    secret = stream_push_secret_rotate(stream=stream)
    flood(transmitter, push, rotated_rsa_key, HTTP_AUTHORIZATION="Bearer forged")
    unsigned = transmitter.make_set(key=rotated_rsa_key, header={"kid": "rsa-1"}, jti="ours-1")
    assert_error(push(unsigned, HTTP_AUTHORIZATION=secret), "invalid_key", "signature")
    assert RejectedSecurityEvent.objects.filter(jti="ours-1").exists()
    assert RejectedSecurityEvent.objects.count() == 4


def test_deactivated_stream_name_is_kept_for_admins_not_told_to_the_sender(stream, make_set, push):
    stream_deactivate(stream=stream)
    body = assert_error(push(make_set()), "access_denied")
    assert stream.name not in body["description"]
    assert stream.name in RejectedSecurityEvent.objects.get().description


def test_jwks_fetch_details_are_kept_for_admins_not_told_to_the_sender(
    stream, transmitter, rotated_rsa_key, push, settings
):
    """A refetch refused before connecting (loopback is not allowed in production) names the
    address and the setting that allows it: admins need that, an unknown sender must not."""
    settings.ALLOW_INSECURE_TRANSMITTER_URLS = False
    token = transmitter.make_set(key=rotated_rsa_key)  # kid rsa-2: a refetch is tried
    body = assert_error(push(token), "invalid_key")
    assert (
        body["description"] == "The transmitter's JWKS could not be fetched or holds no usable key."
    )
    stored = RejectedSecurityEvent.objects.get().description
    assert "127.0.0.1" in stored or "ALLOW_INSECURE_TRANSMITTER_URLS" in stored
    assert len(transmitter.server.requests_to("/jwks.json")) == 1  # the one at creation only
    assert json.loads(push(token).content)["err"] == "invalid_key"
