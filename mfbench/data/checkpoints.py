"""Known pretrained checkpoints and the labels each was trained on.

The registry (``mfbench/data/checkpoints.yaml``) lets mfbench recognise a checkpoint that a run
loaded, by the sha256 of its weights file, its file name or a name methods use for it, and tell
whether it was trained on a task's target fidelity (CHGNet's released ``r2scan`` model,
SevenNet-MF-0). Compliance (:mod:`mfbench.results.compliance`) is computed from it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mfbench.errors import DataError

CHECKPOINT_REGISTRY = Path(__file__).with_name("checkpoints.yaml")


class TrainedOn(BaseModel):
    """Labels a checkpoint learned from: their fidelity and, in words, which data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fidelity: str
    data: str


class KnownCheckpoint(BaseModel):
    """One known checkpoint.

    Attributes:
        name: mfbench's name for it, e.g. ``"chgnet-r2scan"``.
        aliases: other names methods pass for it (compared case-insensitively), e.g. the
            ``model_name`` of ``CHGNet.load``.
        package: the Python package that ships it.
        files: file names of its weights.
        sha256: sha256 of every known release of its weights file.
        trained_on: the labels it learned from.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    aliases: tuple[str, ...] = ()
    package: str
    files: tuple[str, ...] = ()
    sha256: tuple[str, ...] = Field(default=(), min_length=1)
    trained_on: tuple[TrainedOn, ...]

    def names(self) -> set[str]:
        """Its name and aliases, case-folded."""
        return {n.casefold() for n in (self.name, *self.aliases)}

    def seen(self, fidelity: str) -> str | None:
        """What it saw of ``fidelity`` labels (e.g. ``"all of MP-r2SCAN (…)"``), or None."""
        data = [t.data for t in self.trained_on if t.fidelity == fidelity]
        return "; ".join(data) if data else None


@cache
def known_checkpoints() -> tuple[KnownCheckpoint, ...]:
    """Every checkpoint of the registry file.

    Raises:
        DataError: the registry file is broken (a bug of mfbench, named with the file).
    """
    try:
        raw = yaml.safe_load(CHECKPOINT_REGISTRY.read_text(encoding="utf-8"))
        return tuple(KnownCheckpoint.model_validate(item) for item in raw)
    except (OSError, yaml.YAMLError, ValidationError, TypeError) as exc:
        raise DataError(
            f"invalid checkpoint registry ({exc})", file=str(CHECKPOINT_REGISTRY)
        ) from exc


def identify_checkpoint(
    *, name: str | None = None, sha256: str | None = None, file: str | None = None
) -> KnownCheckpoint | None:
    """The known checkpoint with this weights sha256, file name or name, else None.

    The sha256 is tried first, then the file name (the last part of ``file``), then the name.
    """
    checkpoints = known_checkpoints()
    if sha256:
        for checkpoint in checkpoints:
            if sha256.lower() in checkpoint.sha256:
                return checkpoint
    if file:
        base = Path(file).name
        for checkpoint in checkpoints:
            if base in checkpoint.files:
                return checkpoint
    if name:
        folded = name.casefold()
        for checkpoint in checkpoints:
            if folded in checkpoint.names():
                return checkpoint
    return None
