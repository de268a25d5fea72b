"""Which keys in a transmitter's JWKS may verify SETs, each pinned to the algorithms it allows.

A key's algorithms come from its type (and curve); a key that declares `alg` is pinned to that one
algorithm. `none`, HMAC and encryption-only keys never qualify, nor do RSA keys under 2048 bits or
keys that carry private material (a transmitter publishing its private key is compromised).
"""

from dataclasses import dataclass, field
from typing import Any

from jwcrypto.common import JWException
from jwcrypto.jwk import JWK

RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHM_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
OKP_CURVES = frozenset({"Ed25519", "Ed448"})
SIGNING_ALGORITHMS = RSA_ALGORITHMS | frozenset(EC_ALGORITHM_BY_CURVE.values()) | {"EdDSA"}
MIN_RSA_BITS = 2048
# SecurityEvent.kid keeps the kid that verified a SET (RFC 7517 §4.5: a string).
MAX_KID_LENGTH = 255


class NoUsableKey(Exception):
    """The JWKS holds no key that can verify a SET; the message says why."""


@dataclass(frozen=True)
class SigningKey:
    """One usable verification key: its `kid`, type and the algorithms it is pinned to."""

    kid: str | None
    kty: str
    use: str | None
    algorithms: frozenset[str]
    jwk: JWK = field(compare=False, repr=False)

    @property
    def alg_label(self) -> str:
        return ", ".join(sorted(self.algorithms))


def _algorithms_for(data: dict[str, Any], jwk: JWK) -> frozenset[str]:
    """The algorithms this key may verify with; ValueError says why it may not verify at all."""
    kty = data.get("kty")
    if kty == "RSA":
        bits = jwk.get_op_key("verify").key_size
        if bits < MIN_RSA_BITS:
            raise ValueError(f"an RSA key of {bits} bits (at least {MIN_RSA_BITS} are required)")
        family = RSA_ALGORITHMS
    elif kty == "EC":
        curve_alg = EC_ALGORITHM_BY_CURVE.get(data.get("crv", ""))
        if curve_alg is None:
            raise ValueError(f"an EC key on the unsupported curve {data.get('crv')!r}")
        family = frozenset({curve_alg})
    elif kty == "OKP" and data.get("crv") in OKP_CURVES:
        family = frozenset({"EdDSA"})
    else:
        raise ValueError(f"a key of type {kty!r}, which cannot sign SETs")
    declared = data.get("alg")
    if declared is None:
        return family
    if not isinstance(declared, str) or declared not in family:
        raise ValueError(f"alg {declared!r} does not fit a {kty} key or is not allowed")
    return frozenset({declared})


def _signing_key(data: Any) -> SigningKey:
    if not isinstance(data, dict):
        raise ValueError("an entry that is not a JSON object")
    if data.get("use") is not None and data.get("use") != "sig":
        raise ValueError(f"use {data.get('use')!r} (only signing keys verify SETs)")
    key_ops = data.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ValueError("key_ops without 'verify'")
    kid = data.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        raise ValueError(f"a kid that is not a string of at most {MAX_KID_LENGTH} characters")
    try:
        jwk = JWK(**data)
    except (JWException, ValueError, TypeError) as exc:
        raise ValueError(f"a malformed key ({exc})") from exc
    if jwk.has_private:
        raise ValueError("a key that carries private key material")
    algorithms = _algorithms_for(data, jwk)
    return SigningKey(
        kid=data.get("kid"), kty=data["kty"], use=data.get("use"), algorithms=algorithms, jwk=jwk
    )


def signing_keys(jwks: Any) -> list[SigningKey]:
    """The usable signing keys of a JWKS document; NoUsableKey when there are none."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise NoUsableKey("The JWKS is not a JSON object with a 'keys' array.")
    usable, skipped = [], []
    for index, data in enumerate(jwks["keys"]):
        try:
            usable.append(_signing_key(data))
        except (ValueError, TypeError, JWException) as exc:
            kid = data.get("kid") if isinstance(data, dict) else None
            skipped.append(f"key {kid or index!r} is {exc}")
    if not usable:
        detail = "; ".join(skipped) if skipped else "the 'keys' array is empty"
        raise NoUsableKey(f"The JWKS holds no usable public signing key: {detail}.")
    return usable
