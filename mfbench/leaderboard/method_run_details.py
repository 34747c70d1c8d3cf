"""What a method's runs recorded, as figures and tables.

Per-element energy errors, training curves and the hyperparameter selection on the validation
split.

A record is untrusted input: stages and epochs drawn are capped, and values that are not
finite numbers are shown as missing.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from markupsafe import Markup
from pymatgen.core import Element

from mfbench.html.numbers import format_number
from mfbench.html.safety import display_text, slug
from mfbench.leaderboard.method_plots import (
    ElementError,
    TrainingSeries,
    per_element_svg,
    training_svg,
)
from mfbench.leaderboard.tables import (
    Cell,
    Table,
    fraction_cell,
    number_cell,
    record_value,
    text_cell,
    value_text,
)
from mfbench.leaderboard.view_model import (
    ENERGY,
    Entry,
    Plot,
    Runs,
)

#: Most training stages drawn per run, and epochs per stage (a record is untrusted input).
_MAX_STAGES, _MAX_EPOCHS = 12, 500


#: Shade of the lightest training series (see :class:`TrainingSeries`).
_LIGHTEST = 0.65


def titled_plot(title: str, svg: str, caption: str) -> Plot:
    """A :class:`Plot` of an SVG that :func:`inline_svg` checked."""
    return Plot(title=title, svg=Markup(svg), caption=caption)


def per_element_plot(name: str, title: str, record: dict[str, Any]) -> tuple[Plot | None, str]:
    """The per-element energy MAE of one run (``per_element_energy_mae``), or None and why."""
    rows = record.get("per_element_energy_mae")
    errors = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        try:
            element = Element(str(row.get("element")))
        except ValueError:
            continue
        errors.append(
            ElementError(
                symbol=element.symbol,
                z=int(element.Z),
                mae=_number(row.get(ENERGY.key)),
                n_frames=int(_number(row.get("n_frames"), 0.0)),
            )
        )
    svg = per_element_svg(title, name, errors)
    if svg is None:
        return None, "No per-element errors: the record lists none with a finite MAE."
    finite = [e for e in errors if math.isfinite(e.mae)]
    worst = max(finite, key=lambda e: (e.mae, -e.z))
    caption = (
        f"Energy MAE (meV/atom) over the test frames that contain each element, elements in "
        f"order of atomic number ({len(finite)} elements; a frame counts for every element it "
        f"holds). Largest: {worst.symbol}, {format_number(worst.mae)} meV/atom over "
        f"{worst.n_frames:,} frame(s)."
    )
    return titled_plot("Energy error per element", svg, caption), ""


def _number(value: Any, default: float = math.nan) -> float:
    """A finite float of a record value; ``default`` for anything else (text, inf, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value) if math.isfinite(value) else default


def _integer(value: Any) -> int | None:
    """An integer record value, or None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def training_plot(
    name: str, title: str, runs: list[tuple[float, dict[str, Any]]]
) -> tuple[Plot | None, str]:
    """Training curves of an entry's runs of one seed: one line per fraction, stages in turn."""
    pending: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for fraction, record in sorted(runs, key=lambda item: item[0]):
        stages = _stages(record_value(record, ("training", "history")))
        parts, starts, names, offset = [], [], [], 0.0
        for stage, epochs in stages:
            steps, val, train = _epochs(epochs, offset)
            if len(steps):
                if parts:
                    starts.append(offset)
                offset = float(np.nanmax(steps))
                parts.append((steps, val, train))
                names.append(stage)
        if parts:
            label = f"fraction {fraction:g}" + (f" ({', '.join(names)})" if len(parts) > 1 else "")
            arrays = [np.concatenate([p[k] for p in parts]) for k in range(3)]
            pending.append((label, *arrays, np.array(starts, dtype=float)))
    if not pending:
        return None, (
            "No training curves: the runs record no training history (the method is not "
            "trained by gradient steps, e.g. zero-shot, or recorded none)."
        )
    last = max(len(pending) - 1, 1)
    series = [
        TrainingSeries(label, steps, val, train, starts, _LIGHTEST * (len(pending) - 1 - k) / last)
        for k, (label, steps, val, train, starts) in enumerate(pending)
    ]
    svg = training_svg(f"{title}: training", name, series)
    if svg is None:
        return None, "No training curves: the recorded history holds no finite energy MAE."
    caption = (
        "Energy MAE (meV/atom) after each epoch as the runs recorded it: validation split "
        "(solid) and the running mean over the epoch's training batches (dashed), against "
        "optimizer steps counted from the run's first stage (a dotted line where the next "
        "stage begins); smaller fractions are lighter."
    )
    return titled_plot("Training curves", svg, caption), ""


def _stages(history: Any) -> list[tuple[str, list[Any]]]:
    """``(stage name, epochs)`` of a recorded history, in the record's order.

    A history is ``{stage: [epoch, ...]}`` (as :mod:`baselines.training` writes it), or a
    list of epochs (one stage, "training"), or a list of such lists (stages numbered from 1).
    """
    if isinstance(history, dict):
        stages = [(display_text(str(k), 40), v) for k, v in history.items() if isinstance(v, list)]
    elif isinstance(history, list) and history and all(isinstance(e, list) for e in history):
        stages = [(f"stage {k + 1}", v) for k, v in enumerate(history)]
    elif isinstance(history, list):
        stages = [("training", history)]
    else:
        stages = []
    return stages[:_MAX_STAGES]


def _epochs(epochs: list[Any], offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, val, train)`` of one stage: steps from ``offset``, energy MAEs in meV/atom.

    An epoch without ``steps`` counts as one step after the previous one.
    """
    steps, val, train = [], [], []
    for k, epoch in enumerate(e for e in epochs[:_MAX_EPOCHS] if isinstance(e, dict)):
        step = _number(epoch.get("steps"))
        steps.append(offset + (step if math.isfinite(step) else k + 1))
        val.append(_number(record_value(epoch, ("val", "e"))) * 1000)
        train.append(_number(record_value(epoch, ("train", "e"))) * 1000)
    return np.array(steps, dtype=float), np.array(val), np.array(train)


def selection_table(
    entry: Entry, task: str, indices: list[int], runs: Runs
) -> tuple[Table | None, str]:
    """Every candidate of every run's hyperparameter selection, or None and why not."""
    frame = runs.frame
    order = sorted(
        indices, key=lambda i: (float(frame.at[i, "fraction"]), int(frame.at[i, "seed"]))
    )
    rows, records, metrics = [], [], set()
    for i in order:
        selection = runs.records[i].get("selection")
        if not isinstance(selection, dict) or not isinstance(selection.get("candidates"), list):
            continue
        metrics.add(str(selection.get("metric")))
        chosen = selection.get("chosen")
        for candidate in selection["candidates"]:
            if isinstance(candidate, dict):
                row, out = _candidate_row(candidate, chosen, frame.loc[i])
                rows.append(row)
                records.append({"task": task, "method": entry.label, **out})
    if not rows:
        return None, (
            "No hyperparameter selection: these runs chose none on the validation split (the "
            "task declares no grid, or none of its parameters applies to the method)."
        )
    table = Table(
        key=f"selection-{slug(task)}-{entry.slug}",
        caption=(
            f"Hyperparameter selection on the validation split (decided by "
            f"{display_text(', '.join(sorted(metrics)), 80)}, lower is better): every candidate "
            "of every run"
        ),
        headers=[
            "Fraction",
            "Seed",
            "Candidate",
            "Status",
            "Val E MAE (meV/atom)",
            "Val F MAE (meV/Å)",
            "Val S MAE (GPa)",
            "Steps",
            "Fit (s)",
            "Chosen",
        ],
        rows=rows,
        fields=[
            "task",
            "method",
            "fraction",
            "seed",
            "params",
            "status",
            "val_energy_mae",
            "val_force_mae",
            "val_stress_mae",
            "steps_run",
            "fit_seconds",
            "chosen",
        ],
        records=records,
        download=None,
    )
    return table, ""


def _candidate_row(
    candidate: dict[str, Any], chosen: Any, run: Any
) -> tuple[list[Cell], dict[str, Any]]:
    """Cells and plain values of one candidate of one run's selection."""
    params = candidate.get("params")
    text = (
        ", ".join(
            f"{k}={json.dumps(v)}" for k, v in sorted(params.items(), key=lambda kv: str(kv[0]))
        )
        if isinstance(params, dict)
        else value_text(params)
    )
    scores = candidate.get("val") if isinstance(candidate.get("val"), dict) else {}
    values = {
        "val_energy_mae": _number(scores.get("energy_mae")),
        "val_force_mae": _number(scores.get("force_mae")),
        "val_stress_mae": _number(scores.get("stress_mae")),
        "steps_run": _integer(candidate.get("steps_run")),
        "fit_seconds": _number(candidate.get("fit_seconds")),
    }
    is_chosen = isinstance(params, dict) and params == chosen
    cells = [
        fraction_cell(run["fraction"]),
        number_cell(int(run["seed"])),
        text_cell(text, code=True),
        text_cell(candidate.get("status")),
        *(number_cell(values[k]) for k in ("val_energy_mae", "val_force_mae", "val_stress_mae")),
        number_cell(values["steps_run"]),
        number_cell(values["fit_seconds"]),
        text_cell("chosen" if is_chosen else ""),
    ]
    out = {
        "fraction": float(run["fraction"]),
        "seed": int(run["seed"]),
        "params": params,
        "status": candidate.get("status"),
        **values,
        "chosen": is_chosen,
    }
    return cells, out
