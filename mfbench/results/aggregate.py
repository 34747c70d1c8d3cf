"""Tables of result records: one row per run, comparable subsets and per-seed statistics.

Feed these functions records that :func:`mfbench.results.validation.validate_record` accepted;
they trust the numbers they are given.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mfbench.results.record import check_record_keys, protocol_params_hash

logger = logging.getLogger(__name__)

#: Columns that identify a run and describe its cost; every other column of
#: :func:`records_frame` is a metric.
RUN_COLUMNS = (
    "task", "task_version", "split_fingerprint", "test_fingerprint", "method", "params_hash",
    "fraction", "n_train_frames", "seed", "device", "fit_seconds", "device_hours",
)  # fmt: skip
#: Runs in one group of :func:`summarize` differ only by their seed.
GROUP_COLUMNS = ("task", "task_version", "split_fingerprint", "method", "params_hash", "fraction")
#: Prefix of the metrics on the covered test frames.
COVERED_PREFIX = "covered_"
#: Fingerprint characters shown in a reason.
_SHOWN_HEX = 12


def records_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per result record.

    Columns, in this order:

    - ``task`` (name), ``task_version`` (int), ``split_fingerprint``, ``test_fingerprint``
      (hex sha256), ``method`` (registered name, else the spec), ``params_hash`` (hex sha256
      of the hyperparameters), ``fraction`` (share of the train split, 0 to 1),
      ``n_train_frames``, ``seed``, ``device``, ``fit_seconds`` (s, wall clock of ``fit`` in
      the last process), ``device_hours`` (h, fit and predict);
    - one column per metric of the record's ``all`` block, on every test frame:
      ``energy_mae_mev_per_atom`` / ``energy_rmse_mev_per_atom`` (meV/atom),
      ``force_mae_mev_per_a`` / ``force_rmse_mev_per_a`` (meV/Å, per Cartesian component),
      ``stress_mae_gpa`` / ``stress_rmse_gpa`` (GPa, per tensor component),
      ``magmom_mae_mu_b`` / ``magmom_rmse_mu_b`` (μB), ``formation_energy_mae_mev_per_atom``
      and ``decomposition_energy_mae_mev_per_atom`` (meV/atom); counts (keys starting with
      ``n_``) are left out;
    - the same metrics of the ``covered`` block (test frames whose elements all occur in the
      training fraction) prefixed ``covered_``, and ``covered_share`` (0 to 1).

    A metric a record does not have, or stores as ``null`` (NaN), is NaN.

    Args:
        records: parsed result records (schema :data:`mfbench.results.record.RESULT_SCHEMA`).

    Returns:
        A frame with ``len(records)`` rows.

    Raises:
        ValueError: a record does not follow the result schema.
    """
    rows = [_row(record) for record in records]
    metric_columns: dict[str, None] = {}
    for row in rows:
        metric_columns.update((key, None) for key in row if key not in RUN_COLUMNS)
    columns = list(RUN_COLUMNS) + _ordered_metrics(list(metric_columns))
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({name: float for name in columns if name not in RUN_COLUMNS})


def _row(record: dict[str, Any]) -> dict[str, Any]:
    check_record_keys(record)
    task, method, timing = record["task"], record["method"], record["timing"]
    row: dict[str, Any] = {
        "task": task["name"],
        "task_version": int(task["version"]),
        "split_fingerprint": task["split_fingerprint"],
        "test_fingerprint": task["test_fingerprint"],
        "method": method.get("name") or method["spec"],
        "params_hash": protocol_params_hash(record),
        "fraction": float(record["fraction"]),
        "n_train_frames": int(record["n_train_frames"]),
        "seed": int(record["seed"]),
        "device": timing.get("device"),
        "fit_seconds": _number(timing.get("fit_seconds")),
        "device_hours": _number(timing.get("device_hours")),
    }
    for block, prefix in (("all", ""), ("covered", COVERED_PREFIX)):
        for key, value in record["metrics"].get(block, {}).items():
            if not key.startswith("n_") and (value is None or _is_real(value)):
                row[prefix + key] = _number(value)
    row[f"{COVERED_PREFIX}share"] = _number(record["coverage"].get("covered_share"))
    return row


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _ordered_metrics(names: list[str]) -> list[str]:
    """``all`` metrics first, then ``covered_`` ones, ``covered_share`` last."""
    share = f"{COVERED_PREFIX}share"
    plain = [n for n in names if not n.startswith(COVERED_PREFIX)]
    covered = [n for n in names if n.startswith(COVERED_PREFIX) and n != share]
    return plain + covered + ([share] if share in names else [])


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The metric columns of a :func:`records_frame` table (every column but the run ones)."""
    return [name for name in frame.columns if name not in (*RUN_COLUMNS, "reason")]


def comparable(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split runs into those the leaderboard compares and those it sets apart.

    For each task the leaderboard shows the newest task version found; runs of older versions
    are set apart. Among the newest version's runs, the split fingerprint held by the most
    runs is kept (a tie goes to the fingerprint that sorts first, so the choice is
    deterministic) and runs with another fingerprint are set apart. Runs of one method with
    different hyperparameters (``params_hash``) are all kept; :func:`summarize` reports them
    as separate entries.

    Args:
        frame: a :func:`records_frame` table.

    Returns:
        ``(kept, set_apart)``, both in the order of ``frame``; ``set_apart`` has an extra
        ``reason`` column, e.g. ``"task version 1, leaderboard shows version 2"``.
    """
    reasons = pd.Series(None, index=frame.index, dtype=object)
    for task, rows in frame.groupby("task", sort=True):
        newest = int(rows["task_version"].max())
        older = rows.index[rows["task_version"] != newest]
        reasons[older] = [
            f"task version {int(v)}, leaderboard shows version {newest}"
            for v in rows.loc[older, "task_version"]
        ]
        current = rows[rows["task_version"] == newest]
        chosen = _majority(current["split_fingerprint"])
        other = current.index[current["split_fingerprint"] != chosen]
        reasons[other] = [
            f"split fingerprint {_short(fp)} differs from {_short(chosen)}, the one of most "
            f"task {task} version {newest} runs"
            for fp in current.loc[other, "split_fingerprint"]
        ]
    apart = reasons.notna()
    if apart.any():
        logger.info("set apart %d of %d runs", int(apart.sum()), len(frame))
    return frame[~apart].copy(), frame[apart].assign(reason=reasons[apart])


def _majority(values: pd.Series) -> str:
    """The most common value; ties go to the one that sorts first."""
    counts = values.value_counts()
    return min(counts.index[counts == counts.max()])


def _short(fingerprint: str) -> str:
    return f"{fingerprint[:_SHOWN_HEX]}…"


def summarize(
    frame: pd.DataFrame, metrics: Sequence[str] | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Mean, spread and a Student-t interval of the mean over seeds for each run group.

    Runs are grouped by ``(task, task_version, split_fingerprint, method, params_hash,
    fraction)``: only their seeds differ. Pass :func:`comparable`'s ``kept`` table so that
    only comparable runs are pooled.

    With ``n >= 2`` seeds the interval is ``mean ± t_{(1 + level) / 2, n - 1} · s / √n``
    (:func:`t_interval`; ``s`` the standard deviation with ddof 1): the usual interval of the
    mean of ``n`` independent seeds, wide when ``n`` is small (``t_{0.975, 1} = 12.7``, so two
    seeds give a wide interval, as they should). With one seed there is no interval and no
    standard deviation: both are NaN, never ``[value, value]``. The seeds tried are assumed a
    sample of the seeds that could have been tried; the interval says nothing about other
    hyperparameters or another split.

    Args:
        frame: a :func:`records_frame` table.
        metrics: the columns to summarize (default: every metric column, see
            :func:`metric_columns`); units are those of the columns.
        level: coverage of the interval, in (0, 1).

    Returns:
        One row per group, sorted by the group columns, with ``n_seeds``, ``seeds`` (sorted
        tuple), ``n_train_frames`` and, for each metric ``m`` (in the metric's unit),
        ``m_mean``, ``m_std`` (ddof 1; NaN for one seed), ``m_ci_low`` and ``m_ci_high`` (NaN
        for one seed, or when a seed's value is NaN).

    Raises:
        ValueError: a metric is not a column, ``level`` is outside (0, 1), a seed occurs
            twice in one group, or the runs of a group disagree on ``n_train_frames``.
    """
    names = list(metrics) if metrics is not None else metric_columns(frame)
    unknown = [name for name in names if name not in frame.columns]
    if unknown:
        raise ValueError(f"no such metric column(s) {unknown}; columns are {list(frame.columns)}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rows = [
        _summarize_group(dict(zip(GROUP_COLUMNS, key, strict=True)), runs, names, level)
        for key, runs in frame.groupby(list(GROUP_COLUMNS), sort=True)
    ]
    columns = [*GROUP_COLUMNS, "n_seeds", "seeds", "n_train_frames"] + [
        f"{name}_{stat}" for name in names for stat in ("mean", "std", "ci_low", "ci_high")
    ]
    return pd.DataFrame(rows, columns=columns)


def _summarize_group(
    key: dict[str, Any], runs: pd.DataFrame, names: list[str], level: float
) -> dict[str, Any]:
    where = ", ".join(f"{k} {v}" for k, v in key.items() if k != "split_fingerprint")
    seeds = runs["seed"].tolist()
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"{where}: seed(s) {repeated} occur more than once; count each run once")
    sizes = runs["n_train_frames"].unique()
    if len(sizes) != 1:
        raise ValueError(f"{where}: runs disagree on n_train_frames {sorted(sizes.tolist())}")
    row = {**key, "n_seeds": len(seeds), "seeds": tuple(sorted(seeds)),
           "n_train_frames": int(sizes[0])}  # fmt: skip
    for name in names:
        values = runs[name].to_numpy(dtype=np.float64)
        row[f"{name}_mean"] = float(np.mean(values))
        row[f"{name}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
        row[f"{name}_ci_low"], row[f"{name}_ci_high"] = t_interval(values, level)
    return row


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of independent values (one per seed).

    ``mean ± t · s / √n`` with ``t`` the ``(1 + level) / 2`` quantile of Student's t with
    ``n - 1`` degrees of freedom and ``s`` the standard deviation with ddof 1.

    Args:
        values: ``[n]`` one value per seed, in the metric's unit.
        level: coverage of the interval, in (0, 1).

    Returns:
        ``(low, high)`` in the unit of ``values``; ``(NaN, NaN)`` when ``n < 2`` or any value
        is NaN (no interval can be given).
    """
    from scipy.stats import t as student_t

    values = np.asarray(values, dtype=np.float64)
    if values.size < 2 or np.isnan(values).any():
        return math.nan, math.nan
    mean = float(np.mean(values))
    half = float(student_t.ppf((1 + level) / 2, values.size - 1)) * float(
        np.std(values, ddof=1) / math.sqrt(values.size)
    )
    return mean - half, mean + half
