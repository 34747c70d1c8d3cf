"""Compare fresh result records with reference records: the check behind ``mfbench ci``.

Both sides are validated first (:func:`mfbench.results.validation.validate_record`: metrics are
recomputed from the predictions), so only numbers mfbench computed are compared. Runs are
matched by :data:`RUN_KEY` (task, task version, split fingerprint, method, hyperparameter
hash, fraction, seed). For each matched pair every value of the ``all`` and ``covered``
metric blocks is compared:

- an error metric (all of them: lower is better) regresses when
  ``fresh - reference > tolerance``, with ``tolerance = absolute + relative * |reference|``
  in the metric's unit (see :class:`Tolerances`); it improved when
  ``reference - fresh > tolerance`` (reported, not a failure); NaN (JSON ``null``) on both
  sides is equal, a value that turns NaN is a regression and a NaN that turns into a number
  is a change;
- a count (keys starting with ``n_``, e.g. ``n_frames``) must be equal: another count means
  the run was scored on other frames;
- a metric the reference has and the fresh record lacks fails; a metric only the fresh record
  has is reported as new; a metric with no declared tolerance fails, so a new metric has to be
  given one here before it is checked.

Failures, beside regressions: a rejected record on either side, a reference run with no fresh
counterpart (missing), two records of one run on one side, and a reference that holds no
records at all. A fresh run with no reference is reported as new and does not fail.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from mfbench.errors import MfbenchError
from mfbench.results.aggregate import GROUP_COLUMNS, records_frame
from mfbench.results.validation import TaskCache, ValidationReport, find_records, validate_record

logger = logging.getLogger(__name__)

#: Columns of :func:`mfbench.results.aggregate.records_frame` that identify one run.
RUN_KEY = (*GROUP_COLUMNS, "seed")
#: The metric blocks of a result record that are compared.
BLOCKS = ("all", "covered")
#: Verdicts that make the comparison fail.
FAILING = frozenset({"regression", "changed", "missing", "no tolerance"})
#: Metric key → the :class:`Tolerances` field that bounds it. MAE and RMSE share one.
METRIC_FAMILIES = {
    "energy_mae_mev_per_atom": "energy",
    "energy_rmse_mev_per_atom": "energy",
    "force_mae_mev_per_a": "force",
    "force_rmse_mev_per_a": "force",
    "stress_mae_gpa": "stress",
    "stress_rmse_gpa": "stress",
    "magmom_mae_mu_b": "magmom",
    "magmom_rmse_mu_b": "magmom",
    "formation_energy_mae_mev_per_atom": "formation_energy",
    "decomposition_energy_mae_mev_per_atom": "decomposition_energy",
}
#: Fingerprint characters shown in a run label.
_SHOWN_HEX = 8


class ToleranceError(MfbenchError, ValueError):
    """A tolerance file is unreadable, has an unknown key or a value that is not allowed."""


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may rise before it counts as a regression.

    Attributes:
        absolute: in the metric's unit (meV/atom, meV/Å, GPa or μB).
        relative: share of ``|reference|`` added to ``absolute`` (1e-3 is 0.1 %).
    """

    absolute: float
    relative: float = 0.0

    def __post_init__(self) -> None:
        for name in ("absolute", "relative"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ToleranceError(f"tolerance {name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ToleranceError(f"tolerance {name} must be finite and >= 0, got {value!r}")

    def allowed(self, reference: float) -> float:
        """``absolute + relative * |reference|``, in the metric's unit."""
        return self.absolute + self.relative * abs(reference)


@dataclass(frozen=True)
class Tolerances:
    """The tolerance of each metric family; the one place where the defaults are declared.

    The defaults sit well below the differences between the paper's methods (Table 1 of
    Huang et al. 2025 separates them by several meV/atom) and well above floating-point noise
    between machines for the cheap deterministic runs CI makes.

    Attributes:
        energy: energy MAE and RMSE, meV/atom.
        force: force MAE and RMSE (per Cartesian component), meV/Å.
        stress: stress MAE and RMSE (per tensor component), GPa.
        magmom: magnetic moment MAE and RMSE, μB.
        formation_energy: formation energy MAE, meV/atom.
        decomposition_energy: decomposition energy MAE, meV/atom.
    """

    energy: Tolerance = Tolerance(absolute=0.5, relative=1e-3)
    force: Tolerance = Tolerance(absolute=0.5, relative=1e-3)
    stress: Tolerance = Tolerance(absolute=0.005, relative=1e-3)
    magmom: Tolerance = Tolerance(absolute=0.005, relative=1e-3)
    formation_energy: Tolerance = Tolerance(absolute=0.5, relative=1e-3)
    decomposition_energy: Tolerance = Tolerance(absolute=0.5, relative=1e-3)

    def for_metric(self, metric: str) -> Tolerance | None:
        """The tolerance of ``metric`` (a metric key such as ``force_mae_mev_per_a``).

        Returns:
            None when no tolerance is declared for it (see :data:`METRIC_FAMILIES`).
        """
        family = METRIC_FAMILIES.get(metric)
        return getattr(self, family) if family else None

    @classmethod
    def from_mapping(
        cls, overrides: Mapping[str, Any], *, source: str = "tolerances"
    ) -> Tolerances:
        """The defaults with some families overridden.

        Args:
            overrides: ``{family: {"absolute": float, "relative": float}}``; a family or key
                left out keeps its default.
            source: named in error messages (e.g. the file the mapping came from).

        Raises:
            ToleranceError: an unknown family or key, or a value that is not a number >= 0.
        """
        defaults = cls()
        families = [f.name for f in dataclasses.fields(cls)]
        changed: dict[str, Tolerance] = {}
        for family, value in overrides.items():
            if family not in families:
                raise ToleranceError(
                    f"{source}: unknown metric family {family!r}; known: {', '.join(families)}"
                )
            if not isinstance(value, Mapping):
                raise ToleranceError(
                    f"{source}: {family} must be a mapping with absolute and/or relative, "
                    f"got {value!r}"
                )
            keys = [f.name for f in dataclasses.fields(Tolerance)]
            unknown = [k for k in value if k not in keys]
            if unknown:
                raise ToleranceError(
                    f"{source}: {family}: unknown key(s) {unknown}; known: {', '.join(keys)}"
                )
            try:
                changed[family] = dataclasses.replace(getattr(defaults, family), **value)
            except ToleranceError as exc:
                raise ToleranceError(f"{source}: {family}: {exc}") from exc
        return dataclasses.replace(defaults, **changed)

    @classmethod
    def from_yaml(cls, path: Path | str) -> Tolerances:
        """The defaults overridden by a YAML file.

        The file maps metric families to tolerances, e.g.::

            energy: {absolute: 1.0, relative: 0.002}   # meV/atom
            stress: {absolute: 0.01}                   # GPa; relative keeps its default

        An empty file gives the defaults.

        Raises:
            ToleranceError: the file cannot be read or parsed, is not a mapping, or has an
                unknown family or key (the message names the file and the key).
        """
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ToleranceError(f"{path}: cannot read the tolerance file ({exc})") from exc
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ToleranceError(f"{path}: a tolerance file must be a YAML mapping")
        return cls.from_mapping(raw, source=str(path))


class RunKey(NamedTuple):
    """What identifies one run across the fresh and the reference records."""

    task: str
    task_version: int
    split_fingerprint: str
    method: str
    params_hash: str
    fraction: float
    seed: int

    def label(self) -> str:
        """A short readable name, e.g. ``surrogate-r2scan v1 oracle #94ccbcd6 f=0.25 seed=0``."""
        return (
            f"{self.task} v{self.task_version} {self.method} #{self.params_hash[:_SHOWN_HEX]} "
            f"f={self.fraction:g} seed={self.seed}"
        )


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one run, fresh against reference.

    Attributes:
        run: the run compared.
        metric: ``<block>.<key>``, e.g. ``all.energy_mae_mev_per_atom`` (unit in the key).
        reference: the reference value; NaN for JSON null, None when the reference lacks it.
        fresh: the fresh value; NaN for JSON null, None when the fresh record lacks it.
        difference: ``fresh - reference``; None when either side lacks the value.
        tolerance: the allowed rise in the metric's unit; None for counts (exact) and for
            metrics with no declared tolerance.
        verdict: ``ok``, ``improved``, ``new``, or one of :data:`FAILING`.
    """

    run: RunKey
    metric: str
    reference: float | None
    fresh: float | None
    difference: float | None
    tolerance: float | None
    verdict: str

    @property
    def failed(self) -> bool:
        """Whether this comparison fails the check."""
        return self.verdict in FAILING


@dataclass
class RegressionReport:
    """The outcome of :func:`compare_to_reference`.

    Attributes:
        comparisons: every metric of every matched run.
        missing: reference runs with no fresh record (failures), with the reference file.
        new: fresh runs with no reference record (not failures), with the fresh file.
        rejected: summaries of records that failed validation, on either side (failures).
        errors: other failures (a run recorded twice on one side, an empty reference).
        n_reference: reference records found.
        n_fresh: fresh records found.
    """

    comparisons: list[MetricComparison] = field(default_factory=list)
    missing: list[tuple[RunKey, Path]] = field(default_factory=list)
    new: list[tuple[RunKey, Path]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    n_reference: int = 0
    n_fresh: int = 0

    @property
    def failures(self) -> list[MetricComparison]:
        """The comparisons that fail."""
        return [c for c in self.comparisons if c.failed]

    @property
    def improvements(self) -> list[MetricComparison]:
        """The metrics that improved beyond their tolerance."""
        return [c for c in self.comparisons if c.verdict == "improved"]

    @property
    def ok(self) -> bool:
        """True when nothing regressed, changed, went missing or was rejected."""
        return not (self.failures or self.missing or self.rejected or self.errors)

    @property
    def exit_code(self) -> int:
        """0 when :attr:`ok`, else 1."""
        return 0 if self.ok else 1

    def format(self, *, show_all: bool = False) -> str:
        """A readable report: run-level problems, a diff table and a closing verdict.

        Args:
            show_all: list every compared metric, not only those whose verdict is not ok.
        """
        lines = [
            f"compared {len({c.run for c in self.comparisons})} run(s): "
            f"{self.n_fresh} fresh record(s) against {self.n_reference} reference record(s)"
        ]
        lines += [f"REJECTED {summary}" for summary in self.rejected]
        lines += [f"ERROR {error}" for error in self.errors]
        lines += [f"MISSING {key.label()} (reference {path})" for key, path in self.missing]
        lines += [f"NEW {key.label()} (fresh {path}; no reference)" for key, path in self.new]
        rows = [c for c in self.comparisons if show_all or c.verdict != "ok"]
        if rows:
            lines.append(_table(rows))
        lines.append(self._verdict_line())
        return "\n".join(lines)

    def _verdict_line(self) -> str:
        counts: dict[str, int] = {}
        for comparison in self.comparisons:
            counts[comparison.verdict] = counts.get(comparison.verdict, 0) + 1
        parts = [f"{n} {verdict}" for verdict, n in sorted(counts.items())]
        parts += [f"{len(self.missing)} missing run(s)"] if self.missing else []
        parts += [f"{len(self.new)} new run(s)"] if self.new else []
        parts += [f"{len(self.rejected)} rejected record(s)"] if self.rejected else []
        parts += [f"{len(self.errors)} error(s)"] if self.errors else []
        return f"{'OK' if self.ok else 'FAILED'}: {', '.join(parts) or 'nothing compared'}"


_HEADER = ("run", "metric", "reference", "fresh", "difference", "tolerance", "verdict")


def _table(rows: Sequence[MetricComparison]) -> str:
    """Rows as a fixed-width table; numbers at 6 significant digits, in the metric's unit."""
    cells = [_HEADER] + [
        (
            c.run.label(),
            c.metric,
            format_number(c.reference),
            format_number(c.fresh),
            format_number(c.difference, signed=True),
            _tolerance_cell(c),
            c.verdict.upper() if c.failed else c.verdict,
        )
        for c in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_HEADER))]
    numeric = {2, 3, 4, 5}
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    )


def _tolerance_cell(comparison: MetricComparison) -> str:
    if comparison.tolerance is not None:
        return format_number(comparison.tolerance)
    return "exact" if _is_count(comparison.metric.split(".", 1)[-1]) else "-"


def format_number(value: float | None, *, signed: bool = False) -> str:
    """A value as the report prints it: 6 significant digits, ``NaN``, or ``-`` for absent."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def compare_to_reference(
    results: Sequence[Path | str],
    reference: Sequence[Path | str],
    tolerances: Tolerances | None = None,
) -> RegressionReport:
    """Validate fresh and reference records and compare their metrics run by run.

    Args:
        results: fresh ``result.json`` files or folders holding them (searched recursively).
        reference: reference records, files or folders.
        tolerances: allowed rise per metric family (default :class:`Tolerances`).

    Returns:
        The report; its :attr:`RegressionReport.exit_code` is what ``mfbench ci`` returns.

    Raises:
        FileNotFoundError: a given path does not exist.
    """
    tolerances = tolerances if tolerances is not None else Tolerances()
    cache: TaskCache = {}
    report = RegressionReport()
    fresh = _accepted(find_records(results), cache, report, side="fresh")
    known = _accepted(find_records(reference), cache, report, side="reference")
    report.n_fresh, report.n_reference = len(fresh.paths), len(known.paths)
    if not known.paths:
        report.errors.append(f"no reference records found under {', '.join(map(str, reference))}")
    for key, (path, record) in known.records.items():
        if key not in fresh.records:
            if key not in fresh.duplicated:
                report.missing.append((key, path))
            continue
        report.comparisons.extend(
            compare_metrics(key, record["metrics"], fresh.records[key][1]["metrics"], tolerances)
        )
    report.new = [(key, path) for key, (path, _) in fresh.records.items() if key not in known.keys]
    logger.info("%s", report._verdict_line())
    return report


@dataclass
class _Side:
    """The accepted records of one side, by run."""

    paths: list[Path] = field(default_factory=list)
    records: dict[RunKey, tuple[Path, dict[str, Any]]] = field(default_factory=dict)
    duplicated: set[RunKey] = field(default_factory=set)

    @property
    def keys(self) -> set[RunKey]:
        return set(self.records) | self.duplicated


def _accepted(paths: list[Path], cache: TaskCache, report: RegressionReport, side: str) -> _Side:
    """Validate ``paths``; rejected and duplicated records go into ``report``."""
    result = _Side(paths=paths)
    reports: list[ValidationReport] = [validate_record(path, cache=cache) for path in paths]
    for rejected in (r for r in reports if not r.ok):
        report.rejected.append(f"({side}) {rejected.summary()}")
    accepted = [r for r in reports if r.ok and r.record is not None]
    if not accepted:
        return result
    frame = records_frame([r.record for r in accepted if r.record is not None])
    seen: dict[RunKey, list[Path]] = {}
    for validation, row in zip(accepted, frame[list(RUN_KEY)].itertuples(index=False), strict=True):
        key = RunKey(
            str(row.task), int(row.task_version), str(row.split_fingerprint), str(row.method),
            str(row.params_hash), float(row.fraction), int(row.seed),
        )  # fmt: skip
        seen.setdefault(key, []).append(validation.path)
        result.records[key] = (validation.path, validation.record or {})
    for key, found in seen.items():
        if len(found) > 1:
            report.errors.append(
                f"{key.label()} has {len(found)} {side} records: {', '.join(map(str, found))}; "
                "keep one per run"
            )
            result.duplicated.add(key)
            del result.records[key]
    return result


def compare_metrics(
    run: RunKey,
    reference: Mapping[str, Any],
    fresh: Mapping[str, Any],
    tolerances: Tolerances,
) -> list[MetricComparison]:
    """Compare the ``metrics`` objects of two records of one run (see the module docstring).

    Args:
        run: the run, for labelling.
        reference: the reference record's ``metrics`` (``{"all": {...}, "covered": {...}}``).
        fresh: the fresh record's ``metrics``.
        tolerances: allowed rise per metric family.

    Returns:
        One comparison per key of each block, reference keys first, in their stored order.
    """
    comparisons = []
    for block in BLOCKS:
        ref_block, fresh_block = reference.get(block) or {}, fresh.get(block) or {}
        for key in _union(ref_block, fresh_block):
            values = ref_block.get(key, _ABSENT), fresh_block.get(key, _ABSENT)
            comparisons.append(_compare_one(run, f"{block}.{key}", key, *values, tolerances))
    return comparisons


_ABSENT = object()


def _union(first: Iterable[str], second: Iterable[str]) -> list[str]:
    keys = dict.fromkeys(first)
    keys.update(dict.fromkeys(second))
    return list(keys)


def _compare_one(
    run: RunKey, metric: str, key: str, ref_raw: Any, fresh_raw: Any, tolerances: Tolerances
) -> MetricComparison:
    ref = None if ref_raw is _ABSENT else _as_float(ref_raw)
    new = None if fresh_raw is _ABSENT else _as_float(fresh_raw)
    tolerance = tolerances.for_metric(key)
    allowed = (
        tolerance.allowed(ref) if tolerance and ref is not None and math.isfinite(ref) else None
    )
    difference = new - ref if ref is not None and new is not None else None

    if ref is None:
        verdict = "new"
    elif new is None:
        verdict = "missing"
    elif _is_count(key):
        verdict = "ok" if ref == new or (math.isnan(ref) and math.isnan(new)) else "changed"
    elif tolerance is None:
        verdict = "no tolerance"
    elif math.isnan(ref):
        verdict = "ok" if math.isnan(new) else "changed"
    elif math.isnan(new):
        verdict = "regression"
    else:
        assert allowed is not None and difference is not None
        verdict = (
            "regression" if difference > allowed else "improved" if -difference > allowed else "ok"
        )
    return MetricComparison(run, metric, ref, new, difference, allowed, verdict)


def _is_count(key: str) -> bool:
    return key.startswith("n_")


def _as_float(value: Any) -> float:
    """A stored metric as a float; JSON ``null`` is NaN."""
    return math.nan if value is None else float(value)
