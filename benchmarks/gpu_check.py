"""Run the conformance kit on a CUDA device and report each check's outcome and time.

Usage: ``python benchmarks/gpu_check.py --device cuda --out gpu-check.json``

Unlike the test suite (which asserts on CPU, where fits are bit-for-bit repeatable), this
records every check's outcome and, for the repeat and save/load checks, the largest
difference, because CUDA's scatter-add kernels make repeated fits differ in the last bits.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import traceback
from functools import partial
from pathlib import Path

import numpy as np

from mfbench.data.frameset import FrameSet
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.methods import FitContext, get_method
from mfbench.seeding import seed_everything
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import get_task
from mfbench.testing import KitData, method_checks

BASELINES = (
    "gga-floor",
    "zero-shot",
    "scratch",
    "finetune-trainable-atomref",
    "finetune-frozen-gga-atomref",
    "finetune-refit-atomref",
    "multi-stage",
)


def _repeat_difference(factory, kit: KitData) -> float:
    """Largest |ΔE| (eV/atom) and |ΔF| (eV/Å) between two fits with the same seed."""
    predictions = []
    for _ in range(2):
        seed_everything(7)
        method = factory().fit(kit.train, kit.val, kit.context(7))
        predictions.append(method.predict(list(kit.structures)))
    a, b = predictions
    return float(
        max(
            np.abs(a.energy_per_atom - b.energy_per_atom).max(),
            np.abs(a.forces - b.forces).max(),
        )
    )


def main() -> None:
    """Run every check of every baseline on ``--device``; write a JSON report."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    prepare(get_dataset("surrogate-aflow"))
    data = TaskData.load(get_task("surrogate-r2scan"))
    kit = KitData(
        FrameSet(data.store, data.split.train_fraction(0.05)[:16], "r2scan"),
        FrameSet(data.store, data.split.indices("val")[:4], "r2scan"),
        [data.store.structure(int(i)) for i in data.split.indices("test")[:3]],
        context=lambda seed: FitContext(device=args.device, seed=seed, progress=False),
        atol_energy=2e-5,
    )
    report: dict = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "methods": {},
    }
    for name in BASELINES:
        cls = get_method(name)
        trained = name not in ("gga-floor", "zero-shot")
        factory = partial(cls, epochs=2, batch_size=8) if trained else cls
        checks = {}
        for check in method_checks():
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    check(factory, kit, Path(tmp))
                    outcome = "pass"
                except Exception as exc:
                    outcome = f"FAIL {type(exc).__name__}: {str(exc)[:300]}"
                    traceback.print_exc()
            checks[check.__name__] = {
                "outcome": outcome,
                "seconds": round(time.perf_counter() - started, 2),
            }
            print(name, check.__name__, outcome[:120], flush=True)
        report["methods"][name] = {
            "checks": checks,
            "repeat_max_abs_difference": _repeat_difference(factory, kit),
        }
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
