#!/usr/bin/env bash
# Set up .venv from nothing: torch==2.13.0 (CPU) first, then embedkit with its extras.
# Safe to run again: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
stamp=.venv/.embedkit-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python -m pip install --quiet --upgrade pip
  # torch before anything that depends on it: an unpinned torch would pull GBs of CUDA packages.
  python -m pip install --quiet "torch==2.13.0"
  python -m pip install --quiet -e ".[all,test]"
  echo "$want" > "$stamp"
fi
