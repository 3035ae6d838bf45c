"""`sentinel-sandbox` (or `python -m sandbox`): the demo, or the sandbox EHR alone.

    .venv/bin/sentinel-sandbox demo [--demo-speed 2 --replay-hours 30 --ehr-port 8700 --app-port 8701 ...]

The EHR alone (benchmarks, manual testing, another app):

    .venv/bin/python -m sandbox --port 8700 \\
        --register-client my-app --redirect-uri http://127.0.0.1:9000/callback --launch-url http://127.0.0.1:9000/launch \\
        --register-backend-client my-app-backend --jwks-url http://127.0.0.1:9000/.well-known/jwks.json
"""

from __future__ import annotations

import argparse
import sys

from . import SandboxConfigError, create_sandbox, register_backend_client, register_client
from .auth.backend import DEFAULT_BACKEND_SCOPE
from .auth.models import DEFAULT_CLIENT_SCOPE
from .stack.ehr import serve


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sandbox", description="Sandbox EHR: SMART App Launch 2.0 + FHIR R4 "
                                "(`sentinel-sandbox demo`: the demo)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8700, help="port (0: any free port)")
    p.add_argument("--public-url", help="base URL apps use to reach the sandbox (default http://HOST:PORT)")
    p.add_argument("--register-client", metavar="CLIENT_ID", help="register an app with this client_id")
    p.add_argument("--redirect-uri", action="append", default=[], help="the app's redirect URI (repeatable)")
    p.add_argument("--launch-url", help="the app's launch URL (the EHR front page opens it)")
    p.add_argument("--client-secret", help="makes the app confidential (client_secret_basic); omit for public")
    p.add_argument("--scope", default=DEFAULT_CLIENT_SCOPE, help="the most the app may be granted")
    p.add_argument("--register-backend-client", metavar="CLIENT_ID",
                   help="register a SMART Backend Services client (private_key_jwt) with this client_id")
    p.add_argument("--jwks-url", help="the backend client's JWKS URL (fetched when it asks for a token)")
    p.add_argument("--backend-scope", default=DEFAULT_BACKEND_SCOPE, help="the backend client's system/ scopes")
    p.add_argument("--access-token-lifetime", type=int, default=3600, help="seconds")
    p.add_argument("--fhir-user", choices=("absolute", "relative"), default="absolute",
                   help="fhirUser claim form (the public SMART sandbox sends relative)")
    p.add_argument("--no-sample-patients", action="store_true", help="demo patients only (faster start)")
    p.add_argument("--sample-patients-dir", help="folder of the shared FHIR sample Bundles")
    p.add_argument("--no-fault-endpoint", action="store_true", help="disable POST /_sandbox/faults")
    args = p.parse_args(argv)
    if args.register_client and not (args.redirect_uri and args.launch_url):
        p.error("--register-client needs --redirect-uri and --launch-url")
    if bool(args.register_backend_client) != bool(args.jwks_url):
        p.error("--register-backend-client and --jwks-url go together")
    return args


def demo(argv: list[str]) -> int:
    from . import demo as command

    parser = argparse.ArgumentParser(prog="sentinel-sandbox demo",
                                     description="start the sandbox EHR and the app, with SQLite, and print the URL "
                                                 "to open")
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:  # the one subcommand; any other arguments are the EHR's own options
        return demo(argv[1:])
    args = parse_args(argv)
    settings = {"ACCESS_TOKEN_LIFETIME": args.access_token_lifetime, "FHIR_USER": args.fhir_user,
                "LOAD_SAMPLE_PATIENTS": not args.no_sample_patients, "FAULTS_HTTP": not args.no_fault_endpoint}
    if args.sample_patients_dir:
        settings["SAMPLE_PATIENTS_DIR"] = args.sample_patients_dir
    try:
        app = create_sandbox(settings)
    except SandboxConfigError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        server = serve(args.host, args.port, app)
    except OSError as exc:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {exc}. Try --port 0.", file=sys.stderr)
        return 1
    base = (args.public_url or f"http://{args.host}:{server.server_port}").rstrip("/")
    app.config["SANDBOX_BASE_URL"] = base
    if args.register_client:
        register_client(app, args.register_client, args.redirect_uri, args.launch_url,
                        client_secret=args.client_secret, scope=args.scope)
    if args.register_backend_client:
        register_backend_client(app, args.register_backend_client, jwks_url=args.jwks_url, scope=args.backend_scope)
    print(f"Sandbox EHR:  {base}/\nFHIR base (iss):  {base}/fhir\n"
          f"Discovery:  {base}/fhir/.well-known/smart-configuration", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
