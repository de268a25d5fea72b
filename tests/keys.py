"""Signing keys and SETs for tests: keys are generated per test session, never committed."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"


def generate_rsa(kid: str, size: int = 2048) -> JWK:
    return JWK.generate(kty="RSA", size=size, kid=kid, use="sig", alg="RS256")


def generate_ec(kid: str) -> JWK:
    return JWK.generate(kty="EC", crv="P-256", kid=kid, use="sig", alg="ES256")


def public_jwks(*keys: JWK) -> dict[str, Any]:
    return {"keys": [key.export_public(as_dict=True) for key in keys]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict[str, Any], key: JWK, *, header: dict[str, Any] | None = None) -> str:
    """A compact JWS of `claims` with `key`; `header` overrides the default protected header."""
    public = key.export_public(as_dict=True)
    protected = {"alg": public.get("alg", "RS256"), "typ": "secevent+jwt", "kid": public.get("kid")}
    protected.update(header or {})
    protected = {k: v for k, v in protected.items() if v is not None}
    jws = JWS(json.dumps(claims).encode())
    jws.add_signature(key, alg=protected["alg"], protected=json.dumps(protected))
    return jws.serialize(compact=True)


def sign_unsafely(claims: dict[str, Any], header: dict[str, Any], secret: bytes | None) -> str:
    """A token jwcrypto would refuse to make: `alg: none`, or HMAC with a chosen secret."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


def set_claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a well-formed SSF SET (CAEP session-revoked for alice); overrides replace them.

    An override whose value is None removes the claim.
    """
    claims = {
        "iat": int(time.time()),
        "jti": uuid.uuid4().hex,
        "sub_id": {"format": "email", "email": "alice@example.com"},
        "events": {SESSION_REVOKED: {"event_timestamp": int(time.time())}},
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}
