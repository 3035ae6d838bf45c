"""`GET /.well-known/jwks.json`: the public key the EHR checks the screening's signed token requests with.

SMART Backend Services: the client registers a JWKS URL, and the authorization server fetches it to verify each
client assertion. Only public members leave the process (BackendKey.public_jwk builds them from the public key).
"""

from flask import Blueprint, jsonify

from .guards import services

bp = Blueprint("jwks", __name__)


@bp.get("/.well-known/jwks.json")
def jwks():
    key = services().backend_key
    if key is None:
        return jsonify({"error": "no backend client is configured, so there is no key to publish"}), 404
    return jsonify(key.jwks())
