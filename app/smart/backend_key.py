"""The app's Backend Services signing key: loaded from a file or a setting (PEM or JWK), published as a JWKS.

SMART App Launch 2, "Client Authentication: Asymmetric (public key)": the client signs its assertion with RS384 or
ES384 and registers the public half as a JWKS (by URL or value). The algorithm follows the key: an EC P-384 key
signs ES384, an RSA key (2048 bits or more) RS384. ES384 is the default for new keys: a P-384 key is generated in
milliseconds, its signatures are short, and every SMART server must accept ES384 or RS384 (we check which one the
server advertises). The `kid` is the key's RFC 7638 thumbprint, so a rotated key always gets a new `kid`.
The private key never leaves this module's objects: `jwks()` builds the public members only.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, RSAKey

from .errors import BackendKeyInvalid

log = logging.getLogger(__name__)

ALG_BY_KTY = {"EC": "ES384", "RSA": "RS384"}
MIN_RSA_BITS = 2048


@dataclass(frozen=True, repr=False)
class BackendKey:
    """A private signing key with its `kid` and algorithm. repr never shows key material."""

    key: ECKey | RSAKey
    kid: str
    alg: str

    def public_jwk(self) -> dict:
        """The public members only (kty, crv/x/y or n/e), with kid, alg and use=sig."""
        public = dict(self.key.as_dict(private=False))
        public.update({"kid": self.kid, "alg": self.alg, "use": "sig", "key_ops": ["verify"]})
        return public

    def jwks(self) -> dict:
        return {"keys": [self.public_jwk()]}

    def header(self) -> dict:
        return {"alg": self.alg, "kid": self.kid, "typ": "JWT"}

    def __repr__(self) -> str:
        return f"BackendKey(kid={self.kid!r}, alg={self.alg!r})"


def _from_key(key: ECKey | RSAKey, kid: str | None = None) -> BackendKey:
    if not key.is_private:
        raise BackendKeyInvalid(detail="the backend key is a public key; the private key is needed to sign")
    data = key.as_dict(private=False)
    if data["kty"] == "EC" and data.get("crv") != "P-384":
        raise BackendKeyInvalid(detail=f"an EC backend key must be on curve P-384 (ES384), not {data.get('crv')}")
    if data["kty"] == "RSA" and key.raw_value.key_size < MIN_RSA_BITS:
        raise BackendKeyInvalid(detail=f"an RSA backend key needs at least {MIN_RSA_BITS} bits")
    return BackendKey(key=key, kid=kid or key.thumbprint(), alg=ALG_BY_KTY[data["kty"]])


def parse_key(text: str | bytes) -> BackendKey:
    """A key from PEM (PKCS#8 or traditional) or a private JWK (JSON object). Raises BackendKeyInvalid."""
    raw = text.decode() if isinstance(text, bytes) else text
    raw = raw.strip()
    if raw.startswith("{"):
        try:
            jwk = json.loads(raw)
        except json.JSONDecodeError:
            raise BackendKeyInvalid(detail="the backend key looks like JSON but does not parse") from None
        if not isinstance(jwk, dict):
            raise BackendKeyInvalid(detail="the backend key JSON is not a JWK object")
        cls = {"EC": ECKey, "RSA": RSAKey}.get(jwk.get("kty"))
        if cls is None:
            raise BackendKeyInvalid(detail="the backend JWK must have kty EC (P-384) or RSA")
        try:
            key = cls.import_key(jwk)
        except (JoseError, ValueError, KeyError, TypeError):
            raise BackendKeyInvalid(detail="the backend JWK is not a valid key") from None
        return _from_key(key, kid=jwk.get("kid"))
    for cls in (ECKey, RSAKey):
        try:
            with warnings.catch_warnings():  # a short RSA key warns here; _from_key refuses it with a reason
                warnings.simplefilter("ignore", SecurityWarning)
                key = cls.import_key(raw.encode())
        except (JoseError, ValueError):
            continue
        return _from_key(key)
    raise BackendKeyInvalid(detail="the backend key is neither a PEM private key nor a JWK")


def public_jwk_from_file(path: str | Path) -> dict:
    """The public JWK of a key file (PEM or JWK, public or private), for publishing beside the signing key while a
    rotation is under way. Only public members are returned. Raises BackendKeyInvalid."""
    try:
        raw = Path(path).read_bytes().decode().strip()
    except (OSError, UnicodeError):
        raise BackendKeyInvalid(detail=f"the published key file {path} cannot be read") from None
    kid = None
    if raw.startswith("{"):
        try:
            jwk = json.loads(raw)
            kid = jwk.get("kid") if isinstance(jwk, dict) else None
            key = {"EC": ECKey, "RSA": RSAKey}[jwk["kty"]].import_key(jwk)
        except (JoseError, ValueError, KeyError, TypeError, AttributeError):
            raise BackendKeyInvalid(detail=f"the published key file {path} is not a usable JWK") from None
    else:
        key = None
        for cls in (ECKey, RSAKey):
            try:
                key = cls.import_key(raw.encode())
                break
            except (JoseError, ValueError):
                continue
        if key is None:
            raise BackendKeyInvalid(detail=f"the published key file {path} is neither PEM nor JWK")
    kty = key.as_dict(private=False)["kty"]
    public = dict(key.as_dict(private=False))
    public.update({"kid": kid or key.thumbprint(), "alg": ALG_BY_KTY[kty], "use": "sig", "key_ops": ["verify"]})
    return public


def generate_key() -> BackendKey:
    return _from_key(ECKey.generate_key("P-384", private=True))


def load_key(key_file: str = "", key_text: str = "", generate_into: str | Path | None = None) -> BackendKey:
    """The key from `key_text` (a setting), else `key_file`; else, for the demo only, one generated into
    `generate_into` on first start (mode 0600) and reused after. Raises BackendKeyInvalid when none is found."""
    if key_text:
        return parse_key(key_text)
    if key_file:
        path = Path(key_file)
        try:
            return parse_key(path.read_bytes())
        except OSError as exc:
            raise BackendKeyInvalid(detail=f"the backend key file {path} cannot be read ({exc.strerror})") from None
    if generate_into is None:
        raise BackendKeyInvalid(detail="no backend key: set SENTINEL_BACKEND_KEY_FILE or SENTINEL_BACKEND_KEY")
    path = Path(generate_into)
    if path.exists():
        return parse_key(path.read_bytes())
    key = generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.key.as_pem(private=True))
    log.warning("backend_key_generated path=%s kid=%s alg=%s (demo key; production sets SENTINEL_BACKEND_KEY_FILE)",
                path, key.kid, key.alg)
    return key
