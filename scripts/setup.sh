#!/usr/bin/env bash
# Set up .venv from nothing: torch==2.13.0 (CPU) first, then embedkit with its extras.
# Safe to run again: it reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# espeak-ng makes the spoken test clips of tests/audio (idempotent; quiet; only where apt-get exists).
if ! command -v espeak-ng >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null \
    || echo "warning: could not install espeak-ng; the spoken-audio tests will be skipped" >&2
fi
# chromium runs the web-page tests of tests/serve (Playwright drives /usr/bin/chromium; same rules).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "warning: could not install chromium; the web-page tests will fail" >&2
fi
# fonts-nanum gives plots a Hangul font (embedkit.analysis.plots; idempotent; quiet; where apt-get exists).
if ! fc-list :lang=ko 2>/dev/null | grep -q . && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null 2>&1 \
    || { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
         && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null; } \
    || echo "warning: could not install fonts-nanum; Hangul labels in plots will need a CJK font" >&2
fi
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
