#!/usr/bin/env bash
# The main job: set up, index the bilingual sample collection, compare keyword / vector / hybrid search.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1
python examples/demo.py "$@"
