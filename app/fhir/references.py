"""References on this FHIR server as "Type/id", the form the app stores, audits and sends back to the EHR."""

from __future__ import annotations


def relative(reference: str, base: str) -> str:
    """A reference on this FHIR base as "Type/id" (fhirUser is often absolute); others are kept as they are."""
    prefix = base.rstrip("/") + "/"
    return reference[len(prefix):] if reference.startswith(prefix) else reference
