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
    """Folder of the shipped task YAML files, ``mfbench/tasks/shipped/``.

    They are package data, so an installed wheel (``pip install .``) defines the same tasks
    as a checkout and checks the same records.
    """
    return PACKAGE_DIR / "tasks" / "shipped"


def user_task_paths() -> list[Path]:
    """The user's task files and folders, from ``$MFBENCH_TASKS``."""
    return [Path(p).expanduser() for p in os.environ.get(TASKS_ENV, "").split(os.pathsep) if p]
