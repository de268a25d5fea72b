"""The audit trail of the console's own changes: API tokens, admins, sign-out, lockouts and
password changes reach the System Log once each, with the admin as actor, the client's address
and user agent, before/after, and never a secret; and they show on the System Log page and in
/api/v1/logs."""

import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from common.models import ApiToken
from risk.models import LogEvent
from tests.api.test_logs import settled

pytestmark = pytest.mark.django_db

BROWSER = {"REMOTE_ADDR": "127.0.0.9", "HTTP_USER_AGENT": "Mozilla/5.0 (X11) audit-test"}


def only(event_type: str) -> LogEvent:
    return LogEvent.objects.get(event_type=event_type)


def test_creating_an_api_token_in_the_console_is_logged_without_its_secret(admin_client):
    data = {"name": "Terraform", "expires_in_days": ""}
    response = admin_client.post(reverse("common:api_token_add"), data, **BROWSER)
    assert response.status_code == 200
    secret = response.context["secret"]

    record = only("system.api_token.create")
    token = ApiToken.objects.get()
    assert (record.actor["type"], record.actor["alternateId"]) == ("User", "sam")
    assert record.target[0] == {
        "id": str(token.pk), "type": "Token", "alternateId": token.prefix,
        "displayName": "Terraform",
    }  # fmt: skip
    assert record.debug_data["after"]["name"] == "Terraform"
    assert record.client["ipAddress"] == "127.0.0.9"
    assert record.client["userAgent"]["rawUserAgent"] == "Mozilla/5.0 (X11) audit-test"
    assert secret not in json.dumps(record.debug_data) + json.dumps(record.target)


def test_revoking_a_token_is_logged_once(admin_client):
    admin_client.post(reverse("common:api_token_add"), {"name": "CI"})
    token = ApiToken.objects.get()
    for _ in range(2):
        assert (
            admin_client.post(reverse("common:api_token_revoke", args=[token.pk])).status_code
            == 302
        )

    record = only("system.api_token.revoke")
    assert record.actor["alternateId"] == "sam"
    assert record.target[0]["id"] == str(token.pk)
    assert record.debug_data["before"] == {"revokedAt": None}
    assert record.debug_data["after"]["revokedAt"]


def test_a_readonly_admins_refused_change_logs_nothing(readonly_client):
    assert readonly_client.post(reverse("common:api_token_add"), {"name": "x"}).status_code == 403
    assert not LogEvent.objects.exists()


def test_create_admin_logs_the_new_admin_and_the_role_granted(capsys):
    call_command("create_admin", "--username", "olga", "--password", "pw-olga-123",
                 "--role", "read-only")  # fmt: skip

    created, granted = only("user.lifecycle.create"), only("user.account.privilege.grant")
    for record in (created, granted):
        assert record.actor == {"id": "manage.py create_admin", "type": "SystemPrincipal",
                                "alternateId": "manage.py create_admin",
                                "displayName": "manage.py create_admin"}  # fmt: skip
        assert record.target[0]["alternateId"] == "olga"
        assert "pw-olga-123" not in json.dumps(record.debug_data)
    assert created.debug_data["after"]["password"] == "changed"
    assert granted.debug_data["privilegeGranted"] == "Read-only admin"


def test_signing_out_is_user_session_end(admin_client):
    assert admin_client.post(reverse("logout"), **BROWSER).status_code == 302

    record = only("user.session.end")
    assert record.actor["alternateId"] == "sam"
    assert record.client["ipAddress"] == "127.0.0.9"


def test_the_failure_that_starts_a_wait_is_user_account_lock(throttle, browser, super_admin):
    client = browser()
    for _ in range(3):  # the two free failures of the `throttle` settings, then a wait
        client.post(reverse("login"), {"username": "sam", "password": "nope"})

    record = only("user.account.lock")
    assert (record.actor["alternateId"], record.outcome_result) == ("sam", "FAILURE")
    assert record.debug_data == {"lockedForSeconds": 10}
    assert (
        LogEvent.objects.filter(event_type="user.session.start", outcome_result="FAILURE").count()
        == 3
    )


def change_password(client, old: str, new: str = "N3w-passw0rd-long"):
    data = {"old_password": old, "new_password1": new, "new_password2": new}
    return client.post(reverse("password_change"), data)


def test_a_password_change_is_throttled_like_sign_in(throttle, browser, super_admin):
    client = browser()
    client.force_login(super_admin)
    for _ in range(3):
        assert change_password(client, "wrong").status_code == 200

    refused = change_password(client, "pw-sam-123")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "10"
    super_admin.refresh_from_db()
    assert super_admin.check_password("pw-sam-123")  # the right password did nothing meanwhile
    failures = LogEvent.objects.filter(event_type="user.account.update_password")
    assert [r.outcome_reason for r in failures] == ["INVALID_CREDENTIALS"] * 3
    assert only("user.account.lock").actor["alternateId"] == "sam"


def test_a_password_change_is_logged_without_the_password(throttle, browser, super_admin):
    client = browser()
    client.force_login(super_admin)
    assert change_password(client, "pw-sam-123").status_code == 302

    record = only("user.account.update_password")
    assert (record.actor["alternateId"], record.outcome_result) == ("sam", "SUCCESS")
    assert "N3w-passw0rd" not in json.dumps(record.debug_data)
    super_admin.refresh_from_db()
    assert super_admin.check_password("N3w-passw0rd-long")


def test_a_wrong_new_password_pair_is_no_failed_password_check(throttle, browser, super_admin):
    client = browser()
    client.force_login(super_admin)
    data = {"old_password": "pw-sam-123", "new_password1": "Aa-1-long-one", "new_password2": "x"}
    for _ in range(4):
        assert client.post(reverse("password_change"), data).status_code == 200
    assert not LogEvent.objects.exists()


def test_change_records_show_on_the_system_log_page_and_in_the_api(admin_client):
    admin_client.post(reverse("common:api_token_add"), {"name": "Reporting"})
    secret = admin_client.post(reverse("common:api_token_add"), {"name": "Poller"}).context[
        "secret"
    ]

    page = admin_client.get(reverse("risk:system_log"), {"event_type": "system.api_token.create"})
    assert page.status_code == 200
    assert page.content.decode().count("system.api_token.create") >= 2

    with settled():
        api = Client().get("/api/v1/logs", {"filter": 'eventType eq "system.api_token.create"'},
                           HTTP_AUTHORIZATION=f"SSWS {secret}")  # fmt: skip
    assert api.status_code == 200
    names = {record["target"][0]["displayName"] for record in api.json()}
    assert names == {"Reporting", "Poller"}
    assert api.json()[0]["actor"]["alternateId"] == "sam"
