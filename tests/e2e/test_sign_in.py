"""Admin sign-in in a real Chromium: SSO at a real OpenID provider (npm oidc-provider), and a
password admin enrolling an authenticator app and signing in with it."""

import base64
import time

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.oidc_provider import OidcProvider, configure_sso

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def browser_idp(live_server):
    provider = OidcProvider(redirect_uris=[live_server.url + "/accounts/sso/callback/"]).start()
    yield provider
    provider.stop()


@pytest.fixture
def sso(settings, browser_idp):
    configure_sso(settings, browser_idp)
    return browser_idp


def sign_in_at_idp(page, live_server, login):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.fill("input[name=login]", login)  # the provider's own sign-in form
    page.fill("input[name=password]", "not-checked")
    page.click("button[type=submit]")


def test_sso_roles_follow_the_idp_groups(page, browser, live_server, sso):
    sign_in_at_idp(page, live_server, "alice")
    expect(page.get_by_role("tab", name="Receive shared signals")).to_be_visible()
    expect(page.get_by_test_id("role")).to_have_text("Super admin")
    expect(page.get_by_role("link", name="Add stream")).to_be_visible()

    # Another browser: signing out here does not sign out at the IdP, which would sign alice in.
    context = browser.new_context()
    other = context.new_page()
    sign_in_at_idp(other, live_server, "rob")
    expect(other.get_by_test_id("role")).to_have_text("Read-only admin")
    expect(other.get_by_role("link", name="Add stream")).to_have_count(0)
    context.close()


def test_sso_without_a_mapped_group_is_refused(page, live_server, sso):
    sign_in_at_idp(page, live_server, "nora")

    expect(page.get_by_test_id("sso-refusal")).to_contain_text("maps to no console role")
    expect(page.get_by_test_id("role")).to_have_count(0)


def test_sso_with_a_tampered_state_is_refused(page, live_server, sso):
    # The sign-in is started by this browser (its session cookie keeps the real state), and the
    # state is changed on its way to the provider, which sends it back as it got it.
    page.goto(live_server.url + "/")
    start = page.request.get(live_server.url + "/accounts/sso/start/", max_redirects=0)
    authorization_url = start.headers["location"]
    assert "state=" in authorization_url

    page.goto(authorization_url.replace("state=", "state=tampered", 1))
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", "not-checked")
    page.click("button[type=submit]")

    expect(page.get_by_test_id("sso-refusal")).to_contain_text("unknown state")
    page.goto(live_server.url + "/")
    expect(page.get_by_role("link", name="Sign in with SSO")).to_be_visible()


def test_enrol_an_authenticator_app_and_sign_in_with_it(page, sign_in, live_server, super_admin):
    sign_in("sam", "pw-sam-123")
    page.get_by_role("link", name="Two-step verification").click()
    page.get_by_role("link", name="Set up an authenticator app").click()
    expect(page.get_by_test_id("totp-qr")).to_be_visible()
    key = base64.b32decode(page.get_by_test_id("totp-key").inner_text()).hex()
    totp = TOTP(bytes.fromhex(key))
    page.fill("#id_code", f"{totp.token():06d}")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    page.get_by_role("link", name="Continue").click()
    page.get_by_role("button", name="Sign out").click()

    page.fill("#id_username", "sam")
    page.fill("#id_password", "pw-sam-123")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    totp.time = time.time() + 30  # the enrolment code is spent: the app's next one
    page.fill("#id_code", f"{totp.token():06d}")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("role")).to_have_text("Super admin")
    expect(page.get_by_role("tab", name="Receive shared signals")).to_be_visible()
