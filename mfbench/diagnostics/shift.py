"""Energy-scale shift between two fidelities: correlations, elemental referencing, offsets.

For paired frames (:mod:`mfbench.diagnostics.pairing`) this computes what Huang et al. (2025)
show first: GGA and r²SCAN energies per atom differ by large, element-dependent shifts and
correlate poorly, until each side is referenced by its own least-squares elemental reference
(:func:`mfbench.data.elemental_reference.fit_elemental_reference`, CHGNet's intensive ``AtomRef``
form ``E/N ≈ Σ_el x_el w_el``) fitted on the train pairs. Reported:

- energy per atom, low vs high: Pearson, Spearman, MAE and mean shift, raw and referenced
  (``E/N − Σ x w`` on each side), over all pairs and over the held-out (val + test) pairs;
- formation energies (one lowest-energy frame per material, elemental phases as in
  :mod:`mfbench.metrics.thermo`), raw, referenced (identical up to rounding: a per-element
  shift cancels in a formation energy), and with / without MP2020 anion corrections on the low
  fidelity (:mod:`mfbench.diagnostics.corrections`);
- per-element offsets ``high − low`` fitted by least squares on the train pairs (equal to
  ``w_high − w_low`` of the two references, which share the design matrix), with standard errors
  clustered by material (frames of one material are not independent), pair and material counts,
  and CHGNet's shipped AtomRef difference for comparison;
- per-element importance of the formation-energy difference
  (:mod:`mfbench.diagnostics.importance`).

The agreement statistics and the offset fit are in :mod:`mfbench.diagnostics.shift_statistics`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Composition, Element

from mfbench import __version__
from mfbench.data.elemental_reference import ElementalReference, fit_elemental_reference
from mfbench.diagnostics.corrections import ASSUMPTIONS, SCHEME, anion_corrections
from mfbench.diagnostics.importance import (
    DEFINITIONS,
    FEATURES,
    TARGET,
    ImportanceModel,
    element_fraction_features,
    element_importance,
)
from mfbench.diagnostics.pairing import PairedEnergies
from mfbench.diagnostics.report import (
    AtomRefComparison,
    BeforeAfter,
    CorrectionSection,
    CorrectionVariant,
    ElementOffset,
    EnergySection,
    FormationSection,
    ImportanceSection,
    LabelCorrections,
    OffsetSection,
    ReferenceFit,
    ShiftReport,
    SplitInfo,
    SubsetAgreement,
    TaskInfo,
    finite,
)
from mfbench.diagnostics.shift_statistics import (
    MEV_PER_EV,
    agreement,
    fit_element_offsets,
    referenced_energies,
)
from mfbench.errors import DataError

# the evaluation's elemental-phase rule and formation energy, reused as they are
from mfbench.metrics.thermo import (
    MaterialEnergy,
    elemental_references,
    formation_energies,
    lowest_energy_frames,
)
from mfbench.tasks.split import TRAIN

logger = logging.getLogger(__name__)


VARIANTS: tuple[CorrectionVariant, CorrectionVariant] = (
    "without_anion_corrections",
    "with_anion_corrections",
)


ELEMENTAL_RULE = (
    "per element, the single-element material with the lowest high-fidelity energy per atom "
    "(its low-fidelity energy on the low side), as in mfbench.metrics.thermo"
)


STDERR_METHOD = (
    "least-squares standard error clustered by material (CR1 sandwich), so that frames of one "
    "material are not counted as independent"
)


@dataclass(frozen=True)
class ParityPoints:
    """The values behind the page's plots.

    Attributes:
        low_energy, high_energy: ``[n_pairs]`` eV/atom.
        low_referenced, high_referenced: ``[n_pairs]`` eV/atom after referencing (NaN when an
            element has no reference).
        held_out: ``[n_pairs]`` bool, val or test pair.
        formation_high: ``[n_materials]`` high-fidelity formation energy, eV/atom.
        formation_low: variant → ``[n_materials]`` low-fidelity formation energy, eV/atom.
        formation_held_out: ``[n_materials]`` bool.
        atomref_difference: ``[94]`` eV/atom, or None when not loaded.
    """

    low_energy: np.ndarray
    high_energy: np.ndarray
    low_referenced: np.ndarray
    high_referenced: np.ndarray
    held_out: np.ndarray
    formation_high: np.ndarray
    formation_low: dict[str, np.ndarray]
    formation_held_out: np.ndarray
    atomref_difference: np.ndarray | None


@dataclass(frozen=True)
class ShiftAnalysis:
    """The report and the arrays its page plots."""

    report: ShiftReport
    points: ParityPoints


def _reference_fit(reference: ElementalReference) -> ReferenceFit:
    return ReferenceFit(
        n_pairs=reference.n_frames,
        n_elements=len(reference.fitted_elements),
        condition_number=finite(reference.condition_number),
        residual_mae_ev_per_atom=finite(reference.residual_mae_ev_per_atom),
    )


def _subset(low: np.ndarray, high: np.ndarray, held_out: np.ndarray) -> SubsetAgreement:
    return SubsetAgreement(
        all=agreement(low, high), held_out=agreement(low[held_out], high[held_out])
    )


def _formation_energies(
    material_ids: Sequence[str],
    compositions: Sequence[Composition],
    high: np.ndarray,
    low: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(ok [n] bool, high_f [n], low_f [n], missing element symbols)`` via thermo's rules."""
    materials = [
        MaterialEnergy(mid, comp, float(h), float(lo))
        for mid, comp, h, lo in zip(material_ids, compositions, high, low, strict=True)
    ]
    refs = elemental_references(materials)
    ok = np.zeros(len(materials), dtype=bool)
    high_f, low_f = np.full(len(materials), np.nan), np.full(len(materials), np.nan)
    missing: set[str] = set()
    for i, material in enumerate(materials):
        absent = [str(el) for el in material.composition.elements if el not in refs]
        if absent:
            missing.update(absent)
            continue
        high_f[i], low_f[i] = formation_energies(material, refs)
        ok[i] = True
    return ok, high_f, low_f, sorted(missing, key=lambda s: Element(s).Z)


@dataclass(frozen=True)
class _Referenced:
    """Each side's train-split reference and the referenced energies (eV/atom, NaN = none)."""

    low_fit: ElementalReference
    high_fit: ElementalReference
    low: np.ndarray
    high: np.ndarray
    covered: np.ndarray


def _reference_both(paired: PairedEnergies, train: np.ndarray) -> _Referenced:
    fractions, mids = paired.fractions, paired.material_ids
    low_fit = fit_elemental_reference(fractions[train], paired.low_energy[train], mids[train])
    high_fit = fit_elemental_reference(fractions[train], paired.high_energy[train], mids[train])
    low = referenced_energies(fractions, paired.low_energy, low_fit)
    high = referenced_energies(fractions, paired.high_energy, high_fit)
    covered = np.isfinite(low) & np.isfinite(high)
    if (~covered).any():
        logger.warning(
            "%d pair(s) contain an element absent from the train pairs; left out of the "
            "energy comparison",
            int((~covered).sum()),
        )
    return _Referenced(low_fit, high_fit, low, high, covered)


def _energy_section(
    paired: PairedEnergies, ref: _Referenced, held_out: np.ndarray
) -> EnergySection:
    def before_after(mask: np.ndarray) -> BeforeAfter:
        return BeforeAfter(
            raw=agreement(paired.low_energy[mask], paired.high_energy[mask]),
            referenced=agreement(ref.low[mask], ref.high[mask]),
        )

    return EnergySection(
        all=before_after(ref.covered),
        held_out=before_after(ref.covered & held_out),
        n_without_reference=int((~ref.covered).sum()),
        reference_fits={"low": _reference_fit(ref.low_fit), "high": _reference_fit(ref.high_fit)},
    )


def _offset_sections(
    paired: PairedEnergies,
    train: np.ndarray,
    ref: _Referenced,
    atomref: tuple[np.ndarray, str] | None,
    atomref_missing_reason: str,
) -> tuple[OffsetSection, AtomRefComparison]:
    delta = paired.high_energy - paired.low_energy
    fit = fit_element_offsets(paired.fractions[train], delta[train], paired.material_ids[train])
    difference = None if atomref is None else np.asarray(atomref[0], dtype=np.float64)
    elements = []
    for column in np.flatnonzero(~np.isnan(fit.offsets)):
        z = int(column) + 1
        elements.append(
            ElementOffset(
                z=z,
                symbol=Element.from_Z(z).symbol,
                offset_ev_per_atom=float(fit.offsets[column]),
                stderr_ev_per_atom=finite(fit.stderr[column]),
                n_pairs=int(fit.n_pairs[column]),
                n_materials=int(fit.reference.materials_per_element[column]),
                identifiable=bool(fit.identifiable[column]),
                low_reference_ev_per_atom=float(ref.low_fit.weights[column]),
                high_reference_ev_per_atom=float(ref.high_fit.weights[column]),
                atomref_difference_ev_per_atom=(
                    None if difference is None else finite(difference[column])
                ),
            )
        )
    offsets = OffsetSection(
        n_pairs=int(train.sum()),
        residual_mae_ev_per_atom=finite(fit.reference.residual_mae_ev_per_atom),
        condition_number=finite(fit.reference.condition_number),
        stderr_method=STDERR_METHOD,
        elements=elements,
    )
    if atomref is None:
        comparison = AtomRefComparison(
            available=False,
            source=atomref_missing_reason,
            n_elements=0,
            mae_ev_per_atom=None,
            pearson=None,
        )
        return offsets, comparison
    compared = [
        e for e in elements if e.identifiable and e.atomref_difference_ev_per_atom is not None
    ]
    fitted = np.array([e.offset_ev_per_atom for e in compared])
    shipped = np.array([e.atomref_difference_ev_per_atom or 0.0 for e in compared])
    comparison = AtomRefComparison(
        available=True,
        source=atomref[1],
        n_elements=len(compared),
        mae_ev_per_atom=float(np.mean(np.abs(fitted - shipped))) if compared else None,
        pearson=agreement(shipped, fitted).pearson,
    )
    return offsets, comparison


@dataclass(frozen=True)
class _FormationResult:
    section: FormationSection
    corrections: CorrectionSection
    compositions: list[Composition]
    high: np.ndarray  # [m] eV/atom
    low: dict[CorrectionVariant, np.ndarray]  # [m] eV/atom per variant
    held_out: np.ndarray  # [m] bool


def _formation_section(
    paired: PairedEnergies,
    held_out: np.ndarray,
    ref: _Referenced,
    low_label_corrections: LabelCorrections,
) -> _FormationResult:
    """Formation energies of one pair per material, referenced and with / without corrections."""
    # one representative pair per material: its lowest high-fidelity energy
    best = lowest_energy_frames(paired.material_ids.tolist(), paired.high_energy)
    material_ids = sorted(best)
    rows = np.array([best[m] for m in material_ids], dtype=np.int64)
    compositions = [paired.high.store.composition(int(paired.high_index[r])) for r in rows]
    ok, form_high, form_low, missing = _formation_energies(
        material_ids, compositions, paired.high_energy[rows], paired.low_energy[rows]
    )
    if (~ok).any():
        logger.warning(
            "%d material(s) have no formation energy: no single-element material of %s",
            int((~ok).sum()),
            ", ".join(missing),
        )
    rows = rows[ok]
    ids = [m for m, keep in zip(material_ids, ok, strict=True) if keep]
    compositions = [c for c, keep in zip(compositions, ok, strict=True) if keep]
    form_high, form_low = form_high[ok], form_low[ok]
    material_held_out = held_out[rows]

    # the same from the referenced energies (materials whose elements all have a reference)
    covered = ref.covered[rows]
    ok_ref, high_f_ref, low_f_ref, _ = _formation_energies(
        [m for m, keep in zip(ids, covered, strict=True) if keep],
        [c for c, keep in zip(compositions, covered, strict=True) if keep],
        ref.high[rows][covered],
        ref.low[rows][covered],
    )
    change = np.concatenate(
        [
            np.abs(high_f_ref[ok_ref] - form_high[covered][ok_ref]),
            np.abs(low_f_ref[ok_ref] - form_low[covered][ok_ref]),
        ]
    )

    structures = [paired.low.store.structure(int(paired.low_index[r])) for r in rows]
    corrections = anion_corrections(structures, ids)
    as_labelled: CorrectionVariant = (
        "with_anion_corrections"
        if low_label_corrections == "mp2020"
        else "without_anion_corrections"
    )
    other = VARIANTS[0] if as_labelled == VARIANTS[1] else VARIANTS[1]
    sign = -1.0 if low_label_corrections == "mp2020" else 1.0
    # corrections never touch single-element materials, so the elemental phases keep their
    # energies and the corrected formation energy is the labelled one plus the correction
    variants = {as_labelled: form_low, other: form_low + sign * corrections.per_atom}
    section = FormationSection(
        n_materials=len(ids),
        n_skipped=int((~ok).sum()),
        missing_elements=missing,
        elemental_reference_rule=ELEMENTAL_RULE,
        raw=_subset(form_low, form_high, material_held_out),
        referenced=_subset(
            low_f_ref[ok_ref], high_f_ref[ok_ref], material_held_out[covered][ok_ref]
        ),
        max_referencing_change_ev_per_atom=finite(change.max()) if len(change) else None,
        corrections={
            variant: _subset(variants[variant], form_high, material_held_out)
            for variant in VARIANTS
        },
    )
    corrected = corrections.per_atom != 0
    correction_section = CorrectionSection(
        scheme=SCHEME,
        assumptions=list(ASSUMPTIONS),
        low_labels=low_label_corrections,
        as_labelled=as_labelled,
        n_materials=len(ids),
        n_corrected=int(corrected.sum()),
        n_oxidation_guess_failed=corrections.n_oxidation_guess_failed,
        by_kind=corrections.by_kind(),
        mean_abs_correction_mev_per_atom=(
            float(np.mean(np.abs(corrections.per_atom[corrected])) * MEV_PER_EV)
            if corrected.any()
            else None
        ),
    )
    return _FormationResult(
        section, correction_section, compositions, form_high, variants, material_held_out
    )


def analyze_shift(
    paired: PairedEnergies,
    sides: np.ndarray,
    *,
    name: str,
    split: SplitInfo,
    low_label_corrections: LabelCorrections,
    task: TaskInfo | None = None,
    importance_model: ImportanceModel = "linear",
    atomref: tuple[np.ndarray, str] | None = None,
    atomref_missing_reason: str = "not loaded",
    seed: int = 0,
    notes: Sequence[str] = (),
) -> ShiftAnalysis:
    """Every diagnostic of the module docstring for one pairing.

    Args:
        paired: the pairs.
        sides: ``[n_pairs]`` split side of each pair (``mfbench.tasks.split`` codes); the
            references, offsets and importance models are fitted on ``TRAIN`` pairs only.
        name: a name for the report (task name or ``low-vs-high``).
        split: where ``sides`` come from, for the report (its pair counts are filled in).
        low_label_corrections: whether the low-fidelity labels include MP2020 corrections.
        task: the task whose split was used, if any.
        importance_model: ``"linear"`` or ``"tree"``.
        atomref: ``([94] eV/atom, source)`` CHGNet AtomRef difference, or None.
        atomref_missing_reason: shown when ``atomref`` is None.
        seed: random state of the tree model.
        notes: free text for the report (e.g. the dataset's caveats).

    Raises:
        DataError: no pair is on the train side.
    """
    sides = np.asarray(sides)
    if sides.shape != (len(paired),):
        raise ValueError(f"sides has shape {sides.shape}, expected ({len(paired)},)")
    if low_label_corrections not in ("mp2020", "none"):
        raise ValueError(
            f"low_label_corrections must be mp2020 or none, not {low_label_corrections!r}"
        )
    train = sides == TRAIN
    held_out = ~train
    if not train.any():
        raise DataError(
            f"none of the {len(paired)} pairs of {paired.low.label} and {paired.high.label} is "
            "on the train side; the elemental references cannot be fitted",
            file=str(paired.high.store.path),
        )
    ref = _reference_both(paired, train)
    offsets, atomref_section = _offset_sections(paired, train, ref, atomref, atomref_missing_reason)
    formation = _formation_section(paired, held_out, ref, low_label_corrections)
    features, symbols = element_fraction_features(formation.compositions)
    importance = ImportanceSection(
        model=importance_model,
        features=FEATURES,
        target=TARGET,
        definition=DEFINITIONS[importance_model],
        variants={
            variant: element_importance(
                features,
                symbols,
                formation.high - formation.low[variant],
                ~formation.held_out,
                model=importance_model,
                seed=seed,
            )
            for variant in VARIANTS
        },
    )
    report = ShiftReport(
        name=name,
        mfbench_version=__version__,
        low=paired.low.info(low_label_corrections),
        high=paired.high.info(),
        task=task,
        split=split.model_copy(
            update={"n_train_pairs": int(train.sum()), "n_held_out_pairs": int(held_out.sum())}
        ),
        pairing=paired.summary,
        energy=_energy_section(paired, ref, held_out),
        formation=formation.section,
        offsets=offsets,
        atomref=atomref_section,
        corrections=formation.corrections,
        importance=importance,
        notes=list(notes),
    )
    points = ParityPoints(
        low_energy=paired.low_energy,
        high_energy=paired.high_energy,
        low_referenced=ref.low,
        high_referenced=ref.high,
        held_out=held_out,
        formation_high=formation.high,
        formation_low=dict(formation.low),
        formation_held_out=formation.held_out,
        atomref_difference=None if atomref is None else np.asarray(atomref[0], dtype=float),
    )
    return ShiftAnalysis(report, points)
