"""One writer at a time: exclusive locks between mfbench processes on one machine or cluster.

A run folder and a dataset store are each written by one process at a time. The lock is an
advisory ``flock`` on a small file beside what it guards (Linux and macOS; on NFS, Linux emulates
it with POSIX record locks). It is released when the holder exits, however it exits, so a
killed process never leaves a stale lock; the file itself stays and only names its last holder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mfbench.errors import MfbenchError

logger = logging.getLogger(__name__)


class LockedError(MfbenchError):
    """Another process holds the lock, and the caller chose not to wait."""


@contextmanager
def exclusive_lock(path: Path, *, what: str, wait: bool) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    Args:
        path: the lock file.
        what: what the lock guards, for messages (e.g. ``"run folder runs/…/seed-0"``).
        wait: wait for another holder to finish (with a warning naming it) instead of raising.

    Raises:
        LockedError: another process holds the lock and ``wait`` is False; the message names
            the holder's process id and host.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path)
            if not wait:
                raise LockedError(
                    f"{what} is being written by another mfbench process ({holder}); wait for "
                    "it to finish or stop it, then run again"
                ) from None
            logger.warning("waiting for another mfbench process (%s) writing %s", holder, what)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield


def _holder(path: Path) -> str:
    """What the lock file says of its holder (``pid N on HOST``), or ``unknown``."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"
    return text or "unknown"
