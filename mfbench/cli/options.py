"""Options and option values several command groups share."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mfbench.errors import MfbenchError

#: Help of the --data-workers options.
DATA_WORKERS_HELP = (
    "processes converting structures to CHGNet graphs for the graph cache (default "
    "$MFBENCH_DATA_WORKERS, else the CPU count up to 8); results do not depend on it"
)


def json_option() -> argparse.ArgumentParser:
    """A parent parser adding ``--json`` (print JSON instead of text)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print JSON")
    return parent


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``--param KEY=VALUE`` options as a dict; a value is JSON where it parses, else a string.

    Raises:
        MfbenchError: an option without ``=``.
    """
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise MfbenchError(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params
