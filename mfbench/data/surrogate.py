"""The embedded surrogate dataset: AFLOW prototypes with element substitutions, labelled twice.

Structures come from pymatgen's bundled AFLOW prototype library (the ordered prototypes
with at most 24 atoms). On the bare library elements co-occur in too few combinations for a
well-conditioned elemental-reference fit, so besides every original prototype the dataset
holds substituted variants (each distinct species replaced by a pool element, least-used
elements first) and one elemental crystal per pool element. Substituted and elemental cells
are scaled uniformly so that the shortest interatomic distance equals the sum of the two
atoms' radii (pymatgen's ``Element.atomic_radius``), but at least ``MIN_BOND`` = 1.2 Å,
never so large that atomic spheres fill less than ``MIN_PACKING`` = 40 % of the cell, and
never denser than ``MIN_VOLUME_PER_ATOM`` = 5 Å³/atom.

Each material has an equilibrium frame plus strained (uniform random strain within ±3 %)
and/or rattled (Gaussian, σ = 0.04 Å) frames. Every frame is labelled by CHGNet 0.3.0
(fidelity ``gga``) and CHGNet r2scan (fidelity ``r2scan``).

**The labels come from machine-learning models, not from DFT.** The dataset exists for
demos, tests and CI; numbers measured on it say nothing citable about r²SCAN.

Reproducibility: all randomness comes from one ``numpy.random.default_rng(seed)``; the JSON
is written with a fixed key order, ``repr`` floats and a gzip header without timestamp, so
the same machine and library versions rebuild the file bit for bit. Across machines or
torch builds, CHGNet's float32 arithmetic can differ in the last digits: labels agree within
1e-5 eV/atom, 1e-4 eV/Å, 1e-3 GPa and 1e-4 μB (the tolerances of the regeneration test).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Element, Structure

from mfbench import units
from mfbench.atomic_write import write_bytes_atomic

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20261124
#: CHGNet batch size of the shipped labels; another size changes magmoms by ~1e-7 μB and so
#: the file's sha256 (energies, forces and stresses come out identical).
LABEL_BATCH_SIZE = 16
MAX_ATOMS = 24
#: Elements substituted into prototypes; each also gets an elemental crystal.
POOL = tuple(
    "H Li Be B C N O F Na Mg Al Si P S Cl K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br "  # noqa: SIM905
    "Rb Sr Y Zr Nb Mo Ru Rh Pd Ag Cd In Sn Sb Te I Cs Ba La Ce Nd Sm Gd Ho Er Yb Hf Ta W Re "
    "Os Ir Pt Au Hg Tl Pb Bi Th U Pu".split()
)
SUBSTITUTIONS_PER_PROTOTYPE = 2
STRAIN = 0.03  # maximum strain component
RATTLE_SIGMA = 0.04  # Å
#: Shortest bond a scaled cell may have (Å): H's tabulated radius (0.25 Å) would otherwise
#: pack elemental hydrogen so densely that CHGNet's graphs exhaust memory.
MIN_BOND = 1.2
#: Smallest packing fraction (atomic-sphere volume / cell volume) of a scaled cell.
MIN_PACKING = 0.4
#: Substituted cells whose shortest bond is below this share of its radii sum are redrawn.
MIN_BOND_RATIO = 0.75
#: Smallest volume per atom of a scaled cell (Å³).
MIN_VOLUME_PER_ATOM = 5.0
ATOM_GRAPH_CUTOFF = 6.0  # Å, CHGNet's
#: Elemental crystals: strukturbericht label of the prototype used, chosen per element.
ELEMENTAL_PROTOTYPES = ("A1", "A2", "A3")


@dataclass
class SurrogateFrame:
    """One unlabelled frame: its id, structure and how it was made."""

    frame_id: str
    structure: Structure
    perturbation: str  # "equilibrium" | "strain" | "rattle"


@dataclass
class SurrogateMaterial:
    """One material: an AFLOW prototype decorated with elements, and its frames."""

    material_id: str
    prototype: str
    origin: str  # "original" | "substituted" | "elemental"
    frames: list[SurrogateFrame] = field(default_factory=list)


@dataclass
class GenerationReport:
    """What :func:`generate` wrote."""

    path: str
    sha256: str
    size_bytes: int
    n_frames: int
    n_materials: int
    materials_per_element: dict[str, int]
    seconds_structures: float
    seconds_label: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _load_prototypes() -> list[tuple[str, str, Structure]]:
    """``(aflow label, strukturbericht, structure)`` of the ordered prototypes with ≤ 24 atoms."""
    import pymatgen.analysis.prototypes as prototypes
    from monty.serialization import loadfn

    library = loadfn(Path(prototypes.__file__).with_name("aflow_prototypes.json.gz"))
    out = []
    for item in library:
        structure = item["snl"].structure
        if len(structure) <= MAX_ATOMS and structure.is_ordered:
            out.append((item["tags"]["aflow"], item["tags"].get("strukturbericht"), structure))
    return out


def _radius(symbol: str) -> float:
    radius = Element(symbol).atomic_radius
    return 1.5 if radius is None else float(radius)


def _shortest_bond_ratio(structure: Structure) -> float:
    """Smallest ``distance / (r_i + r_j)`` over all pairs (radii sum at least MIN_BOND)."""
    centers, neighbors, _, distances = structure.get_neighbor_list(r=8.0)
    species = [site.specie.symbol for site in structure]
    return min(
        d / max(_radius(species[i]) + _radius(species[j]), MIN_BOND)
        for i, j, d in zip(centers, neighbors, distances, strict=True)
        if d > 1e-6
    )


def _scale_to_radii(structure: Structure) -> Structure:
    """Scale the cell so the shortest bond equals the sum of its atoms' radii."""
    species = [site.specie.symbol for site in structure]
    factor = 1.0 / _shortest_bond_ratio(structure)
    # Molecular prototypes have one very short bond; scaling it alone would leave the rest of
    # the cell nearly empty (isolated atoms). Keep at least MIN_PACKING of the cell filled.
    spheres = sum(4 / 3 * np.pi * max(_radius(el), MIN_BOND / 2) ** 3 for el in species)
    max_factor = (spheres / (MIN_PACKING * structure.volume)) ** (1 / 3)
    factor = min(factor, max_factor)
    # ... and never denser than MIN_VOLUME_PER_ATOM (diamond has 5.7 Å³/atom): overdense
    # light-element cells make CHGNet's three-body graphs explode in size.
    min_factor = (MIN_VOLUME_PER_ATOM * len(structure) / structure.volume) ** (1 / 3)
    factor = max(factor, min_factor)
    return Structure(structure.lattice.matrix * factor, structure.species, structure.frac_coords)


def _has_isolated_atom(structure: Structure) -> bool:
    """Whether an atom has no neighbour within CHGNet's 6 Å atom-graph cutoff."""
    centers, *_ = structure.get_neighbor_list(r=ATOM_GRAPH_CUTOFF)
    return len(np.unique(centers)) < len(structure)


def _substitute(
    structure: Structure,
    usage: Counter[str],
    rng: np.random.Generator,
    pool: tuple[str, ...] = POOL,
) -> Structure | None:
    """Replace each distinct species by pool elements, preferring the least-used ones.

    A draw is discarded and drawn again when its scaled cell leaves an atom without
    neighbours within 6 Å (CHGNet cannot label it) or squeezes a bond below
    ``MIN_BOND_RATIO`` of its radii sum (the density caps can do that to molecular
    prototypes; such frames sit eV/atom above everything else). None after 20 draws.
    """
    for _ in range(20):
        trial = usage.copy()
        candidate = _draw_substitution(structure, trial, rng, pool)
        if not _has_isolated_atom(candidate) and _shortest_bond_ratio(candidate) >= MIN_BOND_RATIO:
            usage.update(trial - usage)
            return candidate
    return None


def _draw_substitution(
    structure: Structure,
    usage: Counter[str],
    rng: np.random.Generator,
    pool: tuple[str, ...] = POOL,
) -> Structure:
    mapping: dict[str, str] = {}
    for old in sorted({site.specie.symbol for site in structure}):
        candidates = [el for el in pool if el not in mapping.values()]
        least = min(usage[el] for el in candidates)
        ties = [el for el in candidates if usage[el] <= least + 1]
        new = ties[int(rng.integers(len(ties)))]
        mapping[old] = new
        usage[new] += 1
    substituted = Structure(
        structure.lattice,
        [mapping[site.specie.symbol] for site in structure],
        structure.frac_coords,
    )
    return _scale_to_radii(substituted)


def _strained(structure: Structure, rng: np.random.Generator) -> Structure:
    eps = rng.uniform(-STRAIN, STRAIN, size=(3, 3))
    deformation = np.eye(3) + (eps + eps.T) / 2
    return Structure(
        structure.lattice.matrix @ deformation, structure.species, structure.frac_coords
    )


def _rattled(structure: Structure, rng: np.random.Generator) -> Structure:
    cart = structure.cart_coords + rng.normal(scale=RATTLE_SIGMA, size=(len(structure), 3))
    return Structure(structure.lattice, structure.species, cart, coords_are_cartesian=True)


def _frames(
    material_id: str, structure: Structure, kinds: list[str], rng: np.random.Generator
) -> list[SurrogateFrame]:
    make = {"equilibrium": lambda s: s, "strain": _strained, "rattle": _rattled}
    return [
        SurrogateFrame(
            f"{material_id}-{k}",
            make[kind](structure) if kind == "equilibrium" else make[kind](structure, rng),
            kind,
        )
        for k, kind in enumerate(kinds)
    ]


def build_structures(seed: int = DEFAULT_SEED) -> list[SurrogateMaterial]:
    """Build every material and frame (no labels; deterministic in ``seed``; ~seconds).

    Order: one elemental crystal per pool element, then every original prototype, then
    ``SUBSTITUTIONS_PER_PROTOTYPE`` substituted variants of each prototype.
    """
    rng = np.random.default_rng(seed)
    prototypes = _load_prototypes()
    by_strukturbericht = {sb: (label, s) for label, sb, s in prototypes if sb}
    materials: list[SurrogateMaterial] = []

    def add(prototype: str, origin: str, structure: Structure, kinds: list[str]) -> None:
        material_id = f"sur-{len(materials) + 1:04d}"
        materials.append(
            SurrogateMaterial(
                material_id, prototype, origin, _frames(material_id, structure, kinds, rng)
            )
        )

    for symbol in POOL:
        label, base = by_strukturbericht[
            ELEMENTAL_PROTOTYPES[int(rng.integers(len(ELEMENTAL_PROTOTYPES)))]
        ]
        elemental = Structure(base.lattice, [symbol] * len(base), base.frac_coords)
        add(label, "elemental", _scale_to_radii(elemental), ["equilibrium", "strain"])
    usage: Counter[str] = Counter()
    for label, _, structure in prototypes:
        if all(el.symbol in POOL for el in structure.composition):
            usage.update(el.symbol for el in structure.composition)
            add(label, "original", structure, ["equilibrium", "strain", "rattle"])
    for copy in range(SUBSTITUTIONS_PER_PROTOTYPE):
        for label, _, structure in prototypes:
            perturbation = "strain" if (copy + len(materials)) % 2 else "rattle"
            substituted = _substitute(structure, usage, rng)
            if substituted is None:
                logger.info("no acceptable substitution of prototype %s (copy %d)", label, copy)
                continue
            add(label, "substituted", substituted, ["equilibrium", perturbation])
    return materials


def label_frames(
    structures: list[Structure], model_name: str, batch_size: int = LABEL_BATCH_SIZE
) -> list[dict[str, Any]]:
    """Label structures with ``CHGNet.load(model_name=...)`` on the CPU.

    Returns:
        One dict per structure: ``energy_per_atom`` (eV/atom), ``force`` (``[n, 3]`` eV/Å),
        ``stress`` (``[3, 3]`` kBar, VASP sign, as in MPtrj's layout) and ``magmom``
        (``[n]`` μB).
    """
    from chgnet.model import CHGNet

    model = CHGNet.load(model_name=model_name, use_device="cpu", verbose=False)
    model.eval()
    outputs = model.predict_structure(structures, task="efsm", batch_size=batch_size)
    if isinstance(outputs, dict):
        outputs = [outputs]
    return [
        {
            "energy_per_atom": float(out["e"]),
            "force": np.asarray(out["f"], dtype=np.float64).tolist(),
            "stress": units.gpa_to_vasp_kbar(np.asarray(out["s"], dtype=np.float64)).tolist(),
            "magmom": np.asarray(out["m"], dtype=np.float64).reshape(-1).tolist(),
        }
        for out in outputs
    ]


def materials_per_element(materials: list[SurrogateMaterial]) -> dict[str, int]:
    """Element symbol → number of distinct materials containing it, sorted by Z."""
    counts: Counter[str] = Counter()
    for material in materials:
        counts.update(el.symbol for el in material.frames[0].structure.composition)
    return dict(sorted(counts.items(), key=lambda kv: Element(kv[0]).Z))


def generate(
    out_path: Path,
    seed: int = DEFAULT_SEED,
    limit_materials: int | None = None,
    batch_size: int = LABEL_BATCH_SIZE,
) -> GenerationReport:
    """Build, label with both CHGNet models, and write the nested-layout ``.json.gz``.

    Args:
        out_path: destination file (written atomically).
        seed: the RNG seed of :func:`build_structures`.
        limit_materials: keep only the first N materials (for quick regeneration checks).
        batch_size: CHGNet batch size.
    """
    started = time.perf_counter()
    materials = build_structures(seed)[:limit_materials]
    seconds_structures = time.perf_counter() - started
    frames = [frame for material in materials for frame in material.frames]
    structures = [frame.structure for frame in frames]
    labels: dict[str, list[dict[str, Any]]] = {}
    seconds_label: dict[str, float] = {}
    for fidelity, model_name in (("gga", "0.3.0"), ("r2scan", "r2scan")):
        tick = time.perf_counter()
        labels[fidelity] = label_frames(structures, model_name, batch_size)
        seconds_label[fidelity] = round(time.perf_counter() - tick, 1)
        logger.info(
            "labelled %d frames with %s in %.1f s", len(frames), model_name, seconds_label[fidelity]
        )
    payload: dict[str, dict[str, Any]] = {}
    position = 0
    for material in materials:
        block = payload.setdefault(material.material_id, {})
        for frame in material.frames:
            block[frame.frame_id] = {
                "structure": frame.structure.as_dict(),
                "gga": labels["gga"][position],
                "r2scan": labels["r2scan"][position],
                "prototype": material.prototype,
                "origin": material.origin,
                "perturbation": frame.perturbation,
            }
            position += 1
    blob = _gzip_json(payload)
    out_path = Path(out_path)
    write_bytes_atomic(out_path, blob)
    return GenerationReport(
        path=str(out_path),
        sha256=hashlib.sha256(blob).hexdigest(),
        size_bytes=len(blob),
        n_frames=len(frames),
        n_materials=len(materials),
        materials_per_element=materials_per_element(materials),
        seconds_structures=round(seconds_structures, 1),
        seconds_label=seconds_label,
    )


def _gzip_json(payload: dict[str, Any]) -> bytes:
    text = json.dumps(payload, separators=(",", ":")).encode()
    return gzip.compress(text, compresslevel=9, mtime=0)
