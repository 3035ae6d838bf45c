#!/usr/bin/env bash
# The demo: installs what it needs, then starts the sandbox EHR and the app (SQLite) and prints the URL to open.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh sandbox
exec .venv/bin/sentinel-sandbox demo "$@"
