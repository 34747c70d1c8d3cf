"""The ``mfbench`` command line: one module per command group, each with ``register``.

A command module adds its parsers to the ``mfbench`` subcommands in ``register(commands)`` and
sets each leaf parser's ``func`` (its handler: ``args`` in, exit code out). Heavy libraries
(torch, chgnet) are imported only inside the handlers that need them, so ``mfbench --help``,
``tasks list`` and ``data list`` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mfbench.data.registry import REGISTRY_ENV
from mfbench.errors import MfbenchError
from mfbench.paths import TASKS_ENV

#: The command modules (``mfbench.cli.<name>``), in the order ``mfbench --help`` lists them.
#: ``methods`` is registered when its module exists.
COMMAND_MODULES = (
    "data",
    "tasks",
    "methods",
    "evaluate",
    "run",
    "sweep",
    "results",
    "leaderboard",
    "cite",
    "diagnostics",
    "ci",
    "submissions",
    "demo",
)

#: Command modules that may be absent from an installation.
_OPTIONAL_MODULES = frozenset({"methods"})


class _VersionAction(argparse.Action):
    """``--version``: mfbench's version and the snapshot of the committed results it ships."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from mfbench.results.shipped_snapshot import version_line

        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mfbench`` command."""
    parser = argparse.ArgumentParser(
        prog="mfbench",
        description="Benchmark for cross-functional (GGA → r²SCAN) transfer learning of uMLIPs.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="the version and the committed results' snapshot"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module_name = f"{__name__}.{name}"
        if name in _OPTIONAL_MODULES and importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(commands)
    for leaf in _leaf_parsers(parser):
        leaf.add_argument(
            "--registry", action="append", type=Path, default=[], metavar="FILE",
            help=f"extra dataset registry YAML (repeatable; also ${REGISTRY_ENV})",
        )  # fmt: skip
        leaf.add_argument(
            "--tasks", action="append", type=Path, default=[], metavar="PATH",
            help=f"a task YAML file or folder of them, besides the shipped tasks (repeatable; "
            f"also ${TASKS_ENV})",
        )  # fmt: skip
    return parser


def _leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parsers of every command that runs (those without subcommands of their own)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [parser]
    return [
        leaf for group in groups for sub in group.choices.values() for leaf in _leaf_parsers(sub)
    ]


def _export_context(args: argparse.Namespace) -> None:
    """Put ``--registry`` and ``--tasks`` into ``$MFBENCH_REGISTRY`` and ``$MFBENCH_TASKS``.

    Every layer reads those, and so does every process a sweep starts.
    """
    for name, option, given in (
        (REGISTRY_ENV, "--registry", args.registry),
        (TASKS_ENV, "--tasks", args.tasks),
    ):
        paths = [str(Path(p).expanduser().resolve()) for p in given]
        for path in paths:
            if not Path(path).exists():
                raise MfbenchError(f"{path} does not exist (given with {option})")
        existing = [p for p in os.environ.get(name, "").split(os.pathsep) if p]
        if paths:
            os.environ[name] = os.pathsep.join(dict.fromkeys([*paths, *existing]))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mfbench`` console script.

    Returns:
        The exit code: the command's own (0 on success), 2 for an error a user can fix
        (printed as ``mfbench: error: …``), 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    saved = {name: os.environ.get(name) for name in (REGISTRY_ENV, TASKS_ENV)}
    try:
        _export_context(args)
        return int(args.func(args) or 0)
    except (MfbenchError, OSError, ValueError) as exc:
        print(f"mfbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # files are written atomically and stores prepared in a temporary folder: nothing
        # half-written is left where mfbench would read it
        print("mfbench: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    finally:  # a caller that runs main() twice in one process gets its environment back
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
