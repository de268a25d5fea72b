"""API tokens (console, CLI, SSWS/Bearer, expiry, revocation), roles and rate limits."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from common.models import ApiToken
from common.services import api_token_create, api_token_revoke
from tests.api.okta import assert_okta_error

pytestmark = pytest.mark.django_db
PROVIDERS = "/api/v1/security-events-providers"
TOKENS = reverse("common:api_token_list")
ADD = reverse("common:api_token_add")


def call(authorization: str | None):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(PROVIDERS)


@pytest.mark.parametrize("scheme", ["SSWS", "Bearer", "ssws", "bearer"])
def test_token_works_with_okta_and_bearer_schemes(super_token, scheme):
    assert call(f"{scheme} {super_token}").status_code == 200


@pytest.mark.parametrize("scheme", ["SSWS", "Bearer"])
def test_token_works_without_a_space_as_the_okta_sdk_sends_it(super_token, scheme):
    assert call(f"{scheme}{super_token}").status_code == 200


@pytest.mark.parametrize("mode", ["SSWS", "Bearer"])
def test_token_works_in_the_header_the_okta_sdk_builds(super_token, mode):
    from okta.configuration import Configuration

    settings = Configuration(
        host="https://org.example", access_token=super_token, authorization_mode=mode
    ).auth_settings()["oauth2"]
    assert settings["key"] == "Authorization"
    assert call(settings["value"]).status_code == 200


@pytest.mark.parametrize(
    ("authorization", "cause"),
    [
        (None, None),
        ("Basic c2FtOnB3", None),
        ("SSWS", "The API token is not valid."),
        ("SSWSnot-a-token", "The API token is not valid."),
        ("SSWS ssf_" + "x" * 40, "The API token is not valid."),
        ("Bearer not-a-token", "The API token is not valid."),
    ],
)
def test_missing_or_wrong_credentials_are_401_with_okta_error(super_token, authorization, cause):
    response = call(authorization)
    causes = assert_okta_error(response, 401, "E0000011")
    assert causes == ([cause] if cause else [])
    assert response["WWW-Authenticate"] == 'SSWS realm="api"'


def test_expired_token_is_refused(super_admin):
    token, secret = api_token_create(
        user=super_admin, name="Short", expires_at=timezone.now() + timedelta(days=1)
    )
    assert call(f"SSWS {secret}").status_code == 200
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        assert assert_okta_error(call(f"SSWS {secret}"), 401, "E0000011") == [
            "The API token has expired."
        ]


def test_revoked_token_is_refused_and_revoking_again_keeps_the_first_time(super_admin):
    token, secret = api_token_create(user=super_admin, name="CI")
    api_token_revoke(token=token)
    first = token.revoked_at
    api_token_revoke(token=token)
    assert token.revoked_at == first
    assert assert_okta_error(call(f"SSWS {secret}"), 401, "E0000011") == [
        "The API token has been revoked."
    ]


def test_deactivated_user_token_is_refused(super_admin, super_token):
    super_admin.is_active = False
    super_admin.save()
    assert_okta_error(call(f"SSWS {super_token}"), 401, "E0000011")


def test_token_of_a_user_without_role_is_403(super_admin):
    _token, secret = api_token_create(user=super_admin, name="Was an admin")
    super_admin.is_superuser = False
    super_admin.save()
    super_admin.groups.clear()
    assert_okta_error(call(f"SSWS {secret}"), 403, "E0000006")


def test_only_the_hash_and_a_prefix_are_stored_and_last_use_is_recorded(super_token):
    token = ApiToken.objects.get()
    assert token.token_hash == hashlib.sha256(super_token.encode()).hexdigest()
    assert super_token.startswith(token.prefix)
    assert len(token.prefix) == 12
    assert super_token not in str(ApiToken.objects.values().get())
    assert token.last_used_at is None
    call(f"SSWS {super_token}")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_token_needs_a_console_role(django_user_model):
    with pytest.raises(ValidationError, match="no console role"):
        api_token_create(user=django_user_model.objects.create_user("nobody"), name="x")


# --- Console pages --------------------------------------------------------------------------


def test_console_creates_a_token_shown_once_and_lists_it_with_last_use(admin_client):
    response = admin_client.post(ADD, {"name": "Terraform", "expires_in_days": "30"})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret in response.content.decode()
    token = ApiToken.objects.get()
    assert token.expires_at - timezone.now() > timedelta(days=29)
    assert call(f"SSWS {secret}").status_code == 200
    listing = admin_client.get(TOKENS).content.decode()
    assert secret not in listing
    assert f"{token.prefix}…" in listing
    assert 'data-testid="last-used">Never<' not in listing
    assert 'data-testid="status">Active<' in listing


def test_console_token_without_expiry(admin_client):
    admin_client.post(ADD, {"name": "Forever", "expires_in_days": ""})
    assert ApiToken.objects.get().expires_at is None


def test_console_refuses_a_blank_name(admin_client):
    assert admin_client.post(ADD, {"name": " "}).status_code == 400
    assert not ApiToken.objects.exists()


def test_console_revokes_after_confirmation(admin_client, super_token):
    token = ApiToken.objects.get()
    url = reverse("common:api_token_revoke", args=[token.pk])
    assert b"Revoke API token Terraform?" in admin_client.get(url).content
    assert admin_client.post(url).status_code == 302
    assert call(f"SSWS {super_token}").status_code == 401
    assert 'data-testid="status">Revoked<' in admin_client.get(TOKENS).content.decode()


def test_readonly_admin_sees_tokens_but_cannot_create_or_revoke(readonly_client, super_token):
    token = ApiToken.objects.get()
    listing = readonly_client.get(TOKENS)
    assert listing.status_code == 200
    assert b"Create token" not in listing.content
    assert readonly_client.get(ADD).status_code == 403
    assert readonly_client.post(ADD, {"name": "Mine"}).status_code == 403
    revoke = reverse("common:api_token_revoke", args=[token.pk])
    assert readonly_client.post(revoke).status_code == 403
    assert ApiToken.objects.get().revoked_at is None


def test_side_nav_links_api_tokens(admin_client):
    html = admin_client.get(TOKENS).content.decode()
    assert "Administration" in html
    assert f'href="{TOKENS}" class="nav-item current"' in html


# --- create_api_token -----------------------------------------------------------------------


def test_command_prints_the_token_alone_on_its_last_line(super_admin, capsys):
    call_command("create_api_token", "--user", "sam", "--name", "Ansible", "--expires", "7")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert call(f"SSWS {secret}").status_code == 200
    token = ApiToken.objects.get()
    assert token.name == "Ansible"
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)


def test_command_makes_a_readonly_token_for_a_readonly_admin(readonly_admin, stream, capsys):
    call_command("create_api_token", "--user", "rita")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"SSWS {capsys.readouterr().out.splitlines()[-1]}")
    assert client.get(PROVIDERS).status_code == 200
    assert client.post(f"{PROVIDERS}/{stream.pk}/lifecycle/deactivate").status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--user", "ghost"], "No user named 'ghost'"),
     (["--user", "sam", "--expires", "0"], "positive number of days")],
)  # fmt: skip
def test_command_refuses_bad_input(super_admin, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args)


def test_command_refuses_a_user_without_role(django_user_model):
    django_user_model.objects.create_user("nobody")
    with pytest.raises(CommandError, match="no console role"):
        call_command("create_api_token", "--user", "nobody")


# --- Rate limits ----------------------------------------------------------------------------


@pytest.fixture
def limit_of_three(settings):
    """Three calls a minute, on a clock frozen 10 s into a minute (so one window holds them)."""
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    start = timezone.now().replace(second=10, microsecond=0)
    with time_machine.travel(start, tick=False):
        yield start


def test_rate_limit_headers_count_down_then_429(api, limit_of_three):
    remaining = [api.get(PROVIDERS)["X-Rate-Limit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    response = api.get(PROVIDERS)
    assert_okta_error(response, 429, "E0000047")
    assert response["X-Rate-Limit-Limit"] == "3"
    assert response["X-Rate-Limit-Remaining"] == "0"
    next_minute = limit_of_three + timedelta(seconds=50)
    assert response["X-Rate-Limit-Reset"] == str(int(next_minute.timestamp()))
    assert response["Retry-After"] == "50"
    with time_machine.travel(next_minute, tick=False):
        assert api.get(PROVIDERS).status_code == 200


def test_each_token_has_its_own_budget_and_refused_writes_count(
    api, readonly_api, stream, limit_of_three
):
    for _ in range(3):
        assert readonly_api.post(f"{PROVIDERS}/{stream.pk}/lifecycle/deactivate").status_code == 403
    assert readonly_api.get(PROVIDERS).status_code == 429
    assert api.get(PROVIDERS).status_code == 200


def test_errors_carry_rate_limit_headers_and_the_push_endpoint_is_not_limited(
    api, limit_of_three, stream, transmitter, push
):
    response = api.get(f"{PROVIDERS}/sseUnknown0000000000")
    assert response.status_code == 404
    assert response["X-Rate-Limit-Remaining"] == "2"
    for _ in range(5):
        answer = push(transmitter.make_set())
        assert answer.status_code == 202
        assert "X-Rate-Limit-Limit" not in answer


def test_session_calls_are_limited_per_admin(admin_client, limit_of_three):
    for _ in range(3):
        assert admin_client.get(PROVIDERS).status_code == 200
    assert admin_client.get(PROVIDERS).status_code == 429
