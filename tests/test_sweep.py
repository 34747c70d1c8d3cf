"""``mfbench sweep``: planning and validation, the local executor, submitit (local cluster).

Runs launched here are real ``mfbench run`` subprocesses or submitit jobs on the embedded
task ``surrogate-r2scan-quick``. The default tier uses :class:`Gated`, a composition-only
method (a run costs a few seconds, mostly imports); the slow tier also sweeps the
registered CHGNet baselines ``gga-floor`` and ``zero-shot``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from datetime import datetime
from pathlib import Path
from typing import Self

import pytest

from mfbench.cli import _parse_params, main
from mfbench.data.frameset import FrameSet
from mfbench.errors import MfbenchError
from mfbench.methods import FitContext
from mfbench.results import find_records, validate_records
from mfbench.results.record import RESULT_SCHEMA, run_folder
from mfbench.runner import run as run_once
from mfbench.runner.options import param_args
from mfbench.runner.sweep import LocalOptions, SlurmOptions, SweepSpec, plan, read_state, sweep
from mfbench.runner.sweep.state import exception_line

from .test_runner import CompositionOnly

RUNS: list[tuple[str, str, float, int]] = []  # module_runs: only prepare the embedded dataset
TASK = "surrogate-r2scan-quick"
REPO = Path(__file__).resolve().parents[1]
GATED = "tests.test_sweep:Gated"
WORKERS = "tests.test_runner:WorkersSeen"


def _home() -> str:
    """The resolved ``MFBENCH_HOME`` of the test: what workers are given."""
    return str(Path(os.environ["MFBENCH_HOME"]).resolve())


pytestmark = pytest.mark.usefixtures("module_home", "importable_tests")


class Gated(CompositionOnly):
    """A composition-only method that raises while its ``gate`` file is missing.

    A failure whose cause can be fixed without changing the run (create the file), and
    ``save`` records the ``MFBENCH_HOME`` the worker saw.
    """

    name = "gated"

    def __init__(self, fallback: float = -5.0, gate: str = "") -> None:
        self.fallback = fallback
        self.gate = gate

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        if self.gate and not Path(self.gate).is_file():
            raise RuntimeError(f"gate file {self.gate} is missing")
        return super().fit(train, val, context)

    def save(self, directory: Path) -> None:
        super().save(directory)
        (Path(directory) / "home.txt").write_text(os.environ["MFBENCH_HOME"])


@pytest.fixture
def importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes can import ``tests.test_sweep:Gated`` whatever their folder."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))


def _state(out: Path) -> dict:
    (path,) = (out / ".sweep").glob("*.json")
    return read_state(path)


# ----------------------------------------------------------------------------- planning


def test_plan_expands_the_matrix_in_order(tmp_path: Path) -> None:
    result = plan(SweepSpec(TASK, ("gga-floor", "zero-shot"), seeds=(0, 1), out=tmp_path))
    assert result.fractions == (0.0, 0.05, 0.1)  # default: all of the task's fractions
    assert [(r.spec.method, r.spec.fraction, r.spec.seed) for r in result.runs] == [
        (m, f, s) for m in ("gga-floor", "zero-shot") for f in (0.0, 0.05, 0.1) for s in (0, 1)
    ]
    assert {r.status for r in result.runs} == {"pending"}
    first = result.runs[0].spec
    assert first.folder == str(run_folder(tmp_path.resolve(), TASK, 1, "gga-floor", 0.0, 0))
    assert first.env["MFBENCH_HOME"] == _home()
    assert result.sweep_id.startswith(f"{TASK}-")
    reordered = plan(SweepSpec(TASK, ("zero-shot", "gga-floor"), (0.1, 0.05, 0.0), (1, 0)))
    assert reordered.sweep_id == result.sweep_id  # same matrix, any order
    other = plan(SweepSpec(TASK, ("gga-floor",), params={"batch_size": 8}, out=tmp_path))
    assert other.sweep_id != result.sweep_id
    assert Path(other.runs[0].spec.folder).parts[-3].startswith("gga-floor@")  # as runner.run


def test_fraction_0_is_left_out_for_methods_that_need_training_frames(tmp_path: Path) -> None:
    methods = ("zero-shot", "finetune-refit-atomref")
    result = plan(SweepSpec(TASK, methods, out=tmp_path))
    assert [(r.spec.method, r.spec.fraction) for r in result.runs] == [
        ("zero-shot", 0.0), ("zero-shot", 0.05), ("zero-shot", 0.1),
        ("finetune-refit-atomref", 0.05), ("finetune-refit-atomref", 0.1),
    ]  # fmt: skip
    with pytest.raises(MfbenchError, match=r"finetune-refit-atomref needs training frames; "):
        plan(SweepSpec(TASK, methods, fractions=(0.0, 0.1), out=tmp_path))


def test_plan_reports_every_problem_before_launching(tmp_path: Path) -> None:
    methods = (
        "gga-flor",
        "zero-shot",
        "zero-shot",
        "gga-floor",
        "baselines.zero_shot:UntouchedGGA",
    )
    spec = SweepSpec(TASK, methods, (0.05, 0.5), (0, 0, -1))
    with pytest.raises(MfbenchError) as caught:
        plan(spec)
    message = str(caught.value)
    assert "unknown method 'gga-flor'. Did you mean 'gga-floor'?" in message
    assert "method 'zero-shot' is given 2 times" in message
    assert "fraction 0.5 is not one of task surrogate-r2scan-quick's fractions 0, 0.05, 0.1" in (
        message
    )
    assert "seed 0 is given 2 times" in message and "seed -1 is negative" in message
    assert (
        "methods 'gga-floor' and 'baselines.zero_shot:UntouchedGGA' are the same method "
        "(run folder 'gga-floor')"
    ) in message
    with pytest.raises(MfbenchError, match=r"method gga-floor has no parameter 'lr'"):
        plan(SweepSpec(TASK, ("gga-floor",), params={"lr": 0.1}))
    with pytest.raises(MfbenchError, match="unknown task 'surrogate-r2scan-quik'"):
        plan(SweepSpec("surrogate-r2scan-quik", ("gga-floor",)))
    with pytest.raises(MfbenchError, match="--jobs must be ≥ 1"):
        sweep(SweepSpec(TASK, ("gga-floor",), out=tmp_path), LocalOptions(jobs=0))
    with pytest.raises(MfbenchError, match="sbatch is not on PATH"):
        sweep(SweepSpec(TASK, ("gga-floor",), out=tmp_path), SlurmOptions())
    assert not any(tmp_path.iterdir())  # nothing launched, nothing written


def test_plan_reruns_incomplete_results_and_refuses_other_hyperparameters(
    tmp_path: Path,
) -> None:
    folder = run_folder(tmp_path, TASK, 1, "gated", 0.05, 0)
    folder.mkdir(parents=True)
    spec = SweepSpec(TASK, (GATED,), (0.05,), out=tmp_path)
    # the runner's rule: anything short of a consistent record and predictions is run again
    for broken in ("{not json", "[1, 2]", json.dumps({"schema": "mfbench.result/1"})):
        (folder / "result.json").write_text(broken)
        (result,) = plan(spec).runs
        assert result.status == "pending", broken
    record = run_once(TASK, GATED, 0.05, 0, out=tmp_path, progress=False)
    (result,) = plan(spec).runs
    assert result.status == "skipped"
    (folder / "predictions.npz").unlink()
    (result,) = plan(spec).runs
    assert result.status == "pending"
    record["method"]["params_hash"] = "0" * 64
    (folder / "result.json").write_text(json.dumps(record))
    (folder / "predictions.npz").write_bytes(b"x")
    record["predictions"]["sha256"] = hashlib.sha256(b"x").hexdigest()
    (folder / "result.json").write_text(json.dumps(record))
    with pytest.raises(MfbenchError, match="holds a result for other hyperparameters"):
        plan(spec)


def test_cli_dry_run_prints_the_plan_and_launches_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sweep", "--task", TASK, "--methods", "gga-floor", "zero-shot", "--seeds", "0", "1"]
    assert main([*argv, "--out", str(tmp_path), "--device", "cpu", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 methods × 3 fractions × 2 seeds = 12 runs" in out and "DRY RUN" in out
    assert "would launch 12 runs" in out and "zero-shot fraction 0.1 seed 1" in out
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    assert main([*argv, "--out", str(tmp_path), "--partition", "gpu", "--dry-run"]) == 2
    assert "--partition: only for --executor slurm" in capsys.readouterr().err
    assert main([*argv, "--executor", "slurm", "--jobs", "2", "--dry-run"]) == 2
    assert "--jobs is for --executor local" in capsys.readouterr().err


def test_retry_failed_relaunches_only_recorded_failures(tmp_path: Path) -> None:
    spec = SweepSpec(TASK, (GATED,), out=tmp_path, device="cpu")
    with pytest.raises(MfbenchError, match="no state file"):
        sweep(spec, LocalOptions(), retry_failed=True, dry_run=True)
    planned = plan(spec)
    rows = [r.to_json() for r in planned.runs]
    rows[0].update(status="failed", job_id="11", log="a.log", error="RuntimeError: x")
    rows[1].update(status="launched", job_id="12", log="b.log")  # e.g. still queued
    planned.state_path.parent.mkdir(parents=True)
    planned.state_path.write_text(json.dumps({"schema": "mfbench.sweep/1", "runs": rows}))
    retried = sweep(spec, LocalOptions(), retry_failed=True, dry_run=True)
    assert [r.status for r in retried.runs] == ["pending", "held", "held"]
    assert (retried.runs[1].job_id, retried.runs[1].log) == ("12", "b.log")
    assert retried.summary_rows()[-1] == {
        "method": "total", "planned": 3, "skipped (done)": 0, "to launch": 1, "held": 2,
    }  # fmt: skip


def test_param_args_round_trip_through_the_cli_parser() -> None:
    params = {"gate": "/tmp/x", "name": "8", "flag": "true", "lr": 0.1, "dims": [1, 2], "n": None}
    args = param_args(params)
    assert args[:4] == ["--param", "gate=/tmp/x", "--param", 'name="8"']
    assert _parse_params(args[1::2]) == params


def test_exception_line() -> None:
    trace = (
        'INFO x: started\nTraceback (most recent call last):\n  File "a.py", line 1, in f\n'
        "    g()\n    ^^^\nValueError: bad x\nsecond line\n"
    )
    assert exception_line(trace) == "ValueError: bad x"
    assert exception_line("50%|#####\r100%|##########\nmfbench: error: no such file\n\n") == (
        "mfbench: error: no such file"
    )
    assert exception_line("") == "(no output)"


def test_a_rerun_over_an_older_schema_gets_every_run_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sweep carries the run options (``--data-workers`` too) into the runs it relaunches.

    Before ``plan_run``, a sweep relaunched a run over a record of an older schema with
    ``mfbench run --task … --device … --param …`` only: the data workers were dropped.
    """
    folder = run_folder(tmp_path.resolve(), TASK, 1, "workers-seen", 0.05, 0)
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"schema": "mfbench.result/2"}))
    spec = SweepSpec(TASK, (WORKERS,), (0.05,), out=tmp_path, device="cpu", data_workers=3)
    (planned,) = plan(spec).runs
    assert planned.status == "pending"
    assert planned.spec.cli_args()[-4:] == ["--device", "cpu", "--data-workers", "3"]
    argv = [
        "sweep", "--task", TASK, "--methods", WORKERS, "--fractions", "0.05",
        "--out", str(tmp_path), "--device", "cpu", "--data-workers", "3",
    ]  # fmt: skip
    assert main(argv) == 0
    assert (folder / "model" / "workers.txt").read_text() == "3"
    assert json.loads((folder / "result.json").read_text())["schema"] == RESULT_SCHEMA
    assert "--data-workers 3" in _state(tmp_path)["command"]


# ----------------------------------------------------------------------------- local


def test_local_sweep_writes_results_then_skips_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "sweep", "--task", TASK, "--methods", GATED, "--fractions", "0.05",
        "--out", str(tmp_path), "--device", "cpu", "--executor", "local",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1 methods × 1 fractions × 1 seeds = 1 runs" in out
    state = _state(tmp_path)
    assert state["command"] == shlex.join(
        ["mfbench", "sweep", "--task", TASK, "--methods", GATED, "--fractions", "0.05",
         "--seeds", "0", "--out", str(tmp_path.resolve()), "--device", "cpu",
         "--executor", "local", "--jobs", "1"]
    )  # fmt: skip
    (row,) = state["runs"]
    assert row["status"] == "succeeded" and row["job_id"].isdigit() and row["seconds"] > 0
    folder = Path(row["folder"])
    assert folder == run_folder(tmp_path.resolve(), TASK, 1, "gated", 0.05, 0)
    record = json.loads((folder / "result.json").read_text())
    assert record["schema"] == RESULT_SCHEMA and record["n_train_frames"] == 87
    # the run saw the sweep's MFBENCH_HOME, and its output went to its own log
    assert (folder / "model" / "home.txt").read_text() == _home()
    log = Path(row["log"])
    assert log == tmp_path.resolve() / ".sweep/logs" / TASK / "v1/gated/fraction-0.05/seed-0.log"
    assert log.read_text().startswith("### ") and "n_train_frames 87" in log.read_text()

    modified = log.stat().st_mtime_ns
    assert main(argv) == 0  # a second invocation finds the run complete
    assert re.search(r"total +1 +1 +0 +0 +0\n", capsys.readouterr().out)
    (skipped,) = _state(tmp_path)["runs"]
    assert skipped["status"] == "skipped" and skipped["log"] == row["log"]  # log kept
    assert log.stat().st_mtime_ns == modified  # nothing relaunched
    assert find_records([tmp_path]) == [folder / "result.json"]  # the state file is not a record


@pytest.mark.slow
def test_local_failure_is_reported_then_resubmitted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = tmp_path / "gate"
    out = tmp_path / "results"
    argv = [
        "sweep", "--task", TASK, "--methods", GATED, "--fractions", "0.05",
        "--param", f"gate={gate}", "--out", str(out), "--device", "cpu",
    ]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    (row,) = _state(out)["runs"]
    assert row["status"] == "failed"
    assert row["error"] == f"RuntimeError: gate file {gate} is missing"
    assert f"{row['error']}\n    log: {row['log']}" in err
    assert "Traceback" in Path(row["log"]).read_text()
    resubmit = next(line.strip() for line in err.splitlines() if "--retry-failed" in line)
    assert shlex.split(resubmit)[:2] == ["mfbench", "sweep"]

    gate.touch()  # fix the cause, then run the printed command
    assert main(shlex.split(resubmit)[1:]) == 0
    (row,) = _state(out)["runs"]
    assert row["status"] == "succeeded" and (Path(row["folder"]) / "result.json").is_file()
    assert Path(row["log"]).read_text().count("### ") == 2  # both attempts in one log


# ----------------------------------------------------------------------------- submitit


@pytest.mark.slow
def test_submitit_local_cluster_runs_real_jobs_and_retries_a_failure(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    spec = SweepSpec(
        TASK, (GATED,), (0.05, 0.1), out=tmp_path / "results", params={"gate": str(gate)},
        device="cpu",
    )  # fmt: skip
    options = SlurmOptions(time_min=10, cluster="local", log_dir=tmp_path / "submitit")
    failed = sweep(spec, options)
    assert [r.status for r in failed.runs] == ["failed", "failed"]
    for run in failed.runs:
        assert run.error == f"RuntimeError: gate file {gate} is missing"
        assert run.log.endswith("_log.err") and Path(run.log).is_relative_to(tmp_path / "submitit")
        assert "RuntimeError" in Path(run.log).read_text()
    assert [r["status"] for r in read_state(failed.state_path)["runs"]] == ["failed", "failed"]

    gate.touch()
    retried = sweep(spec, options, retry_failed=True)
    assert [r.status for r in retried.runs] == ["succeeded", "succeeded"]
    state = read_state(retried.state_path)
    assert all(row["job_id"] and Path(row["log"]).is_file() for row in state["runs"])
    for run in retried.runs:
        folder = Path(run.spec.folder)
        assert json.loads((folder / "result.json").read_text())["schema"] == RESULT_SCHEMA
        # the job ran in a submitit subprocess with the sweep's MFBENCH_HOME
        assert (folder / "model" / "home.txt").read_text() == _home()
    assert {r.status for r in sweep(spec, options).runs} == {"skipped"}


@pytest.mark.slow
def test_submitit_reports_a_registered_method_failing_inside_its_job(tmp_path: Path) -> None:
    """``base_model`` passes validation (the constructor only stores it); CHGNet raises."""
    spec = SweepSpec(
        TASK, ("gga-floor",), (0.0,), out=tmp_path, params={"base_model": "no-such-model"},
        device="cpu",
    )  # fmt: skip
    (run,) = sweep(spec, SlurmOptions(time_min=10, cluster="local")).runs
    assert run.status == "failed"
    assert run.error == "ValueError: Unknown model_name='no-such-model'"
    assert Path(run.log).is_relative_to(tmp_path / ".sweep" / "submitit")


@pytest.mark.slow
def test_local_jobs_2_sweeps_the_chgnet_baselines_in_parallel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gga-floor and zero-shot two at a time; real CHGNet numbers; a rerun skips both."""
    argv = [
        "sweep", "--task", TASK, "--methods", "gga-floor", "zero-shot", "--fractions", "0.05",
        "--out", str(tmp_path), "--device", "cpu", "--jobs", "2",
    ]  # fmt: skip
    assert main(argv) == 0
    runs = _state(tmp_path)["runs"]
    assert [(r["method"], r["status"]) for r in runs] == [
        ("gga-floor", "succeeded"), ("zero-shot", "succeeded"),
    ]  # fmt: skip
    starts = [datetime.fromisoformat(r["launched_at"]).timestamp() for r in runs]
    ends = [start + r["seconds"] for start, r in zip(starts, runs, strict=True)]
    assert starts[0] < ends[1] and starts[1] < ends[0]  # the two runs overlapped
    mae = {
        r["method"]: json.loads((Path(r["folder"]) / "result.json").read_text())["metrics"]["all"][
            "energy_mae_mev_per_atom"
        ]
        for r in runs
    }
    assert mae["zero-shot"] < mae["gga-floor"]  # the refitted elemental reference helps
    capsys.readouterr()
    assert main(argv) == 0
    assert re.search(r"total +2 +2 +0 +0 +0\n", capsys.readouterr().out)
    assert all(report.ok for report in validate_records([tmp_path]))
