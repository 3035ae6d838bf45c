"""References on this FHIR server as "Type/id", the form the app stores, audits and sends back to the EHR."""

from __future__ import annotations


def relative(reference: str, base: str) -> str:
    """A reference on this FHIR base as "Type/id" (fhirUser is often absolute); others are kept as they are."""
    prefix = base.rstrip("/") + "/"
    return reference[len(prefix):] if reference.startswith(prefix) else reference


def id_of(resource: object) -> str | None:
    """The id of a resource the server answered with (a create's answer); None when it gave no usable id."""
    value = resource.get("id") if isinstance(resource, dict) else None
    return value if isinstance(value, str) and value else None
