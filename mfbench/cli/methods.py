"""``mfbench methods``: list the registered methods, run the conformance kit on one."""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from mfbench.cli.options import json_option
from mfbench.cli.output import print_json


def _default_text(default: Any) -> str:
    return "(required)" if default is inspect.Parameter.empty else repr(default)


def cmd_list(args: argparse.Namespace) -> int:
    """Print every method published through the ``mfbench.methods`` entry points.

    One block per method: name, class (``module:Class``), the first line of its docstring and
    its hyperparameters with defaults (``--json``: the same as a list of objects). Exit 0.
    """
    from mfbench.methods import describe_methods

    described = describe_methods()
    if args.json:
        print_json(
            [
                {
                    "name": d.name,
                    "class": d.target,
                    "description": d.description,
                    "parameters": {n: _default_text(v) for n, v in d.defaults().items()},
                    "accepts_more_parameters": d.open_ended,
                }
                for d in described
            ]
        )
        return 0
    for d in described:
        parameters = ", ".join(f"{n}={_default_text(v)}" for n, v in d.defaults().items())
        if d.open_ended:
            parameters += ", … (more by keyword)"
        print(f"{d.name}  ({d.target})")
        print(f"    {d.description or '(no description)'}")
        print(f"    parameters: {parameters or '(none)'}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run the conformance kit (:mod:`mfbench.testing`) on a method and print each check.

    The kit trains on the first ``--n-train`` frames of the task's training fraction and
    predicts a few test structures. Exit 0 when every check passed, 1 otherwise.
    """
    from mfbench.methods import get_method
    from mfbench.testing import KitData, check_method

    factory = get_method(args.method)  # unknown names fail here, before any data is read
    data = KitData.from_task(
        args.task, fraction=args.fraction, n_train=args.n_train, device=args.device
    )
    results = check_method(factory, data)
    if args.json:
        print_json(
            {
                "method": args.method,
                "task": args.task,
                "fraction": args.fraction,
                "checks": [
                    {"name": r.name, "passed": r.passed, "message": r.message} for r in results
                ],
            }
        )
    else:
        for result in results:
            mark = "PASS" if result.passed else "FAIL"
            line = f"{mark}  {result.name}: {result.description}"
            print(line if result.passed else f"{line}\n      {result.message}")
        failed = sum(not r.passed for r in results)
        print(f"\n{len(results) - failed} of {len(results)} checks passed ({args.method})")
    return 0 if all(r.passed for r in results) else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``methods list`` and ``methods check``."""
    group = commands.add_parser("methods", help="the registered methods and the conformance kit")
    sub = group.add_subparsers(dest="methods_command", required=True)

    p = sub.add_parser(
        "list",
        parents=[json_option()],
        help="name, class, description and parameters of every method",
    )
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "check",
        parents=[json_option()],
        help="run the conformance kit on a registered method or a module:Class spec",
    )
    p.add_argument("method", help="a registered name or module:Class")
    p.add_argument("--task", default="sevennet-r2scan-quick", help="task whose frames the kit uses")
    p.add_argument("--fraction", type=float, default=0.05, help="training fraction to draw from")
    p.add_argument(
        "--n-train", type=int, default=8, help="training frames (the fraction's first ones)"
    )
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    p.set_defaults(func=cmd_check)
