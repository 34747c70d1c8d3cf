"""A method's content: its hyperparameters, runs, provenance, badges and citation."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter, defaultdict
from typing import Any

from markupsafe import Markup

from mfbench.leaderboard import citations
from mfbench.leaderboard.model import (
    ENERGY,
    FORCE,
    BadgeFile,
    Entry,
    MethodContent,
    Runs,
    TaskContent,
    Variant,
)
from mfbench.leaderboard.safety import display_text, http_url
from mfbench.leaderboard.svg import badge, inline_svg
from mfbench.leaderboard.tables import (
    Cell,
    Table,
    count_table,
    format_number,
    fraction_cell,
    is_missing,
    number_cell,
    record_value,
    text_cell,
)

logger = logging.getLogger(__name__)

#: Deepest nesting of hyperparameters shown key by key; deeper values are shown as JSON.
_PARAMS_DEPTH = 8


def badges_by_method(
    tasks: list[TaskContent], entries: dict[tuple[str, str], Entry]
) -> dict[str, list[BadgeFile]]:
    """README badges by method name: energy MAE of each entry at its largest fraction."""
    found: dict[str, list[BadgeFile]] = defaultdict(list)
    for task in tasks:
        if task.summary is None or task.results is None:
            continue
        best: dict[str, dict[str, Any]] = {}
        for record in task.results.records:
            mean = record.get(f"{ENERGY.column}_mean")
            if is_missing(mean):
                continue
            label = record["method"]
            if label not in best or record["fraction"] > best[label]["fraction"]:
                best[label] = record
        for label, record in sorted(best.items()):
            entry = entries[record["method_name"], record["params_hash"]]
            fraction = float(record["fraction"])
            message = f"E MAE {format_number(record[f'{ENERGY.column}_mean'])} {ENERGY.unit}"
            if fraction < 1:
                message += f" @ {fraction:g}"
            title = (
                f"mfbench task {task.name}: {display_text(label, 80)}, energy MAE at training "
                f"fraction {fraction:g} ({int(record['n_train_frames']):,} frames), mean of "
                f"{int(record['n_seeds'])} seed(s)"
            )
            path = f"badges/{task.slug}/{entry.slug}.svg"
            svg = badge(f"mfbench {task.name}", message, title)
            inline = Markup(inline_svg(svg, "b" + hashlib.sha256(path.encode()).hexdigest()[:12]))
            found[entry.name].append(BadgeFile(path, svg, inline, task.name, label))
    return found


def method_content(
    name: str, runs: Runs, tasks: list[TaskContent], badges: dict[str, list[BadgeFile]]
) -> MethodContent:
    """The page of one method name.

    Args:
        name: the method's name (untrusted text).
        runs: every accepted run.
        tasks: the tasks' content (for links to their pages).
        badges: badges by method name (see :func:`badges_by_method`).
    """
    frame, apart, records, entries = runs.frame, runs.apart, runs.records, runs.entries
    indices = [i for i in frame.index if frame.at[i, "method"] == name]
    method_slug = entries[name, str(frame.at[indices[0], "params_hash"])].method_slug
    baselines = citations.registered_baselines()
    mine = [records[i] for i in indices]
    baseline = bool(mine) and all(
        citations.is_baseline(name, str(r["method"].get("class")), baselines) for r in mine
    )
    variants = []
    for hash_ in sorted({str(frame.at[i, "params_hash"]) for i in indices}):
        rows = [i for i in indices if frame.at[i, "params_hash"] == hash_]
        flags = sorted({runs.non_compliant[i] for i in rows if i in runs.non_compliant})
        variants.append(_variant(entries[name, hash_], [records[i] for i in rows], flags))
    statuses = {
        int(i): f"not ranked (non-compliant): {runs.non_compliant[int(i)]}"
        for i in runs.reference.index
    }
    if len(apart):
        statuses.update((int(i), f"set apart: {r}") for i, r in apart["reason"].items())
    task_pages = {t.name: t for t in tasks}
    bibtex, note = citations.method_bibtex(name, baseline)
    return MethodContent(
        name=name,
        slug=method_slug,
        page=f"methods/{method_slug}.html",
        baseline=baseline,
        variants=variants,
        runs=_runs_table(name, method_slug, indices, runs, statuses, task_pages),
        provenance=_provenance_tables(method_slug, mine),
        bibtex=bibtex,
        bib_path=f"methods/{method_slug}.bib",
        citation_note=note,
        badges=badges.get(name, []),
    )


def _variant(entry: Entry, records: list[dict[str, Any]], non_compliant: list[str]) -> Variant:
    first = records[0]["method"]
    params = first.get("params") if isinstance(first.get("params"), dict) else {}
    hours = [record_value(r, ("timing", "device_hours")) for r in records]
    return Variant(
        entry=entry,
        class_path=str(first.get("class", "")),
        spec=str(first.get("spec", "")),
        non_compliant=non_compliant,
        params=_params_table(entry, params),
        device_hours=math.fsum(
            float(h)
            for h in hours
            if isinstance(h, int | float) and not isinstance(h, bool) and math.isfinite(h)
        ),
        n_runs=len(records),
        seeds=sorted({int(r["seed"]) for r in records}),
    )


def _flatten(value: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value and depth < _PARAMS_DEPTH:
        items = []
        for key in sorted(value, key=str):
            items += _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), depth + 1)
        return items
    return [(prefix or "(none)", value)]


def _params_table(entry: Entry, params: dict[str, Any]) -> Table:
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


def _runs_table(
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
                number_cell(run.get(ENERGY.column)),
                number_cell(run.get(FORCE.column)),
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
                ENERGY.column: run.get(ENERGY.column),
                FORCE.column: run.get(FORCE.column),
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
            ENERGY.column,
            FORCE.column,
            "device",
            "device_hours",
            "fit_seconds",
            "git_commit",
            "status",
        ],
        records=out,
        download=f"methods/{method_slug}.runs",
    )


def _provenance_tables(method_slug: str, records: list[dict[str, Any]]) -> list[Table]:
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
