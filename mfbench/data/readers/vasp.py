"""Reader for VASP output folders through pymatgen's ``Vasprun``.

Every ``vasprun.xml`` (or ``vasprun.xml.gz``) below the source folder is one calculation;
each ionic step is a frame. Energy is the step's ``e_0_energy`` (energy extrapolated to
σ → 0, as MPtrj and MatPES use) divided by the atom count; forces eV/Å; stress kBar with
VASP's sign → GPa in CHGNet's sign. vasprun.xml has no per-site magnetic moments, so
magmoms are not labelled.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mfbench import units
from mfbench.data.frame import Frame, Labels, validate_frame
from mfbench.data.readers._common import number, numeric_array
from mfbench.errors import DataError


def find_vasprun_files(source: Path) -> list[Path]:
    """Every ``vasprun.xml[.gz]`` below ``source``, sorted by path."""
    source = Path(source)
    if source.is_file():
        return [source]
    return sorted(
        p for p in source.rglob("vasprun.xml*") if p.name in ("vasprun.xml", "vasprun.xml.gz")
    )


def iter_vasp(source: Path, *, fidelity: str, all_ionic_steps: bool = True) -> Iterator[Frame]:
    """Yield validated frames from the VASP calculations below ``source``.

    Args:
        source: a folder (searched recursively) or a single ``vasprun.xml``.
        fidelity: label set name.
        all_ionic_steps: every ionic step is a frame; False keeps only the last one.

    Material id: the calculation folder relative to ``source`` (posix); frame id:
    ``<material id>/<ionic step>``.

    Raises:
        DataError: no vasprun.xml found, or one that cannot be parsed (naming the file).
    """
    from pymatgen.io.vasp import Vasprun

    source = Path(source)
    files = find_vasprun_files(source)
    if not files:
        raise DataError("no vasprun.xml below this folder", file=str(source))
    for file in files:
        path = str(file)
        try:
            run = Vasprun(path, parse_dos=False, parse_eigen=False, parse_potcar_file=False)
        except Exception as exc:  # pymatgen raises XML, value and key errors
            raise DataError(
                f"cannot parse vasprun.xml ({type(exc).__name__}: {exc})", file=path
            ) from exc
        base = source if source.is_dir() else source.parent
        material_id = file.parent.relative_to(base).as_posix() or file.parent.name
        steps = list(enumerate(run.ionic_steps))
        if not all_ionic_steps:
            steps = steps[-1:]
        for step_index, step in steps:
            frame_id = f"{material_id}/{step_index}"
            where = {"file": path, "material": material_id, "frame": frame_id}
            structure = step["structure"]
            n_atoms = len(structure)
            if "e_0_energy" not in step:
                raise DataError("ionic step has no e_0_energy", field="e_0_energy", **where)
            energy = number(step["e_0_energy"], field="e_0_energy", **where) / n_atoms
            forces = numeric_array(step.get("forces"), (n_atoms, 3), field="forces", **where)
            stress = None
            if step.get("stress") is not None:
                stress = units.vasp_kbar_to_gpa(
                    numeric_array(step["stress"], (3, 3), field="stress", **where)
                )
            labels = Labels(energy, forces, stress, None)
            frame = Frame(frame_id, material_id, structure, {fidelity: labels})
            yield validate_frame(frame, file=path)
