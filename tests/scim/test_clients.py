"""SCIM clients: the token (hashed, revocable, last use), its provisioning-only role, the
console page and the management command."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from common.services import api_token_create
from scim.models import ScimClient
from scim.services import scim_client_create, scim_client_revoke

pytestmark = pytest.mark.django_db


def test_token_is_stored_hashed_only():
    client, secret = scim_client_create(name="Okta")
    row = ScimClient.objects.get(pk=client.pk)
    assert secret.startswith("scim_")
    assert secret not in (row.token_hash, row.prefix, row.name)
    assert secret.startswith(row.prefix)


def test_requests_without_or_with_a_wrong_token_get_scim_401(client):
    response = client.get("/scim/v2/Users")
    assert response.status_code == 401
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert response.json()["status"] == "401"
    assert response["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/scim/v2/Users", HTTP_AUTHORIZATION="Bearer scim_" + "A" * 40)
    assert wrong.status_code == 401


def test_revoked_token_is_refused(client, scim_client_and_token):
    scim_client, token = scim_client_and_token
    assert client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    scim_client_revoke(client=scim_client)
    response = client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_last_use_is_recorded(client, scim_client_and_token):
    scim_client, token = scim_client_and_token
    assert scim_client.last_used_at is None
    client.get("/scim/v2/ServiceProviderConfig", HTTP_AUTHORIZATION=f"Bearer {token}")
    scim_client.refresh_from_db()
    assert scim_client.last_used_at is not None
    assert (timezone.now() - scim_client.last_used_at).total_seconds() < 60


def test_admin_api_token_and_session_do_not_reach_scim(admin_client, super_admin):
    _, api_secret = api_token_create(user=super_admin, name="ops")
    assert admin_client.get("/scim/v2/Users").status_code == 401
    response = admin_client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {api_secret}")
    assert response.status_code == 401


def test_scim_token_does_not_reach_the_management_api(client, scim_token):
    response = client.get("/api/v1/users", HTTP_AUTHORIZATION=f"Bearer {scim_token}")
    assert response.status_code == 401


def test_console_creates_a_client_and_shows_the_token_once(admin_client):
    response = admin_client.post("/admin/scim-clients/add/", {"name": "Entra"})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert "no-store" in response["Cache-Control"]
    listing = admin_client.get("/admin/scim-clients/")
    assert b"Entra" in listing.content
    assert secret.encode() not in listing.content
    assert b"Never" in listing.content  # last use


def test_console_revokes_after_confirmation(admin_client):
    scim_client, _ = scim_client_create(name="Okta")
    assert admin_client.get(f"/admin/scim-clients/{scim_client.pk}/revoke/").status_code == 200
    scim_client.refresh_from_db()
    assert scim_client.revoked_at is None
    response = admin_client.post(f"/admin/scim-clients/{scim_client.pk}/revoke/")
    assert response.status_code == 302
    scim_client.refresh_from_db()
    assert scim_client.revoked_at is not None


def test_readonly_admin_sees_but_cannot_create_or_revoke(readonly_client):
    scim_client, _ = scim_client_create(name="Okta")
    assert readonly_client.get("/admin/scim-clients/").status_code == 200
    assert readonly_client.post("/admin/scim-clients/add/", {"name": "x"}).status_code == 403
    revoke = readonly_client.post(f"/admin/scim-clients/{scim_client.pk}/revoke/")
    assert revoke.status_code == 403
    assert not ScimClient.objects.filter(name="x").exists()


def test_console_add_needs_csrf(super_admin):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(super_admin)
    assert csrf_client.post("/admin/scim-clients/add/", {"name": "x"}).status_code == 403


def test_management_command_prints_a_working_token(client):
    out = StringIO()
    call_command("create_scim_client", "--name", "Okta", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    response = client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
