"""`sentinel inspect` for every patient the sandbox EHR serves (the ten demo patients and the public sample
Bundles), over HTTP: what hospital IT would see. Prints one line per patient (used, rejected with reasons,
round trips, score or abstention) and the totals.

    .venv/bin/python -m bench.inspect_sandbox [--all-time] [--json out.json]

Each patient gets its own token through a real EHR launch (authorize with PKCE, token) against the sandbox
served on loopback, then `sentinel inspect --fhir ... --patient ... --token ... --json` runs in this process.
By default the app's 72 h window applies (the sample patients' data are years old, so little of it is used);
`--all-time` reads every Observation, to see how the mapping treats all of the real-world data. Numbers, not a
test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import threading
from collections import Counter
from pathlib import Path

from app.cli import main as sentinel
from sandbox import create_sandbox, register_client
from sandbox.stack import serve
from tests.support.sandbox_launch import EHR_SCOPE, authorize, exchange, open_chart

CLIENT, REDIRECT = "inspect-bench", "http://inspect.test/callback"


def token_for(ehr_client, fhir: str, patient: str) -> str:
    launch = open_chart(ehr_client, "nurse", patient, app=CLIENT)
    auth = authorize(ehr_client, launch=launch["launch"], client_id=CLIENT, redirect_uri=REDIRECT, aud=fhir)
    return exchange(ehr_client, auth, client_id=CLIENT, redirect_uri=REDIRECT).json["access_token"]


def verdict(score: dict) -> str:
    if score["kind"] == "risk":
        return f"risk {score['probability']:.3f}"
    if score["kind"] == "abstain":
        return f"abstains ({len(score['missing'])} missing)"
    return score["kind"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all-time", action="store_true", help="no time window: read every Observation")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    ehr = create_sandbox({})
    server = serve("127.0.0.1", 0, ehr)  # logs paths only, never launch ids or codes
    base = f"http://127.0.0.1:{server.server_port}"
    ehr.config["SANDBOX_BASE_URL"] = base
    fhir = f"{base}/fhir"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    register_client(ehr, CLIENT, [REDIRECT], "http://inspect.test/launch", scope=EHR_SCOPE)
    sandbox = ehr.extensions["sandbox"]
    extra = ["--lookback-hours", "1000000"] if args.all_time else []
    totals: Counter = Counter()
    reasons: Counter = Counter()
    rows = []
    try:
        for patient in sandbox.demo_patient_ids + sandbox.sample_patient_ids:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                sentinel(["inspect", "--fhir", fhir, "--patient", patient,
                          f"--token={token_for(ehr.test_client(), fhir, patient)}", "--json", *extra])
            report = json.loads(out.getvalue())
            if "error" in report:
                rows.append({"patient": patient, "error": report["error"]["code"]})
                totals["errors"] += 1
                continue
            row = {"patient": patient, "used": len(report["used"]), "rejected": len(report["rejected"]),
                   "reasons": report["reason_counts"], "not_relevant": report["not_relevant"],
                   "round_trips": report["round_trips"], "score": verdict(report["score"])}
            rows.append(row)
            for key in ("used", "rejected", "not_relevant", "round_trips"):
                totals[key] += row[key]
            reasons.update(report["reason_counts"])
    finally:
        server.shutdown()

    print(f"sentinel inspect over the sandbox, {'all time' if args.all_time else 'the 72 h window'}:")
    for r in rows:
        if "error" in r:
            print(f"  {r['patient']:40s} error {r['error']}")
        else:
            print(f"  {r['patient']:40s} used {r['used']:5d}  rejected {r['rejected']:4d}  round trips "
                  f"{r['round_trips']}  {r['score']}  {r['reasons'] or ''}")
    trips = sorted(r["round_trips"] for r in rows if "round_trips" in r)
    print(f"{len(rows)} patients: {totals['used']} Observations used, {totals['rejected']} rejected "
          f"({dict(reasons.most_common())}), {totals['not_relevant']} not relevant to the model, round trips per "
          f"patient {trips[0]}-{trips[-1]} (total {totals['round_trips']}), errors {totals['errors']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "totals": dict(totals), "reasons": dict(reasons)},
                                              indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
