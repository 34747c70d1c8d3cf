"""`mfbench results validate|summarize` on real runs of a cheap method."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mfbench.cli import main
from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.runner import run

from .doubles import COMPOSITION_ONLY


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    prepare(get_dataset("surrogate-aflow"))
    for fraction in (0.25, 1.0):
        for seed in (0, 1):
            run("surrogate-r2scan", COMPOSITION_ONLY, fraction, seed, out=tmp_path, progress=False)
    return tmp_path


def test_validate_accepts_runs_and_rejects_a_tampered_one(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["results", "validate", str(runs)]) == 0
    assert "4 accepted, 0 rejected" in capsys.readouterr().err
    path = next(runs.rglob("result.json"))
    record = json.loads(path.read_text())
    record["metrics"]["all"]["force_mae_mev_per_a"] /= 2
    path.write_text(json.dumps(record))
    assert main(["results", "validate", str(runs)]) == 1
    captured = capsys.readouterr()
    assert "REJECTED" in captured.out and "metrics.all.force_mae_mev_per_a" in captured.out
    assert "3 accepted, 1 rejected" in captured.err


def test_summarize_prints_seed_statistics_and_scaling(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "summary.csv"
    assert main(["results", "summarize", str(runs), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "scaling of energy_mae_mev_per_atom on surrogate-r2scan" in out
    lines = csv.read_text().splitlines()
    assert len(lines) == 3  # header + two fractions, seeds pooled
    assert "n_seeds" in lines[0]


def test_summarize_without_records_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["results", "summarize", str(tmp_path / "nothing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_ci_passes_identical_results_and_fails_missing_runs(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ci", "--results", str(runs), "--reference", str(runs)]) == 0
    assert "OK" in capsys.readouterr().out
    only_quarter = runs / "surrogate-r2scan" / "v1" / "composition-only" / "fraction-0.25"
    assert main(["ci", "--results", str(only_quarter), "--reference", str(runs)]) == 1
    assert capsys.readouterr().out.count("MISSING") == 2  # fraction 1.0, seeds 0 and 1
