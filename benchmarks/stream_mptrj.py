"""Measure ingestion of a generated MPtrj-layout file: frames/s and peak RSS.

Usage::

    python benchmarks/stream_mptrj.py FILE --make --mb 300   # write a file of about 300 MB
    python benchmarks/stream_mptrj.py FILE                   # mfbench's reader; a JSON line
    python benchmarks/stream_mptrj.py FILE --reader stock    # the stock path; a JSON line

``mfbench`` streams the file with :func:`mfbench.data.readers.nested_json.iter_nested_json`
(validated frames, one material in memory at a time). ``stock`` is how chgnet reads the same
file (``chgnet.data.dataset.StructureJsonData`` calls ``chgnet.utils.read_json``, a
``json.load`` of the whole file) followed by ``Structure.from_dict`` and label arrays for every
frame, which is what the stream also builds. Reading runs in this process; its peak resident
memory (``ru_maxrss``) is reported so that files of different sizes can be compared.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure


def make_file(path: Path, megabytes: float, frames_per_material: int = 4) -> int:
    """Write an MPtrj-layout JSON of about ``megabytes`` MB; returns the frame count."""
    rng = np.random.default_rng(0)
    structure = Structure(
        Lattice.cubic(5.0), ["Li", "Li", "Fe", "Fe", "O", "O", "O", "O"], rng.random((8, 3))
    )
    record = {
        "structure": structure.as_dict(),
        "uncorrected_total_energy": -45.123456789,
        "energy_per_atom": -5.640432098,
        "force": rng.normal(size=(8, 3)).tolist(),
        "stress": rng.normal(size=(3, 3)).tolist(),
        "magmom": rng.random(8).tolist(),
        "bandgap": 0.0,
        "mp_id": "mp-0",
    }
    frame_text = json.dumps(record)
    material_text = (
        "{" + ", ".join(f'"FRAME-{k}": {frame_text}' for k in range(frames_per_material)) + "}"
    )
    target = int(megabytes * 1e6)
    written, n_materials = 0, 0
    with open(path, "w") as handle:
        handle.write("{")
        while written < target:
            prefix = ", " if n_materials else ""
            block = f'{prefix}"mp-{n_materials}": ' + material_text.replace(
                "FRAME-", f"{n_materials}-1-"
            )
            handle.write(block)
            written += len(block)
            n_materials += 1
        handle.write("}")
    return n_materials * frames_per_material


def stream(path: Path) -> dict[str, float]:
    """Stream every frame of ``path`` through the nested-JSON reader."""
    from mfbench.data.readers.nested_json import LabelKeys, iter_nested_json

    keys = {"gga": LabelKeys("energy_per_atom", "per_atom", "force", "stress", "magmom")}
    started = time.perf_counter()
    n_frames = sum(1 for _ in iter_nested_json(path, fidelities=keys))
    seconds = time.perf_counter() - started
    return _report(path, n_frames, seconds)


def stock(path: Path) -> dict[str, float]:
    """Load ``path`` whole, as chgnet does, then build every frame's structure and labels.

    ``chgnet.utils.read_json`` is ``json.load`` of the open file; it is called here as
    ``json.load`` so that importing chgnet (and torch) does not add to the peak memory.
    """
    started = time.perf_counter()
    with open(path) as handle:
        data = json.load(handle)
    n_frames = 0
    for frames in data.values():
        for record in frames.values():
            Structure.from_dict(record["structure"])
            np.asarray(record["force"], dtype=float)
            np.asarray(record["stress"], dtype=float)
            np.asarray(record["magmom"], dtype=float)
            n_frames += 1
    seconds = time.perf_counter() - started
    return _report(path, n_frames, seconds)


def _report(path: Path, n_frames: int, seconds: float) -> dict[str, float]:
    return {
        "file_mb": path.stat().st_size / 1e6,
        "frames": n_frames,
        "seconds": round(seconds, 2),
        "frames_per_s": round(n_frames / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--make", action="store_true", help="write the file instead")
    parser.add_argument("--mb", type=float, default=300.0)
    parser.add_argument("--reader", choices=("mfbench", "stock"), default="mfbench")
    args = parser.parse_args()
    if args.make:
        print(json.dumps({"frames": make_file(args.file, args.mb)}))
    else:
        print(json.dumps((stream if args.reader == "mfbench" else stock)(args.file)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
