"""ID token checks (OpenID Connect Core §3.1.3.7) and bounded IdP calls, against a local IdP
double serving discovery and a JWKS; the whole flow runs against the real provider in
test_sso.py."""

import time

import pytest

from common.sso import SsoError, id_token_claims, provider_config
from tests import keys
from tests.http_server import LocalHTTPServer

CLIENT_ID = "client-1"
NONCE = "nonce-1"


@pytest.fixture
def idp(settings, rsa_key):
    server = LocalHTTPServer().start()
    server.route("GET", "/jwks", json_body=keys.public_jwks(rsa_key))
    settings.SSO_ISSUER = server.url()
    settings.SSO_CLIENT_ID = CLIENT_ID
    settings.SSO_AUTHORIZATION_ENDPOINT = server.url("/auth")
    settings.SSO_TOKEN_ENDPOINT = server.url("/token")
    settings.SSO_JWKS_URI = server.url("/jwks")
    yield server
    server.stop()


def id_token(idp, key, *, header=None, **overrides):
    now = int(time.time())
    claims = {"iss": idp.url(), "aud": CLIENT_ID, "sub": "u-1", "exp": now + 300, "iat": now,
              "nonce": NONCE, **overrides}  # fmt: skip
    claims = {k: v for k, v in claims.items() if v is not None}
    return keys.sign(claims, key, header={"typ": "JWT", **(header or {})})


def test_valid_id_token_gives_its_claims(idp, rsa_key):
    claims = id_token_claims(provider_config(), id_token(idp, rsa_key), nonce=NONCE)
    assert claims["sub"] == "u-1"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"iss": "https://other.example"}, "issuer"),
        ({"aud": "someone-else"}, "not issued to this receiver"),
        ({"aud": [CLIENT_ID, "other"]}, "authorized party"),
        ({"azp": "other"}, "authorized party"),
        ({"exp": int(time.time()) - 600}, "expired"),
        ({"exp": None}, "expired"),
        ({"iat": int(time.time()) + 3600}, "issue time"),
        ({"nonce": "another"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": None}, "subject"),
    ],
)
def test_id_token_claims_that_do_not_check_out_are_refused(idp, rsa_key, overrides, message):
    with pytest.raises(SsoError, match=message):
        id_token_claims(provider_config(), id_token(idp, rsa_key, **overrides), nonce=NONCE)


def test_unsigned_and_hmac_id_tokens_are_refused(idp):
    claims = {"iss": idp.url(), "aud": CLIENT_ID, "sub": "u-1", "nonce": NONCE,
              "exp": int(time.time()) + 300, "iat": int(time.time())}  # fmt: skip
    for header, secret in (({"alg": "none"}, None), ({"alg": "HS256"}, b"client-secret")):
        token = keys.sign_unsafely(claims, header, secret)
        with pytest.raises(SsoError, match="algorithm"):
            id_token_claims(provider_config(), token, nonce=NONCE)


def test_signature_by_another_key_is_refused(idp):
    impostor = keys.generate_rsa("rsa-1")  # same kid, other key
    with pytest.raises(SsoError, match="signature does not verify"):
        id_token_claims(provider_config(), id_token(idp, impostor), nonce=NONCE)


def test_rotated_key_is_fetched_once(idp, rsa_key, rotated_rsa_key):
    id_token_claims(provider_config(), id_token(idp, rsa_key), nonce=NONCE)  # caches the JWKS
    idp.route("GET", "/jwks", json_body=keys.public_jwks(rsa_key, rotated_rsa_key))

    claims = id_token_claims(provider_config(), id_token(idp, rotated_rsa_key), nonce=NONCE)

    assert claims["sub"] == "u-1"
    assert len(idp.requests_to("/jwks")) == 2


def test_discovery_issuer_mismatch_is_a_page_not_a_500(client, settings, idp):
    settings.SSO_AUTHORIZATION_ENDPOINT = ""
    idp.route("GET", "/.well-known/openid-configuration", json_body={
        "issuer": "https://elsewhere.example", "authorization_endpoint": idp.url("/auth"),
        "token_endpoint": idp.url("/token"), "jwks_uri": idp.url("/jwks"),
    })  # fmt: skip

    response = client.get("/accounts/sso/start/")

    assert response.status_code == 502
    assert "is not SSO_ISSUER" in response.context["reason"]


def test_slow_idp_is_cut_off(client, settings, idp):
    settings.SSO_AUTHORIZATION_ENDPOINT = ""
    idp.route("GET", "/.well-known/openid-configuration", json_body={}, delay=3)

    started = time.monotonic()
    response = client.get("/accounts/sso/start/")

    assert response.status_code == 502
    assert "did not answer" in response.context["reason"]
    assert time.monotonic() - started < 2.5


def test_discovery_is_used_and_cached(db, client, settings, idp):
    settings.SSO_AUTHORIZATION_ENDPOINT = ""
    idp.route("GET", "/.well-known/openid-configuration", json_body={
        "issuer": idp.url(), "authorization_endpoint": idp.url("/authorize"),
        "token_endpoint": idp.url("/token"), "jwks_uri": idp.url("/jwks"),
    })  # fmt: skip

    first = client.get("/accounts/sso/start/")
    client.get("/accounts/sso/start/")

    assert first["Location"].startswith(idp.url("/authorize?"))
    assert len(idp.requests_to("/.well-known/openid-configuration")) == 1
