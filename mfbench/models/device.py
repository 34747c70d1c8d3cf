"""Which torch device a run uses: ``auto``, ``cpu``, ``cuda[:i]`` or ``mps``, checked up front."""

from __future__ import annotations

from mfbench.errors import MfbenchError


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is visible, else ``"cpu"``; others are checked.

    Raises:
        MfbenchError: CUDA asked for where torch sees none, or an unknown device name.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MfbenchError(
            f"device {device!r} requested, but torch sees no CUDA device on this machine "
            f"(torch {torch.__version__}); use --device cpu or auto"
        )
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise MfbenchError(f"unknown device {device!r}: use auto, cpu or cuda[:i]")
    return device
