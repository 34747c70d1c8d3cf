"""Checks shared by the readers: numeric arrays of a known shape, and numbers."""

from __future__ import annotations

from typing import Any

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
