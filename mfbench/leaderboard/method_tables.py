"""A method page's tables: hyperparameters of each variant, runs and provenance.

Every value comes from an untrusted record and reaches the page as text (escaped by the
templates) or a checked ``http(s)`` link.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from mfbench.html.safety import display_text, http_url
from mfbench.leaderboard.tables import (
    Cell,
    Table,
    count_table,
    fraction_cell,
    number_cell,
    record_value,
    text_cell,
)
from mfbench.leaderboard.view_model import (
    ENERGY,
    FORCE,
    Entry,
    Runs,
    TaskContent,
)

#: Deepest nesting of hyperparameters shown key by key; deeper values are shown as JSON.
_PARAMS_DEPTH = 8


def _flatten(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value and depth < _PARAMS_DEPTH:
        items = []
        for key in sorted(value, key=str):
            items += _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), depth + 1)
        return items
    return [(prefix or "(none)", value)]


def params_table(entry: Entry, params: dict[str, Any]) -> Table:
    """Hyperparameters key by key; an ``http(s)`` URL value is a link, anything else text."""
    rows, records = [], []
    for key, value in _flatten(params) if params else []:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        url = http_url(value)
        rows.append(
            [
                text_cell(key, code=True),
                Cell(display_text(text), sort=str(text), href=url, external=url is not None),
            ]
        )
        records.append(
            {
                "method": entry.label,
                "params_hash": entry.params_hash,
                "parameter": key,
                "value": value,
            }
        )
    return Table(
        key=f"params-{entry.slug}",
        caption=f"Hyperparameters of {display_text(entry.label, 80)}",
        headers=["Parameter", "Value"],
        rows=rows,
        fields=["method", "params_hash", "parameter", "value"],
        records=records,
        download=f"methods/{entry.slug}.params",
        note=None if rows else "No hyperparameters.",
    )


def runs_table(
    name: str,
    method_slug: str,
    indices: list[int],
    runs: Runs,
    statuses: dict[int, str],
    tasks: dict[str, TaskContent],
) -> Table:
    """Every valid run of a method name: ``indices`` are its rows of ``runs.frame``.

    A run without a status in ``statuses`` (by row) is ranked.
    """
    frame = runs.frame
    order = sorted(
        indices,
        key=lambda i: (
            frame.at[i, "task"],
            frame.at[i, "params_hash"],
            frame.at[i, "fraction"],
            frame.at[i, "seed"],
        ),
    )
    rows, out = [], []
    for i in order:
        run, record = frame.loc[i], runs.records[i]
        entry = runs.entries[name, str(run["params_hash"])]
        task = tasks.get(str(run["task"]))
        status = statuses.get(i, "ranked")
        commit = record_value(record, ("environment", "git_commit"))
        rows.append(
            [
                text_cell(str(run["task"]), href=task.page if task else None),
                text_cell(entry.label),
                fraction_cell(run["fraction"]),
                number_cell(int(run["seed"])),
                number_cell(int(run["n_train_frames"])),
                number_cell(run.get(ENERGY.key)),
                number_cell(run.get(FORCE.key)),
                text_cell(run["device"]),
                number_cell(run["device_hours"]),
                text_cell(commit, code=True),
                text_cell(status),
            ]
        )
        out.append(
            {
                "task": str(run["task"]),
                "task_version": int(run["task_version"]),
                "method": entry.label,
                "params_hash": entry.params_hash,
                "fraction": float(run["fraction"]),
                "seed": int(run["seed"]),
                "n_train_frames": int(run["n_train_frames"]),
                ENERGY.key: run.get(ENERGY.key),
                FORCE.key: run.get(FORCE.key),
                "device": run["device"],
                "device_hours": run["device_hours"],
                "fit_seconds": run["fit_seconds"],
                "git_commit": commit,
                "status": status,
            }
        )
    return Table(
        key="runs",
        caption="Valid runs",
        headers=[
            "Task",
            "Method",
            "Fraction",
            "Seed",
            "Train frames",
            ENERGY.header,
            FORCE.header,
            "Device",
            "Device-hours",
            "Git commit",
            "Status",
        ],
        rows=rows,
        fields=[
            "task",
            "task_version",
            "method",
            "params_hash",
            "fraction",
            "seed",
            "n_train_frames",
            ENERGY.key,
            FORCE.key,
            "device",
            "device_hours",
            "fit_seconds",
            "git_commit",
            "status",
        ],
        records=out,
        download=f"methods/{method_slug}.runs",
    )


def provenance_tables(method_slug: str, records: list[dict[str, Any]]) -> list[Table]:
    """Software versions, machines, code and weights files read of a method's runs, counted.

    The table of weights files is left out when no run read one.
    """
    stem = f"methods/{method_slug}"
    packages = sorted(
        {str(k) for r in records for k in _as_dict(record_value(r, ("environment", "versions")))}
    )
    version_rows: list[tuple[str, str, int]] = []
    for package in packages:
        counts = Counter(
            str(record_value(r, ("environment", "versions", package))) for r in records
        )
        version_rows += [(package, v, n) for v, n in sorted(counts.items())]
    versions = Table(
        key="versions",
        caption="Software versions of the runs",
        headers=["Package", "Version", "Runs"],
        rows=[[text_cell(p), text_cell(v, code=True), number_cell(n)] for p, v, n in version_rows],
        fields=["package", "version", "runs"],
        records=[{"package": p, "version": v, "runs": n} for p, v, n in version_rows],
        download=f"{stem}.versions",
    )
    machine = count_table(
        "machines",
        "Machines of the runs",
        f"{stem}.machines",
        records,
        [
            ("device", ("timing", "device")),
            ("platform", ("environment", "platform")),
            ("hardware", ("environment", "hardware")),
            ("git commit", ("environment", "git_commit")),
        ],
        code={"git commit"},
    )
    code = count_table(
        "code",
        "Code of the runs: the method's module (sha256 of its file) and mfbench's commit",
        f"{stem}.code",
        records,
        [
            ("module", ("method", "source", "module")),
            ("file", ("method", "source", "file")),
            ("sha256", ("method", "source", "sha256")),
            ("distribution", ("method", "source", "distribution")),
            ("mfbench commit", ("environment", "git_commit")),
        ],
        code={"module", "file", "sha256", "mfbench commit"},
    )
    read = [
        {"checkpoint": entry}
        for r in records
        if isinstance(r.get("checkpoints"), list)
        for entry in r["checkpoints"]
    ]
    checkpoints = count_table(
        "checkpoints",
        "Weights files the runs read (recorded by mfbench while the method fitted and "
        "predicted); records: how many runs read each",
        f"{stem}.checkpoints",
        read,
        [
            ("name", ("checkpoint", "name")),
            ("file", ("checkpoint", "file")),
            ("sha256", ("checkpoint", "sha256")),
            ("how", ("checkpoint", "how")),
        ],
        code={"file", "sha256"},
    )
    return [versions, machine, code, *([checkpoints] if read else [])]


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
