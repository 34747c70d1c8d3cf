"""Run the conformance kit on a CUDA device and report each check's outcome and time.

Usage: ``python benchmarks/gpu_check.py --device cuda --out gpu-check.json [--methods NAME ...]``
(every registered method by default, the newer baselines first)

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

from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.methods import Method, get_method, method_names
from mfbench.seeding import seed_everything
from mfbench.testing import KitData, method_checks

#: The baselines first checked on CUDA by this script's second version (2026-11-29), then the
#: seven of its first; any other registered method after them.
FIRST = (
    "zero-shot-regularised",
    "finetune-residual-atomref",
    "multi-fidelity",
    "delta-learning",
    "sevennet-finetune",
    "sevennet-pretrained",
    "gga-floor",
    "zero-shot",
    "scratch",
    "finetune-trainable-atomref",
    "finetune-frozen-gga-atomref",
    "finetune-refit-atomref",
    "multi-stage",
)


def _factory(name: str) -> partial[Method]:
    """Fresh instances of ``name``, trained briefly (1 epoch of batch 8) where it trains."""
    cls = get_method(name)
    accepted = cls().get_params()  # not the signature: subclasses pass **kwargs on
    short = {k: v for k, v in {"epochs": 1, "batch_size": 8}.items() if k in accepted}
    return partial(cls, **short)


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
    parser.add_argument("--methods", nargs="*", help="registered names (default: all)")
    args = parser.parse_args()
    registered = method_names()
    names = args.methods or [n for n in FIRST if n in registered] + sorted(
        set(registered) - set(FIRST)
    )

    prepare(get_dataset("surrogate-aflow"))
    kit = KitData.from_task(
        "surrogate-r2scan", fraction=0.05, n_train=16, device=args.device, atol_energy=2e-5
    )
    report: dict = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "methods": {},
    }
    for name in names:
        factory = _factory(name)
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
        started = time.perf_counter()
        try:
            repeat: float | str = _repeat_difference(factory, kit)
        except Exception as exc:
            repeat = f"FAIL {type(exc).__name__}: {str(exc)[:300]}"
        report["methods"][name] = {
            "params": dict(factory.keywords),
            "checks": checks,
            "repeat_max_abs_difference": repeat,
            "repeat_seconds": round(time.perf_counter() - started, 2),
        }
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
