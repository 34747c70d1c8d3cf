"""Checks shared by the readers: numeric arrays, numbers, and streamed-JSON failures."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import IO, Any

import ijson
import numpy as np

from mfbench.errors import DataError


def numeric_array(value: Any, shape: tuple[int, ...], *, field: str, **where: Any) -> np.ndarray:
    """``value`` as a float64 array of ``shape``; a :class:`DataError` naming ``field`` if not."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"not a numeric array ({exc})", field=field, **where) from exc
    if out.shape != shape:
        raise DataError(f"shape {out.shape}, expected {shape}", field=field, **where)
    return out


def number(value: Any, *, field: str, **where: Any) -> float:
    """``value`` as a float; a :class:`DataError` naming ``field`` if it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{value!r} is not a number", field=field, **where)
    return float(value)


#: What a streamed (possibly gzipped) JSON parse raises on truncated or corrupt input.
JSON_STREAM_ERRORS = (ijson.JSONError, EOFError, OSError, gzip.BadGzipFile, zlib.error)


def invalid_json(path: str, position: str, exc: BaseException, **where: Any) -> DataError:
    """The error for a file that stopped parsing; ``position`` says where (may be empty).

    ``where`` (``material``, ``frame``) is passed on to :class:`DataError`.
    """
    return DataError(
        f"invalid JSON{position}: the file is truncated or corrupt, or holds NaN/Infinity "
        f"tokens, which JSON does not allow ({type(exc).__name__}: {exc})",
        file=path,
        **where,
    )


def open_maybe_gzip(path: Path) -> IO[bytes]:
    """Open ``path`` for binary reading, transparently decompressing gzip (by magic bytes)."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")
