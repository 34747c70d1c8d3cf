#!/usr/bin/env bash
# Regenerates leaderboard/results/ from scratch (about 7 minutes on 2 CPU cores):
#   baselines/         every baseline on the embedded demo task (what `mfbench demo` runs);
#   reference-models/  chgnet's shipped r2scan model (gga-floor with base_model r2scan), shown
#                      as a non-compliant reference row, never ranked;
# and leaderboard/diagnostics/surrogate-r2scan/, the shift diagnostics of the embedded data.
# Model weights are not committed (.gitignore); result records and predictions are.
# Usage: bash leaderboard/regenerate.sh   (from the repository root, venv in .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf leaderboard/results/baselines leaderboard/results/reference-models
.venv/bin/mfbench demo --out leaderboard/results/baselines
for fraction in 0.05 0.1; do
    .venv/bin/mfbench run --task surrogate-r2scan-quick --method gga-floor \
        --param 'base_model="r2scan"' --fraction "$fraction" --out leaderboard/results/reference-models
done
.venv/bin/mfbench analyze shift --task surrogate-r2scan --out leaderboard/diagnostics/surrogate-r2scan
.venv/bin/mfbench leaderboard build --results leaderboard/results \
    --diagnostics leaderboard/diagnostics --out site
