"""Reader for VASP output folders through pymatgen's ``Vasprun``.

Every ``vasprun.xml`` (or ``vasprun.xml.gz``) below the source folder is one calculation;
each ionic step is a frame (or only the last one). Labels per step:

- energy: the step's ``e_0_energy`` (energy extrapolated to σ → 0, as MPtrj and MatPES
  use) divided by the atom count, eV/atom. VASP 5 wrote ``e_wo_entrp`` and ``e_0_energy``
  swapped in the ionic step's ``<energy>`` block; where the last electronic step shows
  this, the energy is ``e_fr_energy`` plus that step's σ → 0 correction, the fix pymatgen's
  ``Vasprun.final_energy`` applies (pymatgen issue #2367, PR #2369). A step without
  ``e_0_energy`` falls back to ``e_fr_energy`` (the free energy), with a warning.
- forces: ``[n_atoms, 3]`` eV/Å.
- stress: ``[3, 3]`` kBar with VASP's sign → GPa in CHGNet's sign; None when the run did
  not compute it.
- magmoms: None. vasprun.xml has no per-site magnetic moments (OUTCAR is not read).

One vasprun.xml is parsed whole by pymatgen, so memory is bounded by the largest single
calculation, not by the number of calculations.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mfbench import units
from mfbench.data.frame import Frame, Labels, validate_frame
from mfbench.data.readers._common import number, numeric_array
from mfbench.errors import DataError

logger = logging.getLogger(__name__)

VASPRUN_NAMES = ("vasprun.xml", "vasprun.xml.gz")


def find_vasprun_files(source: Path) -> list[Path]:
    """Every ``vasprun.xml[.gz]`` below ``source`` (or ``source`` itself if a file), sorted.

    Raises:
        DataError: one folder holds both ``vasprun.xml`` and ``vasprun.xml.gz``.
    """
    source = Path(source)
    if source.is_file():
        return [source]
    files = sorted(p for p in source.rglob("vasprun.xml*") if p.name in VASPRUN_NAMES)
    twice = sorted(folder for folder, n in Counter(p.parent for p in files).items() if n > 1)
    if twice:
        raise DataError("holds both vasprun.xml and vasprun.xml.gz; keep one", file=str(twice[0]))
    return files


def iter_vasp(source: Path, *, fidelity: str, all_ionic_steps: bool = True) -> Iterator[Frame]:
    """Yield validated frames from the VASP calculations below ``source``.

    Args:
        source: a folder (searched recursively, in sorted path order) or a single
            ``vasprun.xml[.gz]``.
        fidelity: label set name.
        all_ionic_steps: every ionic step is a frame; False keeps only the last one.

    Material id: the calculation folder relative to ``source`` (posix; the folder's own
    name when the vasprun.xml sits directly in ``source``); frame id:
    ``<material id>/<ionic step index>`` (0-based, counted over all steps even when only
    the last is kept).

    Yields:
        Frames with ``labels[fidelity]``: energy eV/atom, forces ``[n_atoms, 3]`` eV/Å,
        stress ``[3, 3]`` GPa or None, magmoms None.

    Raises:
        DataError: no vasprun.xml found, one that cannot be parsed (naming the file), or a
            step with missing or malformed labels (naming the file, material, frame, field).
    """
    from pymatgen.io.vasp import Vasprun

    source = Path(source)
    files = find_vasprun_files(source)
    if not files:
        raise DataError("no vasprun.xml or vasprun.xml.gz below this folder", file=str(source))
    base = source if source.is_dir() else source.parent
    for file in files:
        path = str(file)
        try:
            run = Vasprun(path, parse_dos=False, parse_eigen=False, parse_potcar_file=False)
        except Exception as exc:  # pymatgen raises XML, value, key and index errors
            raise DataError(
                f"cannot parse vasprun.xml ({type(exc).__name__}: {exc})", file=path
            ) from exc
        relative = file.parent.relative_to(base).as_posix()
        material_id = file.parent.resolve().name if relative == "." else relative
        steps = list(enumerate(run.ionic_steps))
        if not steps:
            raise DataError("the run has no ionic steps", file=path, material=material_id)
        if not all_ionic_steps:
            steps = steps[-1:]
        if any(step.get("e_0_energy") is None for _, step in steps):
            logger.warning("%s: steps without e_0_energy use e_fr_energy (free energy)", path)
        for step_index, step in steps:
            where = {"file": path, "material": material_id, "frame": f"{material_id}/{step_index}"}
            yield _frame(step, fidelity, where)


def _frame(step: Mapping[str, Any], fidelity: str, where: dict[str, Any]) -> Frame:
    structure = step.get("structure")
    if structure is None:
        raise DataError("ionic step has no structure", field="structure", **where)
    n_atoms = len(structure)
    energy = _step_energy(step, where) / n_atoms
    if step.get("forces") is None:
        raise DataError("ionic step has no forces", field="forces", **where)
    forces = numeric_array(step["forces"], (n_atoms, 3), field="forces", **where)
    stress = None
    if step.get("stress") is not None:
        stress = units.vasp_kbar_to_gpa(
            numeric_array(step["stress"], (3, 3), field="stress", **where)
        )
    labels = Labels(energy, forces, stress, magmoms=None)
    frame = Frame(where["frame"], where["material"], structure, {fidelity: labels})
    return validate_frame(frame, file=where["file"])


def _step_energy(step: Mapping[str, Any], where: dict[str, Any]) -> float:
    """Total energy (eV) of one ionic step; see the module docstring for the choice."""
    if step.get("e_0_energy") is None:
        if step.get("e_fr_energy") is None:
            raise DataError(
                "ionic step has neither e_0_energy nor e_fr_energy", field="e_0_energy", **where
            )
        return number(step["e_fr_energy"], field="e_fr_energy", **where)
    energy = number(step["e_0_energy"], field="e_0_energy", **where)
    electronic = step.get("electronic_steps") or [{}]
    last = electronic[-1]
    if step.get("e_fr_energy") is not None and {"e_0_energy", "e_fr_energy"} <= set(last):
        fixed = round(step["e_fr_energy"] + last["e_0_energy"] - last["e_fr_energy"], 8)
        if abs(fixed - energy) > 1e-7:  # False when either is NaN: validation then fails
            logger.debug("%s: VASP 5 e_0_energy swap, using %.8f eV", where["frame"], fixed)
            return fixed
    return energy
