"""A fitted SevenNet model saved as a sevenn checkpoint file, and loaded back by sevenn.

The file has sevenn's checkpoint layout (``config``, ``model_state_dict``, ``time``,
``hash``), so sevenn's own tools read it too, e.g.
``SevenNetCalculator(model="<folder>/checkpoint_sevennet.pth")`` for ASE.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from mfbench.atomic_write import write_bytes_atomic
from mfbench.models.sevenn.extra import require_sevenn

#: File name of a saved model inside a method's folder.
SAVED_FILE = "checkpoint_sevennet.pth"


def save_sevennet(model: Any, config: dict[str, Any], path: Path) -> None:
    """Write ``model``'s weights with its sevenn ``config`` to ``path``, whole or not at all.

    The config's ``version`` becomes the installed sevenn's: the weights are in this version's
    layout (sevenn rearranged an old checkpoint's weights when it built ``model``), and sevenn
    rearranges the weights of a file whose version is older again when it loads it.
    SevenNet-0's config says 0.9.x, so keeping it would scramble the convolutions' radial
    weights of every saved fine-tune.
    """
    import sevenn
    import torch

    buffer = io.BytesIO()
    torch.save(
        {"config": {**config, "version": sevenn.__version__},
         "model_state_dict": model.state_dict(), "epoch": None,
         "time": datetime.now().strftime("%Y-%m-%d %H:%M"), "hash": uuid.uuid4().hex},
        buffer,
    )  # fmt: skip
    write_bytes_atomic(Path(path), buffer.getvalue())


def load_saved_sevennet(path: Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """A model saved by :func:`save_sevennet`, built by sevenn, in batch and eval mode.

    Returns:
        ``(model, config)`` as :func:`mfbench.models.sevenn.load_sevennet` returns them.

    Raises:
        MissingExtraError: ``sevenn`` is not installed.
    """
    require_sevenn("loading a saved SevenNet model")
    from sevenn.checkpoint import SevenNetCheckpoint

    checkpoint = SevenNetCheckpoint(Path(path))
    model = checkpoint.build_model()
    model.set_is_batch_data(True)
    model.eval()
    return model.to(device), checkpoint.config
