#!/usr/bin/env bash
# Regenerates leaderboard/results/ from scratch (about 5 minutes on 2 CPU cores):
#   baselines/         every baseline on the embedded demo task (what `mfbench demo` runs);
#   reference-models/  chgnet's shipped r2scan model (gga-floor with base_model r2scan), shown
#                      as a non-compliant reference row, never ranked;
# and leaderboard/diagnostics/surrogate-r2scan/, the shift diagnostics of the embedded data.
# Runs are written into a temporary folder and copied in at the end, so the checkout stays clean
# while they run and every record's environment.git_commit names a commit without "-dirty"
# (commit your code first). Model weights are not committed (.gitignore); records, predictions
# and method.json are.
# Usage: bash leaderboard/regenerate.sh   (from the repository root, venv in .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "regenerate.sh: commit or stash your changes first (records name the commit)" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/mfbench demo --out "$work/baselines"
for fraction in 0.05 0.1; do
    .venv/bin/mfbench run --task surrogate-r2scan-quick --method gga-floor \
        --param 'base_model="r2scan"' --fraction "$fraction" --out "$work/reference-models"
done
.venv/bin/mfbench analyze shift --task surrogate-r2scan --out "$work/diagnostics/surrogate-r2scan"
rm -rf leaderboard/results/baselines leaderboard/results/reference-models
for part in baselines reference-models; do
    (cd "$work/$part" && find . -name result.json -o -name predictions.npz -o -name method.json) |
        while read -r file; do
            mkdir -p "leaderboard/results/$part/$(dirname "$file")"
            cp "$work/$part/$file" "leaderboard/results/$part/$file"
        done
done
cp "$work/diagnostics/surrogate-r2scan/report.json" "$work/diagnostics/surrogate-r2scan/points.npz" \
    leaderboard/diagnostics/surrogate-r2scan/
.venv/bin/mfbench leaderboard build --results leaderboard/results \
    --diagnostics leaderboard/diagnostics --out site
