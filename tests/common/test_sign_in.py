"""Console sign-in: growing per-account delays on the name Django authenticates, a per-address
budget, device cookies that keep a stranger's failures from holding up the account's own browser,
and no second, unthrottled sign-in page (Django's admin)."""

from datetime import UTC, datetime

import time_machine
from django.test import Client
from django.urls import reverse

from common import sign_in
from common.roles import Role
from common.services import admin_user_create

LOGIN = reverse("login")
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def post(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail_until_delayed(client: Client, username: str) -> None:
    """The two free failures of the `throttle` settings, then the one that starts a wait."""
    for _ in range(3):
        assert post(client, username, "nope").status_code == 200


def sign_out(client: Client) -> None:
    """Drop the session but keep the browser's other cookies (Client.logout() drops them all)."""
    client.post(reverse("logout"))
    assert not signed_in(client)


def test_a_unicode_spelling_of_a_delayed_account_is_delayed_too(db, throttle, browser):
    admin_user_create(username="admin-nfkc", password="right-password-1", role=Role.SUPER_ADMIN)
    client = browser()
    with time_machine.travel(START, tick=False):
        fail_until_delayed(client, "admin-nfkc")
        # U+FF41 FULLWIDTH LATIN SMALL LETTER A: Django's NFKC turns it into "a" and signs in.
        refused = post(client, "\uff41dmin-nfkc", "right-password-1")
    assert refused.status_code == 429
    assert not signed_in(client)


def test_failures_under_unicode_spellings_count_against_the_account(db, throttle, browser):
    admin_user_create(username="admin-spell", password="right-password-1", role=Role.SUPER_ADMIN)
    client = browser()
    with time_machine.travel(START, tick=False):
        for spelling in ("\uff41dmin-spell", "a\uff44min-spell", "ad\uff4din-spell"):
            assert post(client, spelling, "nope").status_code == 200
        refused = post(client, "admin-spell", "right-password-1")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) == 10


def test_the_delay_doubles_and_the_right_password_after_it_signs_in(db, throttle, browser):
    admin_user_create(username="erin", password="right-password-1", role=Role.SUPER_ADMIN)
    client = browser()
    with time_machine.travel(START, tick=False) as clock:
        assert post(client, "erin", "nope").status_code == 200
        assert post(client, "erin", "nope").status_code == 200  # two free failures
        assert post(client, "erin", "nope").status_code == 200  # the third: wait 10 s
        early = post(client, "erin", "right-password-1")
        assert early.status_code == 429
        assert early["Retry-After"] == "10"
        assert "try again in 10 seconds" in early.content.decode()
        clock.shift(4)
        assert post(client, "erin", "nope")["Retry-After"] == "6"  # refusals do not count
        clock.shift(6)
        assert post(client, "erin", "nope").status_code == 200  # checked: now wait 20 s
        clock.shift(19)
        assert post(client, "erin", "right-password-1").status_code == 429
        clock.shift(1)
        for _ in range(5):  # 40 s, then capped at 60 s
            assert post(client, "erin", "nope").status_code == 200
            clock.shift(60)
        assert post(client, "erin", "nope").status_code == 200
        clock.shift(59)
        assert post(client, "erin", "right-password-1")["Retry-After"] == "1"
        clock.shift(1)
        assert post(client, "erin", "right-password-1").status_code == 302
        assert signed_in(client)


def test_a_success_starts_the_count_again(db, throttle, browser):
    admin_user_create(username="fay", password="right-password-1", role=Role.SUPER_ADMIN)
    client = browser()
    with time_machine.travel(START, tick=False):
        assert post(client, "fay", "nope").status_code == 200
        assert post(client, "fay", "nope").status_code == 200
        assert post(client, "fay", "right-password-1").status_code == 302
        client.logout()
        assert post(client, "fay", "nope").status_code == 200
        assert post(client, "fay", "nope").status_code == 200
        assert post(client, "fay", "right-password-1").status_code == 302


def test_unknown_usernames_are_delayed_like_real_ones(db, throttle, browser):
    client = browser()
    with time_machine.travel(START, tick=False):
        answers = [post(client, "nobody-here", "nope").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]  # nothing tells an unknown name from a known one


def test_an_address_over_its_budget_is_refused_whatever_the_username(db, throttle, browser):
    throttle.SIGN_IN_ADDRESS_MAX_FAILURES = 3
    admin_user_create(username="gus", password="right-password-1", role=Role.SUPER_ADMIN)
    sprayer, colleague = browser(), browser()
    with time_machine.travel(START, tick=False) as clock:
        for name in ("spray-1", "spray-2", "spray-3"):
            assert post(sprayer, name, "nope").status_code == 200
        refused = post(sprayer, "gus", "right-password-1")
        assert refused.status_code == 429
        assert "from your address" in refused.content.decode()
        assert 0 < int(refused["Retry-After"]) <= 900
        assert post(colleague, "gus", "right-password-1").status_code == 302
        clock.shift(900)
        assert post(sprayer, "gus", "right-password-1").status_code == 302


def test_the_accounts_own_browser_signs_in_while_strangers_are_delayed(db, throttle, browser):
    admin_user_create(username="hal", password="right-password-1", role=Role.SUPER_ADMIN)
    own, stranger = browser(), browser()
    with time_machine.travel(START, tick=False):
        assert post(own, "hal", "right-password-1").status_code == 302
        assert sign_in.DEVICE_COOKIE in own.cookies
        sign_out(own)
        fail_until_delayed(stranger, "hal")
        assert post(stranger, "hal", "right-password-1").status_code == 429
        assert post(own, "hal", "right-password-1").status_code == 302  # its device cookie
        assert signed_in(own)


def test_a_device_cookie_of_another_account_does_not_help(db, throttle, browser):
    admin_user_create(username="ivy", password="right-password-1", role=Role.SUPER_ADMIN)
    admin_user_create(username="jon", password="right-password-2", role=Role.SUPER_ADMIN)
    client, stranger = browser(), browser()
    with time_machine.travel(START, tick=False):
        assert post(client, "ivy", "right-password-1").status_code == 302
        sign_out(client)
        fail_until_delayed(stranger, "jon")
        assert post(client, "jon", "right-password-2").status_code == 429


def test_a_trusted_device_is_delayed_too_when_it_fails(db, throttle, browser):
    admin_user_create(username="kim", password="right-password-1", role=Role.SUPER_ADMIN)
    client = browser()
    with time_machine.travel(START, tick=False):
        assert post(client, "kim", "right-password-1").status_code == 302
        sign_out(client)
        fail_until_delayed(client, "kim")
        assert post(client, "kim", "right-password-1").status_code == 429


def test_an_attempt_is_refused_while_another_for_the_account_is_being_checked(
    db, throttle, browser
):
    """Parallel guesses sent the moment a delay ends get one password check, not one each."""
    admin_user_create(username="lea", password="right-password-1", role=Role.SUPER_ADMIN)
    client = browser()
    attempt = sign_in.sign_in_attempt_for(username="lea", address="127.0.0.1", device_cookie=None)
    assert sign_in.sign_in_begin(attempt=attempt) is None  # another request holds the check
    try:
        refused = post(client, "lea", "right-password-1")
    finally:
        sign_in.sign_in_end(attempt=attempt)
    assert refused.status_code == 429
    assert post(client, "lea", "right-password-1").status_code == 302


def test_the_django_admin_site_is_not_served(super_admin):
    client = Client()
    assert client.get("/django-admin/").status_code == 404
    login = client.post("/django-admin/login/", {"username": "sam", "password": "pw-sam-123"})
    assert login.status_code == 404
    assert not signed_in(client)


def test_password_change_pages_render_without_the_admin_app(admin_client):
    response = admin_client.get(reverse("password_change"))
    assert response.status_code == 200
    assert "registration/password_change_form.html" in [t.name for t in response.templates]


def test_a_username_no_database_can_hold_is_a_failed_sign_in_not_a_500(db, throttle, browser):
    client = browser()
    for name in ("ad\x00min", "x" * 5000):
        assert post(client, name, "nope").status_code == 200
