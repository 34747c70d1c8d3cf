"""Result records: validation by recomputation, tables, comparable subsets and seed statistics.

The records are real runs of cheap composition-only methods on ``surrogate-r2scan``, made once
for this module in a home of its own (every test still sees only that home).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mfbench.results import (
    comparable,
    find_records,
    records_frame,
    summarize,
    validate_record,
    validate_records,
)
from mfbench.results.agreement import differences

from .doubles import COMPOSITION_ONLY, SEEDED
from .factories import set_record_fields

TASK = "surrogate-r2scan"
SEEDS = (0, 1, 2)


RUNS = [(TASK, COMPOSITION_ONLY, 0.25, 0)] + [(TASK, SEEDED, 0.25, s) for s in SEEDS]


#: every test of this module uses the home where :data:`RUNS` ran
pytestmark = pytest.mark.usefixtures("module_home")


def _seeded_records(out: Path) -> list[dict[str, Any]]:
    paths = sorted((out / TASK / "v1" / "seeded-composition").rglob("result.json"))
    assert len(paths) == len(SEEDS)
    return [json.loads(p.read_text()) for p in paths]


def _copy_run(out: Path, tmp_path: Path, method: str = "composition-only") -> Path:
    """A copy of one run folder to tamper with; returns its result.json."""
    source = out / TASK / "v1" / method / "fraction-0.25" / "seed-0"
    shutil.copytree(source, tmp_path / "run")
    return tmp_path / "run" / "result.json"


def _rewrite_predictions(path: Path, edit) -> None:
    """Apply ``edit`` to the arrays of the run's predictions.npz, rewrite it, fix nothing else."""
    npz = path.parent / "predictions.npz"
    with np.load(npz) as saved:
        arrays = {key: saved[key].copy() for key in saved.files}
    edit(arrays)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    npz.write_bytes(buffer.getvalue())


def _set_sha(path: Path) -> None:
    """Store the sha256 of the current predictions file in the record."""
    sha = hashlib.sha256((path.parent / "predictions.npz").read_bytes()).hexdigest()
    set_record_fields(path, {"predictions.sha256": sha})


def test_find_records(out: Path, tmp_path: Path) -> None:
    found = find_records([out])
    assert len(found) == 1 + len(SEEDS) and found == sorted(found)
    assert all(p.name == "result.json" for p in found)
    assert find_records([found[0], out / TASK]) == found
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_records([tmp_path / "nowhere"])


def test_real_records_validate(out: Path) -> None:
    reports = validate_records([out])
    assert [r.problems for r in reports] == [[]] * 4
    assert all(r.ok and r.record is not None for r in reports)
    assert reports[0].summary().endswith(": ok")


def test_a_tampered_metric_is_rejected_with_both_numbers(out: Path, tmp_path: Path) -> None:
    path = _copy_run(out, tmp_path)
    record = json.loads(path.read_text())
    true = record["metrics"]["all"]["energy_mae_mev_per_atom"]
    set_record_fields(path, {"metrics.all.energy_mae_mev_per_atom": 12.5})
    report = validate_record(path)
    assert not report.ok
    assert report.problems == [
        f"metrics.all.energy_mae_mev_per_atom: stored 12.5, recomputed {true!r}, "
        f"difference {12.5 - true!r} (stored - recomputed; tolerance relative 1e-09, "
        "absolute 1e-06)"
    ]
    assert "REJECTED" in report.summary()


def test_tampered_coverage_and_fraction_size_are_rejected(out: Path, tmp_path: Path) -> None:
    path = _copy_run(out, tmp_path)
    fields = {
        "coverage.covered_share": 0.5,
        "n_train_frames": 10,
        "metrics.covered.made_up_mae": 1.0,
    }
    set_record_fields(path, fields)
    problems = validate_record(path).problems
    assert len(problems) == 3
    assert any(p.startswith("coverage.covered_share: stored 0.5, recomputed 1.0") for p in problems)
    assert any(p.startswith("n_train_frames: stored 10, recomputed 375") for p in problems)
    assert any("metrics.covered.made_up_mae" in p and "no such value" in p for p in problems)


def test_differences_read_null_as_nan() -> None:
    assert differences("m", None, float("nan")) == []
    assert differences("m", 1.0, 1.0 + 1e-12) == []
    assert differences("m", None, 2.0) == [
        "m: stored NaN (null), recomputed 2.0, difference nan (stored - recomputed; "
        "tolerance relative 1e-09, absolute 1e-12)"
    ]
    assert differences("m", True, 1) == ["m: stored True, recomputed 1"]
    assert differences("m", [{"element": "O", "x": 1}], [{"element": "O", "x": 2}]) == [
        "m.O.x: stored 1, recomputed 2 (integers must be equal)"
    ]


def test_tampered_predictions_fail_the_sha_then_the_metrics(out: Path, tmp_path: Path) -> None:
    path = _copy_run(out, tmp_path)
    record = json.loads(path.read_text())

    def shift_first_test_energy(arrays: dict[str, np.ndarray]) -> None:
        from mfbench.tasks.data import TaskData
        from mfbench.tasks.definition import get_task

        data = TaskData.load(get_task(TASK))
        first_test = str(data.store.frame_ids[data.split.indices("test")[0]])
        row = arrays["frame_ids"].tolist().index(first_test)
        arrays["energy_per_atom"][row] += 0.5  # eV/atom

    _rewrite_predictions(path, shift_first_test_energy)
    report = validate_record(path)
    assert not report.ok
    sha = [p for p in report.problems if "predictions.npz: sha256" in p]
    assert len(sha) == 1 and "differs from the record's" in sha[0]
    energy = [p for p in report.problems if p.startswith("metrics.all.energy_mae_mev_per_atom")]
    assert len(energy) == 1

    _set_sha(path)
    report = validate_record(path)
    assert not report.ok
    assert not any("sha256" in p for p in report.problems)
    stored = record["metrics"]["all"]["energy_mae_mev_per_atom"]
    assert any(
        p.startswith(f"metrics.all.energy_mae_mev_per_atom: stored {stored!r}, recomputed ")
        for p in report.problems
    )


def test_missing_and_extra_prediction_frames_are_named(out: Path, tmp_path: Path) -> None:
    path = _copy_run(out, tmp_path)
    with np.load(path.parent / "predictions.npz") as saved:
        renamed = str(saved["frame_ids"][3])

    def rename(arrays: dict[str, np.ndarray]) -> None:
        arrays["frame_ids"] = np.where(
            arrays["frame_ids"] == renamed, "not-a-frame", arrays["frame_ids"]
        )

    _rewrite_predictions(path, rename)
    _set_sha(path)
    problems = validate_record(path).problems
    assert len(problems) == 2
    assert "does not ask for: 'not-a-frame'" in problems[0]
    assert problems[1].startswith("predictions lack 1 of the 370 frame(s)")
    assert repr(renamed) in problems[1] and "metrics not recomputed" in problems[1]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            lambda a: a.update(energy_per_atom=a["energy_per_atom"][:, None]),
            "energy_per_atom has shape (370, 1), expected (370,) for 370 frames of",
        ),
        (
            lambda a: a.update(forces=a["forces"][:-1]),
            "forces has shape (2158, 3), expected (2159, 3) for 370 frames of 2159 atoms",
        ),
        (
            lambda a: a.update(atom_offsets=a["atom_offsets"][::-1].copy()),
            "atom_offsets must be [371] integers rising from 0",
        ),
        (
            lambda a: a.update(stress=a["stress"].astype(str)),
            "stress must be real numbers, not <U",
        ),
        (lambda a: a.update(frame_ids=a["frame_ids"][:, None]), "frame_ids must be 1-D strings"),
        (
            lambda a: a["forces"].__setitem__((5, 1), np.nan),
            "forces is not finite (NaN or infinite) in 1 frame(s), first frame ",
        ),
        (
            lambda a: a["magmoms"].__setitem__(0, np.inf),
            "magmoms is not finite (NaN or infinite) in 1 frame(s), first frame ",
        ),
    ],
)
def test_malformed_predictions_with_the_right_sha_are_rejected_by_name(
    out: Path, tmp_path: Path, edit: Any, problem: str
) -> None:
    path = _copy_run(out, tmp_path)
    _rewrite_predictions(path, edit)
    _set_sha(path)
    report = validate_record(path)
    assert report.status == "rejected"
    (line,) = report.problems
    assert line.startswith(f"{path.parent / 'predictions.npz'}: {problem}"), line


def test_records_that_are_not_objects_or_not_whole_are_rejected(out: Path, tmp_path: Path) -> None:
    path = _copy_run(out, tmp_path)
    text = path.read_text()
    for content, problem in [
        ("[1, 2]", "a result record must be a JSON object"),
        (text[: len(text) // 2], "cannot read the result record"),
        (json.dumps({**json.loads(text), "metrics": []}), "metrics: stored [], recomputed {"),
        (json.dumps({**json.loads(text), "task": "x"}), "record field task.name is missing"),
    ]:
        path.write_text(content)
        report = validate_record(path)
        assert report.status == "rejected" and problem in report.problems[-1], report.problems


def test_file_problems_name_the_file(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _copy_run(out, tmp_path)
    (path.parent / "predictions.npz").unlink()
    report = validate_record(path)
    assert not report.ok and len(report.problems) == 1
    assert str(path.parent / "predictions.npz") in report.problems[0]

    path.write_text("{not json")
    report = validate_record(path)
    assert report.record is None
    assert report.problems[0].startswith(f"{path}: cannot read the result record")

    path.write_text(json.dumps({"schema": "mfbench.result/1"}))
    assert "mfbench.result/1" in validate_record(path).problems[0]

    missing = tmp_path / "absent" / "result.json"
    assert str(missing) in validate_record(missing).problems[0]


def test_a_home_that_cannot_be_written_is_not_a_verdict(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _copy_run(out, tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("MFBENCH_HOME", str(tmp_path / "a-file"))
    reports = validate_records([path, path.parent.parent])  # the same record twice
    assert [r.status for r in reports] == ["not checked"]
    assert "cannot be loaded here" in reports[0].problems[0]


def test_the_embedded_dataset_is_prepared_on_demand(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _copy_run(out, tmp_path)
    home = tmp_path / "fresh-home"
    monkeypatch.setenv("MFBENCH_HOME", str(home))
    report = validate_record(path)
    assert report.ok and report.status == "accepted", report.problems
    assert (home / "datasets" / "surrogate-aflow-v1" / "meta.json").is_file()


def test_what_cannot_be_checked_here_is_not_a_verdict(out: Path, tmp_path: Path) -> None:
    path = _copy_run(out, tmp_path)
    set_record_fields(path, {"task.version": 2})
    report = validate_record(path)
    assert (report.ok, report.checked, report.status) == (False, False, "not checked")
    (problem,) = report.problems
    assert "is of task surrogate-r2scan version 2, this mfbench defines version 1" in problem
    assert "version 2" in str(report.fix) and "NOT CHECKED" in report.summary()

    # another source than the registry pins: only a record that states it accepted the
    # mismatch can have been computed on it; any other is rejected, not "not checked"
    set_record_fields(path, {"task.version": 1, "dataset.sha256": "f" * 64})
    report = validate_record(path)
    assert report.status == "rejected"
    assert report.problems[0].startswith(f"dataset.sha256: the record has {'f' * 64}, but the ")
    set_record_fields(path, {"dataset.checksum_status": "mismatch-accepted"})
    report = validate_record(path)
    assert report.status == "not checked"
    assert report.fix == (
        "mfbench data prepare surrogate-aflow --overwrite --accept-checksum-mismatch --source "
        f"FILE (FILE: the source whose sha256 is {'f' * 64})"
    )

    # a task whose dataset the user must supply, not prepared on this machine
    original = json.loads(_copy_run(out, tmp_path / "again").read_text())["dataset"]
    set_record_fields(path, {"dataset": original})
    set_record_fields(path, {"task.name": "mp-r2scan"})
    report = validate_record(path)
    assert report.status == "not checked"
    assert report.fix == "mfbench data prepare mp-r2scan --source PATH"

    set_record_fields(path, {"task.name": "no-such-task"})
    report = validate_record(path)
    assert report.status == "not checked" and "unknown task 'no-such-task'" in report.problems[0]

    # found wrong before the environment stopped the check: rejected, not "not checked"
    (path.parent / "predictions.npz").write_bytes((path.parent / "predictions.npz").read_bytes())
    set_record_fields(path, {"predictions.sha256": "0" * 64})
    report = validate_record(path)
    assert report.status == "rejected" and "sha256" in report.problems[0]
    assert report.problems[-1].startswith("metrics not recomputed: task 'no-such-task'")


def test_another_split_is_rejected(out: Path, tmp_path: Path) -> None:
    path = _copy_run(out, tmp_path)
    set_record_fields(path, {"task.split_fingerprint": "abc"})
    report = validate_record(path)
    (problem,) = report.problems
    assert report.status == "rejected"
    assert problem.startswith("task.split_fingerprint: the record has abc")


def test_records_frame_and_summarize_by_hand(out: Path) -> None:
    records = _seeded_records(out)
    frame = records_frame(records)
    assert len(frame) == 3 and sorted(frame["seed"]) == list(SEEDS)
    assert {"energy_mae_mev_per_atom", "covered_force_rmse_mev_per_a", "covered_share"} <= set(
        frame.columns
    )
    assert "n_frames" not in frame.columns

    summary = summarize(frame)
    assert len(summary) == 1
    row = summary.iloc[0]
    assert row["n_seeds"] == 3 and row["seeds"] == SEEDS and row["n_train_frames"] == 375
    for block, prefix in (("all", ""), ("covered", "covered_")):
        for metric in ("energy_mae_mev_per_atom", "energy_rmse_mev_per_atom", "stress_mae_gpa"):
            values = np.array([r["metrics"][block][metric] for r in records])
            # the seeds shift the elemental energies: energies differ, zero stresses do not
            assert (np.std(values) > 0) == metric.startswith("energy")
            assert row[f"{prefix}{metric}_mean"] == pytest.approx(values.mean(), rel=1e-12)
            assert row[f"{prefix}{metric}_std"] == pytest.approx(values.std(ddof=1), rel=1e-12)


def t_quantile(p: float, df: int) -> float:
    """Student's t quantile in closed form, for 1 and 2 degrees of freedom (by hand).

    df 1 (Cauchy): ``tan(π (p - 1/2))``; df 2: ``(2p - 1) / sqrt(2 p (1 - p))``.
    """
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    raise ValueError(df)


def test_three_seeds_give_the_student_t_interval_of_the_mean(out: Path) -> None:
    frame = records_frame(_seeded_records(out))
    metric = "energy_mae_mev_per_atom"
    row = summarize(frame, metrics=[metric]).iloc[0]
    values = frame[metric].to_numpy()
    # by hand: t_{0.975, 2} = 4.3027, s with ddof 1
    mean = values.sum() / 3
    s = np.sqrt(((values - mean) ** 2).sum() / 2)
    half = t_quantile(0.975, 2) * s / np.sqrt(3)
    assert t_quantile(0.975, 2) == pytest.approx(4.3027, abs=1e-4)  # the printed tables
    assert row[f"{metric}_ci_low"] == pytest.approx(mean - half, rel=1e-12)
    assert row[f"{metric}_ci_high"] == pytest.approx(mean + half, rel=1e-12)
    # a bootstrap of three seeds never leaves [min, max]; the t interval of 3 seeds does
    assert row[f"{metric}_ci_low"] < values.min() and values.max() < row[f"{metric}_ci_high"]
    assert summarize(frame, metrics=[metric]).equals(summarize(frame, metrics=[metric]))


def test_one_seed_has_no_interval_and_no_spread(out: Path) -> None:
    frame = records_frame(_seeded_records(out))
    metric = "energy_mae_mev_per_atom"
    single = summarize(frame.iloc[:1], metrics=[metric]).iloc[0]
    assert single["n_seeds"] == 1
    assert single[f"{metric}_mean"] == frame[metric].iloc[0]
    for stat in ("std", "ci_low", "ci_high"):
        assert np.isnan(single[f"{metric}_{stat}"]), stat


def test_t_interval_by_hand_and_its_edge_cases() -> None:
    from mfbench.results.aggregate import t_interval

    # two seeds: t_{0.975, 1} = tan(0.475 π) = 12.706, s = |a - b| / sqrt(2) = sqrt(2)
    low, high = t_interval(np.array([10.0, 12.0]))
    half = t_quantile(0.975, 1) * np.sqrt(2.0) / np.sqrt(2.0)
    assert (low, high) == pytest.approx((11.0 - half, 11.0 + half), rel=1e-12)
    # 90 %, three seeds 1, 2, 3: s = 1, t_{0.95, 2} = 0.9 / sqrt(0.095) = 2.92
    low, high = t_interval(np.array([1.0, 2.0, 3.0]), level=0.9)
    half = t_quantile(0.95, 2) / np.sqrt(3)
    assert (low, high) == pytest.approx((2 - half, 2 + half), rel=1e-12)
    assert all(np.isnan(t_interval(np.array([5.0]))))
    assert all(np.isnan(t_interval(np.array([1.0, np.nan, 3.0]))))
    with pytest.raises(ValueError, match="level"):
        summarize(pd.DataFrame(), metrics=[], level=1.0)


def test_other_hyperparameters_are_not_pooled(out: Path) -> None:
    records = _seeded_records(out)
    records[2]["method"]["params_hash"] = "f" * 64
    summary = summarize(records_frame(records), metrics=["energy_mae_mev_per_atom"])
    assert sorted(summary["n_seeds"]) == [1, 2]
    with pytest.raises(ValueError, match=r"seed\(s\) \[0\] occur more than once"):
        summarize(records_frame([records[0], records[0]]))


def test_comparable_sets_apart_other_splits_and_older_versions(out: Path) -> None:
    records = _seeded_records(out)
    records[1]["task"]["split_fingerprint"] = "0123456789abcdef" * 4
    kept, apart = comparable(records_frame(records))
    assert sorted(kept["seed"]) == [0, 2] and apart["seed"].tolist() == [1]
    current = records[0]["task"]["split_fingerprint"]
    (reason,) = apart["reason"]
    assert reason.startswith(f"split fingerprint 0123456789ab… differs from {current[:12]}…")

    records[1]["task"]["version"] = 2
    kept, apart = comparable(records_frame(records))
    assert kept["seed"].tolist() == [1]
    assert apart["reason"].tolist() == ["task version 1, leaderboard shows version 2"] * 2


def test_one_malformed_record_does_not_stop_the_site(out: Path, tmp_path: Path) -> None:
    from mfbench.leaderboard import build_site

    path = _copy_run(out, tmp_path / "bad")
    _rewrite_predictions(path, lambda a: a.update(energy_per_atom=a["energy_per_atom"][:, None]))
    _set_sha(path)
    site = build_site([out, tmp_path / "bad"], tmp_path / "site")
    assert (site.n_records, site.n_accepted, len(site.rejected)) == (5, 4, 1)
    (rejected,) = site.rejected
    assert rejected.path == path and "energy_per_atom has shape (370, 1)" in rejected.problems[0]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"seed": 10**400}, "seed: 1000000000"),
        ({"seed": True}, "seed: True is not an integer in [0, 2**63)"),
        ({"seed": -1}, "seed: -1 is not an integer in [0, 2**63)"),
        ({"method.params": {"fallback": -4.0}}, "method.params_hash: stored '"),
        ({"method.params": ["r2scan"]}, "method.params: ['r2scan'] is not an object"),
    ],
)
def test_a_record_s_identity_must_be_what_it_says(
    out: Path, tmp_path: Path, fields: dict, problem: str
) -> None:
    path = _copy_run(out, tmp_path / "bad")
    set_record_fields(path, fields)
    report = validate_record(path)
    assert report.status == "rejected" and report.problems[0].startswith(problem)
    from mfbench.leaderboard import build_site

    site = build_site([out, tmp_path / "bad"], tmp_path / "site")  # the site is still built
    assert site.n_accepted == 4 and len(site.rejected) == 1


def test_a_predictions_file_that_is_not_an_archive(out: Path, tmp_path: Path) -> None:
    path = _copy_run(out, tmp_path)
    (path.parent / "predictions.npz").write_bytes(b"garbage")
    _set_sha(path)
    (problem,) = validate_record(path).problems
    assert (
        problem
        == f"{path.parent / 'predictions.npz'}: not a valid predictions file (not an .npz archive)"
    )
