"""Load the shared sample patients (FHIR transaction/batch Bundles) the way a FHIR server would.

The Synthea support Bundles (`hospitalInformation*`, `practitionerInformation*`) load first: they are batches
of POST with `ifNoneExist`. Patient Bundles are transactions whose `urn:uuid:` fullUrls become server ids and
whose conditional references (`Practitioner?identifier=system|value`) resolve against what is already stored.
A transaction with a reference that resolves to nothing is rejected whole, as a real server would.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .store import ResourceStore

log = logging.getLogger(__name__)
SUPPORT_PREFIXES = ("hospitalInformation", "practitionerInformation")


class BundleRejected(Exception):
    pass


def load_folder(folder: Path, store: ResourceStore, now_iso: str) -> list[str]:
    """Load every Bundle in `folder`; returns the Patient ids loaded, in file-name order."""
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no FHIR Bundles (*.json) in {folder}")
    support = [f for f in files if f.name.startswith(SUPPORT_PREFIXES)]
    patient_ids: list[str] = []
    for path in support + [f for f in files if f not in support]:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        try:
            patient_ids.extend(load_bundle(bundle, store, now_iso))
        except BundleRejected as exc:
            log.warning("sample bundle %s rejected: %s", path.name, exc)
    return patient_ids


def load_bundle(bundle: dict, store: ResourceStore, now_iso: str) -> list[str]:
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") not in ("transaction", "batch"):
        raise BundleRejected("not a transaction or batch Bundle")
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    local: dict[str, str] = {}  # fullUrl -> "Type/id"
    fresh: list[dict] = []
    for entry in entries:
        resource = entry["resource"]
        rtype = resource.get("resourceType")
        full_url = entry.get("fullUrl") or ""
        rid = resource.get("id") or full_url.removeprefix("urn:uuid:")
        existing = _if_none_exist(store, rtype, (entry.get("request") or {}).get("ifNoneExist"))
        if existing:
            local[full_url] = f"{rtype}/{existing}"
            continue
        if store.get(rtype, rid):  # the same resource again (shared across sample Bundles): keep the first
            local[full_url] = f"{rtype}/{rid}"
            continue
        resource["id"] = rid
        local[full_url] = f"{rtype}/{rid}"
        fresh.append(resource)
    for resource in fresh:
        _resolve_references(resource, local, store)
    patients = []
    for resource in fresh:
        meta = resource.setdefault("meta", {})
        meta.setdefault("versionId", "1")
        meta.setdefault("lastUpdated", now_iso)
        store.add(resource)
        if resource["resourceType"] == "Patient":
            patients.append(resource["id"])
    return patients


def _if_none_exist(store: ResourceStore, rtype: str, criteria: str | None) -> str | None:
    if not criteria or not criteria.startswith("identifier="):
        return None
    system, _, value = criteria[len("identifier="):].partition("|")
    return store.by_identifier(rtype, system, value)


def _resolve(ref: str, local: dict[str, str], store: ResourceStore) -> str:
    if ref.startswith("urn:uuid:"):
        if ref not in local:
            raise BundleRejected(f"reference {ref} is not in the Bundle")
        return local[ref]
    if "?" in ref:
        rtype, _, criteria = ref.partition("?")
        found = _if_none_exist(store, rtype, criteria)
        if not found:
            raise BundleRejected(f"conditional reference {ref} matches nothing")
        return f"{rtype}/{found}"
    return ref


def _resolve_references(node, local: dict[str, str], store: ResourceStore) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            node["reference"] = _resolve(ref, local, store)
        for key, value in node.items():
            if key != "text" and isinstance(value, (dict, list)):
                _resolve_references(value, local, store)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _resolve_references(item, local, store)
