"""TOTP and recovery codes for password admins, with real codes computed from the device key."""

import base64
import time

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from common.mfa import OtpCheck, mfa_verify, recovery_codes_issue, totp_enrol, totp_key_new
from risk.models import LogEvent

pytestmark = pytest.mark.django_db


def code_for(key: str, *, steps_ahead: int = 0) -> str:
    totp = TOTP(bytes.fromhex(key))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


@pytest.fixture
def enrolled(super_admin):
    """sam with an authenticator app (enrolled with the current code) and recovery codes."""
    key = totp_key_new()
    device = totp_enrol(user=super_admin, key=key, token=code_for(key))
    return device, recovery_codes_issue(user=super_admin)


def signed_in_user(client):
    return get_user_model().objects.filter(pk=client.session.get("_auth_user_id")).first()


def password_step(client, username="sam", password="pw-sam-123", next_url=""):  # noqa: S107
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("login"), data)


def test_enrolment_needs_a_code_from_the_key(super_admin):
    key = totp_key_new()

    assert totp_enrol(user=super_admin, key=key, token="000000" if code_for(key) != "000000"
                      else "111111") is None  # fmt: skip
    assert not TOTPDevice.objects.exists()
    device = totp_enrol(user=super_admin, key=key, token=code_for(key))
    assert device.confirmed
    assert device.key == key


def test_enrolment_code_cannot_be_replayed_at_sign_in(enrolled, super_admin):
    device, _ = enrolled

    assert mfa_verify(user=super_admin, token=code_for(device.key)).check is OtpCheck.WRONG
    with time_machine.travel(time.time() + 5, tick=False):  # past the throttle's wait
        next_code = code_for(device.key, steps_ahead=1)
        assert mfa_verify(user=super_admin, token=next_code).check is OtpCheck.VERIFIED


def test_password_step_alone_does_not_sign_in(client, enrolled):
    response = password_step(client)

    assert response.status_code == 302
    assert response["Location"] == reverse("identity:mfa_verify")
    assert signed_in_user(client) is None
    assert client.get(reverse("streams:stream_list")).status_code == 302
    assert client.get("/api/v1/logs").status_code in (401, 403)


def test_totp_completes_the_sign_in_and_cannot_be_reused(client, enrolled):
    device, _ = enrolled
    code = code_for(device.key, steps_ahead=1)
    password_step(client, next_url=reverse("risk:system_log"))

    response = client.post(reverse("identity:mfa_verify"), {"code": code})

    assert response.status_code == 302
    assert response["Location"] == reverse("risk:system_log")
    assert signed_in_user(client).username == "sam"
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    client.logout()

    password_step(client)
    replay = client.post(reverse("identity:mfa_verify"), {"code": code})
    assert replay.status_code == 400
    assert "already used" in replay.context["error"]
    assert signed_in_user(client) is None


def test_wrong_codes_are_throttled(client, enrolled):
    device, _ = enrolled
    password_step(client)

    wrong = client.post(reverse("identity:mfa_verify"), {"code": "123456"})
    right_too_soon = client.post(
        reverse("identity:mfa_verify"), {"code": code_for(device.key, steps_ahead=1)}
    )

    assert wrong.status_code in (400, 429)
    assert right_too_soon.status_code == 429
    assert int(right_too_soon["Retry-After"]) >= 1
    assert signed_in_user(client) is None
    with time_machine.travel(time.time() + 5, tick=False):
        # TOTP works from the real clock inside django-otp; time-machine moves it too.
        later = client.post(
            reverse("identity:mfa_verify"), {"code": code_for(device.key, steps_ahead=1)}
        )
    assert later.status_code == 302
    assert signed_in_user(client).username == "sam"


def test_recovery_code_signs_in_once(client, enrolled):
    _, codes = enrolled
    password_step(client)
    response = client.post(reverse("identity:mfa_verify"), {"code": codes[0].upper()})
    assert response.status_code == 302
    assert signed_in_user(client).username == "sam"
    client.logout()

    password_step(client)
    again = client.post(reverse("identity:mfa_verify"), {"code": codes[0]})
    assert again.status_code == 400


def test_pending_sign_in_expires(client, enrolled):
    device, _ = enrolled
    password_step(client)
    with time_machine.travel(time.time() + 600, tick=False):
        response = client.post(
            reverse("identity:mfa_verify"), {"code": code_for(device.key, steps_ahead=1)}
        )
    assert response["Location"] == reverse("login")
    assert signed_in_user(client) is None


def test_enrolment_pages_show_a_qr_code_and_turn_mfa_on(client, super_admin):
    client.force_login(super_admin)

    page = client.get(reverse("identity:totp_setup"))
    qr = page.context["qr_code"]
    key = base64.b32decode(page.context["manual_key"]).hex()
    done = client.post(reverse("identity:totp_setup"), {"code": code_for(key)})

    assert qr.startswith("data:image/svg+xml;base64,")
    assert b"<svg" in base64.b64decode(qr.split(",", 1)[1])
    assert b"<script" not in page.content.split(b"<main>")[-1]
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    assert len(done.context["codes"]) == 10
    assert TOTPDevice.objects.get(user=super_admin).key == key
    assert client.session[DEVICE_ID_SESSION_KEY]


def test_wrong_enrolment_code_saves_nothing(client, super_admin):
    client.force_login(super_admin)
    page = client.get(reverse("identity:totp_setup"))
    key = base64.b32decode(page.context["manual_key"]).hex()
    wrong = "000000" if code_for(key) != "000000" else "111111"

    response = client.post(reverse("identity:totp_setup"), {"code": wrong})

    assert response.status_code == 400
    assert not TOTPDevice.objects.exists()


def test_reset_needs_a_current_code(client, enrolled, super_admin):
    _device, codes = enrolled
    client.force_login(super_admin)

    client.post(reverse("identity:mfa_reset"), {"code": "999999"})
    assert TOTPDevice.objects.filter(user=super_admin).exists()
    assert not LogEvent.objects.filter(event_type="user.mfa.factor.deactivate").exists()
    client.post(reverse("identity:mfa_reset"), {"code": codes[1]})
    assert not TOTPDevice.objects.filter(user=super_admin).exists()
    record = LogEvent.objects.get(event_type="user.mfa.factor.deactivate")
    assert record.actor["alternateId"] == "sam"


def test_mandatory_mfa_sends_super_admins_to_enrolment(client, settings, super_admin):
    settings.MFA_REQUIRED_FOR_SUPER_ADMINS = True
    password_step(client)

    response = client.get(reverse("streams:stream_list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("identity:totp_setup"))
    assert client.get(response["Location"]).status_code == 200
    key = base64.b32decode(client.get(reverse("identity:totp_setup")).context["manual_key"]).hex()
    client.post(reverse("identity:totp_setup"), {"code": code_for(key)})
    assert client.get(reverse("streams:stream_list")).status_code == 200


def test_mandatory_mfa_leaves_read_only_admins_alone(client, settings, readonly_admin):
    settings.MFA_REQUIRED_FOR_SUPER_ADMINS = True
    password_step(client, "rita", "pw-rita-123")

    assert client.get(reverse("streams:stream_list")).status_code == 200


def test_mfa_sign_in_is_in_the_system_log(client, enrolled, django_capture_on_commit_callbacks):
    device, _ = enrolled
    with django_capture_on_commit_callbacks(execute=True):
        password_step(client)
        client.post(reverse("identity:mfa_verify"), {"code": "123456"})
    with (
        time_machine.travel(time.time() + 5, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(reverse("identity:mfa_verify"), {"code": code_for(device.key, steps_ahead=1)})
    with django_capture_on_commit_callbacks(execute=True):
        password_step(client, password="wrong")

    records = [(e.event_type, e.outcome_result) for e in LogEvent.objects.order_by("id")]
    assert records == [
        ("user.authentication.auth_via_mfa", "FAILURE"),
        ("user.authentication.auth_via_mfa", "SUCCESS"),
        ("user.session.start", "SUCCESS"),
        ("user.session.start", "FAILURE"),
    ]
    assert LogEvent.objects.last().actor["alternateId"] == "sam"


def test_operator_resets_a_lost_authenticator(client, enrolled):
    from django.core.management import call_command

    call_command("reset_mfa", "--user", "sam")
    call_command("reset_mfa", "--user", "sam")  # nothing left to reset: nothing logged

    assert not TOTPDevice.objects.exists()
    record = LogEvent.objects.get(event_type="user.mfa.factor.reset_all")
    assert (record.actor["type"], record.actor["alternateId"]) == (
        "SystemPrincipal",
        "manage.py reset_mfa",
    )
    assert record.target[0]["alternateId"] == "sam"
    assert password_step(client)["Location"] == reverse("streams:stream_list")
