"""The transmitter's signing keys: what it publishes as its JWKS and how it signs SETs.

Two keys, because receivers meet both in the field: RSA-2048 with RS256 (what CAEP Interop and Okta
require) and EC P-256 with ES256 (older transmitters). Rotation makes new kids, so a receiver's
"unknown kid -> refetch the JWKS" path can be exercised.
"""

import json
import secrets
from typing import Any

from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

ALGORITHMS = ("RS256", "ES256")


class KeySet:
    """One RSA and one EC signing key; `signing_alg` picks the one that signs."""

    def __init__(self, signing_alg: str = "RS256"):
        if signing_alg not in ALGORITHMS:
            raise ValueError(f"signing_alg must be one of {ALGORITHMS}")
        self.signing_alg = signing_alg
        self._keys: dict[str, JWK] = {}
        self.rotate()

    def rotate(self) -> None:
        """Replace both keys (new kids); SETs signed from now on verify only with the new JWKS."""
        suffix = secrets.token_hex(4)
        self._keys = {
            "RS256": JWK.generate(
                kty="RSA", size=2048, kid=f"rsa-{suffix}", use="sig", alg="RS256"
            ),
            "ES256": JWK.generate(
                kty="EC", crv="P-256", kid=f"ec-{suffix}", use="sig", alg="ES256"
            ),
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.export_public(as_dict=True) for key in self._keys.values()]}

    def sign(self, claims: dict[str, Any], *, typ: str = "secevent+jwt") -> str:
        """A compact JWS of `claims`; header alg, kid, typ (SSF: secevent+jwt, protocol.md §1.3)."""
        key = self._keys[self.signing_alg]
        header = {"alg": self.signing_alg, "kid": key["kid"], "typ": typ}
        jws = JWS(json.dumps(claims).encode())
        jws.add_signature(key, alg=self.signing_alg, protected=json.dumps(header))
        return jws.serialize(compact=True)
