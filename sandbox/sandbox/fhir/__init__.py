"""The FHIR R4 server: the in-memory store, search, SMART access checks, create validation and the REST views."""
