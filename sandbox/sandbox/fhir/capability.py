"""The CapabilityStatement at `{BASE}/fhir/metadata`, generated from the search table so they cannot disagree."""

from __future__ import annotations

from .search import COMMON, PARAMS
from .validation import WRITABLE

_TYPE_FOR_KIND = {"token": "token", "reference": "reference", "date": "date", "string": "string"}


def capability_statement(base: str, types: list[str], software_date: str) -> dict:
    fhir = f"{base}/fhir"
    resources = []
    for rtype in sorted(set(types) | set(PARAMS) | WRITABLE):
        interactions = [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}]
        if rtype in WRITABLE:
            interactions.append({"code": "create"})
        params = {**COMMON, **PARAMS.get(rtype, {})}
        resources.append({
            "type": rtype, "interaction": interactions, "versioning": "versioned",
            "conditionalCreate": rtype in WRITABLE,
            "searchParam": [{"name": p.name, "type": _TYPE_FOR_KIND[p.kind],
                             **({"documentation": p.description} if p.description else {})}
                            for p in params.values()],
        })
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": software_date, "kind": "instance",
        "software": {"name": "Sepsis Sentinel sandbox EHR"},
        "implementation": {"description": "Local SMART on FHIR sandbox for demo and tests", "url": fhir},
        "fhirVersion": "4.0.1", "format": ["json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "cors": False,
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                         "code": "SMART-on-FHIR"}], "text": "OAuth2 using SMART-on-FHIR profile"}],
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [{"url": "authorize", "valueUri": f"{base}/auth/authorize"},
                                  {"url": "token", "valueUri": f"{base}/auth/token"},
                                  {"url": "introspect", "valueUri": f"{base}/auth/introspect"}],
                }],
            },
            "resource": resources,
            "interaction": [{"code": "search-system", "documentation": "only to read further pages (_getpages)"}],
        }],
    }
