"""Task files: strict models of ``tasks/*.yaml`` and their loading.

A task names a dataset, the target fidelity, the split rule, the training-data fractions,
the metrics and the training budget. Unknown keys, fractions outside [0, 1] and a version
missing from the changelog are errors that name the file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mfbench.errors import TaskError, UnknownNameError
from mfbench.paths import tasks_dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetRef(_Strict):
    """The dataset version a task runs on."""

    id: str
    version: str


class SplitSpec(_Strict):
    """Train/val/test assignment by a salted hash of the material id."""

    rule: Literal["material-hash"] = "material-hash"
    salt: str = Field(min_length=1)
    train: float = Field(gt=0, lt=1)
    val: float = Field(ge=0, lt=1)
    test: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitSpec:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"train + val + test must be 1, got {total}")
        return self


class FractionSpec(_Strict):
    """Nested subsets of the train split; 0 means zero-shot (no training frames)."""

    salt: str = Field(min_length=1)
    values: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _valid_values(self) -> FractionSpec:
        bad = [v for v in self.values if not 0.0 <= v <= 1.0]
        if bad:
            raise ValueError(f"fractions must lie in [0, 1], got {bad}")
        if sorted(set(self.values)) != self.values:
            raise ValueError("fractions must be listed in increasing order without repeats")
        return self


class AuxiliaryData(_Strict):
    """Lower-fidelity data a method may use besides the target labels of its training fraction.

    ``kind: same-frames`` gives the ``fidelity`` labels of the task dataset's own frames
    (paired data); ``kind: dataset`` gives another registered dataset (e.g. MPtrj).
    """

    kind: Literal["same-frames", "dataset"]
    fidelity: str
    dataset: DatasetRef | None = None
    scope: Literal["train-fraction", "train-split", "all"] = "train-split"


class Budget(_Strict):
    """Training budget, so methods are compared at equal cost.

    Attributes:
        epochs: passes over the training fraction.
        max_steps: hard cap on optimizer steps; training stops there, inside an epoch if
            need be (None: no cap).
        batch_size: frames per optimizer step.
    """

    epochs: int = Field(gt=0)
    max_steps: int | None = Field(default=None, gt=0)
    batch_size: int = Field(gt=0)


class MetricSpec(_Strict):
    """A reported metric and whether higher is better."""

    name: str
    unit: str
    higher_is_better: bool = False


class ChangelogEntry(_Strict):
    """One dated change of a task definition."""

    version: int
    date: dt.date
    change: str


class Task(_Strict):
    """A benchmark task, as written in ``tasks/<name>.yaml``."""

    task: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(gt=0)
    description: str
    dataset: DatasetRef
    target_fidelity: str
    auxiliary_data: list[AuxiliaryData] = Field(default_factory=list)
    split: SplitSpec
    fractions: FractionSpec
    scaling_fit_min_frames: int = Field(default=1000, ge=0)
    budget: Budget
    metrics: list[MetricSpec]
    changelog: list[ChangelogEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _changelog_covers_version(self) -> Task:
        if self.version not in {entry.version for entry in self.changelog}:
            raise ValueError(f"changelog has no entry for version {self.version}")
        return self


def load_task_file(path: Path) -> Task:
    """Parse and validate one task file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise TaskError(f"{path}: cannot read task file ({exc})") from exc
    if not isinstance(raw, dict):
        raise TaskError(f"{path}: a task file must be a YAML mapping")
    try:
        task = Task.model_validate(raw)
    except ValidationError as exc:
        raise TaskError(f"{path}: invalid task definition\n{exc}") from exc
    if task.task != path.stem:
        raise TaskError(f"{path}: task name {task.task!r} must match the file name")
    return task


def list_tasks(directory: Path | None = None) -> dict[str, Task]:
    """Every task in ``directory`` (default :func:`mfbench.paths.tasks_dir`), by name.

    A broken file is an error, never skipped.
    """
    directory = Path(directory) if directory else tasks_dir()
    if not directory.is_dir():
        raise TaskError(f"task folder {directory} does not exist; set MFBENCH_TASKS_DIR")
    return {path.stem: load_task_file(path) for path in sorted(directory.glob("*.yaml"))}


def get_task(name: str, directory: Path | None = None) -> Task:
    """The task called ``name``; an unknown name suggests the closest ones."""
    tasks = list_tasks(directory)
    if name not in tasks:
        raise UnknownNameError("task", name, tasks)
    return tasks[name]
