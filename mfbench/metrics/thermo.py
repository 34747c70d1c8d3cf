"""Formation and decomposition energy errors, as in Table 1 of Huang et al. (2025).

Both are computed on one frame per material, its lowest reference-energy frame
(:func:`lowest_energy_frames`), and compare a "reference side" built only from reference energies
with a "predicted side" built only from the model's predictions on the same frames.

Formation energy per atom of material ``m``: ``E(m) - sum_el x_el * mu_el``, ``x_el`` the atomic
fraction. The elemental reference of an element is the single-element material with the lowest
*reference* energy per atom among all materials given (all splits); its reference energy is
``mu_el`` on the reference side and the model's prediction for that same material is ``mu_el`` on
the predicted side.

Decomposition energy (Bartel et al., npj Comput. Mater. 6, 97 (2020)), what pymatgen's
``PhaseDiagram.get_decomp_and_phase_separation_energy`` with ``stable_only=False`` defines, but
computed from exact convex hulls built in material-id order (see :class:`_PhaseDiagrams`), so that
every process gets the same bytes; once with reference and once with predicted energies, from every
material whose elements are a subset of the test material's:

- a material with no stable entry of its own composition: its energy above the hull (> 0);
- a material whose composition is on the hull: its energy minus the hull of all *other*
  compositions (stable and unstable entries alike), so stable compounds get negative values and
  same-composition polymorphs are never competitors; an unstable polymorph of a stable
  composition can therefore also be negative;
- an elemental material: its energy minus that of the lowest-energy polymorph of the element on
  the same side (pymatgen's elemental branch), i.e. 0 for the ground state and the polymorph
  energy difference (> 0) otherwise. The reference and predicted ground states can be different
  materials, so an elemental material contributes an error only when the model orders the
  polymorphs differently or misjudges their spacing. Elemental test materials are included in
  both MAEs; ``per_material["is_elemental"]`` lets a caller leave them out.

Because the elemental references and the competing phases are themselves predicted by the same
model, formation and decomposition errors differ from the plain energy error of the same frames:
an error common to all materials of a chemical system (e.g. a per-element shift) cancels, while
errors that differ between a material and its competitors add up.

Test materials that contain an element without an elemental reference are left out of both MAEs
and counted (``n_formation_skipped``, ``n_decomposition_skipped``); a phase diagram that pymatgen
cannot solve for a material is also counted as a skipped decomposition, with a warning.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Element

logger = logging.getLogger(__name__)

#: meV per eV.
MEV_PER_EV = 1000.0


@dataclass(frozen=True)
class MaterialEnergy:
    """Reference and predicted energy of one material's lowest-energy frame.

    Attributes:
        material_id: unique material id.
        composition: composition of the frame (any multiple of the formula).
        reference_energy_per_atom: eV/atom, label of the material's lowest-energy frame.
        predicted_energy_per_atom: eV/atom, model prediction on that same frame.
    """

    material_id: str
    composition: Composition
    reference_energy_per_atom: float
    predicted_energy_per_atom: float


@dataclass(frozen=True)
class ThermoResult:
    """Formation and decomposition energy errors over the test materials.

    Attributes:
        formation_mae_mev_per_atom: formation energy MAE, meV/atom; NaN if ``n_formation == 0``.
        decomposition_mae_mev_per_atom: decomposition energy MAE, meV/atom; NaN if
            ``n_decomposition == 0``.
        n_formation: test materials in the formation MAE.
        n_decomposition: test materials in the decomposition MAE.
        n_formation_skipped: test materials left out for lack of an elemental reference.
        n_decomposition_skipped: test materials left out for lack of an elemental reference or
            because pymatgen found no decomposition.
        per_material: one row per test material (sorted by id) with columns ``material_id``,
            ``formula``, ``is_elemental``, ``ref_formation_ev_per_atom``,
            ``pred_formation_ev_per_atom``, ``ref_decomposition_ev_per_atom``,
            ``pred_decomposition_ev_per_atom`` (eV/atom, NaN where skipped) and ``skip_reason``
            (empty when nothing was skipped).
    """

    formation_mae_mev_per_atom: float
    decomposition_mae_mev_per_atom: float
    n_formation: int
    n_decomposition: int
    n_formation_skipped: int
    n_decomposition_skipped: int
    per_material: pd.DataFrame


def lowest_energy_frames(
    material_ids: Sequence[str], reference_energy: np.ndarray
) -> dict[str, int]:
    """Index of each material's lowest reference-energy frame.

    Args:
        material_ids: ``[n_frames]`` material id of every frame.
        reference_energy: ``[n_frames]`` reference energy per atom, eV/atom; NaN frames are
            not considered.

    Returns:
        Material id → frame index; ties go to the lowest index.

    Raises:
        ValueError: lengths differ, or a material has no frame with a finite energy.
    """
    energy = np.asarray(reference_energy, dtype=np.float64)
    if energy.shape != (len(material_ids),):
        raise ValueError(
            f"reference_energy has shape {energy.shape}, expected ({len(material_ids)},)"
        )
    best: dict[str, int] = {}
    seen: set[str] = set()
    for index, (mid, e) in enumerate(zip(material_ids, energy, strict=True)):
        seen.add(mid)
        if np.isfinite(e) and (mid not in best or e < energy[best[mid]]):
            best[mid] = index
    missing = sorted(seen - best.keys())
    if missing:
        raise ValueError(f"materials without a finite reference energy: {missing[:5]}")
    return best


def _validate(materials: Sequence[MaterialEnergy]) -> dict[str, MaterialEnergy]:
    """Materials by id; raises on duplicate ids or non-finite energies."""
    by_id: dict[str, MaterialEnergy] = {}
    for m in materials:
        if m.material_id in by_id:
            raise ValueError(f"duplicate material_id {m.material_id!r}")
        for side in ("reference", "predicted"):
            value = getattr(m, f"{side}_energy_per_atom")
            if not np.isfinite(value):
                raise ValueError(f"{side} energy of material {m.material_id!r} is {value}")
        by_id[m.material_id] = m
    return by_id


def elemental_references(materials: Sequence[MaterialEnergy]) -> dict[Element, MaterialEnergy]:
    """Lowest reference-energy single-element material per element (ties → lowest id)."""
    refs: dict[Element, MaterialEnergy] = {}
    for m in materials:
        if len(m.composition.elements) != 1:
            continue
        (el,) = m.composition.elements
        key = (m.reference_energy_per_atom, m.material_id)
        if el not in refs or key < (refs[el].reference_energy_per_atom, refs[el].material_id):
            refs[el] = m
    return refs


def formation_energies(
    m: MaterialEnergy, refs: dict[Element, MaterialEnergy]
) -> tuple[float, float]:
    """(reference, predicted) formation energy per atom of ``m``, eV/atom."""
    ref, pred = m.reference_energy_per_atom, m.predicted_energy_per_atom
    for el, x in m.composition.fractional_composition.items():
        ref -= x * refs[el].reference_energy_per_atom
        pred -= x * refs[el].predicted_energy_per_atom
    return ref, pred


class _PhaseDiagrams:
    """Decomposition energies from exact convex hulls, the same in every process.

    pymatgen's ``get_decomp_and_phase_separation_energy`` finds the competing combination of a
    material on the hull with an SLSQP optimisation over a Python ``set`` of entries, whose
    order follows memory addresses, so its result changes in the last digits from one process
    to the next. Here the hull of the competing phases is built explicitly instead, from entries
    in material-id order, which gives the same decomposition energy (exactly, not to an
    optimiser's tolerance) with the same bytes every time:

    - a compound: its energy per atom minus the hull energy, at its composition, of every
      material of its chemical system with *another* composition (for a composition that is not
      on the full hull this equals the ordinary energy above the hull);
    - an element: its energy per atom minus the lowest energy per atom of that element.

    Hull energies are computed on first use and cached by side, chemical system and composition.
    """

    def __init__(self, materials: Sequence[MaterialEnergy]) -> None:
        self._by_chemsys: dict[frozenset[Element], list[MaterialEnergy]] = {}
        for m in sorted(materials, key=lambda m: m.material_id):
            self._by_chemsys.setdefault(frozenset(m.composition.elements), []).append(m)
        self._hull_energy: dict[tuple[str, str, str], float] = {}

    def _members(self, chemsys: frozenset[Element]) -> list[MaterialEnergy]:
        """Materials whose elements are a subset of ``chemsys``, in material-id order."""
        members = [
            m
            for k in range(1, len(chemsys) + 1)
            for subset in itertools.combinations(sorted(chemsys), k)
            for m in self._by_chemsys.get(frozenset(subset), [])
        ]
        return sorted(members, key=lambda m: m.material_id)

    def _competing_hull_energy(self, m: MaterialEnergy, side: str) -> float:
        """Hull energy per atom (eV/atom) at ``m``'s composition from other compositions."""
        chemsys = frozenset(m.composition.elements)
        fractional = m.composition.fractional_composition
        key = (side, "-".join(sorted(el.symbol for el in chemsys)), fractional.formula)
        if key not in self._hull_energy:
            competitors = [
                PDEntry(
                    c.composition, getattr(c, f"{side}_energy_per_atom") * c.composition.num_atoms
                )
                for c in self._members(chemsys)
                if not _same_composition(c.composition, fractional)
            ]
            diagram = PhaseDiagram(competitors, elements=sorted(chemsys))
            self._hull_energy[key] = float(diagram.get_hull_energy_per_atom(m.composition))
        return self._hull_energy[key]

    def decomposition(self, m: MaterialEnergy) -> tuple[float, float]:
        """(reference, predicted) decomposition energy per atom of ``m``, eV/atom."""
        values = []
        for side in ("reference", "predicted"):
            energy = float(getattr(m, f"{side}_energy_per_atom"))
            if len(m.composition.elements) == 1:
                same = self._by_chemsys[frozenset(m.composition.elements)]
                values.append(energy - min(getattr(c, f"{side}_energy_per_atom") for c in same))
            else:
                values.append(energy - self._competing_hull_energy(m, side))
        return values[0], values[1]


def _same_composition(composition: Composition, fractional: Composition) -> bool:
    """Same elements and atomic fractions within pymatgen's ``Composition.amount_tolerance``."""
    other = composition.fractional_composition
    return set(other) == set(fractional) and all(
        abs(other[el] - x) <= Composition.amount_tolerance for el, x in fractional.items()
    )


#: Columns and dtypes of ThermoResult.per_material.
_COLUMNS = {
    "material_id": str,
    "formula": str,
    "is_elemental": bool,
    "ref_formation_ev_per_atom": np.float64,
    "pred_formation_ev_per_atom": np.float64,
    "ref_decomposition_ev_per_atom": np.float64,
    "pred_decomposition_ev_per_atom": np.float64,
    "skip_reason": str,
}


def _mae_mev(ref: np.ndarray, pred: np.ndarray) -> float:
    """MAE in meV/atom over entries where both are finite; NaN for none."""
    ok = np.isfinite(ref) & np.isfinite(pred)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(pred[ok] - ref[ok])) * MEV_PER_EV)


def thermo_metrics(
    materials: Sequence[MaterialEnergy], test_material_ids: Collection[str]
) -> ThermoResult:
    """Formation and decomposition energy MAE over the test materials.

    See the module docstring for the definitions.

    Args:
        materials: every material available for references and competing phases (all splits),
            each with the energies of its lowest-energy frame.
        test_material_ids: ids (a subset of ``materials``) whose errors are averaged.

    Returns:
        The MAEs, counts and a per-material table.

    Raises:
        ValueError: duplicate material ids, a non-finite energy, or a test id not in
            ``materials``.
    """
    by_id = _validate(materials)
    test_ids = sorted(set(test_material_ids))
    unknown = [mid for mid in test_ids if mid not in by_id]
    if unknown:
        raise ValueError(f"test materials not in materials: {unknown[:5]}")
    refs = elemental_references(materials)
    diagrams = _PhaseDiagrams(materials)

    rows = []
    for mid in test_ids:
        m = by_id[mid]
        row = {
            "material_id": mid,
            "formula": m.composition.reduced_formula,
            "is_elemental": len(m.composition.elements) == 1,
            "ref_formation_ev_per_atom": np.nan,
            "pred_formation_ev_per_atom": np.nan,
            "ref_decomposition_ev_per_atom": np.nan,
            "pred_decomposition_ev_per_atom": np.nan,
            "skip_reason": "",
        }
        missing = sorted(str(el) for el in m.composition.elements if el not in refs)
        if missing:
            row["skip_reason"] = f"no elemental reference for {', '.join(missing)}"
            logger.info("skipping %s (%s): %s", mid, row["formula"], row["skip_reason"])
            rows.append(row)
            continue
        row["ref_formation_ev_per_atom"], row["pred_formation_ev_per_atom"] = formation_energies(
            m, refs
        )
        try:
            (
                row["ref_decomposition_ev_per_atom"],
                row["pred_decomposition_ev_per_atom"],
            ) = diagrams.decomposition(m)
        except (ValueError, RuntimeError) as exc:  # pymatgen: no hull, or no facet found
            row["skip_reason"] = f"decomposition failed: {exc}"
            logger.warning("skipping decomposition of %s: %s", mid, exc)
        rows.append(row)

    table = pd.DataFrame(rows, columns=list(_COLUMNS))
    table = table.astype(_COLUMNS)
    form_ok = table["ref_formation_ev_per_atom"].notna().to_numpy()
    dec_ok = table["ref_decomposition_ev_per_atom"].notna().to_numpy()
    result = ThermoResult(
        formation_mae_mev_per_atom=_mae_mev(
            table["ref_formation_ev_per_atom"].to_numpy(),
            table["pred_formation_ev_per_atom"].to_numpy(),
        ),
        decomposition_mae_mev_per_atom=_mae_mev(
            table["ref_decomposition_ev_per_atom"].to_numpy(),
            table["pred_decomposition_ev_per_atom"].to_numpy(),
        ),
        n_formation=int(form_ok.sum()),
        n_decomposition=int(dec_ok.sum()),
        n_formation_skipped=int((~form_ok).sum()),
        n_decomposition_skipped=int((~dec_ok).sum()),
        per_material=table,
    )
    if result.n_formation_skipped or result.n_decomposition_skipped:
        logger.warning(
            "thermo metrics skipped %d formation and %d decomposition energies of %d test "
            "materials (see per_material.skip_reason)",
            result.n_formation_skipped,
            result.n_decomposition_skipped,
            len(test_ids),
        )
    return result
