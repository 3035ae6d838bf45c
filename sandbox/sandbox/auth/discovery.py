"""Discovery documents: `.well-known/smart-configuration` (SMART App Launch 2.0, "Conformance") and the
OpenID Connect provider metadata for the same issuer (the FHIR base)."""

from __future__ import annotations

CAPABILITIES = [
    "launch-ehr", "launch-standalone", "authorize-post",
    "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-passthrough-banner", "context-passthrough-style",
    "context-ehr-patient", "context-ehr-encounter",
    "context-standalone-patient", "context-standalone-encounter",
    "permission-offline", "permission-online", "permission-patient", "permission-user", "permission-system",
    "permission-v1", "permission-v2",
]
SCOPES_SUPPORTED = ["openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
                    "online_access", "offline_access", "patient/*.cruds", "user/*.cruds", "patient/*.rs",
                    "user/*.rs", "patient/*.read", "user/*.read", "system/*.rs", "system/*.read"]


def smart_configuration(base: str) -> dict:
    fhir = f"{base}/fhir"
    return {
        "issuer": fhir,
        "jwks_uri": f"{base}/auth/jwks",
        "authorization_endpoint": f"{base}/auth/authorize",
        "token_endpoint": f"{base}/auth/token",
        "introspection_endpoint": f"{base}/auth/introspect",
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        # private_key_jwt: SMART Backend Services (client-confidential-asymmetric), ES384 or RS384.
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES384", "RS384"],
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }


def openid_configuration(base: str) -> dict:
    smart = smart_configuration(base)
    return {
        "issuer": smart["issuer"], "jwks_uri": smart["jwks_uri"],
        "authorization_endpoint": smart["authorization_endpoint"], "token_endpoint": smart["token_endpoint"],
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": smart["scopes_supported"],
        "token_endpoint_auth_methods_supported": smart["token_endpoint_auth_methods_supported"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser", "name"],
        "code_challenge_methods_supported": ["S256"], "grant_types_supported": smart["grant_types_supported"],
    }
