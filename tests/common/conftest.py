"""Sign-in fixtures: the real OpenID provider (npm oidc-provider) and SSO settings for it."""

import pytest

from tests.oidc_provider import OidcProvider, configure_sso

TEST_CALLBACK = "http://testserver/accounts/sso/callback/"


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
