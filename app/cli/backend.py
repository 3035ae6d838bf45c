"""`sentinel backend keygen | jwks | check`: the screening's Backend Services key and registration, before go-live.

`keygen` writes a new private key (owner-only) and prints the public JWKS to give the EHR team; `jwks` prints what
this configuration publishes; `check` runs the real flow against the EHR: discovery, one signed token request,
and one search per granted resource type, and says what worked. Tokens and keys are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from joserfc.jwk import RSAKey

from app.config import ConfigError, load_settings
from app.fhir.errors import FhirError
from app.fhir.transport import Transport, http_session
from app.smart.backend import backend_tokens
from app.smart.backend_key import BackendKey, generate_key, load_key
from app.smart.errors import BackendError, LaunchError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    keygen = sub.add_parser("keygen", help="write a new private key (EC P-384 for ES384, or --rsa for RS384)")
    keygen.add_argument("path", help="where to write the PEM (must not exist; keep it outside the repository)")
    keygen.add_argument("--rsa", action="store_true", help="an RSA 3072-bit key (RS384) instead of EC P-384")
    sub.add_parser("jwks", help="print the JWKS this configuration publishes at /.well-known/jwks.json")
    sub.add_parser("check", help="discovery, a token request and one search per granted type, against the EHR")


def run(args: argparse.Namespace) -> int:
    try:
        return {"keygen": _keygen, "jwks": _jwks, "check": _check}[args.action](args)
    except (ConfigError, BackendError) as exc:
        print(f"backend: {getattr(exc, 'detail', '') or exc}")
        return 2


def _keygen(args) -> int:
    path = Path(args.path)
    if args.rsa:
        raw = RSAKey.generate_key(3072, private=True)
        key = BackendKey(raw, raw.thumbprint(), "RS384")
    else:
        key = generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"backend: {path} exists; a key is never overwritten (rotate by writing a new file)")
        return 1
    with os.fdopen(fd, "wb") as out:
        out.write(key.key.as_pem(private=True))
    print(f"Wrote {path} (owner-only). kid={key.kid} alg={key.alg}\nPublic JWKS for the EHR team:")
    print(json.dumps(key.jwks(), indent=2))
    return 0


def _jwks(args) -> int:
    settings = load_settings()
    key = load_key(settings.backend_key_file, settings.backend_key)
    print(json.dumps(key.jwks(), indent=2))
    return 0


def _check(args) -> int:
    settings = load_settings()
    key = load_key(settings.backend_key_file, settings.backend_key)
    http = http_session()
    tokens = backend_tokens(settings, http, key)
    if tokens is None:
        print("backend: SENTINEL_BACKEND_CLIENT_ID is not set")
        return 2
    config = tokens.configuration()
    print(f"Discovery: token endpoint {config.token_endpoint}; private_key_jwt with {key.alg} offered")
    tokens.access_token()
    print(f"Token: granted {tokens.granted_scope!r}")
    transport = Transport(tokens.fhir_base, tokens, session=http, connect_timeout=settings.fhir_connect_timeout,
                          read_timeout=settings.fhir_read_timeout)
    failed = 0
    for rtype in sorted({s.split("/", 1)[1].split(".", 1)[0] for s in settings.backend_scopes.split()} - {"*"}):
        try:
            bundle = transport.get_json(rtype, {"_count": "1"}, expect="Bundle")
            print(f"  {rtype}: search ok ({len(bundle.get('entry', []))} on the first page of 1)")
        except (FhirError, LaunchError) as exc:
            failed += 1
            print(f"  {rtype}: {exc.code} ({exc.detail})")
    return 1 if failed else 0
