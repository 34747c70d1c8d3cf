"""Which weights files a method read: recorded by mfbench, not declared by the method.

While a method fits and predicts, the runner watches the files the process opens for reading
(through a Python audit hook, :pep:`578`) and keeps those that look like model weights or arrays
(:data:`WEIGHT_SUFFIXES`), except what mfbench itself owns (the run folder, ``$MFBENCH_HOME``).
Each is recorded in the result with its sha256, so compliance can recognise a checkpoint trained
on the target fidelity (:mod:`mfbench.results.compliance`) however the method reached it.

What the hook cannot see: files opened by native code outside Python's ``open`` (a C++ or Rust
reader, e.g. ``safetensors``), and weights that arrive by other means (built into the method's
source, fetched over a network). Methods that obtain weights such ways must declare them with
:meth:`mfbench.methods.FitContext.declare_checkpoint`.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mfbench.data.checksum import sha256_file

#: File endings of model weights and saved arrays (``.pth.tar`` ends in ``.tar``).
WEIGHT_SUFFIXES = (
    ".pt", ".pth", ".tar", ".ckpt", ".safetensors", ".bin", ".onnx", ".h5", ".hdf5", ".keras",
    ".pkl", ".pickle", ".joblib", ".model", ".npy", ".npz",
)  # fmt: skip
#: How an entry was found, as the record says it.
HOW_PRETRAINED = "FitContext.pretrained_model"
HOW_DECLARED = "FitContext.declare_checkpoint"
HOW_OPENED = "opened while fitting or predicting"

_active: CheckpointLog | None = None
_hook_installed = False


class CheckpointLog:
    """Weights files read by a method, each recorded once with its sha256.

    Args:
        exclude: folders whose files are not recorded (the run folder, mfbench's home).
    """

    def __init__(self, exclude: Sequence[Path] = ()) -> None:
        self._exclude = tuple(os.path.realpath(p) + os.sep for p in exclude)
        self._seen: list[str] = []  # paths as opened, in order, filled by the audit hook
        self._named: dict[str, tuple[str | None, str]] = {}  # real path → (name, how)

    def add(self, path: Path | str, *, name: str | None, how: str) -> None:
        """Record ``path`` under ``name`` (``how`` says how the method obtained it)."""
        real = os.path.realpath(path)
        if real not in self._named or self._named[real][0] is None:
            self._named[real] = (name, how)

    @contextmanager
    def naming(self, name: str, how: str) -> Iterator[None]:
        """Record the weights files opened inside the ``with`` block under ``name``."""
        with self.watching():
            start = len(self._seen)
            yield
            opened = self._seen[start:]
        for path in opened:
            self.add(path, name=name, how=how)

    @contextmanager
    def watching(self) -> Iterator[CheckpointLog]:
        """Record the weights files opened for reading inside the ``with`` block."""
        global _active
        _install_hook()
        previous, _active = _active, self
        try:
            yield self
        finally:
            _active = previous

    def entries(self) -> list[dict[str, Any]]:
        """One record entry per file, in the order first seen.

        Returns:
            ``[{"name": str | None, "file": str, "sha256": hex, "bytes": int, "how": str}]``;
            ``file`` is shown relative to the Python library folder it lies in
            (``chgnet/pretrained/r2scan/….pth.tar``), else by its name alone (no user's
            folders in published records). Files that no longer exist are left out.
        """
        for opened in self._seen:
            real = os.path.realpath(opened)
            if not real.startswith(self._exclude) and os.path.isfile(real):
                self._named.setdefault(real, (None, HOW_OPENED))
        self._seen.clear()
        entries = []
        for real, (name, how) in self._named.items():
            if not os.path.isfile(real):
                continue
            entries.append(
                {
                    "name": name,
                    "file": _shown(real),
                    "sha256": sha256_file(Path(real)),
                    "bytes": os.path.getsize(real),
                    "how": how,
                }
            )
        return entries

    def _opened(self, path: str) -> None:
        if path.lower().endswith(WEIGHT_SUFFIXES):
            self._seen.append(path)


def _shown(real: str) -> str:
    """``real`` relative to the library folder holding it (site-packages), else its name."""
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")} | {
        p for p in sys.path if p and os.path.isdir(p)
    }
    for root in sorted((os.path.realpath(r) for r in roots), key=len, reverse=True):
        if real.startswith(root + os.sep):
            return Path(os.path.relpath(real, root)).as_posix()
    return Path(real).name


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook: note files opened for reading while a log is active."""
    log = _active
    if log is None or event != "open":
        return
    try:
        path, mode, flags = args
        if isinstance(path, int):
            return
        if mode is None:  # os.open
            if flags & (os.O_WRONLY | os.O_RDWR) == os.O_WRONLY:
                return
        elif not ("r" in mode or "+" in mode):
            return
        log._opened(os.fsdecode(path))
    except Exception:  # an audit hook must never break the code it watches
        return


def _install_hook() -> None:
    """Add the audit hook once per process (hooks cannot be removed; it idles when no log)."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
