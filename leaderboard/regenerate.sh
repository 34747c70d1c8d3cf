#!/usr/bin/env bash
# Regenerates the demo part of leaderboard/results/ from scratch (about 6 minutes on 2 CPU cores):
#   baselines/sevennet-r2scan-quick/         every baseline on the demo task (what `mfbench demo`
#                                            runs);
#   reference-models/sevennet-r2scan-quick/  chgnet's shipped r2scan model (gga-floor with
#                                            base_model r2scan) and the teacher SevenNet-MF-0,
#                                            shown as non-compliant reference rows, never ranked;
# and leaderboard/diagnostics/sevennet-r2scan/, the shift diagnostics of the embedded data v2.
# The full matrix of the ranked task (leaderboard/results/*/sevennet-r2scan/) is made by
# leaderboard/matrix.sh (`mfbench sweep`, resumable) and is left alone here.
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
# the README's demo figures: wall time and peak memory of the demo on this machine
/usr/bin/time -f "demo: %e s wall, peak resident memory %M KB" -o "$work/demo.time" \
    .venv/bin/mfbench demo --out "$work/baselines"
cat "$work/demo.time"
for fraction in 0.05 0.1; do
    .venv/bin/mfbench run --task sevennet-r2scan-quick --method gga-floor \
        --param 'base_model="r2scan"' --fraction "$fraction" --out "$work/reference-models"
    .venv/bin/mfbench run --task sevennet-r2scan-quick --method sevennet-pretrained \
        --fraction "$fraction" --out "$work/reference-models"
done
.venv/bin/mfbench analyze shift --task sevennet-r2scan --out "$work/diagnostics/sevennet-r2scan"
rm -rf leaderboard/results/baselines/sevennet-r2scan-quick \
    leaderboard/results/reference-models/sevennet-r2scan-quick
for part in baselines reference-models; do
    (cd "$work/$part" && find . -name result.json -o -name predictions.npz -o -name method.json) |
        while read -r file; do
            mkdir -p "leaderboard/results/$part/$(dirname "$file")"
            cp "$work/$part/$file" "leaderboard/results/$part/$file"
        done
done
mkdir -p leaderboard/diagnostics/sevennet-r2scan
cp "$work/diagnostics/sevennet-r2scan/report.json" "$work/diagnostics/sevennet-r2scan/points.npz" \
    leaderboard/diagnostics/sevennet-r2scan/
.venv/bin/mfbench leaderboard build --results leaderboard/results \
    --diagnostics leaderboard/diagnostics --out site
