"""SHA-256 of source files and folders (streamed in chunks) and of sets of frame ids."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_source(path: Path) -> str:
    """Hex SHA-256 of a source: a file's bytes, or for a folder, of its manifest.

    The manifest of a folder is one line ``<sha256>  <relative posix path>`` per file,
    sorted by path, so the checksum changes when any file is added, removed or edited.
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    lines = [
        f"{sha256_file(file)}  {file.relative_to(path).as_posix()}\n"
        for file in sorted(p for p in path.rglob("*") if p.is_file())
    ]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def fingerprint(frame_ids: np.ndarray) -> str:
    """Hex sha256 over the sorted frame ids, one per line."""
    return hashlib.sha256(
        "".join(f"{i}\n" for i in sorted(frame_ids.tolist())).encode()
    ).hexdigest()
