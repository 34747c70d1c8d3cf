"""Resuming sevenn training: a digest of a model's state; the checkpoint file is mfbench's."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from mfbench.epoch_checkpoint import EpochCheckpoint, run_key

logger = logging.getLogger(__name__)


def state_digest(model: Any) -> str:
    """Hex sha256 over a model's parameters and buffers (names, dtypes, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        values = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{values.dtype}:{tuple(values.shape)}".encode())
        digest.update(values.numpy().tobytes() if values.numel() else b"")
    return digest.hexdigest()


__all__ = ["EpochCheckpoint", "run_key", "state_digest"]
