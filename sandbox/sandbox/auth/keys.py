"""The keys: one signs id_tokens (RS256), one signs the EHR's CDS Hooks calls (ES384); JWKS publish their public halves.

A new RSA key per sandbox start: nothing secret is stored in the repository, and an app that caches a JWKS
across restarts meets a key rotation, as it would in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey


@dataclass(frozen=True)
class SigningKey:
    key: RSAKey
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        key = RSAKey.generate_key(2048, private=True)
        return cls(key=key, kid=key.thumbprint())

    def jwks(self) -> dict:
        public = dict(self.key.as_dict(private=False))
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def header(self) -> dict:
        return {"alg": "RS256", "kid": self.kid, "typ": "JWT"}

    def sign(self, claims: dict) -> str:
        return jwt.encode(self.header(), claims, self.key)


@dataclass(frozen=True)
class CdsKey:
    key: ECKey
    kid: str

    @classmethod
    def generate(cls) -> CdsKey:
        key = ECKey.generate_key("P-384", private=True)
        return cls(key, key.thumbprint())

    def jwks(self) -> dict:
        public = dict(self.key.as_dict(private=False))
        public.update({"kid": self.kid, "alg": "ES384", "use": "sig"})
        return {"keys": [public]}

    def sign(self, claims: dict) -> str:
        return jwt.encode({"alg": "ES384", "kid": self.kid, "typ": "JWT"}, claims, self.key, algorithms=["ES384"])
