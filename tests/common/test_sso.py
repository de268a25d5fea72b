"""Console single sign-on against a real OpenID provider (npm oidc-provider on loopback)."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.urls import reverse

from common.models import SsoIdentity
from common.roles import Role, user_role
from common.sso import BACKEND_PATH
from risk.models import LogEvent

pytestmark = pytest.mark.django_db


def signed_in_user(client):
    return get_user_model().objects.filter(pk=client.session.get("_auth_user_id")).first()


def test_authorization_request_uses_pkce_s256_state_and_nonce(client, sso_settings):
    response = client.get("/accounts/sso/start/")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert response["Location"].startswith(sso_settings.SSO_ISSUER + "/auth?")
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["scope"] == ["openid email profile groups"]


def test_super_admin_group_signs_in_as_super_admin(client, sso_sign_in, sso_settings):
    response, _ = sso_sign_in("alice")

    assert response.status_code == 302
    assert response["Location"] == reverse("streams:stream_list")
    user = signed_in_user(client)
    assert user.username == "alice"
    assert user.email == "alice@example.com"
    assert not user.has_usable_password()
    assert user_role(user) == Role.SUPER_ADMIN
    assert client.session[BACKEND_SESSION_KEY] == BACKEND_PATH
    identity = SsoIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (sso_settings.SSO_ISSUER, "alice")
    assert client.get(reverse("streams:stream_add")).status_code == 200


def test_read_only_group_gets_read_only(client, sso_sign_in):
    sso_sign_in("rob")

    user = signed_in_user(client)
    assert user_role(user) == Role.READ_ONLY_ADMIN
    assert client.get(reverse("streams:stream_list")).status_code == 200
    assert client.get(reverse("streams:stream_add")).status_code == 403


def test_unmapped_groups_are_refused_with_a_page(client, sso_sign_in):
    response, _ = sso_sign_in("nora")

    assert response.status_code == 403
    assert "common/sso_refused.html" in [t.name for t in response.templates]
    assert "maps to no console role" in response.context["reason"]
    assert signed_in_user(client) is None
    assert not get_user_model().objects.filter(username="nora").exists()


def test_role_is_evaluated_again_at_each_sign_in(client, sso_sign_in, settings):
    sso_sign_in("alice")
    user = signed_in_user(client)
    client.logout()

    # At the IdP, alice's group now maps to Read-only admin only.
    settings.SSO_SUPER_ADMIN_VALUES = []
    settings.SSO_READ_ONLY_ADMIN_VALUES = ["ssf-admins"]
    sso_sign_in("alice")
    user = get_user_model().objects.get(pk=user.pk)
    assert user_role(user) == Role.READ_ONLY_ADMIN
    client.logout()

    # And now to nothing: refused, and the role she had is gone (her API tokens lose it too).
    settings.SSO_READ_ONLY_ADMIN_VALUES = []
    response, _ = sso_sign_in("alice")
    assert response.status_code == 403
    assert user_role(get_user_model().objects.get(pk=user.pk)) is None
    assert get_user_model().objects.filter(username="alice").count() == 1

    # Each change of role is in the System Log, the IdP's claims its cause.
    changes = [(e.event_type.rsplit(".", 1)[1], e.debug_data.get("privilegeGranted")
                or e.debug_data.get("privilegeRevoked"), e.target[0]["alternateId"])
               for e in LogEvent.objects.filter(event_type__startswith="user.account.privilege")
               .order_by("id")]  # fmt: skip
    assert changes == [
        ("grant", "Super admin", "alice"),
        ("revoke", "Super admin", "alice"),
        ("grant", "Read-only admin", "alice"),
        ("revoke", "Read-only admin", "alice"),
    ]


def test_a_sign_in_with_the_same_role_logs_no_privilege_change(client, sso_sign_in):
    sso_sign_in("alice")
    client.logout()
    sso_sign_in("alice")

    grants = LogEvent.objects.filter(event_type="user.account.privilege.grant")
    assert grants.count() == 1


def test_tampered_state_is_refused(client, sso_sign_in):
    def tamper(url):
        return url.replace("state=", "state=x", 1)

    response, _ = sso_sign_in("alice", tamper=tamper)

    assert response.status_code == 400
    assert "unknown state" in response.context["reason"]
    assert signed_in_user(client) is None


def test_replayed_callback_is_refused(client, sso_sign_in):
    _, callback = sso_sign_in("alice")
    client.logout()

    response = client.get(callback)

    assert response.status_code in (400, 403)
    assert signed_in_user(client) is None


def test_callback_without_a_started_sign_in_is_refused(client, sso_settings):
    response = client.get("/accounts/sso/callback/?code=abc&state=def")

    assert response.status_code == 403
    assert "No sign-in was started" in response.context["reason"]


def test_idp_error_is_shown(client, sso_settings):
    client.get("/accounts/sso/start/")
    state = next(iter(client.session["oidc_states"]))
    response = client.get(
        f"/accounts/sso/callback/?error=access_denied&error_description=User+aborted&state={state}"
    )

    assert response.status_code == 403
    assert "User aborted" in response.context["reason"]


def test_sso_never_takes_over_a_local_account(client, sso_sign_in, super_admin):
    local = get_user_model().objects.create_user(username="alice", password="pw-alice-123")

    sso_sign_in("alice")

    user = signed_in_user(client)
    assert user.pk != local.pk
    assert user.username.startswith("alice-")
    local.refresh_from_db()
    assert local.check_password("pw-alice-123")
    assert user_role(local) is None


def test_sign_ins_are_in_the_system_log(client, sso_sign_in, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sso_sign_in("alice")
    with django_capture_on_commit_callbacks(execute=True):
        sso_sign_in("nora")

    records = {(e.event_type, e.outcome_result, e.actor["alternateId"])
               for e in LogEvent.objects.all()}  # fmt: skip
    assert ("user.session.start", "SUCCESS", "alice") in records
    assert ("user.authentication.auth_via_IDP", "SUCCESS", "alice") in records
    assert ("user.authentication.auth_via_IDP", "FAILURE", "") in records


def test_login_page_offers_sso_beside_passwords(client, sso_settings):
    response = client.get(reverse("login"))

    assert b"Sign in with Test IdP" in response.content
    assert b'name="password"' in response.content


def test_passwords_off_shows_only_sso_and_refuses_password_posts(client, sso_settings, super_admin):
    sso_settings.LOCAL_PASSWORD_SIGN_IN = False

    page = client.get(reverse("login"))
    response = client.post(reverse("login"), {"username": "sam", "password": "pw-sam-123"})

    assert b"Sign in with Test IdP" in page.content
    assert b'name="password"' not in page.content
    assert response.status_code == 403
    assert b"Password sign-in is turned off" in response.content
    assert signed_in_user(client) is None


def test_sso_session_skips_mandatory_mfa(client, sso_sign_in, settings):
    settings.MFA_REQUIRED_FOR_SUPER_ADMINS = True
    sso_sign_in("alice")

    assert client.get(reverse("streams:stream_list")).status_code == 200


def test_sso_off_has_no_button_and_no_endpoints(client, settings):
    settings.SSO_ISSUER = ""

    assert b"Sign in with" not in client.get(reverse("login")).content
    assert client.get("/accounts/sso/start/").status_code == 404


def test_code_the_idp_refuses_is_a_page(client, sso_sign_in):
    def tamper(url):
        return url.replace("code=", "code=forged", 1)

    response, _ = sso_sign_in("alice", tamper=tamper)

    assert response.status_code == 403
    assert "refused the sign-in code (invalid_grant)" in response.context["reason"]
    assert signed_in_user(client) is None


def test_deactivated_sso_user_loses_the_session(client, sso_sign_in):
    sso_sign_in("alice")
    get_user_model().objects.filter(username="alice").update(is_active=False)

    assert client.get(reverse("streams:stream_list")).status_code == 302
    assert signed_in_user(client) is not None  # the row is there; the session no longer counts
    response, _ = sso_sign_in("alice")
    assert response.status_code == 403


def test_sso_admins_have_no_local_mfa_to_set_up(client, sso_sign_in):
    sso_sign_in("alice")

    page = client.get(reverse("identity:mfa_manage"))
    attempt = client.post(reverse("identity:totp_setup"), {"code": "123456"})

    assert b"your identity provider handles multi-factor" in page.content
    assert attempt.status_code == 403
