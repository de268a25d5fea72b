"""`manage.py demo` (what `make demo` runs) end to end: the login it repeats signs in, in a real
headless Chromium, and its Jamf signal arrives with a real {user, device} subject."""

import re
import socket
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_repeats_a_login_that_works_and_sends_a_user_device_subject(
    screenshot, page, live_server, settings
):
    settings.SITE_URL = live_server.url  # our console answers there: the demo serves none
    out = StringIO()
    call_command("demo", "--no-wait", "--transmitter-port", str(free_port()), stdout=out)
    text = out.getvalue()
    assert "First admin login: admin / " in text
    ending = text.strip().splitlines()[-2:]
    login = re.fullmatch(
        rf"Sign in at {re.escape(live_server.url)}/ with admin / (\S+)\.", ending[0]
    )
    assert login, ending
    assert ending[1] == "Forgot it? Set a new one: .venv/bin/python manage.py changepassword admin"
    assert "sent Jamf: device compliance, {user, device} subject: HTTP 202" in text

    page.goto(live_server.url + "/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", login.group(1))
    page.click("button[type=submit]")
    page.get_by_role("link", name="Demo transmitter").click()
    page.get_by_test_id("all-accepted").click()
    page.fill("#id_q", "C02XK1JHJG5H")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("subject")).to_have_text(
        "user: bob@example.com · device: C02XK1JHJG5H"
    )
    screenshot("demo-user-device")
