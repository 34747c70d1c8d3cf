"""Reader for VASP output folders through pymatgen's ``Vasprun``.

Files. Below the source folder (searched recursively) every ``vasprun.xml`` and every
``vasprun.xml.<label>`` (custodian's ``vasprun.xml.relax1``, ``vasprun.xml.relax2``, …), each
plain or compressed as ``.gz``, ``.bz2`` or ``.xz``, is one calculation. Folders are read in
sorted path order; within one folder the labelled files come first in natural order (relax1,
relax2, …, relax10), then the plain ``vasprun.xml``. Two files that are the same calculation
(``vasprun.xml`` and ``vasprun.xml.gz``, or ``relax1`` and ``relax1.gz``) are an error naming
both. Labels that name a backup copy (``vasprun.xml.bak``, ``.old``, ``.orig``, ``.backup``,
``.tmp``, ``.swp``) are not calculations: they are left out with a warning naming them.

Ids. The *calculation folder* is the folder of the file relative to the source, in posix form
(the source folder's own name when the file sits directly in it). Frame id:
``<calculation folder>/<ionic step>`` for a plain ``vasprun.xml``,
``<calculation folder>/<label>/<ionic step>`` for ``vasprun.xml.<label>`` (0-based step, counted
over all steps even when only the last is kept). Material id: the calculation folder, or with
``material_depth = N`` its first N path components, so that the relaxation and static runs of
one material (MP's ``mp-149/relax/`` and ``mp-149/static/``) are one material and land on the
same split side. The files of one folder are always one material (custodian's relax1 and relax2
sit in one folder). A calculation folder with fewer than N components is an error.

Functional check (:mod:`mfbench.data.readers.vasp_functional`). Each calculation's INCAR and
``parameters`` (METAGGA, GGA and the POTCAR family, LHFCALC/HFSCREEN/AEXX, LDAU/LDAUU/LDAUJ,
LUSE_VDW/IVDW, ICHARG) decide what functional it used; a tag absent from both takes VASP's
default. It must match the dataset's declared fidelity: ``r2scan`` is r²SCAN
(METAGGA = R2SCAN, any case) without +U; ``gga`` is Materials Project's GGA/GGA+U (PBE, +U
allowed); ``pbe`` is plain PBE without +U. Hybrids, vdW corrections, revPBE, PBEsol, SCAN, LDA
and every other fidelity name do not match. A mismatch is an error naming the file, the
declared fidelity, the functional and the tag values that decided it; ``check_functional=False``
(registry ``options: {check_functional: false}``) reads such files with one warning per file. A
non-self-consistent run (ICHARG ≥ 10) has no self-consistent labels and is always refused.

Truncated files. A vasprun.xml cut short (a killed run: no closing ``</modeling>``, or a
compressed stream that ends early) is an error naming the file and the opt-in
``allow_truncated=True``, which parses it with pymatgen's tolerant mode
(``exception_on_bad_xml=False``, which keeps the ionic steps whose ``<calculation>`` block
closed) and keeps those complete steps, with a warning saying how many.

Labels per step:

- energy: the step's ``e_0_energy`` (energy extrapolated to σ → 0, as MPtrj and MatPES
  use) divided by the atom count, eV/atom. VASP 5 wrote a wrong ``e_0_energy`` in the ionic
  step's ``<energy>`` block (swapped with ``e_wo_entrp``, or 0.0 as VASP 5.2.2 writes it); where
  the last electronic step shows this, the energy is ``e_fr_energy`` plus that step's σ → 0
  correction, the fix pymatgen's ``Vasprun.final_energy`` applies (pymatgen issue #2367,
  PR #2369). A step without ``e_0_energy`` falls back to ``e_fr_energy`` (the free energy),
  with a warning.
- forces: ``[n_atoms, 3]`` eV/Å.
- stress: ``[3, 3]`` kBar with VASP's sign → GPa in CHGNet's sign; None when the run did
  not compute it.
- magmoms: None. vasprun.xml has no per-site magnetic moments (OUTCAR is not read).

One vasprun.xml is parsed whole by pymatgen, so memory is bounded by the largest single
calculation, not by the number of calculations.
"""

from __future__ import annotations

import bz2
import logging
import lzma
import re
import tempfile
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfbench import units
from mfbench.data.frame import Frame, Labels, validate_frame
from mfbench.data.readers._common import number, numeric_array
from mfbench.data.readers.vasp_functional import (
    check_calculation,
    detect_functional,
)
from mfbench.errors import DataError

logger = logging.getLogger(__name__)

VASPRUN = "vasprun.xml"
#: Compressions recognised by suffix (pymatgen opens them by the same suffixes).
COMPRESSIONS = (".gz", ".bz2", ".xz")
#: Labels of ``vasprun.xml.<label>`` that name a backup copy, not a calculation.
BACKUP_LABELS = frozenset({"bak", "backup", "old", "orig", "tmp", "swp"})


# --------------------------------------------------------------------------- finding files


@dataclass(frozen=True)
class VasprunFile:
    """One calculation's vasprun file.

    Attributes:
        path: the file.
        folder: the calculation folder relative to the source (posix), or the source folder's
            name when the file sits directly in the source.
        parts: path components of ``folder`` below the source (empty when directly in it).
        label: ``"relax1"`` for ``vasprun.xml.relax1[.gz]``; None for a plain ``vasprun.xml``.
    """

    path: Path
    folder: str
    parts: tuple[str, ...]
    label: str | None

    @property
    def calculation(self) -> str:
        """The frame id prefix: ``<folder>`` or ``<folder>/<label>``."""
        return self.folder if self.label is None else f"{self.folder}/{self.label}"


def vasprun_label(name: str) -> tuple[bool, str | None]:
    """Whether a file name is a vasprun file, and its label.

    ``"vasprun.xml.gz"`` → ``(True, None)``; ``"vasprun.xml.relax2.bz2"`` →
    ``(True, "relax2")``; ``"OUTCAR"`` or ``"vasprun.xml~"`` → ``(False, None)``.
    """
    for suffix in COMPRESSIONS:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name == VASPRUN:
        return True, None
    if name.startswith(VASPRUN + ".") and len(name) > len(VASPRUN) + 1 and "~" not in name:
        return True, name[len(VASPRUN) + 1 :]
    return False, None


def _natural_key(label: str | None) -> tuple[int, list[int | str]]:
    """Sort key: labelled files in natural order (relax2 before relax10), the plain one last."""
    if label is None:
        return 1, []
    return 0, [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]


def find_vasprun_files(source: Path) -> list[VasprunFile]:
    """Every vasprun file below ``source`` (or ``source`` itself if a file), in reading order.

    Args:
        source: a folder, or one vasprun file (of any name).

    Returns:
        The files sorted by folder, then labelled files in natural order, then the plain one.

    Raises:
        DataError: one folder holds the same calculation twice (e.g. ``vasprun.xml`` and
            ``vasprun.xml.gz``), or two files would give the same frame ids (e.g.
            ``a/vasprun.xml.relax1`` and ``a/relax1/vasprun.xml``); the message names both.
    """
    source = Path(source)
    if source.is_file():
        label = vasprun_label(source.name)[1]
        return [VasprunFile(source, source.parent.resolve().name, (), label)]
    found: dict[tuple[Path, str | None], Path] = {}
    for path in sorted(source.rglob(VASPRUN + "*")):
        is_vasprun, label = vasprun_label(path.name)
        if not is_vasprun or not path.is_file():
            continue
        if label is not None and label.rsplit(".", 1)[-1].lower() in BACKUP_LABELS:
            logger.warning("%s: left out, its name marks a backup copy, not a calculation", path)
            continue
        key = (path.parent, label)
        if key in found:
            raise DataError(
                f"holds both {found[key].name} and {path.name}, the same calculation twice; "
                "keep one",
                file=str(path.parent),
            )
        found[key] = path
    files = []
    for (folder, label), path in sorted(
        found.items(), key=lambda item: (item[0][0], _natural_key(item[0][1]))
    ):
        parts = folder.relative_to(source).parts
        name = "/".join(parts) if parts else folder.resolve().name
        files.append(VasprunFile(path, name, parts, label))
    seen: dict[str, Path] = {}
    for file in files:
        if file.calculation in seen:
            raise DataError(
                f"{seen[file.calculation]} and {file.path} would give the same frame ids "
                f"({file.calculation}/<step>); rename one",
                file=str(file.path),
            )
        seen[file.calculation] = file.path
    return files


def material_of(file: VasprunFile, material_depth: int | None) -> str:
    """Material id of a calculation: its folder, or the folder's first ``material_depth`` parts.

    Raises:
        DataError: the calculation folder has fewer than ``material_depth`` components.
    """
    if material_depth is None:
        return file.folder
    if len(file.parts) < material_depth:
        raise DataError(
            f"material_depth is {material_depth}, but the calculation folder {file.folder!r} "
            f"has {len(file.parts)} path component(s) below the source",
            file=str(file.path),
        )
    return "/".join(file.parts[:material_depth])


# --------------------------------------------------------------------------- parsing

_DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    ".gz": lambda: zlib.decompressobj(wbits=31),
    ".bz2": bz2.BZ2Decompressor,
    ".xz": lzma.LZMADecompressor,
}


def read_tolerant(path: Path) -> tuple[bytes, bool]:
    """The (decompressed) content of ``path`` as far as it goes.

    Returns:
        The bytes, and whether the compressed stream ended properly (True for a plain file).

    Raises:
        zlib.error, OSError, lzma.LZMAError: the compressed data is corrupt (not just short).
    """
    data = Path(path).read_bytes()
    make = _DECOMPRESSORS.get(Path(path).suffix.lower())
    if make is None:
        return data, True
    out: list[bytes] = []
    while data.strip(b"\0"):  # several concatenated streams; zero padding after the last
        decompressor = make()
        out.append(decompressor.decompress(data))
        if hasattr(decompressor, "flush"):
            out.append(decompressor.flush())
        if not decompressor.eof:
            return b"".join(out), False
        data = decompressor.unused_data
    return b"".join(out), True


def incomplete_reason(path: Path) -> str | None:
    """How ``path`` is cut short (``"it ends before </modeling>"``), or None if it is whole.

    Raises:
        zlib.error, OSError, lzma.LZMAError: the compressed data is corrupt.
    """
    content, stream_complete = read_tolerant(path)
    if not content.strip():
        return "it is empty"
    if not stream_complete:
        return f"its {Path(path).suffix[1:]} stream ends early"
    if not content.rstrip().endswith(b"</modeling>"):
        return "it ends before </modeling>"
    return None


def _vasprun(path: Path, tolerant: bool = False) -> Any:
    """The ``Vasprun`` of ``path``, without DOS, eigenvalues and POTCAR files."""
    from pymatgen.io.vasp import Vasprun

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XML is malformed")
        return Vasprun(
            str(path),
            parse_dos=False,
            parse_eigen=False,
            parse_potcar_file=False,
            exception_on_bad_xml=not tolerant,
        )


def parse_vasprun(path: Path, *, allow_truncated: bool) -> tuple[Any, int | None]:
    """Parse one vasprun file, refusing or (opted in) salvaging a truncated one.

    Args:
        path: the vasprun file, plain or compressed.
        allow_truncated: keep the complete ionic steps of a file that was cut short.

    Returns:
        pymatgen's ``Vasprun``, and None for a whole file or the number of complete ionic steps
        kept from a truncated one.

    Raises:
        DataError: the file is incomplete (without the opt-in), corrupt, or, truncated, has
            no complete ionic step.
    """
    try:
        return _vasprun(path), None
    except Exception as exc:  # pymatgen raises XML, EOF, value, key and index errors
        error = exc
    try:
        reason = incomplete_reason(path)
    except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
        reason, error = None, exc
    if reason is None:
        raise DataError(
            f"cannot parse vasprun.xml ({type(error).__name__}: {error})", file=str(path)
        ) from error
    if not allow_truncated:
        raise DataError(
            f"cannot parse: the file is incomplete ({reason}), as a killed VASP run leaves it. "
            "Set the reader option allow_truncated: true to keep its complete ionic steps",
            file=str(path),
        ) from error
    try:
        if path.suffix.lower() in _DECOMPRESSORS:
            with tempfile.TemporaryDirectory(prefix="mfbench-vasprun-") as folder:
                plain = Path(folder) / VASPRUN
                plain.write_bytes(read_tolerant(path)[0])
                run = _vasprun(plain, tolerant=True)
        else:
            run = _vasprun(path, tolerant=True)
    except Exception as exc:  # pymatgen fails on a file cut before its first ionic step ends
        raise DataError(
            f"the file is incomplete ({reason}) and holds no complete ionic step that pymatgen "
            f"can read ({type(exc).__name__}: {exc})",
            file=str(path),
        ) from exc
    if not run.ionic_steps:
        raise DataError(
            f"the file is incomplete ({reason}) and holds no complete ionic step", file=str(path)
        )
    return run, len(run.ionic_steps)


# --------------------------------------------------------------------------- frames


def iter_vasp(
    source: Path,
    *,
    fidelity: str,
    all_ionic_steps: bool = True,
    material_depth: int | None = None,
    check_functional: bool = True,
    allow_truncated: bool = False,
) -> Iterator[Frame]:
    """Yield validated frames from the VASP calculations below ``source``.

    Files, ids, the functional check and truncated files are described in the module
    docstring.

    Args:
        source: a folder (searched recursively) or a single vasprun file.
        fidelity: label set name; also the functional every calculation must use
            (:data:`FIDELITY_FUNCTIONALS`).
        all_ionic_steps: every ionic step is a frame; False keeps only the last one.
        material_depth: the material id is the first this many path components of the
            calculation folder below ``source``; None: the whole calculation folder.
        check_functional: refuse a calculation whose functional is not ``fidelity``; False
            reads it with a warning per file.
        allow_truncated: keep the complete ionic steps of a file cut short (with a warning)
            instead of refusing it.

    Yields:
        Frames with ``labels[fidelity]``: energy eV/atom, forces ``[n_atoms, 3]`` eV/Å,
        stress ``[3, 3]`` GPa or None, magmoms None.

    Raises:
        DataError: no vasprun file found, duplicates, a file that cannot be parsed or is
            incomplete, a non-self-consistent run, a functional that is not ``fidelity``, or a
            step with missing or malformed labels (naming the file, material, frame, field).
        ValueError: ``material_depth`` is not None or a positive integer.
    """
    if material_depth is not None and (
        isinstance(material_depth, bool)
        or not isinstance(material_depth, int)
        or material_depth < 1
    ):
        raise ValueError(
            f"material_depth must be a positive integer or None, got {material_depth!r}"
        )
    source = Path(source)
    files = find_vasprun_files(source)
    if not files:
        raise DataError(
            "no vasprun.xml (or vasprun.xml.<label>, compressed or not) below this folder",
            file=str(source),
        )
    for file in files:
        path = str(file.path)
        material_id = material_of(file, material_depth)
        run, n_kept = parse_vasprun(file.path, allow_truncated=allow_truncated)
        try:
            functional = detect_functional(run.incar, run.parameters, run.potcar_symbols)
        except (TypeError, ValueError) as exc:  # a tag value that is no number where one must be
            raise DataError(
                f"cannot tell the functional from the INCAR and parameters ({exc})",
                file=path,
                material=material_id,
            ) from exc
        check_calculation(
            functional, fidelity, check_functional=check_functional, file=path, material=material_id
        )
        if n_kept is not None:
            logger.warning(
                "%s: incomplete file; kept its %d complete ionic step(s) (allow_truncated)",
                path,
                n_kept,
            )
        steps = list(enumerate(run.ionic_steps))
        if not steps:
            raise DataError("the run has no ionic steps", file=path, material=material_id)
        if not all_ionic_steps:
            steps = steps[-1:]
        if any(step.get("e_0_energy") is None for _, step in steps):
            logger.warning("%s: steps without e_0_energy use e_fr_energy (free energy)", path)
        for step_index, step in steps:
            where = {
                "file": path,
                "material": material_id,
                "frame": f"{file.calculation}/{step_index}",
            }
            yield _frame(step, fidelity, where)


def _frame(step: Mapping[str, Any], fidelity: str, where: dict[str, Any]) -> Frame:
    """One ionic step as a validated frame; ``where`` names file, material and frame id."""
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
            logger.debug("%s: VASP 5 wrong e_0_energy, using %.8f eV", where["frame"], fixed)
            return fixed
    return energy
