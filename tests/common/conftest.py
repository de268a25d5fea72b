"""Sign-in fixtures: the real OpenID provider (npm oidc-provider) and SSO settings for it, the
sign-in throttle's settings and browsers at addresses of their own."""

import itertools

import pytest
from django.test import Client

from tests.oidc_provider import OidcProvider, configure_sso

TEST_CALLBACK = "http://testserver/accounts/sso/callback/"
# Each test gets its own client address, so the per-address budget of one never reaches another.
_ADDRESSES = (f"127.0.{n // 250}.{n % 250 + 2}" for n in itertools.count())


@pytest.fixture
def throttle(settings):
    settings.SIGN_IN_FREE_FAILURES = 2
    settings.SIGN_IN_DELAY_SECONDS = 10
    settings.SIGN_IN_MAX_DELAY_SECONDS = 60
    settings.SIGN_IN_ADDRESS_MAX_FAILURES = 100
    settings.SIGN_IN_ADDRESS_WINDOW_SECONDS = 900
    return settings


@pytest.fixture
def browser():
    """A client at an address of its own (a META value: nothing is sent anywhere)."""

    def make() -> Client:
        return Client(REMOTE_ADDR=next(_ADDRESSES))

    return make


@pytest.fixture(scope="session")
def oidc_idp():
    provider = OidcProvider(redirect_uris=[TEST_CALLBACK]).start()
    yield provider
    provider.stop()


@pytest.fixture
def sso_settings(settings, oidc_idp):
    configure_sso(settings, oidc_idp, SSO_DISPLAY_NAME="Test IdP")
    return settings


@pytest.fixture
def sso_sign_in(client, oidc_idp, sso_settings):
    """Start SSO in the Django test client, sign in at the provider as `login`, and return the
    callback's response (and the callback URL the provider sent the browser to)."""

    def _sign_in(login: str, *, tamper=None):
        start = client.get("/accounts/sso/start/")
        assert start.status_code == 302, start.content
        callback = oidc_idp.sign_in(start["Location"], login)
        if tamper is not None:
            callback = tamper(callback)
        return client.get(callback), callback

    return _sign_in
