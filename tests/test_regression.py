"""``mfbench ci``'s comparison of fresh records with reference records, on real runs.

The runs use :class:`Oracle`, a test-only method that predicts the task's own labels plus a
constant energy offset. Its energy MAE and RMSE are therefore the offset itself (in meV/atom),
so an injected regression has numbers known in advance. The offset is a class attribute, not
a hyperparameter: runs with different offsets share one ``params_hash`` and are matched as
the same run, as a code change that shifts energies would be.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from mfbench.data.prepare import prepare
from mfbench.data.registry import get_dataset
from mfbench.results.regression_check import (
    METRIC_FAMILIES,
    RunKey,
    Tolerance,
    ToleranceError,
    Tolerances,
    compare_metrics,
    compare_to_reference,
    format_number,
)
from mfbench.runner import run

from .doubles import ORACLE, Oracle

TASK = "surrogate-r2scan"
FRACTION = 0.25
SEEDS = (0, 1)
#: eV/atom: 10 meV/atom, far beyond the 0.5 meV/atom energy tolerance.
REGRESSION = 0.01
#: eV/atom: 0.1 meV/atom, within the tolerance.
NOISE = 1e-4


def _run_all(out: Path, offset: float, seeds: Sequence[int] = SEEDS) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Oracle, "energy_offset", offset)
        for seed in seeds:
            run(TASK, ORACLE, FRACTION, seed, out=out, progress=False)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A prepared home and folders of real runs: the reference, a rerun, shifted reruns."""
    home = tmp_path_factory.mktemp("regression-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MFBENCH_HOME", str(home))
        prepare(get_dataset("surrogate-aflow"))
        folders = {
            "home": home,
            "reference": _run_all(tmp_path_factory.mktemp("reference"), 0.0),
            "same": _run_all(tmp_path_factory.mktemp("same"), 0.0),
            "regressed": _run_all(tmp_path_factory.mktemp("regressed"), REGRESSION),
            "noise": _run_all(tmp_path_factory.mktemp("noise"), NOISE, seeds=(0,)),
        }
    yield folders


@pytest.fixture(autouse=True)
def _shared_home(
    runs: dict[str, Path], isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MFBENCH_HOME", str(runs["home"]))


def _record(folder: Path, seed: int = 0) -> Path:
    return (
        folder / TASK / "v1" / "oracle" / f"fraction-{FRACTION:g}" / f"seed-{seed}" / "result.json"
    )


def _metrics(folder: Path, seed: int = 0) -> dict:
    return json.loads(_record(folder, seed).read_text())["metrics"]


def test_the_oracle_scores_its_offset(runs: dict[str, Path]) -> None:
    reference, regressed = _metrics(runs["reference"]), _metrics(runs["regressed"])
    assert reference["all"]["energy_mae_mev_per_atom"] == 0.0
    assert reference["all"]["force_mae_mev_per_a"] == 0.0
    assert regressed["all"]["energy_mae_mev_per_atom"] == pytest.approx(10.0, rel=1e-9)
    assert regressed["all"]["energy_rmse_mev_per_atom"] == pytest.approx(10.0, rel=1e-9)


def test_identical_reruns_pass(runs: dict[str, Path]) -> None:
    report = compare_to_reference([runs["same"]], [runs["reference"]], Tolerances())
    assert report.ok and report.exit_code == 0
    assert (report.n_fresh, report.n_reference) == (2, 2)
    assert not (report.missing or report.new or report.rejected or report.errors)
    assert {c.verdict for c in report.comparisons} == {"ok"}
    assert {c.difference for c in report.comparisons} == {0.0}
    # every metric of both blocks of both runs, counts included
    per_run = len(_metrics(runs["reference"])["all"]) + len(_metrics(runs["reference"])["covered"])
    assert len(report.comparisons) == 2 * per_run
    text = report.format()
    assert text.splitlines()[-1].startswith("OK: ")
    assert "REGRESSION" not in text and "energy_mae" not in text
    assert "all.energy_mae_mev_per_atom" in report.format(show_all=True)


def test_an_injected_regression_fails_with_its_numbers(runs: dict[str, Path]) -> None:
    report = compare_to_reference([runs["regressed"]], [runs["reference"]])
    assert not report.ok and report.exit_code == 1
    failed = {(c.run.seed, c.metric) for c in report.failures}
    energy = ("energy_mae_mev_per_atom", "energy_rmse_mev_per_atom")
    assert failed == {(s, f"{b}.{m}") for s in SEEDS for b in ("all", "covered") for m in energy}
    assert {c.verdict for c in report.failures} == {"regression"}

    (row,) = [
        c for c in report.failures if c.run.seed == 0 and c.metric == "all.energy_mae_mev_per_atom"
    ]
    fresh = _metrics(runs["regressed"])["all"]["energy_mae_mev_per_atom"]
    assert (row.reference, row.fresh, row.difference) == (0.0, fresh, fresh)
    assert row.tolerance == 0.5  # 0.5 meV/atom + 1e-3 * |0|
    line = next(
        line for line in report.format().splitlines()
        if "seed=0" in line and "all.energy_mae_mev_per_atom" in line
    )  # fmt: skip
    assert line.split()[-5:] == ["0", format_number(fresh), "+10", "0.5", "REGRESSION"]
    # formation and decomposition energies do not move: the offset cancels against the
    # equally shifted elemental references
    assert len(report.comparisons) == 72
    assert report.format().splitlines()[-1] == "FAILED: 64 ok, 8 regression"


def test_noise_within_tolerance_passes(runs: dict[str, Path]) -> None:
    report = compare_to_reference([runs["noise"]], [_record(runs["reference"], 0)])
    assert report.ok, report.format()
    (row,) = [c for c in report.comparisons if c.metric == "all.energy_mae_mev_per_atom"]
    assert row.difference == pytest.approx(0.1, rel=1e-6) and row.verdict == "ok"


def test_improvements_are_reported_but_pass(runs: dict[str, Path]) -> None:
    report = compare_to_reference([runs["reference"]], [runs["regressed"]])
    assert report.ok and report.exit_code == 0
    assert len(report.improvements) == 8
    assert all(c.difference == pytest.approx(-10.0, rel=1e-9) for c in report.improvements)
    assert "improved" in report.format()


def test_a_missing_run_fails_and_a_new_one_passes(runs: dict[str, Path]) -> None:
    missing = compare_to_reference([_record(runs["same"], 0)], [runs["reference"]])
    assert not missing.ok and missing.exit_code == 1
    ((key, path),) = missing.missing
    assert key.seed == 1 and path == _record(runs["reference"], 1)
    assert f"MISSING {key.label()}" in missing.format()

    new = compare_to_reference([runs["same"]], [_record(runs["reference"], 0)])
    assert new.ok
    assert [key.seed for key, _ in new.new] == [1]
    assert "NEW " in new.format()


def test_a_rejected_record_fails(runs: dict[str, Path], tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    shutil.copytree(runs["same"], fresh)
    path = _record(fresh, 1)
    record = json.loads(path.read_text())
    record["metrics"]["all"]["force_mae_mev_per_a"] = 1.0
    path.write_text(json.dumps(record))
    report = compare_to_reference([fresh], [runs["reference"]])
    assert not report.ok
    (rejected,) = report.rejected
    assert rejected.startswith(f"(fresh) {path}: REJECTED")
    assert "metrics.all.force_mae_mev_per_a" in rejected
    # the rejected run is not compared, so its reference counts as missing as well
    assert [key.seed for key, _ in report.missing] == [1]


def test_two_records_of_one_run_are_an_error(runs: dict[str, Path]) -> None:
    report = compare_to_reference([runs["same"], runs["noise"]], [runs["reference"]])
    assert not report.ok
    (error,) = report.errors
    assert "seed=0 has 2 fresh records" in error
    assert not report.missing


def test_an_empty_reference_fails(runs: dict[str, Path], tmp_path: Path) -> None:
    report = compare_to_reference([runs["same"]], [tmp_path])
    assert not report.ok
    assert report.errors == [f"no reference records found under {tmp_path}"]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        compare_to_reference([runs["same"]], [tmp_path / "nowhere"])


KEY = RunKey("t", 1, "f" * 64, "m", "0" * 64, 0.5, 0)


def test_nan_counts_and_unknown_metrics() -> None:
    reference = {
        "all": {"energy_mae_mev_per_atom": 20.0, "stress_mae_gpa": None,
                "formation_energy_mae_mev_per_atom": 5.0, "n_frames": 10, "odd_metric": 1.0,
                "magmom_mae_mu_b": 0.1},
        "covered": {"n_frames": 0},
    }  # fmt: skip
    fresh = {
        "all": {"energy_mae_mev_per_atom": 20.52, "stress_mae_gpa": 0.2,
                "formation_energy_mae_mev_per_atom": None, "n_frames": 9, "odd_metric": 1.0,
                "force_mae_mev_per_a": 3.0},
        "covered": {"n_frames": 0},
    }  # fmt: skip
    verdicts = {c.metric: c.verdict for c in compare_metrics(KEY, reference, fresh, Tolerances())}
    assert verdicts == {
        # 0.52 > 0.5 + 1e-3 * 20 = 0.52 is false: exactly at the tolerance passes
        "all.energy_mae_mev_per_atom": "ok",
        "all.stress_mae_gpa": "changed",
        "all.formation_energy_mae_mev_per_atom": "regression",
        "all.n_frames": "changed",
        "all.odd_metric": "no tolerance",
        "all.magmom_mae_mu_b": "missing",
        "all.force_mae_mev_per_a": "new",
        "covered.n_frames": "ok",
    }
    fresh["all"]["energy_mae_mev_per_atom"] = 20.53
    (energy, *_) = compare_metrics(KEY, reference, fresh, Tolerances())
    assert energy.verdict == "regression" and energy.tolerance == pytest.approx(0.52)
    nan_block = {"all": {"stress_mae_gpa": None}}
    both_nan = compare_metrics(KEY, nan_block, nan_block, Tolerances())
    assert [c.verdict for c in both_nan] == ["ok"] and math.isnan(both_nan[0].reference)


def test_every_metric_family_has_a_tolerance() -> None:
    families = {f.name for f in dataclasses.fields(Tolerances)}
    assert set(METRIC_FAMILIES.values()) == families
    assert Tolerances().for_metric("force_rmse_mev_per_a") == Tolerance(0.5, 1e-3)
    assert Tolerances().for_metric("n_frames") is None


def test_tolerance_file_overrides_and_rejects_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "tolerances.yaml"
    path.write_text("energy: {absolute: 2.0}\nstress: {absolute: 0.01, relative: 0}\n")
    tolerances = Tolerances.from_yaml(path)
    assert tolerances.energy == Tolerance(2.0, 1e-3)
    assert tolerances.stress == Tolerance(0.01, 0.0)
    assert tolerances.force == Tolerances().force

    (tmp_path / "empty.yaml").write_text("")
    assert Tolerances.from_yaml(tmp_path / "empty.yaml") == Tolerances()

    path.write_text("energie: {absolute: 2.0}\n")
    with pytest.raises(ToleranceError, match=r"tolerances.yaml: unknown metric family 'energie'"):
        Tolerances.from_yaml(path)
    path.write_text("energy: {absolut: 2.0}\n")
    with pytest.raises(ToleranceError, match=r"energy: unknown key\(s\) \['absolut'\]"):
        Tolerances.from_yaml(path)
    path.write_text("energy: {absolute: -1}\n")
    with pytest.raises(ToleranceError, match="energy: tolerance absolute must be finite and >= 0"):
        Tolerances.from_yaml(path)
    path.write_text("energy: 2.0\n")
    with pytest.raises(ToleranceError, match="energy must be a mapping"):
        Tolerances.from_yaml(path)
    path.write_text("- energy\n")
    with pytest.raises(ToleranceError, match="must be a YAML mapping"):
        Tolerances.from_yaml(path)
