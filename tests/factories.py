"""Builders of small structures and MPtrj-layout files for tests."""

from __future__ import annotations

import gzip
import itertools
import json
import math
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure


def make_structure(elements: list[str], a: float = 4.0, seed: int = 0) -> Structure:
    """A small cubic cell with one atom of each element at reproducible positions.

    Atoms sit on a grid of ``ceil(n ** (1/3))`` points per edge, each moved by up to 5 % of
    the cell at random, so no two are closer than prepare's physical limit (0.5 Å).
    """
    rng = np.random.default_rng(seed)
    n = len(elements)
    per_edge = math.ceil(round(n ** (1 / 3), 9))
    grid = np.array(list(itertools.product(range(per_edge), repeat=3))[:n]) / per_edge
    coords = grid + rng.uniform(-0.05, 0.05, (n, 3))
    return Structure(Lattice.cubic(a), elements, coords)


def mptrj_record(structure: Structure, energy_per_atom: float, seed: int = 0) -> dict:
    """One frame record in MPtrj's layout; stress in kBar with VASP's sign."""
    rng = np.random.default_rng(seed)
    n = len(structure)
    return {
        "structure": structure.as_dict(),
        "uncorrected_total_energy": energy_per_atom * n,
        "energy_per_atom": energy_per_atom,
        "force": rng.normal(size=(n, 3)).round(6).tolist(),
        "stress": [[10.0, 1.0, 0.0], [1.0, 20.0, 0.0], [0.0, 0.0, 30.0]],
        "magmom": [-0.5] + [0.1] * (n - 1),
        "mp_id": "",
    }


def write_nested(path: Path, data: dict, compress: bool = False) -> Path:
    """Write ``data`` as (optionally gzipped) JSON."""
    text = json.dumps(data)
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def set_record_fields(path: Path, values: dict) -> None:
    """Overwrite fields of the record at ``path``, named by dotted keys (``"task.version"``)."""
    record = json.loads(path.read_text())
    for dotted, value in values.items():
        *parents, last = dotted.split(".")
        target = record
        for key in parents:
            target = target[key]
        target[last] = value
    path.write_text(json.dumps(record))
