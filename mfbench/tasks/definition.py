"""Task files: strict models of the shipped ``tasks/shipped/*.yaml`` and users' task files.

A task names a dataset, the target fidelity, the split rule, the training-data fractions,
the metrics and the training budget. Unknown keys, fractions outside [0, 1] and a version
missing from the changelog are errors that name the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from mfbench.data.registry import SAFE_NAME
from mfbench.errors import TaskError, UnknownNameError
from mfbench.metrics.catalogue import CATALOGUE, SELECTION_METRICS
from mfbench.paths import tasks_dir, user_task_paths


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetRef(_Strict):
    """The dataset version a task runs on."""

    id: str = Field(pattern=SAFE_NAME)
    version: str = Field(pattern=SAFE_NAME)


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
    (paired data); ``kind: dataset`` gives another registered dataset (e.g. MPtrj), named with
    its version in ``dataset`` (the registry's version is checked when the task's data is
    loaded).
    """

    kind: Literal["same-frames", "dataset"]
    fidelity: str
    dataset: DatasetRef | None = None
    scope: Literal["train-fraction", "train-split", "all"] = "train-split"

    @model_validator(mode="after")
    def _dataset_given_for_kind_dataset(self) -> AuxiliaryData:
        if self.kind == "dataset" and self.dataset is None:
            raise ValueError("auxiliary data of kind 'dataset' needs dataset: {id, version}")
        if self.kind == "same-frames" and self.dataset is not None:
            raise ValueError("auxiliary data of kind 'same-frames' takes no dataset")
        return self


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


class SelectionSpec(_Strict):
    """Hyperparameters chosen on the validation split (see :mod:`mfbench.runner.selection`).

    Attributes:
        grid: parameter name → the values tried, in order (the same grid for every method
            that has the parameter).
        metric: validation metric that decides, lower is better (``energy_mae`` or
            ``force_mae``).
    """

    grid: dict[str, list[float | int]] = Field(min_length=1)
    metric: str = "energy_mae"

    @model_validator(mode="after")
    def _values_given(self) -> SelectionSpec:
        allowed = [m.name for m in SELECTION_METRICS]
        if self.metric not in allowed:
            raise ValueError(f"selection metric {self.metric!r} is not one of {allowed}")
        for name, values in self.grid.items():
            if not values or len(set(values)) != len(values):
                raise ValueError(f"selection grid {name!r} needs distinct values, got {values}")
        return self


class MetricSpec(_Strict):
    """A reported metric and whether higher is better."""

    name: str
    unit: str
    higher_is_better: bool = False

    @model_validator(mode="after")
    def _as_catalogued(self) -> MetricSpec:
        known = {m.name: m for m in CATALOGUE}
        if self.name not in known:
            raise ValueError(f"metric {self.name!r} is not one of {sorted(known)}")
        metric = known[self.name]
        if self.unit != metric.unit:
            raise ValueError(f"metric {self.name!r} is in {metric.unit}, not {self.unit!r}")
        if self.higher_is_better != metric.higher_is_better:
            better = "higher" if metric.higher_is_better else "lower"
            raise ValueError(f"metric {self.name!r}: {better} is better")
        return self


class PaperMethods(_Strict):
    """The methods of Huang et al. (2025) a task's runs stand for, by registry name.

    Naming them turns on the paper check (:mod:`mfbench.results.paper_check`), which also
    needs the task's ``scratch`` role (the paper's training from scratch).

    Attributes:
        method_2: fine-tuning with a trainable elemental reference (AtomRef).
        method_3: fine-tuning with the frozen GGA elemental reference.
        method_4: fine-tuning after refitting the elemental reference to the target labels.
    """

    method_2: str = Field(pattern=SAFE_NAME)
    method_3: str = Field(pattern=SAFE_NAME)
    method_4: str = Field(pattern=SAFE_NAME)


class MethodComparison(_Strict):
    """Two methods the site compares head to head, fraction by fraction.

    Attributes:
        method, other: registry names of the two methods.
        question: what the comparison asks, in words (shown as the row's heading), e.g.
            "Does joint training on the GGA frames beat Method 4?".
    """

    method: str = Field(pattern=SAFE_NAME)
    other: str = Field(pattern=SAFE_NAME)
    question: str = Field(min_length=1)

    @model_validator(mode="after")
    def _two_methods(self) -> MethodComparison:
        if self.method == self.other:
            raise ValueError(f"a comparison needs two methods, got {self.method!r} twice")
        return self


class Roles(_Strict):
    """What some methods stand for on the leaderboard, by registry name.

    Roles change what the site compares, never what a task measures: a task without them
    ranks the same runs, with no data-efficiency column, no transfer gains and no paper check.

    Attributes:
        scratch: the method that trains from scratch, the reference of the data efficiency
            (frames it needs to match another method) and of the paper's claims 2 and 3.
        gain_baselines: the methods every entry's transfer gain is measured against, at the
            same fraction, in this order.
        paper: the methods standing for the paper's Methods 2, 3 and 4 (needs ``scratch``).
        comparisons: further pairs of methods the site compares at every nonzero fraction
            (:func:`mfbench.results.comparison.compare_methods`).
    """

    scratch: str | None = Field(default=None, pattern=SAFE_NAME)
    gain_baselines: list[Annotated[str, Field(pattern=SAFE_NAME)]] = Field(default_factory=list)
    paper: PaperMethods | None = None
    comparisons: list[MethodComparison] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Roles:
        if len(set(self.gain_baselines)) != len(self.gain_baselines):
            raise ValueError(f"gain_baselines repeat a name: {self.gain_baselines}")
        if self.paper is not None and self.scratch is None:
            raise ValueError("roles.paper needs roles.scratch (the paper compares with it)")
        pairs = [(c.method, c.other) for c in self.comparisons]
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"roles.comparisons repeat a pair: {pairs}")
        return self


class ChangelogEntry(_Strict):
    """One dated change of a task definition."""

    version: int
    date: dt.date
    change: str


class Task(_Strict):
    """A benchmark task, as written in ``tasks/shipped/<name>.yaml`` or in a user's task file.

    :attr:`file` is where it was read from and :meth:`definition` says so for records.
    """

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
    selection: SelectionSpec | None = None
    #: Whether the labels are DFT at the target fidelity (False: labelled by models; every
    #: page, CSV and badge then says the numbers must not be cited as r2SCAN results).
    citable: bool
    metrics: list[MetricSpec]
    #: What some methods stand for on the site (none: no gains, efficiency or paper check).
    roles: Roles = Field(default_factory=Roles)
    changelog: list[ChangelogEntry] = Field(min_length=1)

    _file: Path | None = PrivateAttr(default=None)
    _sha256: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _changelog_covers_version(self) -> Task:
        if self.version not in {entry.version for entry in self.changelog}:
            raise ValueError(f"changelog has no entry for version {self.version}")
        return self

    @property
    def file(self) -> Path | None:
        """The file the task was read from (None when built in code)."""
        return self._file

    def definition(self) -> dict[str, str | None]:
        """Where the definition came from, for a result record.

        Returns:
            ``{"origin": "shipped" | "user" | "code", "file": name, "sha256": hex | None}``:
            shipped tasks live in :func:`mfbench.paths.tasks_dir`; the sha256 is that of the
            file's bytes when it was read.
        """
        if self._file is None:
            return {"origin": "code", "file": None, "sha256": None}
        shipped = self._file.resolve().parent == tasks_dir().resolve()
        return {
            "origin": "shipped" if shipped else "user",
            "file": self._file.name,
            "sha256": self._sha256,
        }


def load_task_file(path: Path) -> Task:
    """Parse and validate one task file."""
    path = Path(path)
    try:
        blob = path.read_bytes()
        raw = yaml.safe_load(blob.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TaskError(f"{path}: cannot read task file ({exc})") from exc
    if not isinstance(raw, dict):
        raise TaskError(f"{path}: a task file must be a YAML mapping")
    try:
        task = Task.model_validate(raw)
    except ValidationError as exc:
        raise TaskError(f"{path}: invalid task definition\n{exc}") from exc
    if task.task != path.stem:
        raise TaskError(f"{path}: task name {task.task!r} must match the file name")
    task._file = path
    task._sha256 = hashlib.sha256(blob).hexdigest()
    return task


def list_tasks(directory: Path | None = None) -> dict[str, Task]:
    """Every task, by name: the shipped ones and the user's, or those of ``directory`` alone.

    The user's tasks are the files and folders of ``$MFBENCH_TASKS`` (the command line's
    ``--tasks PATH``; :func:`mfbench.paths.user_task_paths`). A broken file is an error, never
    skipped, and so is one name defined twice.
    """
    sources = [Path(directory)] if directory is not None else [tasks_dir(), *user_task_paths()]
    tasks: dict[str, Task] = {}
    files = dict.fromkeys(f.resolve() for source in sources for f in _task_files(source))
    for path in files:  # each file once, even when named twice
        task = load_task_file(path)
        if task.task in tasks:
            raise TaskError(
                f"task {task.task!r} is defined twice: in {tasks[task.task].file} and in {path}"
            )
        tasks[task.task] = task
    return dict(sorted(tasks.items()))


def _task_files(source: Path) -> list[Path]:
    """``source`` if a file, else its ``*.yaml`` files, sorted."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise TaskError(f"task file or folder {source} does not exist")
    return sorted(source.glob("*.yaml"))


def get_task(name: str, directory: Path | None = None) -> Task:
    """The task called ``name``; an unknown name suggests the closest ones."""
    tasks = list_tasks(directory)
    if name not in tasks:
        raise UnknownNameError("task", name, tasks)
    return tasks[name]
