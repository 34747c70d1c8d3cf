#!/usr/bin/env bash
# The full matrix of the ranked task sevennet-r2scan: every baseline × every nonzero fraction ×
# seeds 0, 1, 2 (`mfbench sweep`, learning rate chosen on the validation split as the task
# declares), plus the reference rows (CHGNet r2scan through gga-floor, and the teacher
# SevenNet-MF-0 itself), written into leaderboard/results/{baselines,reference-models}/.
#
# It takes hours on 2 CPU cores, so it resumes: finished runs are kept, a killed run restarts
# from its last checkpoint; run it again (in as many sittings as needed) until it reports
# nothing pending, committing the new records as they come. The code runs from a clean clone
# of HEAD (in $MFBENCH_MATRIX_CLONE, default ../mfbench-matrix-clone) so that you may keep
# editing this checkout and every record's environment.git_commit names a commit without
# "-dirty" (commit your code first).
# Usage: bash leaderboard/matrix.sh [--dry-run]   (from the repository root, venv in .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [ -n "$(git status --porcelain --untracked-files=no -- mfbench baselines pyproject.toml)" ]; then
    echo "matrix.sh: commit your code changes first (records name the commit)" >&2
    exit 1
fi
clone=${MFBENCH_MATRIX_CLONE:-$repo/../mfbench-matrix-clone}
commit=$(git rev-parse HEAD)
[ -d "$clone/.git" ] || git clone -q "$repo" "$clone"
git -C "$clone" fetch -q "$repo" "$commit"
git -C "$clone" checkout -q --detach "$commit"
python=$repo/.venv/bin/python
export PYTHONPATH=$clone   # the clone's mfbench and baselines, not this checkout's
cd "$clone"
FRACTIONS="0.1 0.25 0.5 1.0"  # the task's nonzero fractions
# in this order, so that a partial matrix already holds the comparisons the paper check makes,
# then the baselines beyond the paper; MFBENCH_MATRIX_METHODS="a b" runs only those
methods=(gga-floor zero-shot finetune-refit-atomref finetune-frozen-gga-atomref scratch
         finetune-trainable-atomref multi-stage
         zero-shot-regularised finetune-residual-atomref delta-learning multi-fidelity
         sevennet-finetune)
if [ -n "${MFBENCH_MATRIX_METHODS:-}" ]; then
    read -r -a methods <<< "$MFBENCH_MATRIX_METHODS"
fi
"$python" -m mfbench.cli sweep --task sevennet-r2scan --methods "${methods[@]}" --seeds 0 1 2 --fractions $FRACTIONS \
    --jobs 2 --out "$repo/leaderboard/results/baselines" "$@"
[ "${1:-}" = "--dry-run" ] && exit 0
for fraction in $FRACTIONS; do
    "$python" -m mfbench.cli run --task sevennet-r2scan --method gga-floor \
        --param 'base_model="r2scan"' --fraction "$fraction" --out "$repo/leaderboard/results/reference-models"
    "$python" -m mfbench.cli run --task sevennet-r2scan --method sevennet-pretrained \
        --fraction "$fraction" --out "$repo/leaderboard/results/reference-models"
done
