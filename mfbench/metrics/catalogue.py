"""The one list of metrics mfbench reports: record key, task name, labels, unit, format, direction.

Every place that names a metric (the CLI's tables, the site's columns, a task's ``metrics:`` and
``selection:`` blocks) looks it up here, so a metric's unit and direction are written once.

- ``key``: the column in a record's ``metrics`` block (``energy_mae_mev_per_atom``).
- ``name``: the short name a task file uses (``energy_mae``).
- ``short``/``long``: the site's column header and prose name; ``unit`` as printed.
- ``fmt``: how the CLI prints a value; ``higher_is_better``: False for every error.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfbench.errors import UnknownNameError


@dataclass(frozen=True)
class MetricInfo:
    """One reported metric."""

    key: str
    name: str
    short: str
    long: str
    unit: str
    fmt: str
    higher_is_better: bool = False

    @property
    def header(self) -> str:
        """Column header with unit, e.g. ``"E MAE (meV/atom)"``."""
        return f"{self.short} ({self.unit})"

    def format(self, value: float | None) -> str:
        """``value`` as the CLI prints it (``fmt`` applied; ``"nan"`` when missing or NaN)."""
        return "nan" if value is None or value != value else self.fmt.format(value)


ENERGY = MetricInfo(
    "energy_mae_mev_per_atom", "energy_mae", "E MAE", "energy MAE", "meV/atom", "{:.1f}"
)
FORCE = MetricInfo("force_mae_mev_per_a", "force_mae", "F MAE", "force MAE", "meV/Å", "{:.1f}")
STRESS = MetricInfo("stress_mae_gpa", "stress_mae", "S MAE", "stress MAE", "GPa", "{:.3f}")
MAGMOM = MetricInfo("magmom_mae_mu_b", "magmom_mae", "M MAE", "magnetic-moment MAE", "μB", "{:.3f}")
FORMATION = MetricInfo(
    "formation_energy_mae_mev_per_atom",
    "formation_energy_mae",
    "Ef MAE",
    "formation-energy MAE",
    "meV/atom",
    "{:.1f}",
)
DECOMPOSITION = MetricInfo(
    "decomposition_energy_mae_mev_per_atom",
    "decomposition_energy_mae",
    "Ed MAE",
    "decomposition-energy MAE",
    "meV/atom",
    "{:.1f}",
)
#: Energy MAE over the test frames whose elements all occur in the training fraction.
COVERED_ENERGY = MetricInfo(
    "covered_energy_mae_mev_per_atom",
    "covered_energy_mae",
    "E MAE covered",
    "energy MAE on the covered test frames",
    "meV/atom",
    "{:.1f}",
)
#: Share of the test frames whose elements all occur in the training fraction (0 to 1, shown in %).
COVERED_SHARE = MetricInfo(
    "covered_share",
    "covered_share",
    "Covered",
    "covered share of the test frames",
    "%",
    "{:.0%}",
    higher_is_better=True,
)

#: Every metric, in the order tables show them.
CATALOGUE: tuple[MetricInfo, ...] = (
    ENERGY,
    FORCE,
    STRESS,
    MAGMOM,
    FORMATION,
    DECOMPOSITION,
    COVERED_ENERGY,
    COVERED_SHARE,
)

#: Metrics computed on the test frames of every record (``metrics.all``), CLI table order.
RECORD_METRICS: tuple[MetricInfo, ...] = (ENERGY, FORCE, STRESS, MAGMOM, FORMATION, DECOMPOSITION)

#: Metrics a task may choose hyperparameters by (computed on the validation split by
#: :func:`mfbench.metrics.error_metrics`).
SELECTION_METRICS: tuple[MetricInfo, ...] = (ENERGY, FORCE)


def by_key(key: str) -> MetricInfo:
    """The metric whose record column is ``key`` (``energy_mae_mev_per_atom``)."""
    for metric in CATALOGUE:
        if metric.key == key:
            return metric
    raise UnknownNameError("metric column", key, [m.key for m in CATALOGUE])


def by_name(name: str) -> MetricInfo:
    """The metric a task file calls ``name`` (``energy_mae``)."""
    for metric in CATALOGUE:
        if metric.name == name:
            return metric
    raise UnknownNameError("metric", name, [m.name for m in CATALOGUE])
