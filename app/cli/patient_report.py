"""`sentinel inspect`: what the app would see for one patient on a FHIR server, for hospital IT before go-live.

Prints the measurements used, every Observation not used with its reason, the reason counts, the round trips,
and the score or the abstention with what is missing. A composition module: it uses `app.fhir` and `app.model`.
Exit status: 0 done; 2 the FHIR server failed (the message says how); 3 the model could not be loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import ConfigError, Settings, load_settings
from app.fhir import (
    FhirError,
    MappingResult,
    PatientRecord,
    StaticToken,
    Transport,
    fetch_patient_record,
    map_record,
)
from app.fhir.units import display_unit
from app.model.measurement import CONCEPTS

TOKEN_ENV = "SENTINEL_INSPECT_TOKEN"  # noqa: S105 - the name of a variable, not a secret


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError:  # settings for the web app (secret key...) do not matter here
        return Settings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    s = _settings()
    parser.add_argument("--fhir", required=True, metavar="BASE", help="FHIR base URL, e.g. https://ehr/fhir/r4")
    parser.add_argument("--patient", required=True, metavar="ID", help="Patient id on that server")
    parser.add_argument("--token", metavar="T",
                        help=f"bearer access token (or set {TOKEN_ENV}, which keeps it out of shell history)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--lookback-hours", type=float, default=s.observation_lookback_hours,
                        help="how far back vitals and labs are read (default: %(default)s)")
    parser.add_argument("--now", metavar="ISO", help="evaluate as of this time (ISO 8601 with zone); default now")
    parser.add_argument("--time-budget", type=float, default=s.fhir_time_budget,
                        help="seconds for all FHIR requests, retries included (default: %(default)s)")
    parser.add_argument("--page-size", type=int, default=s.page_size, help="_count (default: %(default)s)")
    parser.add_argument("--max-pages", type=int, default=s.max_pages, help="page cap (default: %(default)s)")


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise SystemExit("--now needs a time zone, e.g. 2026-11-23T08:00:00-06:00")
    return t


class ModelUnavailable(Exception):
    """The model could not be loaded here (not trained, artifact missing or not matching)."""


def _score(measurements, at: datetime):
    """The model's verdict: `Risk` or `Abstain` (app.model.score); ModelUnavailable when there is no model."""
    try:
        from app.model import ModelError, score
    except ImportError as exc:
        raise ModelUnavailable(f"ImportError: {exc}") from exc
    try:
        return score(list(measurements), at)
    except ModelError as exc:
        raise ModelUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _t(t: datetime | None) -> str | None:
    return t.isoformat(timespec="minutes") if t else None


def _verdict(outcome: Any) -> dict:
    if outcome is None:
        return {"kind": "unavailable"}
    version = getattr(outcome, "model_version", None)
    if hasattr(outcome, "probability"):
        return {"kind": "risk", "probability": outcome.probability, "threshold": outcome.threshold,
                "above_threshold": bool(outcome.above_threshold), "starred": sorted(outcome.starred),
                "model_version": version}
    return {"kind": "abstain", "model_version": version, "missing": [
        {"concept": m.concept, "label": m.label, "reason": m.reason, "last_seen": _t(m.last_seen)}
        for m in outcome.missing]}


def build_report(base: str, record: PatientRecord, result: MappingResult, now: datetime,
                 outcome: Any = None, model_error: str | None = None) -> dict:
    """Everything `inspect` shows, as plain data (the --json document)."""
    age = record.patient.age_years(now)
    verdict = _verdict(outcome)
    if model_error:
        verdict["detail"] = model_error
    return {
        "fhir_base": base,
        "patient": {"id": record.patient.patient_id, "sex": record.patient.sex,
                    "age_years": round(age, 1) if age is not None else None, "deceased": record.patient.deceased},
        "now": _t(now), "window_start": _t(record.window_start),
        "round_trips": record.round_trips, "complete": record.complete, "notes": list(record.notes),
        "used": [{"concept": m.measurement.concept, "label": CONCEPTS[m.measurement.concept].label,
                  "value": round(m.measurement.value, 4), "unit": display_unit(m.measurement.concept),
                  "time": _t(m.measurement.time), "observation_id": m.observation_id, "code": m.source_code,
                  "recorded_value": m.original_value, "recorded_unit": m.original_unit, "status": m.status}
                 for m in sorted(result.used, key=lambda m: (m.measurement.concept, m.measurement.time))],
        "rejected": [{"label": r.label, "observation_id": r.observation_id, "code": r.code, "time": _t(r.time),
                      "reason": r.reason, "detail": r.detail} for r in result.rejected],
        "reason_counts": result.reason_counts(),
        "not_relevant": result.not_relevant,
        "score": verdict,
    }


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def render_text(report: dict) -> str:
    p = report["patient"]
    age = f"{p['age_years']:g} y" if p["age_years"] is not None else "age unknown"
    lines = [
        f"FHIR server {report['fhir_base']}, patient {p['id']} ({p['sex'] or 'sex unknown'}, {age}"
        + (", deceased" if p["deceased"] else "") + ")",
        f"Window: {report['window_start']} to {report['now']}",
        f"Round trips: {report['round_trips']}; data complete: {'yes' if report['complete'] else 'NO'}",
    ]
    lines += [f"  note: {n}" for n in report["notes"]]
    lines.append("")
    lines.append(f"Measurements used ({len(report['used'])}):")
    for m in report["used"]:
        recorded = ""
        if m["recorded_unit"] and round(m["recorded_value"], 4) != m["value"]:  # converted
            recorded = f"  (recorded {_fmt(m['recorded_value'])} {m['recorded_unit']})"
        status = "  [preliminary]" if m["status"] == "preliminary" else ""
        lines.append(f"  {m['time'] or '':22} {m['label']:24} {_fmt(m['value']):>8} {m['unit']:10}"
                     f" {m['code']}{recorded}{status}")
    lines.append("")
    lines.append(f"Not used ({len(report['rejected'])}):")
    for r in report["rejected"]:
        what = f"Observation {r['observation_id']}" if r["observation_id"] else "Observation without id"
        reason = f"{r['reason']} ({r['detail']})" if r["detail"] else r["reason"]
        lines.append(f"  {r['time'] or '':22} {r['label'][:24]:24} {reason}  [{what}, code {r['code']}]")
    counts = ", ".join(f"{reason}: {n}" for reason, n in report["reason_counts"].items()) or "none"
    lines.append(f"Reasons: {counts}")
    lines.append(f"Not relevant to the model (other codes): {report['not_relevant']}")
    lines.append("")
    s = report["score"]
    if s["kind"] == "risk":
        side = "ABOVE" if s["above_threshold"] else "below"
        lines.append(f"Score: {s['probability']:.1%} ({side} the alert threshold of {s['threshold']:.1%}; "
                     f"model {s['model_version']})")
        if s["starred"]:
            lines.append("  driven by: " + ", ".join(CONCEPTS[c].label if c in CONCEPTS else c for c in s["starred"]))
    elif s["kind"] == "abstain":
        lines.append(f"Score: none; the model ({s['model_version']}) abstained. Missing or too old:")
        for m in s["missing"]:
            seen = f" (last seen {m['last_seen']})" if m["last_seen"] else ""
            lines.append(f"  {m['label']}: {m['reason']}{seen}")
    else:
        lines.append(f"Score: not available ({s.get('detail', 'model not loaded')})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    now = _now(args.now)
    token = args.token or os.environ.get(TOKEN_ENV)
    base = args.fhir.strip().rstrip("/")
    transport = Transport(base, StaticToken(token) if token else None, time_budget=args.time_budget)
    try:
        record = fetch_patient_record(transport, args.patient, now=now,
                                      lookback=timedelta(hours=args.lookback_hours), page_size=args.page_size,
                                      max_pages=args.max_pages)
    except FhirError as exc:
        if args.json:
            print(json.dumps({"fhir_base": base, "error": {"code": exc.code, "message": exc.message,
                                                            "detail": exc.detail},
                              "round_trips": transport.round_trips}, indent=2))
        else:
            print(f"FHIR server {base}: {exc.message}\n  detail: {exc.detail or exc.code}\n"
                  f"  round trips: {transport.round_trips}", file=sys.stderr)
        return 2
    result = map_record(record, now, base=base)
    outcome, model_error = None, None
    try:
        outcome = _score(result.measurements, now)
    except ModelUnavailable as exc:  # not trained or not installed here: the data report still helps
        model_error = str(exc)
    report = build_report(base, record, result, now, outcome, model_error)
    print(json.dumps(report, indent=2) if args.json else render_text(report))
    return 3 if model_error else 0
