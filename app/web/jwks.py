"""`GET /.well-known/jwks.json`: the public key the EHR checks the screening's signed token requests with.

SMART Backend Services: the client registers a JWKS URL, and the authorization server fetches it to verify each
client assertion. Only public members leave the process (built from the public keys at start); during a key
rotation the JWKS also lists the keys named by SENTINEL_BACKEND_ALSO_PUBLISH, so every instance's signatures verify
while instances restart one by one.
"""

from flask import Blueprint, jsonify

from .guards import services

bp = Blueprint("jwks", __name__)


@bp.get("/.well-known/jwks.json")
def jwks():
    jwks = services().backend_jwks
    if jwks is None:
        return jsonify({"error": "no backend key is configured, so there is no key to publish"}), 404
    return jsonify(jwks)
