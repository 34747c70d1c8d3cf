"""Numbers as the pages show them: three significant digits, a dash for a missing value."""

from __future__ import annotations

import math
from typing import Any

#: Shown where a value is missing or NaN.
MISSING = "–"


def is_missing(value: Any) -> bool:
    """True for None and for a float NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(value: Any) -> str:
    """A number for reading: three significant digits, thousands separated.

    ``1077.4`` → ``"1,077"``, ``45.26`` → ``"45.3"``, ``0.2391`` → ``"0.239"``,
    ``0.000123`` → ``"0.000123"``; None or NaN → :data:`MISSING`; integers keep every digit.
    """
    if is_missing(value):
        return MISSING
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,d}"
    number = float(value)
    if not math.isfinite(number):
        return "∞" if number > 0 else "−∞"
    if number == 0:
        return "0"
    rounded = float(f"{number:.3g}")
    magnitude = math.floor(math.log10(abs(rounded)))
    if magnitude >= 2:
        return f"{number:,.0f}"
    if magnitude < -4:
        return f"{rounded:.3g}"
    return f"{rounded:,.{2 - magnitude}f}"
