from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from mfbench.data.checksum import fingerprint
from mfbench.errors import TaskError, UnknownNameError
from mfbench.metrics.catalogue import CATALOGUE
from mfbench.paths import tasks_dir
from mfbench.tasks.data import TaskData
from mfbench.tasks.definition import FractionSpec, SplitSpec, get_task, list_tasks, load_task_file
from mfbench.tasks.split import Split, hash_unit

SPLIT = SplitSpec(salt="s1", train=0.8, val=0.1, test=0.1)
FRACTIONS = FractionSpec(salt="f1", values=[0.0, 0.1, 0.5, 1.0])


def test_shipped_tasks_load() -> None:
    tasks = list_tasks()
    assert {"mp-r2scan", "surrogate-r2scan", "matpes-r2scan"} <= set(tasks)
    mp = tasks["mp-r2scan"]
    assert mp.target_fidelity == "r2scan"
    assert mp.fractions.values[1] == 0.0005 and mp.fractions.values[-1] == 1.0


def _write_task(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load((tasks_dir() / "surrogate-r2scan.yaml").read_text())
    raw.update(changes)
    path = tmp_path / f"{raw['task']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    path = _write_task(tmp_path, epochs=3)
    with pytest.raises(TaskError, match=r"(?s)surrogate-r2scan\.yaml.*epochs.*Extra inputs"):
        load_task_file(path)


def test_fraction_outside_unit_interval_is_an_error(tmp_path: Path) -> None:
    path = _write_task(tmp_path, fractions={"salt": "x", "values": [0.0, 0.5, 1.5]})
    with pytest.raises(TaskError, match=r"fractions must lie in \[0, 1\], got \[1.5\]"):
        load_task_file(path)


def test_version_needs_a_changelog_entry(tmp_path: Path) -> None:
    path = _write_task(tmp_path, version=2)
    with pytest.raises(TaskError, match="changelog has no entry for version 2"):
        load_task_file(path)


def test_a_task_must_say_whether_its_labels_are_citable(tmp_path: Path) -> None:
    raw = yaml.safe_load((tasks_dir() / "surrogate-r2scan.yaml").read_text())
    del raw["citable"]
    path = tmp_path / "surrogate-r2scan.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TaskError, match=r"(?s)citable.*Field required"):
        load_task_file(path)
    # model-labelled tasks say so; DFT tasks are citable
    tasks = list_tasks()
    assert not tasks["sevennet-r2scan"].citable and not tasks["surrogate-r2scan"].citable
    assert tasks["mp-r2scan"].citable and tasks["matpes-r2scan"].citable


def test_a_selection_grid_needs_distinct_values_and_a_known_metric(tmp_path: Path) -> None:
    ranked = list_tasks()["sevennet-r2scan"]
    assert ranked.selection is not None and ranked.selection.metric == "energy_mae"
    assert len(ranked.selection.grid["learning_rate"]) >= 2
    path = _write_task(tmp_path, selection={"grid": {"learning_rate": [1e-3, 1e-3]}})
    with pytest.raises(TaskError, match="needs distinct values"):
        load_task_file(path)
    path = _write_task(tmp_path, selection={"grid": {"learning_rate": [1e-3]}, "metric": "r2"})
    with pytest.raises(TaskError, match="metric"):
        load_task_file(path)


def test_split_fractions_must_sum_to_one(tmp_path: Path) -> None:
    path = _write_task(
        tmp_path,
        split={"rule": "material-hash", "salt": "x", "train": 0.8, "val": 0.1, "test": 0.2},
    )
    with pytest.raises(TaskError, match="must be 1"):
        load_task_file(path)


def test_broken_file_in_folder_is_not_skipped(tmp_path: Path) -> None:
    _write_task(tmp_path)
    (tmp_path / "broken.yaml").write_text("task: [unclosed")
    with pytest.raises(TaskError, match=r"broken\.yaml"):
        list_tasks(tmp_path)


def test_unknown_task_suggests(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'mp-r2scan'"):
        get_task("mp-r2scam")


def _dataset(n_materials: int, frames_per_material: int = 3) -> tuple[np.ndarray, np.ndarray]:
    materials = np.repeat([f"mp-{i}" for i in range(n_materials)], frames_per_material)
    frames = np.array([f"{m}-{k}" for k, m in enumerate(materials)])
    return frames, materials


def test_hash_unit_is_uniform_and_salted() -> None:
    keys = np.array([f"k{i}" for i in range(20000)])
    u = hash_unit(keys, "a")
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01
    assert not np.allclose(u, hash_unit(keys, "b"))


def test_split_is_grouped_by_material_with_expected_ratios() -> None:
    frames, materials = _dataset(5000)
    split = Split.compute(frames, materials, SPLIT, FRACTIONS)
    for material in np.unique(materials)[:200]:
        assert len(set(split.side[materials == material])) == 1
    sizes = split.sizes()
    assert sum(sizes.values()) == 15000
    assert sizes["train"] / 15000 == pytest.approx(0.8, abs=0.02)
    assert sizes["test"] / 15000 == pytest.approx(0.1, abs=0.015)


def test_split_is_stable_when_the_dataset_grows() -> None:
    frames, materials = _dataset(1000)
    small = Split.compute(frames, materials, SPLIT, FRACTIONS)
    more_frames, more_materials = _dataset(1500)
    grown = Split.compute(more_frames, more_materials, SPLIT, FRACTIONS)
    np.testing.assert_array_equal(grown.side[: len(frames)], small.side)


def test_fractions_are_nested_and_grouped() -> None:
    frames, materials = _dataset(2000)
    split = Split.compute(frames, materials, SPLIT, FRACTIONS)
    train = split.indices("train")
    assert len(split.train_fraction(0.0)) == 0
    np.testing.assert_array_equal(split.train_fraction(1.0), train)
    tenth, half = set(split.train_fraction(0.1)), set(split.train_fraction(0.5))
    assert tenth < half < set(train)
    assert len(half) / len(train) == pytest.approx(0.5, abs=0.04)
    # whole materials only
    in_tenth = np.zeros(len(frames), bool)
    in_tenth[list(tenth)] = True
    for material in np.unique(materials[list(tenth)]):
        assert in_tenth[(materials == material) & (split.side == 0)].all()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        split.train_fraction(1.2)


def test_fingerprints_track_membership() -> None:
    frames, materials = _dataset(300)
    split = Split.compute(frames, materials, SPLIT, FRACTIONS)
    prints = split.fingerprints()
    assert prints["test"] == fingerprint(frames[split.indices("test")])
    # order of ids does not matter, membership does
    assert fingerprint(np.array(["b", "a"])) == fingerprint(np.array(["a", "b"]))
    assert fingerprint(np.array(["a"])) != fingerprint(np.array(["a", "b"]))
    other = Split.compute(
        frames, materials, SplitSpec(salt="s2", train=0.8, val=0.1, test=0.1), FRACTIONS
    )
    assert other.fingerprints()["split"] != prints["split"]


def test_auxiliary_data_of_kind_dataset_needs_its_dataset(tmp_path: Path) -> None:
    path = _write_task(tmp_path, auxiliary_data=[{"kind": "dataset", "fidelity": "gga"}])
    with pytest.raises(TaskError, match="auxiliary data of kind 'dataset' needs dataset"):
        load_task_file(path)
    path = _write_task(
        tmp_path,
        auxiliary_data=[
            {"kind": "same-frames", "fidelity": "gga", "dataset": {"id": "x", "version": "1"}}
        ],
    )
    with pytest.raises(TaskError, match="kind 'same-frames' takes no dataset"):
        load_task_file(path)


def test_an_auxiliary_dataset_of_another_version_is_refused_when_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aux = [{"kind": "dataset", "fidelity": "gga", "dataset": {"id": "mptrj", "version": "0"}}]
    _write_task(tmp_path, task="my-task", auxiliary_data=aux)
    monkeypatch.setenv("MFBENCH_TASKS", str(tmp_path))
    with pytest.raises(TaskError, match="auxiliary dataset mptrj version 0, the registry has"):
        TaskData.load(get_task("my-task"))


def test_user_tasks_join_the_shipped_ones_and_say_where_they_come_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = _write_task(tmp_path, task="my-task")
    monkeypatch.setenv("MFBENCH_TASKS", str(mine))
    tasks = list_tasks()
    assert {"my-task", "surrogate-r2scan", "mp-r2scan"} <= set(tasks)
    assert tasks["my-task"].definition() == {
        "origin": "user",
        "file": "my-task.yaml",
        "sha256": hashlib.sha256(mine.read_bytes()).hexdigest(),
    }
    assert tasks["surrogate-r2scan"].definition()["origin"] == "shipped"
    _write_task(tmp_path / "other", task="my-task")
    monkeypatch.setenv("MFBENCH_TASKS", f"{mine}{os.pathsep}{tmp_path / 'other'}")
    with pytest.raises(TaskError, match="task 'my-task' is defined twice"):
        list_tasks()
    monkeypatch.setenv("MFBENCH_TASKS", str(tmp_path / "absent"))
    with pytest.raises(TaskError, match="absent does not exist"):
        list_tasks()


def test_summary_reports_what_each_fraction_covers_of_the_test_split() -> None:
    """The coverage per fraction agrees with the coverage the committed runs recorded."""
    import json

    data = TaskData.load(get_task("surrogate-r2scan-quick"))
    rows = {row["fraction"]: row for row in data.summary()["fractions"]}
    assert rows[0.0]["n_elements"] == 0 and rows[0.0]["test_frames_covered_share"] == 0.0
    results = Path(__file__).parents[1] / "leaderboard" / "results" / "baselines"
    checked = 0
    for path in sorted(
        results.glob("surrogate-r2scan-quick/v1/zero-shot/fraction-*/seed-0/result.json")
    ):
        record = json.loads(path.read_text())
        row = rows[record["fraction"]]
        assert row["n_frames"] == record["n_train_frames"]
        assert row["test_frames_covered_share"] == pytest.approx(
            record["coverage"]["covered_share"]
        )
        assert 0 < row["test_elements_covered"] <= row["test_elements"]
        checked += 1
    assert checked == 2
    # a larger fraction covers at least as much
    shares = [rows[f]["test_frames_covered_share"] for f in sorted(rows)]
    assert shares == sorted(shares)


def test_a_task_metric_must_match_the_catalogue(tmp_path: Path) -> None:
    """Units and directions are written once, in mfbench.metrics.catalogue."""
    raw = yaml.safe_load((tasks_dir() / "surrogate-r2scan.yaml").read_text())
    wrong_unit = [
        dict(m, unit="eV/atom") if m["name"] == "energy_mae" else m for m in raw["metrics"]
    ]
    with pytest.raises(TaskError, match=r"metric 'energy_mae' is in meV/atom, not 'eV/atom'"):
        load_task_file(_write_task(tmp_path, metrics=wrong_unit))
    upside_down = [dict(m, higher_is_better=True) for m in raw["metrics"]]
    with pytest.raises(TaskError, match=r"lower is better"):
        load_task_file(_write_task(tmp_path, metrics=upside_down))
    with pytest.raises(TaskError, match=r"metric 'accuracy' is not one of"):
        load_task_file(_write_task(tmp_path, metrics=[{"name": "accuracy", "unit": "%"}]))
    for task in list_tasks().values():  # every shipped task names catalogued metrics
        assert {m.name for m in task.metrics} <= {m.name for m in CATALOGUE}


def test_roles_are_optional_strict_and_shipped(tmp_path: Path) -> None:
    """Baseline roles are data of the task: optional, checked, and given by every shipped task."""
    raw = yaml.safe_load((tasks_dir() / "surrogate-r2scan.yaml").read_text())
    without = {k: v for k, v in raw.items() if k != "roles"}
    path = tmp_path / "surrogate-r2scan.yaml"
    path.write_text(yaml.safe_dump(without))
    bare = load_task_file(path)
    assert bare.roles.scratch is None and bare.roles.gain_baselines == []
    assert bare.roles.paper is None
    paper = {"method_2": "a", "method_3": "b", "method_4": "c"}
    for roles, problem in [
        ({"scratch": "s", "typo": 1}, "Extra inputs"),
        ({"paper": paper}, r"roles\.paper needs roles\.scratch"),
        ({"gain_baselines": ["s", "s"]}, "repeat a name"),
        ({"scratch": "no spaces"}, "pattern"),
        ({"scratch": "s", "paper": {"method_2": "a", "method_3": "b"}}, "method_4"),
    ]:
        path.write_text(yaml.safe_dump({**without, "roles": roles}))
        with pytest.raises(TaskError, match=problem):
            load_task_file(path)
    for task in list_tasks().values():
        assert task.roles.scratch == "scratch"
        assert task.roles.gain_baselines == ["zero-shot", "scratch"]
        assert task.roles.paper is not None
        assert task.roles.paper.method_4 == "finetune-refit-atomref"
