"""A training stage's checkpoint file, written atomically and resumed only by the same run.

Methods that train write one after every epoch (``<folder>/<tag>.pt``: the state they need to
continue, plus the key of the run), so a killed run resumes where it stopped; a file written
for another run (other hyperparameters, frames, start or seed) is never resumed from.
torch is imported only when a file is read or written.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mfbench.atomic_write import write_bytes_atomic

logger = logging.getLogger(__name__)


def run_key(identity: Mapping[str, Any]) -> str:
    """Hex sha256 of ``identity`` as sorted JSON: what a checkpoint must match to be resumed."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class EpochCheckpoint:
    """The checkpoint ``<folder>/<tag>.pt`` of one training stage, valid for one ``key``.

    Args:
        folder: the run's checkpoint folder, or None (no checkpoints: nothing saved or loaded).
        tag: the stage's name.
        key: :func:`run_key` of everything that changes the result.
    """

    def __init__(self, folder: Path | None, tag: str, key: str) -> None:
        self.path = Path(folder) / f"{tag}.pt" if folder is not None else None
        self.key = key

    def load(self) -> dict[str, Any] | None:
        """The saved state (tensors on CPU), or None when absent or written for another key."""
        import torch

        if self.path is None or not self.path.is_file():
            return None
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state.get("key") != self.key:
            logger.warning(
                "%s was written for another run (hyperparameters, frames, start or seed); "
                "starting afresh",
                self.path,
            )
            return None
        return state

    def save(self, state: Mapping[str, Any]) -> None:
        """Write ``state`` with the key, whole or not at all."""
        import torch

        if self.path is None:
            return
        buffer = io.BytesIO()
        torch.save({"key": self.key, **state}, buffer)
        write_bytes_atomic(self.path, buffer.getvalue())
