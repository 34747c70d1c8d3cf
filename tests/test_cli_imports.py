"""The CLI's light commands never import torch or chgnet (DESIGN: heavy imports stay out)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from mfbench.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("HEAVY", sorted(m for m in ("torch", "chgnet") if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--help"], ["tasks", "list"], ["data", "list"]])
def test_light_commands_stay_light(argv: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY []" in out, out
