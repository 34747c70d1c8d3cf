"""The README's worked example: a new method from an empty file to a ranked, submitted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from examples.element_energies import ElementEnergies
from mfbench.cli import main
from mfbench.testing import KitData, check_method

SPEC = "examples.element_energies:ElementEnergies"
META = Path(__file__).resolve().parents[1] / "examples" / "element_energies.yaml"
TASK = "sevennet-r2scan-quick"


def test_the_example_passes_the_conformance_kit() -> None:
    results = check_method(SPEC, KitData.from_task(TASK, fraction=0.05, n_train=8))
    assert [(r.name, r.passed) for r in results] == [(r.name, True) for r in results]


def test_the_example_imports_only_the_author_api() -> None:
    source = Path(__file__).resolve().parents[1] / "examples" / "element_energies.py"
    imports = [line for line in source.read_text().splitlines() if "mfbench" in line]
    assert [line for line in imports if line.startswith(("from ", "import "))] == [
        "from mfbench.methods import FitContext, FrameSet, LabelTable, Method, "
        "fit_elemental_reference"
    ]


def test_shrinkage_pulls_every_element_towards_the_mean(tmp_path: Path) -> None:
    data = KitData.from_task(TASK, fraction=0.05)
    free = ElementEnergies().fit(data.train, data.val, data.context(0))
    shrunk = ElementEnergies(shrinkage=0.5).fit(data.train, data.val, data.context(0))
    mean = free.weights_.mean()
    assert shrunk.weights_ == pytest.approx(0.5 * free.weights_ + 0.5 * mean, rel=1e-12)


def test_run_validate_submit_and_rank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results, submission, site = tmp_path / "my-results", tmp_path / "sub", tmp_path / "site"
    for seed in (0, 1):
        argv = ["run", "--task", TASK, "--method", SPEC, "--fraction", "0.1", "--seed", str(seed)]
        assert main([*argv, "--out", str(results)]) == 0
    assert main(["results", "validate", str(results)]) == 0
    folders = sorted(str(p.parent) for p in results.rglob("result.json"))
    assert len(folders) == 2
    capsys.readouterr()
    assert (
        main(["submit", "--meta", str(META), "--results", *folders, "--out", str(submission)]) == 0
    )
    assert '"compliant": true' in capsys.readouterr().out
    assert main(["leaderboard", "build", "--results", str(submission), "--out", str(site)]) == 0
    table = json.loads((site / "tasks" / f"{TASK}.fraction-0.1.json").read_text())
    (row,) = [row for row in table["rows"] if row["method"] == "element-energies"]
    assert row["rank"] == 1 and row["n_seeds"] == 2 and row["seeds"] == "0 1"
    assert row["energy_mae_mev_per_atom_mean"] > 0 and row["citable"] is False
