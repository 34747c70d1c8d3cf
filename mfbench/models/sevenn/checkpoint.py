"""Loading SevenNet's shipped checkpoints as trainable models, recorded in the run.

A checkpoint is loaded through :meth:`mfbench.methods.FitContext.recording_checkpoint`, so the
run's record names its weights file with its sha256 and compliance
(:mod:`mfbench.results.compliance`) can tell a GGA-only start (SevenNet-0, trained on MPtrj)
from one that saw r²SCAN labels (SevenNet-MF-0).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from mfbench.data.checkpoints import identify_checkpoint
from mfbench.errors import MfbenchError
from mfbench.models.sevenn.extra import require_sevenn


class LoadingContext(Protocol):
    """What :func:`load_sevennet` needs of a :class:`mfbench.methods.FitContext`."""

    device: str

    def recording_checkpoint(self, name: str) -> AbstractContextManager[None]:
        """Name the weights files read inside the block ``name`` in the run's record."""
        ...


def recorded_name(model: str) -> str:
    """The name a loaded checkpoint is recorded under: mfbench's, when it knows the model.

    ``"7net-0"`` → ``"sevennet-0"`` (see ``mfbench/data/checkpoints.yaml``); an unknown name or
    a path → ``"sevenn:<model>"``.
    """
    known = identify_checkpoint(name=model, file=model)
    return known.name if known is not None else f"sevenn:{model}"


def load_sevennet(context: LoadingContext, model: str = "7net-0") -> tuple[Any, dict[str, Any]]:
    """A shipped SevenNet model on ``context.device``, ready to train, and its sevenn config.

    The model is built by sevenn's own ``SevenNetCheckpoint.build_model`` (plain e3nn, no
    accelerator), in batch mode (``set_is_batch_data(True)``), in eval mode.

    Args:
        context: the run's :class:`~mfbench.methods.FitContext` (records the weights file).
        model: a ``sevenn`` pretrained name (``"7net-0"``: SevenNet-0, GGA, MPtrj) or the
            path of a sevenn checkpoint.

    Returns:
        ``(model, config)``: a ``sevenn.nn.sequential.AtomGraphSequential`` and the
        checkpoint's config (a dict; ``config["cutoff"]`` is the graph cutoff in Å).

    Raises:
        MissingExtraError: ``sevenn`` is not installed.
        MfbenchError: ``model`` names no checkpoint sevenn knows.
    """
    require_sevenn("loading a SevenNet checkpoint")
    from sevenn.util import load_checkpoint

    with context.recording_checkpoint(recorded_name(model)):
        try:
            checkpoint = load_checkpoint(model)
        except (ValueError, FileNotFoundError) as exc:
            raise MfbenchError(f"sevenn cannot load checkpoint {model!r}: {exc}") from exc
        config = checkpoint.config
        network = checkpoint.build_model()
    network.set_is_batch_data(True)
    network.eval()
    return network.to(context.device), config


def is_multi_fidelity(model: Any) -> bool:
    """Whether a SevenNet model has several heads (a ``modal_map``, e.g. SevenNet-MF-0)."""
    return bool(getattr(model, "modal_map", None))
