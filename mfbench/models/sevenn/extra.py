"""The optional ``sevenn`` extra: one import point with a one-line error when it is missing."""

from __future__ import annotations

from types import ModuleType

from mfbench.errors import MfbenchError

#: The command that installs the extra, named in the error.
INSTALL_COMMAND = 'pip install "mfbench[sevenn]"'


class MissingExtraError(MfbenchError):
    """An optional dependency of mfbench is not installed; the message names the install command."""


def require_sevenn(purpose: str) -> ModuleType:
    """The ``sevenn`` package, imported.

    Every use of ``sevenn`` in this adapter goes through here first, so a missing package
    gives one clear line instead of an ``ImportError`` deep inside a fit.

    Args:
        purpose: what needs it, for the message (e.g. ``"sevennet-finetune"``).

    Raises:
        MissingExtraError: ``sevenn`` cannot be imported.
    """
    try:
        import sevenn
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the optional sevenn package: {INSTALL_COMMAND}"
        ) from exc
    return sevenn
