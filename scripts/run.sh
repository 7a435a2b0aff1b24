#!/usr/bin/env bash
# The main job of LocalFeat on a fresh machine: set up, train the d2net recipe with the default settings
# (tiny model, ~10 minutes on two CPU cores), then evaluate the result against SIFT and ORB.
# The run folder (checkpoints, metrics.csv, loss.png, config.json, eval/report.md) is runs/d2net-tiny unless
# LOCALFEAT_RUN says otherwise; extra arguments go to `localfeat train` (e.g. --steps 200).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${LOCALFEAT_RUN:-$ROOT/runs/d2net-tiny}"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/localfeat" system
# A second run.sh continues (or just re-evaluates) the run already there instead of refusing to overwrite it.
resume=()
[ -f "$RUN/checkpoints/latest" ] && resume=(--resume)
# train ends with `localfeat eval` on its last checkpoint (report in $RUN/eval/report.md), which closes with the
# robustness sweeps of eval.sweeps (default rotation_short, scale_short; sweep_*.png beside it). The full sweeps:
# scripts/localfeat eval --run "$RUN" --sweep all
"$ROOT/scripts/localfeat" train --out "$RUN" "${resume[@]}" "$@"
