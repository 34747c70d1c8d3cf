#!/usr/bin/env bash
# GPU verification, as run on a lent CUDA machine (no network there): the epoch and evaluation
# side by side with stock CHGNet on cuda (tests/test_bench_throughput.py), the conformance kit
# of every registered baseline on cuda, and two `mfbench run --device cuda` (a CHGNet and a
# SevenNet fine-tune) whose records compare with the committed 2-core CPU records.
# FULL=1 adds the demo on cuda and one demo run on that machine's CPUs (measured 2026-11-26).
# Usage: OUT=folder bash benchmarks/gpu_check.sh   (wheels for the packages the image lacks in
# .whl/: bash benchmarks/gpu_wheels.sh makes them)
set -uo pipefail
export PYTHONUNBUFFERED=1 MFBENCH_HOME=/tmp/mfbench-home
OUT=${OUT:?set OUT}
step() { echo; echo "=== $* ($(date +%T))"; }
quiet() { grep -vE "it/s|batch/s|frame/s|Warning|warn"; }

step install
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --no-build-isolation --target /tmp/site .whl/*.whl . || exit 1
rm -f /tmp/site/pynvml.py  # keep the image's newer pynvml (nvidia-ml-py3 only adds nvidia_smi)
export PYTHONPATH=/tmp/site
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, chgnet, sevenn; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'chgnet', chgnet.__version__, 'sevenn', sevenn.__version__)"

step "epoch and evaluation against stock CHGNet on cuda (pytest-benchmark)"
MFBENCH_BENCH_DEVICE=cuda timeout 110 python3 -m pytest tests/test_bench_throughput.py -m slow \
    -k "epoch or evaluation" -q -p no:cacheprovider --benchmark-enable \
    --benchmark-json "$OUT/throughput-cuda.json" 2>&1 | tail -n 15

step conformance kit on cuda, every registered baseline
timeout 180 python3 benchmarks/gpu_check.py --device cuda --out "$OUT/gpu-check.json" \
    2>&1 | grep -E "^[a-z0-9-]+ check_|Error|error" | head -n 120

run_cuda() {  # task method fraction seconds name
    step "mfbench run --task $1 --method $2 --fraction $3 --device cuda"
    /usr/bin/time -f "wall %e s, max RSS %M KB" timeout "$4" python3 -m mfbench.cli run \
        --task "$1" --method "$2" --fraction "$3" --seed 0 --device cuda \
        --out "$OUT/runs-$5" 2>&1 | quiet | tail -n 12
    cp "$(find "$OUT/runs-$5" -name result.json | head -n 1)" "$OUT/result-$5.json"
    rm -rf "$OUT/runs-$5"
}
run_cuda sevennet-r2scan sevennet-finetune 0.1 150 sevennet-cuda
run_cuda surrogate-r2scan finetune-refit-atomref 0.25 70 chgnet-cuda

[ "${FULL:-0}" = 1 ] || exit 0
step "mfbench demo --device cuda"
timeout 300 python3 -m mfbench.cli demo --device cuda --out "$OUT/demo-cuda" \
    > "$OUT/demo-cuda.log" 2>&1
echo "exit $?"; grep -A 20 "^== 5" "$OUT/demo-cuda.log"
step "one demo run (quick task, finetune-refit-atomref, 0.1) again on this machine's CPUs"
/usr/bin/time -f "wall %e s, max RSS %M KB" timeout 60 python3 -m mfbench.cli run \
    --task surrogate-r2scan-quick --method finetune-refit-atomref --fraction 0.1 --device cpu \
    --out "$OUT/runs-cpu" 2>&1 | quiet | tail -n 12
cp "$(find "$OUT/runs-cpu" -name result.json | head -n 1)" "$OUT/result-cpu-quick.json"
rm -rf "$OUT/runs-cpu" "$OUT/demo-cuda"
