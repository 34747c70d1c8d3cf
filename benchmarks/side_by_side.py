"""Run mfbench's side-by-side benchmarks against the stock CHGNet path and print the figures.

Usage (from the repository root, venv active)::

    python benchmarks/side_by_side.py                      # every benchmark, about 10 minutes
    python benchmarks/side_by_side.py -k ingestion         # pytest's -k selects some
    python benchmarks/side_by_side.py --json figures.json  # also keep pytest-benchmark's JSON

It calls pytest-benchmark on ``tests/test_bench_*.py`` (the slow, side-by-side ones) and prints
each benchmark's ``extra_info``: what was measured, for mfbench and for the stock path, in one
table. The figures depend on the machine: quote them with its CPU and core count (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("tests/test_bench_ingestion.py", "tests/test_bench_throughput.py")


def run(selection: str | None, keep: Path | None) -> int:
    """Run the benchmarks; print their figures; return pytest's exit status."""
    with tempfile.TemporaryDirectory() as tmp:
        report = keep or Path(tmp) / "benchmarks.json"
        command = [
            sys.executable, "-m", "pytest", *FILES, "-m", "slow", "-q",
            "--benchmark-enable", f"--benchmark-json={report}",
        ]  # fmt: skip
        if selection:
            command += ["-k", selection]
        status = subprocess.call(command, cwd=ROOT)
        if not report.is_file():
            return status or 1
        data = json.loads(report.read_text())
    cpu = data.get("machine_info", {}).get("cpu", {})
    print(f"\n{cpu.get('brand_raw', 'unknown CPU')}, {os.cpu_count()} cores")
    for bench in data.get("benchmarks", []):
        info = ", ".join(f"{k} {v}" for k, v in bench.get("extra_info", {}).items())
        print(f"{bench['name']}: {info}")
    return status


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="selection", help="pytest -k expression")
    parser.add_argument("--json", type=Path, help="keep pytest-benchmark's JSON report here")
    args = parser.parse_args()
    return run(args.selection, args.json)


if __name__ == "__main__":
    sys.exit(main())
