"""The dataset registry: what each dataset id is, where it comes from and how to check it.

Entries live in ``mfbench/data/datasets.yaml``; users can add their own (an extxyz file,
VASP folders) with extra registry files (``mfbench data prepare --registry FILE``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mfbench.data.limits import PhysicalLimits
from mfbench.errors import DataError, UnknownNameError
from mfbench.paths import EMBEDDED_DIR, datasets_dir

BUILTIN_REGISTRY = Path(__file__).with_name("datasets.yaml")
#: Environment variable listing extra registry files (``os.pathsep``-separated).
REGISTRY_ENV = "MFBENCH_REGISTRY"


#: Names that become part of a path (dataset id and version): letters, digits, ``.``, ``_``
#: and ``-``, starting with a letter or digit, so no name can leave its folder.
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class Limits(BaseModel):
    """The registry's form of :class:`mfbench.data.limits.PhysicalLimits`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_distance: float = Field(default=PhysicalLimits.min_distance, ge=0)
    max_force: float = Field(default=PhysicalLimits.max_force, gt=0)
    max_energy_per_atom: float = PhysicalLimits.max_energy_per_atom

    def limits(self) -> PhysicalLimits:
        """As the frame check takes them."""
        return PhysicalLimits(self.min_distance, self.max_force, self.max_energy_per_atom)


class DatasetEntry(BaseModel):
    """One registered dataset version.

    Attributes:
        id: short name used on the command line and in task files.
        version: the dataset's own version string.
        title: one line for listings.
        source: ``"embedded"`` (shipped with mfbench, see ``embedded_file``) or ``"user"``
            (the user supplies the file with ``--source``; nothing is ever downloaded).
        file_name: the expected name of the source file or folder (a hint for users).
        embedded_file: file name inside ``mfbench/data/embedded`` for embedded datasets.
        doi, url: where the data is published.
        sha256: expected SHA-256 of the source file, or None when nobody has pinned it yet.
        n_frames: expected number of frames, or None when not pinned.
        format: reader name (see :mod:`mfbench.data.readers`).
        options: keyword options of the reader.
        fidelities: label sets the store will hold.
        unphysical: what ``prepare`` does with a frame beyond ``physical_limits``: ``refuse``
            (stop, naming it; the default) or ``drop`` (leave it out, recording its id and
            why in the store's metadata).
        physical_limits: see :class:`mfbench.data.limits.PhysicalLimits` (its defaults when
            not given).
        licence, citation, notes: free text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=SAFE_NAME)
    version: str = Field(pattern=SAFE_NAME)
    title: str
    source: Literal["embedded", "user"]
    file_name: str | None = None
    embedded_file: str | None = None
    doi: str | None = None
    url: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    n_frames: int | None = Field(default=None, gt=0)
    format: str
    options: dict[str, Any] = Field(default_factory=dict)
    fidelities: list[str]
    unphysical: Literal["refuse", "drop"] = "refuse"
    physical_limits: Limits = Field(default_factory=Limits)
    licence: str | None = None
    citation: str | None = None
    notes: str | None = None

    @property
    def key(self) -> str:
        """``<id>-v<version>``: the store folder name."""
        return f"{self.id}-v{self.version}"

    def store_path(self) -> Path:
        """Where this dataset's prepared store lives (always inside :func:`datasets_dir`)."""
        root = datasets_dir()
        path = Path(os.path.normpath(root / self.key))
        if path.parent != Path(os.path.normpath(root)):  # SAFE_NAME rules it out; checked anyway
            raise DataError(f"dataset {self.key!r} would be stored outside {root}")
        return path

    def embedded_path(self) -> Path:
        """Path of the shipped source file of an embedded dataset."""
        if self.source != "embedded" or not self.embedded_file:
            raise DataError(f"dataset {self.id!r} is not embedded; pass --source PATH")
        return EMBEDDED_DIR / self.embedded_file


def load_registry_file(path: Path) -> list[DatasetEntry]:
    """Parse and validate one registry YAML file (a list of entries)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read registry ({exc})", file=str(path)) from exc
    if not isinstance(raw, list):
        raise DataError("a registry file must be a YAML list of datasets", file=str(path))
    entries = []
    for position, item in enumerate(raw):
        try:
            entries.append(DatasetEntry.model_validate(item))
        except ValidationError as exc:
            raise DataError(f"entry {position} is invalid:\n{exc}", file=str(path)) from exc
    return entries


@cache
def _builtin() -> tuple[DatasetEntry, ...]:
    return tuple(load_registry_file(BUILTIN_REGISTRY))


def registry(extra_files: Iterable[Path] = ()) -> dict[str, DatasetEntry]:
    """All registered datasets by id: built-in, ``extra_files`` and ``$MFBENCH_REGISTRY`` files.

    ``$MFBENCH_REGISTRY`` holds registry file paths separated by ``os.pathsep``.

    Raises:
        DataError: two entries claim the same id.
    """
    files = list(  # each file once, however often it is named
        dict.fromkeys(
            Path(p).expanduser().resolve()
            for p in [*extra_files, *os.environ.get(REGISTRY_ENV, "").split(os.pathsep)]
            if str(p)
        )
    )
    entries: dict[str, DatasetEntry] = {}
    sources: dict[str, str] = {}
    for origin, items in [("built-in", _builtin())] + [
        (str(f), load_registry_file(f)) for f in files
    ]:
        for entry in items:
            if entry.id in entries:
                raise DataError(
                    f"dataset id {entry.id!r} is registered twice "
                    f"({sources[entry.id]} and {origin})"
                )
            entries[entry.id] = entry
            sources[entry.id] = origin
    return entries


def get_dataset(dataset_id: str, extra_files: Iterable[Path] = ()) -> DatasetEntry:
    """The entry for ``dataset_id``; an unknown id suggests the closest registered ones."""
    entries = registry(extra_files)
    if dataset_id not in entries:
        raise UnknownNameError("dataset", dataset_id, entries)
    return entries[dataset_id]
