"""Which weights files a method read: recorded by mfbench, not declared by the method.

While the runner imports and builds a method, and while the method fits and predicts, the runner
watches the files the process opens (through a Python audit hook, :pep:`578`). Every file opened
for reading that has a weights or array suffix (:data:`WEIGHT_SUFFIXES`), or any other suffix and
at least :data:`HASHED_BYTES` bytes, is hashed at that moment, so the record holds what was read
even if the file is later changed or deleted. The result lists each weights-suffixed file, and any
file whose sha256 is a known checkpoint's whatever its name (a copy renamed ``blob.dat`` is
found), so compliance can recognise a checkpoint trained on the target fidelity
(:mod:`mfbench.results.compliance`) however the method reached it. Left out:

- mfbench's own data (the dataset stores and graph cache, ``ignore``);
- the method's own files: those under its run folder (``own``: checkpoints it resumes from, its
  saved model) and those this process wrote during the watch before reading them, unless their
  sha256 is that of a known checkpoint (:mod:`mfbench.data.checkpoints`), so a copy of a known
  checkpoint is recorded wherever it lies.

What the hook cannot see: files opened by native code outside Python's ``open`` (a C++ or Rust
reader, e.g. ``safetensors``), files read in other processes (DataLoader workers, process pools),
files the process read before the run began (a method module imported earlier in the same Python
session; ``mfbench run`` and ``mfbench sweep`` import it inside the run), and weights that arrive
by other means (built into the source, fetched over a network, a modified copy of a known
checkpoint, whose sha256 is new). Methods that
obtain weights such ways must declare them with
:meth:`mfbench.methods.FitContext.declare_checkpoint`; reviewers of a submission read its code.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mfbench.data.checkpoints import identify_checkpoint
from mfbench.data.checksum import sha256_file

#: File endings of model weights and saved arrays (``.pth.tar`` ends in ``.tar``).
WEIGHT_SUFFIXES = (
    ".pt", ".pth", ".tar", ".ckpt", ".safetensors", ".bin", ".onnx", ".h5", ".hdf5", ".keras",
    ".pkl", ".pickle", ".joblib", ".model", ".npy", ".npz",
)  # fmt: skip
#: Files read with another suffix are hashed from this size on (bytes), to find renamed copies of
#: known checkpoints; smaller ones cannot be a checkpoint of any model mfbench knows.
HASHED_BYTES = 64 * 1024
#: The fields of one entry of a record's ``checkpoints`` and their types (validation checks them).
ENTRY_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": (str, type(None)), "file": str, "sha256": str, "bytes": int, "how": str,
}  # fmt: skip
#: How an entry was found, as the record says it. ``HOW_PRETRAINED`` marks files read inside
#: :meth:`~mfbench.methods.FitContext.recording_checkpoint`; its text is the name that method had
#: when the committed records were written, kept so that records stay comparable.
HOW_PRETRAINED = "FitContext.pretrained_model"
HOW_DECLARED = "FitContext.declare_checkpoint"
HOW_OPENED = "opened while fitting or predicting"

_active: CheckpointLog | None = None
_hook_installed = False
_in_hook = threading.local()  # set while the hook hashes a file (whose open it also sees)


class CheckpointLog:
    """Weights files read by a method, each recorded once per content with its sha256.

    Args:
        ignore: folders whose files are never recorded (mfbench's dataset stores, graph cache).
        own: folders of the method's own files (its run folder): recorded only when their
            sha256 is a known checkpoint's.
    """

    def __init__(self, ignore: Sequence[Path] = (), own: Sequence[Path] = ()) -> None:
        self._ignore = tuple(os.path.realpath(p) + os.sep for p in ignore)
        self._own = tuple(os.path.realpath(p) + os.sep for p in own)
        self._written: set[str] = set()  # real paths this process opened for writing so far
        # (real path, sha256) → entry, in the order first read, declared or loaded
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}
        self._names: dict[str, tuple[str, str]] = {}  # real path → (name, how)
        self._hashed: list[str] = []  # real paths in the order hashed (for naming)

    def add(self, path: Path | str, *, name: str | None, how: str) -> None:
        """Record ``path`` (hashed now) under ``name``; ``how`` says how the method got it."""
        real = os.path.realpath(path)
        if name is not None:
            self._names[real] = (name, how)
        self._hash(real, how, force=True)

    @contextmanager
    def naming(self, name: str, how: str) -> Iterator[None]:
        """Name the weights files read inside the ``with`` block ``name``."""
        with self.watching():
            start = len(self._hashed)
            yield
        for real in self._hashed[start:]:
            self._names[real] = (name, how)

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
        """One record entry per file and content, in the order first read.

        Returns:
            ``[{"name": str | None, "file": str, "sha256": hex, "bytes": int, "how": str}]``;
            ``file`` is shown relative to the Python library folder it lies in
            (``chgnet/pretrained/r2scan/….pth.tar``), else by its name alone (no user's
            folders in published records).
        """
        out = []
        roots = _library_roots()
        for (real, sha), entry in self._entries.items():
            known = identify_checkpoint(sha256=sha) is not None
            if not known and not entry["forced"] and (entry["own"] or not _weights_like(real)):
                continue
            name, how = self._names.get(real, (None, entry["how"]))
            out.append(
                {"name": name, "file": _shown(real, roots), "sha256": sha, "bytes": entry["bytes"],
                 "how": how}
            )  # fmt: skip
        return out

    def own_folder(self, folder: Path) -> None:
        """Count the files under ``folder`` read from now on as the method's own."""
        self._own = (*self._own, os.path.realpath(folder) + os.sep)

    def _opened(self, path: str, reading: bool, writing: bool) -> None:
        """Called by the hook for every file opened by path."""
        real = os.path.realpath(path)
        if real.startswith(self._ignore):
            return
        if writing:
            self._written.add(real)
        if reading and (_weights_like(real) or _size(real) >= HASHED_BYTES):
            self._hash(real, HOW_OPENED, force=False)

    def _hash(self, real: str, how: str, *, force: bool) -> None:
        if not os.path.isfile(real):
            return
        _in_hook.active = True
        try:
            sha = sha256_file(Path(real))
        finally:
            _in_hook.active = False
        self._hashed.append(real)
        own = real in self._written or real.startswith(self._own)  # as it is when read
        entry = self._entries.setdefault(
            (real, sha), {"bytes": os.path.getsize(real), "how": how, "forced": force, "own": own}
        )
        entry["forced"] = entry["forced"] or force


def _weights_like(path: str) -> bool:
    return path.lower().endswith(WEIGHT_SUFFIXES)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _library_roots() -> list[str]:
    """Folders Python imports from (site-packages first of all), longest first, resolved."""
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")} | {
        p for p in sys.path if p and os.path.isdir(p)
    }
    return sorted((os.path.realpath(r) for r in roots), key=len, reverse=True)


def _shown(real: str, roots: Sequence[str]) -> str:
    """``real`` relative to the library folder ``roots`` holding it, else its name alone."""
    for root in roots:
        if real.startswith(root + os.sep):
            return Path(os.path.relpath(real, root)).as_posix()
    return Path(real).name


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook: note the files opened while a log is active."""
    log = _active
    if log is None or event != "open" or getattr(_in_hook, "active", False):
        return
    try:
        path, mode, flags = args
        if isinstance(path, int):
            return
        path = os.path.abspath(os.fsdecode(path))  # before any later chdir
        if mode is None:  # os.open
            access = flags & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
            reading, writing = access != os.O_WRONLY, access != os.O_RDONLY
        else:
            reading = "r" in mode or "+" in mode
            writing = any(c in mode for c in "wax+")
        log._opened(path, reading, writing)
    except Exception:  # an audit hook must never break the code it watches
        return


def _install_hook() -> None:
    """Add the audit hook once per process (hooks cannot be removed; it idles when no log)."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
