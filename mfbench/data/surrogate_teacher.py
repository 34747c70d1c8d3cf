"""Embedded dataset v2 (``surrogate-sevennet``): relaxation trajectories labelled by SevenNet-MF-0.

Why a second embedded dataset: v1's r²SCAN labels came from CHGNet r2scan, a fine-tune of
CHGNet 0.3.0 (weight cosine 0.993), so v1 asks the GGA start to recover a small delta of its own
weights, and 5 % of its frames had atoms closer than 1.5 Å. Here the teacher is SevenNet-MF-0
(Kim et al. 2024, shipped in the ``sevenn`` wheel, MIT): one network with a PBE head (fidelity
``gga``; uncorrected GGA energies, so they differ from CHGNet 0.3.0's MP2020-corrected ones by
the anion corrections, as raw GGA differs from MPtrj) and an r²SCAN head (fidelity ``r2scan``).
Neither head is a CHGNet.

How frames are made, like MP's relaxation trajectories:

1. Materials: one elemental crystal per pool element, every AFLOW prototype with at most
   ``MAX_ATOMS`` atoms whose elements are all in the pool, and ``SUBSTITUTIONS_PER_PROTOTYPE``
   substituted copies of every such prototype (least-used pool elements first), each cell scaled
   so its shortest bond is the sum of the atomic radii (as in v1).
2. Each material is relaxed with the PBE head (ASE FIRE, ``FrechetCellFilter``, at most
   ``RELAX_STEPS`` steps, fmax ``RELAX_FMAX`` eV/Å). The first, last and ``TRAJECTORY_FRAMES - 2``
   evenly spaced intermediate steps become frames, plus one strained (±``STRAIN``) and one
   rattled (σ = ``RATTLE_SIGMA`` Å) copy of the last structure.
3. Every frame gets both heads' energy (eV/atom), forces and stress; magnetic moments are not
   predicted by SevenNet and are absent.
4. Unphysical data is refused and counted by reason (the report lists every dropped id):
   a frame with two atoms closer than ``MIN_DISTANCE_RATIO`` × their radii sum or a force
   above ``MAX_FORCE`` eV/Å in either head; a whole material whose relaxed PBE energy lies more
   than ``MAX_ABOVE_ELEMENTS`` eV/atom above its relaxed elemental crystals (absurd
   substitutions, e.g. Sr₂CoSn at +3 eV/atom), or with an atom left without neighbours within
   CHGNet's 6 Å graph cutoff.

**The labels come from a machine-learning model, not from DFT**: a citable r²SCAN result needs
MP-r²SCAN. Reproducibility: every material is relaxed and labelled in one thread with its own
random stream (``default_rng([seed, index])``), so the worker count does not change the file; the
JSON is written with a fixed key order and a timestamp-free gzip header, so one machine and one
set of library versions rebuild it bit for bit. Across machines float32 arithmetic differs in the
last digits and a relaxation can amplify that: the regeneration test compares the first
materials within ``REGENERATION_TOLERANCE``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Element, Structure

from mfbench import units
from mfbench.atomic_write import write_bytes_atomic, write_json_atomic
from mfbench.data.surrogate import (
    ELEMENTAL_PROTOTYPES,
    _gzip_json,
    _has_isolated_atom,
    _load_prototypes,
    _radius,
    _rattled,
    _scale_to_radii,
    _strained,
    _substitute,
)

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20261129
TEACHER = "7net-MF-0"
#: SevenNet-MF-0's heads (``modal``) and the fidelity each labels.
HEADS = {"gga": "PBE", "r2scan": "R2SCAN"}
#: Elements common in MP-r²SCAN, few enough that a small training fraction covers most of them.
POOL = tuple(
    "H Li B C N O F Na Mg Al Si P S Cl K Ca Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge Se Sr Y Zr Nb "  # noqa: SIM905
    "Mo Ag Sn Ba La W".split()
)
MAX_ATOMS = 10
SUBSTITUTIONS_PER_PROTOTYPE = 2
RELAX_STEPS = 40
RELAX_FMAX = 0.05  # eV/Å
TRAJECTORY_FRAMES = 4
STRAIN = 0.03
RATTLE_SIGMA = 0.05  # Å
#: A frame is dropped when two atoms are closer than this share of their radii sum.
MIN_DISTANCE_RATIO = 0.6
MAX_FORCE = 20.0  # eV/Å, either head
#: A material is dropped when its relaxed PBE energy is this far above its elements (eV/atom).
MAX_ABOVE_ELEMENTS = 1.0
#: Regeneration agrees with the shipped file within these (per frame, absolute).
REGENERATION_TOLERANCE = {
    "positions_angstrom": 1e-3,
    "energy_ev_per_atom": 1e-3,
    "force_ev_per_angstrom": 1e-2,
    "stress_kbar": 1.0,
}


@dataclass
class MaterialPlan:
    """A material before relaxation: its id, prototype, origin and starting structure."""

    index: int
    material_id: str
    prototype: str
    origin: str  # "elemental" | "original" | "substituted"
    structure: Structure


@dataclass
class RelaxedMaterial:
    """A relaxed material's labelled frames, and the frames or the reason it was dropped."""

    material_id: str
    prototype: str
    origin: str
    relax_steps: int
    converged: bool
    pbe_energy_per_atom: float  # of the last relaxation step
    frames: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped_frames: dict[str, str] = field(default_factory=dict)  # frame id -> reason
    dropped: str | None = None  # reason the whole material was dropped


@dataclass
class TeacherReport:
    """What :func:`generate` wrote, dropped and measured."""

    path: str
    sha256: str
    size_bytes: int
    teacher: str
    sevenn_version: str
    n_materials: int
    n_frames: int
    materials_per_element: dict[str, int]
    dropped_materials: dict[str, str]
    dropped_frames: dict[str, str]
    dropped_counts: dict[str, int]
    relaxation: dict[str, float]
    gga_agreement: dict[str, Any]
    seconds: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def plan_materials(seed: int = DEFAULT_SEED) -> list[MaterialPlan]:
    """Every material's starting structure (deterministic in ``seed``; seconds)."""
    rng = np.random.default_rng(seed)
    prototypes = [p for p in _load_prototypes() if len(p[2]) <= MAX_ATOMS]
    by_strukturbericht = {sb: (label, s) for label, sb, s in _load_prototypes() if sb}
    plans: list[MaterialPlan] = []

    def add(prototype: str, origin: str, structure: Structure) -> None:
        index = len(plans)
        plans.append(MaterialPlan(index, f"s2-{index + 1:04d}", prototype, origin, structure))

    for k, symbol in enumerate(POOL):
        label, base = by_strukturbericht[ELEMENTAL_PROTOTYPES[k % len(ELEMENTAL_PROTOTYPES)]]
        elemental = Structure(base.lattice, [symbol] * len(base), base.frac_coords)
        add(label, "elemental", _scale_to_radii(elemental))
    usage: Counter[str] = Counter()
    for label, _, structure in prototypes:
        if all(el.symbol in POOL for el in structure.composition):
            usage.update(el.symbol for el in structure.composition)
            add(label, "original", structure)
    for copy in range(SUBSTITUTIONS_PER_PROTOTYPE):
        for label, _, structure in prototypes:
            substituted = _substitute(structure, usage, rng, POOL)
            if substituted is None:
                logger.info("no acceptable substitution of prototype %s (copy %d)", label, copy)
                continue
            add(label, "substituted", substituted)
    return plans


def _too_close(structure: Structure) -> float | None:
    """The smallest ``distance / radii sum`` if below ``MIN_DISTANCE_RATIO``, else None."""
    centers, neighbors, _, distances = structure.get_neighbor_list(r=4.0)
    species = [site.specie.symbol for site in structure]
    ratios = [
        d / (_radius(species[i]) + _radius(species[j]))
        for i, j, d in zip(centers, neighbors, distances, strict=True)
        if d > 1e-8
    ]
    smallest = min(ratios, default=math.inf)
    return smallest if smallest < MIN_DISTANCE_RATIO else None


_CALCULATORS: dict[str, Any] = {}


def _calculator(head: str) -> Any:
    """SevenNet-MF-0 with ``head`` on the CPU (one per process, one thread)."""
    if head not in _CALCULATORS:
        import torch
        from sevenn.calculator import SevenNetCalculator

        torch.set_num_threads(1)
        _CALCULATORS[head] = SevenNetCalculator(model=TEACHER, modal=head, device="cpu")
    return _CALCULATORS[head]


def _label(structure: Structure, head: str) -> dict[str, Any]:
    """One head's labels: eV/atom, ``[n, 3]`` eV/Å, ``[3, 3]`` kBar in VASP's sign."""
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = _calculator(head)
    energy = float(atoms.get_potential_energy()) / len(atoms)
    forces = np.asarray(atoms.get_forces(), dtype=np.float64)
    stress_gpa = units.ase_stress_to_gpa(atoms.get_stress(voigt=False))
    return {
        "energy_per_atom": energy,
        "force": forces.tolist(),
        "stress": units.gpa_to_vasp_kbar(stress_gpa).tolist(),
    }


def _relax(structure: Structure) -> tuple[list[Structure], bool]:
    """Every step's structure of a PBE-head relaxation, and whether it converged."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = _calculator(HEADS["gga"])
    steps: list[Structure] = []

    def record() -> None:
        steps.append(AseAtomsAdaptor.get_structure(atoms))

    optimizer = FIRE(FrechetCellFilter(atoms), logfile=None)
    optimizer.attach(record, interval=1)
    converged = bool(optimizer.run(fmax=RELAX_FMAX, steps=RELAX_STEPS))
    return steps, converged


def _trajectory_indices(n_steps: int) -> list[int]:
    """First, last and evenly spaced intermediate steps (``TRAJECTORY_FRAMES`` at most)."""
    picks = np.linspace(0, n_steps - 1, TRAJECTORY_FRAMES).round().astype(int)
    return sorted({int(i) for i in picks})


def relax_and_label(plan: MaterialPlan, seed: int = DEFAULT_SEED) -> RelaxedMaterial:
    """Relax one material, pick its frames, label them with both heads, drop bad frames."""
    steps, converged = _relax(plan.structure)
    last = steps[-1]
    done = RelaxedMaterial(
        plan.material_id, plan.prototype, plan.origin, len(steps) - 1, converged, math.nan
    )
    if _has_isolated_atom(last):
        done.dropped = "an atom without neighbours within 6 Å after relaxation"
        return done
    rng = np.random.default_rng([seed, plan.index])
    candidates = [(f"{plan.material_id}-relax{i:03d}", "relax", steps[i])
                  for i in _trajectory_indices(len(steps))]  # fmt: skip
    candidates.append((f"{plan.material_id}-strain", "strain", _strained(last, rng)))
    candidates.append((f"{plan.material_id}-rattle", "rattle", _rattled(last, rng)))
    for frame_id, kind, structure in candidates:
        ratio = _too_close(structure)
        if ratio is not None:
            done.dropped_frames[frame_id] = f"atoms at {ratio:.2f} of their radii sum"
            continue
        labels = {fidelity: _label(structure, head) for fidelity, head in HEADS.items()}
        worst = max(float(np.abs(np.asarray(v["force"])).max()) for v in labels.values())
        if worst > MAX_FORCE:
            done.dropped_frames[frame_id] = f"force component {worst:.1f} eV/Å"
            continue
        done.frames[frame_id] = {
            "structure": structure.as_dict(),
            **labels,
            "prototype": plan.prototype,
            "origin": plan.origin,
            "perturbation": kind,
        }
    done.pbe_energy_per_atom = _label(last, HEADS["gga"])["energy_per_atom"]
    return done


def _drop_absurd(materials: list[RelaxedMaterial], plans: list[MaterialPlan]) -> None:
    """Drop materials whose relaxed PBE energy is far above their relaxed elemental crystals."""
    elemental = {
        plan.structure.composition.elements[0].symbol: material.pbe_energy_per_atom
        for plan, material in zip(plans, materials, strict=True)
        if plan.origin == "elemental" and material.dropped is None
    }
    for plan, material in zip(plans, materials, strict=True):
        if material.dropped is not None or plan.origin == "elemental":
            continue
        fractions = plan.structure.composition.fractional_composition
        if any(el.symbol not in elemental for el in fractions):
            material.dropped = "an element's crystal was dropped"
            continue
        reference = sum(amount * elemental[el.symbol] for el, amount in fractions.items())
        above = material.pbe_energy_per_atom - reference
        if above > MAX_ABOVE_ELEMENTS:
            material.dropped = f"relaxed {above:.2f} eV/atom above its elements"
        elif not material.frames:
            material.dropped = "every frame dropped"


def gga_agreement(payload: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """CHGNet 0.3.0 against the ``gga`` labels after an elemental-reference fit of the difference.

    Returns MAE and median absolute error of the energy (meV/atom) and force MAE (meV/Å).
    The fit absorbs the MP2020 anion corrections CHGNet's labels carry.
    """
    from chgnet.model import CHGNet

    from mfbench.data.elemental_reference import composition_fractions, fit_elemental_reference

    frames = [(mid, frame) for mid, block in payload.items() for frame in block.values()]
    structures = [Structure.from_dict(frame["structure"]) for _, frame in frames]
    model = CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False)
    model.eval()
    predicted = model.predict_structure(structures, task="ef", batch_size=16)
    chgnet_energy = np.array([float(p["e"]) for p in predicted])
    labels = np.array([frame["gga"]["energy_per_atom"] for _, frame in frames])
    numbers = np.concatenate([s.atomic_numbers for s in structures])
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in structures])])
    fractions = composition_fractions(numbers, offsets)
    fit = fit_elemental_reference(fractions, labels - chgnet_energy, [m for m, _ in frames])
    weights = np.nan_to_num(fit.weights)
    residual = labels - chgnet_energy - fractions @ weights
    force_errors = np.concatenate([
        np.abs(np.asarray(frame["gga"]["force"]) - np.asarray(p["f"])).ravel()
        for (_, frame), p in zip(frames, predicted, strict=True)
    ])  # fmt: skip
    return {
        "model": "CHGNet 0.3.0",
        "n_frames": len(frames),
        "energy_mae_mev_per_atom": round(float(np.mean(np.abs(residual))) * 1000, 1),
        "energy_median_ae_mev_per_atom": round(float(np.median(np.abs(residual))) * 1000, 1),
        "force_mae_mev_per_angstrom": round(float(np.mean(force_errors)) * 1000, 1),
    }


def materials_per_element(payload: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Element symbol → number of materials containing it, sorted by Z."""
    counts: Counter[str] = Counter()
    for block in payload.values():
        first = next(iter(block.values()))
        counts.update({site["label"] for site in first["structure"]["sites"]})
    return dict(sorted(counts.items(), key=lambda kv: Element(kv[0]).Z))


def _relax_all(plans: list[MaterialPlan], seed: int, workers: int) -> list[RelaxedMaterial]:
    if workers <= 1:
        return [relax_and_label(plan, seed) for plan in plans]
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(relax_and_label, plans, [seed] * len(plans), chunksize=4))


def generate(
    out_path: Path,
    seed: int = DEFAULT_SEED,
    limit_materials: int | None = None,
    workers: int = 2,
    report_path: Path | None = None,
    check_gga: bool = True,
) -> TeacherReport:
    """Plan, relax, label, filter and write the nested-layout ``.json.gz`` (atomically).

    Args:
        out_path: destination file.
        seed: random seed of the substitutions and perturbations.
        limit_materials: only the first N planned materials (quick regeneration checks).
        workers: processes, each relaxing whole materials in one thread.
        report_path: where to write the report as JSON (None: not written).
        check_gga: measure CHGNet 0.3.0's agreement with the ``gga`` labels.
    """
    import sevenn

    tick = time.perf_counter()
    plans = plan_materials(seed)[:limit_materials]
    materials = _relax_all(plans, seed, workers)
    seconds_relax = time.perf_counter() - tick
    _drop_absurd(materials, plans)
    payload = {m.material_id: m.frames for m in materials if m.dropped is None}
    dropped_frames = {k: v for m in materials if m.dropped is None
                      for k, v in m.dropped_frames.items()}  # fmt: skip
    dropped_materials = {m.material_id: m.dropped for m in materials if m.dropped is not None}
    counts = {
        "materials": len(dropped_materials),
        "frames_too_close": sum(1 for r in dropped_frames.values() if "radii" in r),
        "frames_large_force": sum(1 for r in dropped_frames.values() if r.startswith("force")),
    }
    blob = _gzip_json(payload)
    write_bytes_atomic(Path(out_path), blob)
    tick = time.perf_counter()
    agreement = gga_agreement(payload) if check_gga else {}
    steps = [m.relax_steps for m in materials]
    report = TeacherReport(
        path=Path(out_path).name,
        sha256=hashlib.sha256(blob).hexdigest(),
        size_bytes=len(blob),
        teacher=TEACHER,
        sevenn_version=sevenn.__version__,
        n_materials=len(payload),
        n_frames=sum(len(block) for block in payload.values()),
        materials_per_element=materials_per_element(payload),
        dropped_materials=dropped_materials,
        dropped_frames=dropped_frames,
        dropped_counts=counts,
        relaxation={
            "materials": len(materials),
            "converged": sum(m.converged for m in materials),
            "median_steps": float(np.median(steps)) if steps else 0.0,
            "max_steps": RELAX_STEPS,
            "fmax_ev_per_angstrom": RELAX_FMAX,
        },
        gga_agreement=agreement,
        seconds={
            "relax_and_label": round(seconds_relax, 1),
            "gga_agreement": round(time.perf_counter() - tick, 1),
        },
    )
    if report_path is not None:
        write_json_atomic(Path(report_path), report.to_dict())
    return report
