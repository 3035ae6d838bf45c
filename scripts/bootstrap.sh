#!/usr/bin/env bash
# Create .venv and install the project (with the given extras) at the versions in constraints.txt. Reinstalls only
# when pyproject.toml, sandbox/pyproject.toml or constraints.txt changed.
#   scripts/bootstrap.sh            # the app alone (the production image)
#   scripts/bootstrap.sh sandbox    # the app and the sandbox EHR distribution (the demo)
#   scripts/bootstrap.sh test       # the app with its test extras, and the sandbox (the tests drive it)
set -euo pipefail
cd "$(dirname "$0")/.."
words="${1:-}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# `sandbox` is not an extra of the app: it adds the sandbox distribution (sandbox/pyproject.toml) beside it, so the
# app's wheel and image never contain its test double. Every other word is one of the app's extras.
extras="$(echo "$words" | tr ',' '\n' | grep -vx 'sandbox' | paste -sd, - || true)"
specs=(".${extras:+[$extras]}")
case ",$words," in *,sandbox,*|*,test,*) specs+=("./sandbox") ;; esac
# Versions come from constraints.txt (scripts/lock.sh writes it), so a new upstream release cannot change what
# CI, the demo or the image installs.
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)${words:+-${words//,/-}}"
[ ${#specs[@]} -gt 1 ] && stamp="$stamp-$(sha256sum < sandbox/pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  editable=()
  for spec in "${specs[@]}"; do editable+=(-e "$spec"); done
  .venv/bin/python -m pip install --quiet -c constraints.txt "${editable[@]}" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import app, flask, sklearn" >/dev/null
  [ ${#specs[@]} -gt 1 ] && .venv/bin/python -c "import sandbox.stack" >/dev/null
  touch "$stamp"
fi
