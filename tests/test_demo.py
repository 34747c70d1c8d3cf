"""The demo's library code (:mod:`mfbench.demo`) on the committed demo runs; CLI registration."""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import sys
import types
from pathlib import Path

import pytest

from mfbench.cli import build_parser
from mfbench.demo import DEMO_METHODS, TABLE_METRICS, Demo, referencing_effects, table_rows
from mfbench.metrics.catalogue import COVERED_ENERGY, ENERGY, RECORD_METRICS
from mfbench.tasks.definition import get_task

#: The demo's runs as ``leaderboard/regenerate.sh`` committed them (what the README shows).
COMMITTED = Path(__file__).resolve().parents[1] / "leaderboard/results/baselines"
DEMO_TASK = "sevennet-r2scan-quick"


def _committed_records() -> list[dict]:
    runs = COMMITTED / DEMO_TASK / "v1"
    return [
        json.loads((runs / method / f"fraction-{fraction}" / "seed-0" / "result.json").read_text())
        for fraction in ("0.05", "0.1")
        for method in DEMO_METHODS
    ]


def test_a_demo_plan_defaults_to_every_baseline_at_the_two_smallest_fractions() -> None:
    demo = Demo.plan(DEMO_TASK, out=Path("somewhere"))
    assert demo.methods == DEMO_METHODS
    assert demo.fractions == (0.05, 0.1)  # the task's fractions are 0, 0.05, 0.1
    assert demo.results_dir == Path("somewhere") / DEMO_TASK
    chosen = Demo.plan(DEMO_TASK, methods=["zero-shot"], fractions=[0.1], seed=3)
    assert (chosen.methods, chosen.fractions, chosen.seed) == (("zero-shot",), (0.1,), 3)


def test_the_table_names_and_formats_metrics_as_the_catalogue_does() -> None:
    records = _committed_records()
    rows = table_rows(records)
    assert list(rows[0]) == [
        "method", "fraction", "n train", *(m.header for m in TABLE_METRICS), "fit s",
    ]  # fmt: skip
    assert set(TABLE_METRICS) == {*RECORD_METRICS, COVERED_ENERGY}
    for row, record in zip(rows, records, strict=True):
        energy = record["metrics"]["all"][ENERGY.key]
        covered = record["metrics"]["covered"][ENERGY.key]
        assert row[ENERGY.header] == ENERGY.format(energy)
        assert row[COVERED_ENERGY.header] == COVERED_ENERGY.format(covered)
    assert {row["M MAE (μB)"] for row in rows} == {"nan"}  # SevenNet predicts no magmoms


def test_the_referencing_effect_compares_method_4_with_method_3() -> None:
    paper = get_task("sevennet-r2scan-quick").roles.paper
    effects = referencing_effects(_committed_records(), paper)
    assert [e.fraction for e in effects] == [0.05, 0.1]
    assert [round(e.ratio, 1) for e in effects] == [1.9, 3.6]  # as the README shows
    assert referencing_effects(_committed_records()[:3], paper) == []  # neither fine-tune ran
    assert referencing_effects(_committed_records(), None) == []  # the task names no Methods


def test_a_methods_command_module_is_registered_when_present(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def commands(parser: argparse.ArgumentParser) -> list[str]:
        (group,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return list(group.choices)

    module = types.ModuleType("mfbench.cli.methods")
    module.__spec__ = importlib.machinery.ModuleSpec("mfbench.cli.methods", None)

    def register(group: argparse._SubParsersAction) -> None:
        group.add_parser("methods", help="registered methods").set_defaults(func=lambda a: 0)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mfbench.cli.methods", module)
    names = commands(build_parser())
    assert names[:3] == ["data", "tasks", "methods"]
    assert build_parser().parse_args(["methods"]).registry == []  # a leaf: shared options added
