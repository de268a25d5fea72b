"""Algorithm pinning per key."""

import pytest

from streams.keys import NoUsableKey, signing_keys
from tests import keys


def test_rsa_key_without_alg_allows_the_rsa_family(rsa_key):
    data = rsa_key.export_public(as_dict=True)
    data.pop("alg")
    (key,) = signing_keys({"keys": [data]})
    assert key.algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}


def test_declared_alg_pins_the_key(rsa_key, ec_key):
    found = signing_keys(keys.public_jwks(rsa_key, ec_key))
    assert {k.kid: k.algorithms for k in found} == {"rsa-1": {"RS256"}, "ec-1": {"ES256"}}


def test_declared_alg_must_fit_the_key_type(ec_key):
    data = ec_key.export_public(as_dict=True) | {"alg": "RS256"}
    with pytest.raises(NoUsableKey, match="does not fit"):
        signing_keys({"keys": [data]})


def test_unusable_keys_are_skipped_when_a_usable_one_exists(rsa_key):
    jwks = keys.public_jwks(rsa_key)
    jwks["keys"].insert(0, {"kty": "oct", "k": "c2VjcmV0"})
    assert [k.kid for k in signing_keys(jwks)] == ["rsa-1"]


@pytest.mark.parametrize(
    "odd",
    [{"key_ops": 5}, {"alg": ["RS256"]}, {"use": ["sig"]}, {"kty": ["RSA"]}, {"crv": {"x": 1}}],
)
def test_an_odd_key_is_skipped_not_fatal(rsa_key, odd):
    jwks = keys.public_jwks(rsa_key)
    jwks["keys"].append({**keys.generate_ec("odd").export_public(as_dict=True), **odd})
    assert [k.kid for k in signing_keys(jwks)] == ["rsa-1"]


@pytest.mark.parametrize("kid", ["k" * 256, 42])
def test_a_kid_that_no_set_could_be_stored_with_is_skipped(rsa_key, kid):
    jwks = keys.public_jwks(rsa_key)
    jwks["keys"].append({**keys.generate_ec("odd").export_public(as_dict=True), "kid": kid})
    assert [k.kid for k in signing_keys(jwks)] == ["rsa-1"]
    with pytest.raises(NoUsableKey, match="kid that is not a string of at most 255"):
        signing_keys({"keys": jwks["keys"][1:]})
