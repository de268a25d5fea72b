"""Sign-in fixtures: the real OpenID provider (npm oidc-provider) and SSO settings for it."""

import pytest

from tests import oidc_provider
from tests.oidc_provider import OidcProvider

TEST_CALLBACK = "http://testserver/accounts/sso/callback/"


@pytest.fixture(scope="session")
def oidc_idp():
    provider = OidcProvider(redirect_uris=[TEST_CALLBACK]).start()
    yield provider
    provider.stop()


@pytest.fixture
def sso_settings(settings, oidc_idp):
    settings.SSO_ISSUER = oidc_idp.issuer
    settings.SSO_CLIENT_ID = oidc_provider.CLIENT_ID
    settings.SSO_CLIENT_SECRET = oidc_provider.CLIENT_SECRET
    settings.SSO_DISPLAY_NAME = "Test IdP"
    settings.SSO_SCOPES = "openid email profile groups"
    settings.SSO_SUPER_ADMIN_VALUES = [oidc_provider.SUPER_ADMIN_GROUP]
    settings.SSO_READ_ONLY_ADMIN_VALUES = [oidc_provider.READ_ONLY_GROUP]
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
