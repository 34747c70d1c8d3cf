"""The JSON report of ``mfbench analyze shift``: a strict, versioned schema.

Every section is a frozen pydantic model with unknown keys forbidden, so a report read back
with :meth:`ShiftReport.read` is validated field by field. Numbers that can be undefined (a
correlation over fewer than two pairs, a standard error of an element seen once) are ``None``
in the models and ``null`` in the JSON; the computing code turns NaN into None with
:func:`finite`. Units are in the field names: ``_ev_per_atom`` (eV/atom) and
``_mev_per_atom`` (meV/atom).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mfbench.atomic_write import write_json_atomic

#: Version of the report schema; bump on any incompatible change.
SCHEMA_VERSION = 1

#: How the low-fidelity labels relate to the Materials Project 2020 corrections.
LabelCorrections = Literal["mp2020", "none"]
#: The two formation-energy variants of the low fidelity.
CorrectionVariant = Literal["with_anion_corrections", "without_anion_corrections"]


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is NaN, infinite or None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceInfo(_Model):
    """One side of the comparison.

    Attributes:
        dataset, version, fidelity: which labels.
        sha256: of the dataset's source file, as recorded by ``mfbench data prepare``.
        n_frames, n_materials: in the whole store.
        label_corrections: for the low fidelity, whether its energies include the MP2020
            corrections (``"mp2020"``) or not (``"none"``); None for the high fidelity.
    """

    dataset: str
    version: str
    fidelity: str
    sha256: str | None
    n_frames: int
    n_materials: int
    label_corrections: LabelCorrections | None = None


class TaskInfo(_Model):
    """The task whose split was used."""

    task: str
    version: int
    split_fingerprint: str


class SplitInfo(_Model):
    """Which pairs the elemental references were fitted on.

    Attributes:
        source: ``"task"`` (the task's split of the high-fidelity dataset) or ``"diagnostics"``
            (a material-hash split made for this analysis, see ``salt``).
        salt: the split's salt.
        n_train_pairs, n_held_out_pairs: pairs on the train side and on val + test.
    """

    source: Literal["task", "diagnostics"]
    salt: str
    n_train_pairs: int
    n_held_out_pairs: int


class PairingSummary(_Model):
    """How frames were paired, and how many were not.

    Attributes:
        mode: ``"frame"`` (same frame at both fidelities) or ``"material"`` (each material's
            lowest-energy frame on each side).
        reason: why that mode.
        n_low_frames, n_high_frames, n_low_materials, n_high_materials: in each store.
        n_paired: pairs compared; n_paired_materials: distinct materials among them.
        n_low_only, n_high_only: frames (frame mode) or materials (material mode) present on
            one side only.
        n_composition_mismatch: pairs left out because the two frames' compositions differ.
        examples: up to 10 ids per category (``low_only``, ``high_only``,
            ``composition_mismatch``).
    """

    mode: Literal["frame", "material"]
    reason: str
    n_low_frames: int
    n_high_frames: int
    n_low_materials: int
    n_high_materials: int
    n_paired: int
    n_paired_materials: int
    n_low_only: int
    n_high_only: int
    n_composition_mismatch: int
    examples: dict[str, list[str]]


class Agreement(_Model):
    """How a low-fidelity quantity tracks the high-fidelity one over ``n`` pairs.

    Attributes:
        n: pairs.
        pearson, spearman: correlation coefficients (None for fewer than 2 pairs or a
            constant side).
        mae_mev_per_atom: mean |high − low|, meV/atom.
        mean_shift_mev_per_atom: mean (high − low), meV/atom.
    """

    n: int
    pearson: float | None
    spearman: float | None
    mae_mev_per_atom: float | None
    mean_shift_mev_per_atom: float | None


class BeforeAfter(_Model):
    """Agreement of raw values and of values referenced by each side's elemental reference."""

    raw: Agreement
    referenced: Agreement


class ReferenceFit(_Model):
    """A least-squares elemental reference fitted on the train pairs of one side."""

    n_pairs: int
    n_elements: int
    condition_number: float | None
    residual_mae_ev_per_atom: float | None


class EnergySection(_Model):
    """Energy per atom, low against high fidelity.

    Attributes:
        all: over every pair with a reference for all its elements.
        held_out: over the val + test pairs among those (the references never saw them).
        n_without_reference: pairs left out because an element of theirs is absent from the
            train pairs.
        reference_fits: ``"low"`` and ``"high"`` reference fits.
    """

    all: BeforeAfter
    held_out: BeforeAfter
    n_without_reference: int
    reference_fits: dict[str, ReferenceFit]


class SubsetAgreement(_Model):
    """Agreement over all materials and over the held-out (val + test) ones."""

    all: Agreement
    held_out: Agreement


class FormationSection(_Model):
    """Formation energies per atom, low against high fidelity, one value per material.

    Attributes:
        n_materials: materials with a formation energy.
        n_skipped: materials without one (an element has no single-element material).
        missing_elements: symbols of the elements without a single-element material.
        elemental_reference_rule: how the elemental phases were chosen.
        raw: the labels as given (low fidelity as labelled, see ``corrections``).
        referenced: each side first referenced by its elemental reference; equal to ``raw``
            up to rounding, because a per-element shift cancels in a formation energy.
        max_referencing_change_ev_per_atom: largest |referenced − raw| formation energy.
        corrections: the same comparison with the low fidelity's MP2020 anion corrections
            applied and removed.
    """

    n_materials: int
    n_skipped: int
    missing_elements: list[str]
    elemental_reference_rule: str
    raw: SubsetAgreement
    referenced: SubsetAgreement
    max_referencing_change_ev_per_atom: float | None
    corrections: dict[CorrectionVariant, SubsetAgreement]


class ElementOffset(_Model):
    """The fitted per-element energy offset high − low of one element.

    Attributes:
        z, symbol: the element.
        offset_ev_per_atom: least-squares offset (eV/atom per unit element fraction).
        stderr_ev_per_atom: standard error, clustered by material (None when undefined).
        n_pairs: train pairs containing the element; n_materials: their distinct materials.
        identifiable: False when the element always occurs in fixed proportion with others,
            so its offset alone is not determined by the data (then no standard error).
        low_reference_ev_per_atom, high_reference_ev_per_atom: each side's elemental reference.
        atomref_difference_ev_per_atom: CHGNet's shipped r²SCAN − MPtrj AtomRef weight.
    """

    z: int
    symbol: str
    offset_ev_per_atom: float
    stderr_ev_per_atom: float | None
    n_pairs: int
    n_materials: int
    identifiable: bool
    low_reference_ev_per_atom: float
    high_reference_ev_per_atom: float
    atomref_difference_ev_per_atom: float | None


class OffsetSection(_Model):
    """Per-element offsets high − low, fitted on the train pairs."""

    n_pairs: int
    residual_mae_ev_per_atom: float | None
    condition_number: float | None
    stderr_method: str
    elements: list[ElementOffset]


class AtomRefComparison(_Model):
    """The fitted offsets against CHGNet's shipped AtomRef difference (r²SCAN − MPtrj).

    Attributes:
        available: whether the AtomRef weights were loaded.
        source: what was loaded (package and model names), or why not.
        n_elements: elements with both a fitted offset and an AtomRef weight.
        mae_ev_per_atom: mean |offset − AtomRef difference|.
        pearson: correlation of the two over those elements.
    """

    available: bool
    source: str
    n_elements: int
    mae_ev_per_atom: float | None
    pearson: float | None


class CorrectionSection(_Model):
    """The MP2020 anion corrections used for the formation-energy variants.

    Attributes:
        scheme: what was applied.
        assumptions: what had to be assumed about the low-fidelity calculations.
        low_labels: whether the low-fidelity labels already include MP2020 corrections.
        as_labelled: which variant equals the labels as given.
        n_materials: materials evaluated; n_corrected: with a nonzero correction.
        n_oxidation_guess_failed: materials containing Br, I, Se, Si, Sb, Te, H, N, F or Cl
            whose oxidation states pymatgen could not guess (MP2020 then corrects only the most
            electronegative element); other materials need no guess.
        by_kind: materials per correction kind (``oxide``, ``F``, ``S``, …).
        mean_abs_correction_mev_per_atom: over the corrected materials.
    """

    scheme: str
    assumptions: list[str]
    low_labels: LabelCorrections
    as_labelled: CorrectionVariant
    n_materials: int
    n_corrected: int
    n_oxidation_guess_failed: int
    by_kind: dict[str, int]
    mean_abs_correction_mev_per_atom: float | None


class ElementImportance(_Model):
    """One element's importance for the formation-energy difference.

    Attributes:
        z, symbol: the element.
        importance_mev_per_atom: see :attr:`ImportanceSection.definition`.
        importance_std_mev_per_atom: spread over permutation repeats (tree model), else None.
        coefficient_ev_per_atom: linear model coefficient (formation-energy difference per
            unit element fraction), else None.
        n_materials: train materials containing the element.
    """

    z: int
    symbol: str
    importance_mev_per_atom: float
    importance_std_mev_per_atom: float | None
    coefficient_ev_per_atom: float | None
    n_materials: int


class ImportanceResult(_Model):
    """A model of the formation-energy difference high − low for one correction variant.

    Attributes:
        n_train, n_held_out: materials fitted and evaluated.
        train_r2, held_out_r2: coefficient of determination.
        held_out_mae_mev_per_atom: of the model; baseline_held_out_mae_mev_per_atom: of
            predicting the train mean.
        elements: sorted by importance, largest first.
        skipped: why no model was fitted (too few materials), else None.
    """

    n_train: int
    n_held_out: int
    train_r2: float | None
    held_out_r2: float | None
    held_out_mae_mev_per_atom: float | None
    baseline_held_out_mae_mev_per_atom: float | None
    elements: list[ElementImportance]
    skipped: str | None = None


class ImportanceSection(_Model):
    """Per-element importance of the formation-energy difference, with and without corrections."""

    model: Literal["linear", "tree"]
    features: str
    target: str
    definition: str
    variants: dict[CorrectionVariant, ImportanceResult]


class ShiftReport(_Model):
    """The whole report of one low/high comparison."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str
    mfbench_version: str
    low: SourceInfo
    high: SourceInfo
    task: TaskInfo | None
    split: SplitInfo
    pairing: PairingSummary
    energy: EnergySection
    formation: FormationSection
    offsets: OffsetSection
    atomref: AtomRefComparison
    corrections: CorrectionSection
    importance: ImportanceSection
    notes: list[str]

    def to_json_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what :meth:`write` writes)."""
        return self.model_dump(mode="json")

    def write(self, path: Path) -> Path:
        """Write the report to ``path`` atomically (indented JSON)."""
        write_json_atomic(Path(path), self.to_json_dict())
        return Path(path)

    @classmethod
    def read(cls, path: Path) -> ShiftReport:
        """Read and validate a report written by :meth:`write`.

        Raises:
            ValueError: the file is not valid JSON or does not match the schema (pydantic's
                ``ValidationError`` is a ``ValueError``); the message names the file.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{path}: not a JSON report ({exc})") from exc
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            found = data.get("schema_version") if isinstance(data, dict) else None
            raise ValueError(
                f"{path}: report schema_version is {found!r}, this mfbench reads {SCHEMA_VERSION}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"{path}: not a valid shift report\n{exc}") from exc

    def top_offsets(self, k: int = 5) -> list[ElementOffset]:
        """The ``k`` identifiable elements with the largest |offset|."""
        shown = [e for e in self.offsets.elements if e.identifiable]
        return sorted(shown, key=lambda e: (-abs(e.offset_ev_per_atom), e.z))[:k]
