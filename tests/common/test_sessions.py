"""Console sessions end after SESSION_IDLE_TIMEOUT_SECONDS idle, and
SESSION_ABSOLUTE_TIMEOUT_SECONDS after sign-in however busy they are."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

STREAMS = reverse("streams:stream_list")
LOGIN = reverse("login")
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def timeouts(settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 30 * 60
    settings.SESSION_ABSOLUTE_TIMEOUT_SECONDS = 12 * 3600


def sign_in(client: Client) -> None:
    answer = client.post(LOGIN, {"username": "sam", "password": "pw-sam-123"})
    assert answer.status_code == 302


def sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_a_session_idle_longer_than_the_timeout_is_signed_out(super_admin, timeouts):
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client)
        clock.shift(29 * 60)
        assert client.get(STREAMS).status_code == 200
        clock.shift(29 * 60)  # 58 minutes after sign-in, but 29 after the last request
        assert client.get(STREAMS).status_code == 200
        clock.shift(31 * 60)
        assert sent_to_sign_in(client.get(STREAMS))
        clock.shift(60)
        assert sent_to_sign_in(client.get(STREAMS))  # signed out for good, not just once


def test_a_busy_session_ends_at_the_absolute_lifetime(super_admin, timeouts):
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client)
        for _ in range(12 * 3 - 1):  # a request every 20 minutes for 11 h 40 min
            clock.shift(20 * 60)
            assert client.get(STREAMS).status_code == 200
        clock.shift(20 * 60 + 1)
        assert sent_to_sign_in(client.get(STREAMS))


def test_the_stored_session_and_its_cookie_expire_with_the_idle_window(super_admin, timeouts):
    client = Client()
    with time_machine.travel(START, tick=False):
        sign_in(client)
        cookie = client.cookies["sessionid"]
        assert int(cookie["max-age"]) == 30 * 60
        assert client.session.get_expiry_age() == 30 * 60


def test_the_api_refuses_a_timed_out_session(super_admin, timeouts):
    client = Client()
    api = reverse("api:security_events_provider_list")
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client)
        assert client.get(api).status_code == 200
        clock.shift(31 * 60)
        assert client.get(api).status_code in (401, 403)


def test_a_pushed_set_touches_no_session(db, push):
    response = push("not-a-jws")
    assert response.status_code == 400
    assert "Vary" not in response  # no session looked at, so none to vary on
