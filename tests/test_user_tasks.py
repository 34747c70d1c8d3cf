"""A task of the user's own, outside the package: run, recorded, validated, with --tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mfbench.cli import main
from mfbench.paths import tasks_dir

from .doubles import COMPOSITION_ONLY


def test_a_user_task_runs_and_validates_with_tasks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load((tasks_dir() / "surrogate-r2scan-quick.yaml").read_text())
    raw.update(task="my-quick", description="a copy of the quick task, as a user writes one")
    folder = tmp_path / "my-tasks"
    folder.mkdir()
    (folder / "my-quick.yaml").write_text(yaml.safe_dump(raw))
    runs = tmp_path / "runs"
    argv = ["run", "--task", "my-quick", "--method", COMPOSITION_ONLY, "--fraction", "0.05",
            "--out", str(runs), "--device", "cpu"]  # fmt: skip
    assert main(argv) == 2  # not a shipped task
    assert "unknown task 'my-quick'" in capsys.readouterr().err
    assert main([*argv, "--tasks", str(folder)]) == 0
    record = json.loads(next(runs.rglob("result.json")).read_text())
    assert record["task"]["name"] == "my-quick"
    assert record["task"]["definition"]["origin"] == "user"
    assert record["task"]["definition"]["file"] == "my-quick.yaml"
    capsys.readouterr()

    # the shipped tasks stay visible beside the user's
    assert main(["tasks", "list", "--tasks", str(folder)]) == 0
    listing = capsys.readouterr().out
    assert "my-quick" in listing and "surrogate-r2scan-quick" in listing

    # validating without the definition cannot check it; with it, accepts it
    assert main(["results", "validate", str(runs)]) == 1
    err = capsys.readouterr().err
    assert "0 accepted, 0 rejected, 1 not checked" in err
    assert main(["results", "validate", str(runs), "--tasks", str(folder)]) == 0
    assert "1 accepted, 0 rejected, 0 not checked" in capsys.readouterr().err
