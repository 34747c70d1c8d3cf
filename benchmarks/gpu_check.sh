#!/usr/bin/env bash
# GPU verification, as run on a lent CUDA machine (no network there): conformance kit on cuda,
# one `mfbench run --device cuda`, the epoch and evaluation side by side with stock CHGNet on
# cuda (tests/test_bench_throughput.py), the demo on cuda, and one of the demo's runs again on
# that machine's CPUs for a same-machine comparison.
# Usage: OUT=folder bash benchmarks/gpu_check.sh   (wheels for missing packages in .whl/)
set -uo pipefail
export PYTHONUNBUFFERED=1 MFBENCH_HOME=/tmp/mfbench-home
OUT=${OUT:?set OUT}
step() { echo; echo "=== $* ($(date +%T))"; }

step install
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --no-build-isolation --target /tmp/site .whl/*.whl . || exit 1
rm -f /tmp/site/pynvml.py  # keep the image's newer pynvml (nvidia-ml-py3 only adds nvidia_smi)
export PYTHONPATH=/tmp/site
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, chgnet; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'chgnet', chgnet.__version__)"

step conformance kit on cuda
timeout 180 python3 benchmarks/gpu_check.py --device cuda --out "$OUT/gpu-check.json" \
    2>&1 | grep -v Warning | tail -n 80

step "mfbench run --device cuda (surrogate-r2scan, finetune-refit-atomref, fraction 0.25)"
/usr/bin/time -f "wall %e s, max RSS %M KB" timeout 90 python3 -m mfbench.cli run \
    --task surrogate-r2scan --method finetune-refit-atomref --fraction 0.25 --device cuda \
    --out "$OUT/runs-cuda" 2>&1 | grep -vE "it/s|batch/s|frame/s|Warning" | tail -n 20
cp "$(find "$OUT/runs-cuda" -name result.json)" "$OUT/result-cuda.json"

step "epoch and evaluation against stock CHGNet on cuda (pytest-benchmark)"
MFBENCH_BENCH_DEVICE=cuda timeout 240 python3 -m pytest tests/test_bench_throughput.py -m slow \
    -k "epoch or evaluation" -q -p no:cacheprovider --benchmark-enable \
    --benchmark-json "$OUT/throughput-cuda.json" 2>&1 | tail -n 15

step "mfbench demo --device cuda"
timeout 120 python3 -m mfbench.cli demo --device cuda --out "$OUT/demo-cuda" \
    > "$OUT/demo-cuda.log" 2>&1
echo "exit $?"; grep -A 20 "^== 5" "$OUT/demo-cuda.log"

step "one demo run (quick task, finetune-refit-atomref, 0.1) again on this machine's CPUs"
/usr/bin/time -f "wall %e s, max RSS %M KB" timeout 60 python3 -m mfbench.cli run \
    --task surrogate-r2scan-quick --method finetune-refit-atomref --fraction 0.1 --device cpu \
    --out "$OUT/runs-cpu" 2>&1 | grep -vE "it/s|batch/s|frame/s|Warning" | tail -n 20
cp "$(find "$OUT/runs-cpu" -name result.json)" "$OUT/result-cpu-quick.json" 2>/dev/null
rm -rf "$OUT/runs-cuda" "$OUT/runs-cpu" "$OUT/demo-cuda"
