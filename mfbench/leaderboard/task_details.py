"""A task's runs set apart and its details tables.

Runs set apart are not comparable with the ranked ones (the reason is shown); the details are
the definition, budget, selection, auxiliary data, splits and data provenance of its runs.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mfbench.leaderboard.coverage_content import coverage_table
from mfbench.leaderboard.tables import (
    Table,
    count_table,
    fraction_cell,
    key_value_table,
    number_cell,
    text_cell,
)
from mfbench.leaderboard.task_tables import entry_record
from mfbench.leaderboard.view_model import (
    Entry,
)
from mfbench.tasks.definition import Task


def set_apart_table(
    apart: pd.DataFrame, entries: dict[tuple[str, str], Entry], paths: list[str], stem: str
) -> Table:
    """Accepted runs that are not compared, with the reason."""
    rows, records = [], []
    for index, row in apart.sort_values(["method", "fraction", "seed"]).iterrows():
        entry = entries[row["method"], row["params_hash"]]
        rows.append(
            [
                text_cell(entry.label, href=entry.page),
                fraction_cell(row["fraction"]),
                number_cell(int(row["seed"])),
                number_cell(int(row["task_version"])),
                text_cell(row["reason"]),
                text_cell(paths[index], code=True),
            ]
        )
        records.append(
            {
                **entry_record(entry),
                "fraction": float(row["fraction"]),
                "seed": int(row["seed"]),
                "task_version": int(row["task_version"]),
                "split_fingerprint": row["split_fingerprint"],
                "reason": row["reason"],
                "record": paths[index],
            }
        )
    return Table(
        key=f"{stem.rsplit('/', 1)[-1]}-set-apart",
        caption="Valid runs set apart (not comparable with the ranked ones)",
        headers=["Method", "Fraction", "Seed", "Task version", "Reason", "Record"],
        rows=rows,
        fields=[
            "method",
            "method_name",
            "params_hash",
            "fraction",
            "seed",
            "task_version",
            "split_fingerprint",
            "reason",
            "record",
        ],
        records=records,
        download=f"{stem}.set-apart",
    )


def task_details(
    task: str, definition: Task | None, records: list[dict[str, Any]], stem: str
) -> list[Table]:
    """The task page's tables: definition, dataset, changelog, split, fractions, budget."""
    key = stem.rsplit("/", 1)[-1]
    versions = sorted({int(r["task"]["version"]) for r in records})
    about: list[tuple[str, Any]] = [("task", task)]
    if definition is not None:
        about += [
            ("description", definition.description),
            ("current version", definition.version),
            ("target fidelity", definition.target_fidelity),
            (
                "dataset (definition)",
                f"{definition.dataset.id} version {definition.dataset.version}",
            ),
            (
                "split rule",
                f"{definition.split.rule}: train {definition.split.train:g}, "
                f"val {definition.split.val:g}, test {definition.split.test:g}",
            ),
            ("fractions", ", ".join(f"{v:g}" for v in definition.fractions.values)),
            ("scaling_fit_min_frames", definition.scaling_fit_min_frames),
            ("budget (definition)", _budget(definition)),
            ("hyperparameter selection", _selection(definition)),
            ("labels citable", "yes" if definition.citable else "no: labels come from models"),
            (
                "auxiliary data",
                "; ".join(_auxiliary(a) for a in definition.auxiliary_data) or "none",
            ),
        ]
    about += [
        ("task versions in the records", ", ".join(map(str, versions))),
        ("valid records", len(records)),
    ]
    tables = [key_value_table(f"{key}-task", "Task", about, f"{stem}.task")]
    coverage = coverage_table(definition, stem) if definition is not None else None
    if coverage is not None:
        tables.append(coverage)
    tables.append(
        count_table(
            f"{key}-dataset",
            "Dataset of the records",
            f"{stem}.dataset",
            records,
            [
                ("id", ("dataset", "id")),
                ("version", ("dataset", "version")),
                ("sha256", ("dataset", "sha256")),
                ("checksum status", ("dataset", "checksum_status")),
            ],
            code={"sha256"},
        )
    )
    if definition is not None:
        changes = [(c.version, c.date.isoformat(), c.change) for c in definition.changelog]
        tables.append(
            Table(
                key=f"{key}-changelog",
                caption="Changelog of the task definition",
                headers=["Version", "Date", "Change"],
                rows=[[number_cell(v), text_cell(d), text_cell(c)] for v, d, c in changes],
                fields=["version", "date", "change"],
                records=[{"version": v, "date": d, "change": c} for v, d, c in changes],
                download=f"{stem}.changelog",
                sortable=False,
            )
        )
    tables.append(
        count_table(
            f"{key}-split",
            "Split of the records",
            f"{stem}.split",
            records,
            [
                ("task version", ("task", "version")),
                ("split fingerprint", ("task", "split_fingerprint")),
                ("test fingerprint", ("task", "test_fingerprint")),
                ("test frames", ("coverage", "test_frames")),
                ("frames predicted", ("timing", "n_predicted_frames")),
            ],
            code={"split fingerprint", "test fingerprint"},
        )
    )
    tables.append(
        count_table(
            f"{key}-fractions",
            "Training fractions of the records",
            f"{stem}.fractions",
            records,
            [
                ("fraction", ("fraction",)),
                ("train frames", ("n_train_frames",)),
                ("train fraction fingerprint", ("task", "train_fraction_fingerprint")),
            ],
            code={"train fraction fingerprint"},
        )
    )
    tables.append(
        count_table(
            f"{key}-budget",
            "Training budget of the records",
            f"{stem}.budget",
            records,
            [
                ("epochs", ("task", "budget", "epochs")),
                ("max steps", ("task", "budget", "max_steps")),
                ("batch size", ("task", "budget", "batch_size")),
            ],
        )
    )
    return tables


def _selection(definition: Task) -> str:
    """The task's grid in words, or that methods keep their own hyperparameters."""
    spec = definition.selection
    if spec is None:
        return "none: each method runs with its own hyperparameters"
    grid = "; ".join(f"{name} in {{{', '.join(f'{v:g}' for v in values)}}}"
                     for name, values in spec.grid.items())  # fmt: skip
    return (
        f"{grid}, chosen per run on the validation split by {spec.metric} (for every method "
        "that has the parameter and was not given it)"
    )


def _budget(definition: Task) -> str:
    budget = definition.budget
    steps = f", at most {budget.max_steps} optimizer steps" if budget.max_steps else ""
    return f"{budget.epochs} epochs of batch size {budget.batch_size}{steps}"


def _auxiliary(aux: Any) -> str:
    source = f"dataset {aux.dataset.id} {aux.dataset.version}" if aux.dataset else "same frames"
    return f"{aux.fidelity} labels of {source} ({aux.scope})"
