"""Where mfbench keeps prepared datasets, and where it finds task files and shipped data."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
#: Files shipped inside the package (the embedded surrogate dataset).
EMBEDDED_DIR = PACKAGE_DIR / "data" / "embedded"


def home() -> Path:
    """Root of mfbench's local data: ``$MFBENCH_HOME``, else ``~/.cache/mfbench``."""
    return Path(os.environ.get("MFBENCH_HOME", Path.home() / ".cache" / "mfbench")).expanduser()


def datasets_dir() -> Path:
    """Folder holding one prepared frame store per dataset version."""
    return home() / "datasets"


def locks_dir() -> Path:
    """Folder of the lock files of dataset stores (see :mod:`mfbench.locks`)."""
    return home() / "locks"


#: Environment variable listing the user's task files or folders (``os.pathsep``-separated);
#: ``--tasks PATH`` on the command line adds to it.
TASKS_ENV = "MFBENCH_TASKS"


def tasks_dir() -> Path:
    """Folder of the shipped task YAML files: the checkout's ``tasks/``.

    mfbench is installed from a checkout (``pip install -e .``); task files live at the
    repository's top level next to the package, as the design asks.
    """
    return PACKAGE_DIR.parent / "tasks"


def user_task_paths() -> list[Path]:
    """The user's task files and folders, from ``$MFBENCH_TASKS``."""
    return [Path(p).expanduser() for p in os.environ.get(TASKS_ENV, "").split(os.pathsep) if p]
