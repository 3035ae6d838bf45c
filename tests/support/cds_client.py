"""A CDS client (an EHR) for the hook tests: its key, its JWKS (served by `responses`), and the JWTs it signs."""

from __future__ import annotations

import time
import uuid

from joserfc import jwt

from app.smart.backend_key import generate_key

CLIENT = "https://ehr.example"
JWKS_URL = "https://ehr.example/.well-known/jwks.json"
SERVICE_URL = "http://sentinel.test/cds-services/sepsis-sentinel"


class Client:
    def __init__(self, iss: str = CLIENT):
        self.iss, self.key = iss, generate_key()

    def jwt(self, *, aud: str = SERVICE_URL, exp_in: int = 300, jti: str | None = None, iss: str | None = None,
            key=None, header: dict | None = None, now: float | None = None, **extra) -> str:
        now = time.time() if now is None else now
        claims = {"iss": iss or self.iss, "aud": aud, "iat": int(now), "exp": int(now) + exp_in,
                  "jti": jti or str(uuid.uuid4()), **extra}
        signer = key or self.key
        return jwt.encode(header or signer.header(), claims, signer.key, algorithms=[signer.alg])

    def bearer(self, **kwargs) -> str:
        return f"Bearer {self.jwt(**kwargs)}"
