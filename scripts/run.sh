#!/usr/bin/env bash
# The main job of LocalFeat on a fresh machine: set up, then run the console.
# For now: the command overview and the system report.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/localfeat" --help
"$ROOT/scripts/localfeat" system
