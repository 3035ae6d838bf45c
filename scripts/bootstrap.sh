#!/usr/bin/env bash
# Create .venv and install the project (with the given extras) at the versions in constraints.txt. Reinstalls only
# when pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Versions come from constraints.txt (scripts/lock.sh writes it), so a new upstream release cannot change what
# CI, the demo or the image installs.
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)${extras:+-$extras}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  .venv/bin/python -m pip install --quiet -c constraints.txt -e "$spec" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import app, flask, sklearn" >/dev/null
  touch "$stamp"
fi
