#!/usr/bin/env bash
# The whole test suite: installs Debian's Chromium and PostgreSQL and the Python packages, starts a throwaway
# PostgreSQL, then runs lint, unit, integration (SQLite and PostgreSQL) and Playwright end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-liberation)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

scripts/bootstrap.sh test

eval "$(scripts/pg_test.sh start)"
trap 'scripts/pg_test.sh stop' EXIT
mkdir -p artifacts
.venv/bin/python -m pytest --screenshot only-on-failure --tracing retain-on-failure --output artifacts/pw "$@"
