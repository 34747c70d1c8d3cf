"""What produced a number: software versions, hardware and the code's git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata

from mfbench import __version__
from mfbench.paths import PACKAGE_DIR

#: Recorded in every run; a package that is not installed is recorded as None. sevenn and e3nn
#: are the second architecture's (the ``sevenn`` extra).
_PACKAGES = ("chgnet", "sevenn", "e3nn", "torch", "pymatgen", "numpy", "ase")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PACKAGE_DIR, capture_output=True, text=True, check=True, timeout=5
    ).stdout.strip()


def git_commit() -> str | None:
    """The checkout's HEAD commit (``-dirty`` appended when files changed), or None."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def environment() -> dict[str, object]:
    """Versions of mfbench, Python and the field's libraries, the platform and the CPU/GPU."""
    versions: dict[str, str | None] = {"mfbench": __version__, "python": sys.version.split()[0]}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    hardware: dict[str, object] = {"machine": platform.machine(), "processor": platform.processor()}
    try:
        import torch

        hardware["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            hardware["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return {
        "versions": versions,
        "platform": platform.platform(),
        "hardware": hardware,
        "git_commit": git_commit(),
    }
