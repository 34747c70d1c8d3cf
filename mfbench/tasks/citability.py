"""Whether a task's numbers may be cited, as the text every page and download shows.

It lives with the tasks because it is read off a task definition alone (``Task.citable`` and
``Task.target_fidelity``) and is needed by both the leaderboard and the diagnostics pages, which
must not import each other's rendering; it holds no HTML.
"""

from __future__ import annotations

from mfbench.tasks.definition import Task

#: The banner and CSV notice of a task whose labels are not citable (``Task.citable`` False).
NOT_CITABLE_NOTICE = "Labels from models, not r²SCAN: do not cite as r²SCAN results"


def fidelity_name(fidelity: str) -> str:
    """A fidelity as people write it: ``"r2scan"`` → ``"r²SCAN"``; others unchanged."""
    return {"r2scan": "r²SCAN", "gga": "GGA", "pbe": "PBE"}.get(fidelity.lower(), fidelity)


def citability_notice(task: str, definition: Task | None) -> str | None:
    """The notice of a task whose numbers must not be cited; None when they may be.

    Args:
        task: the task's name.
        definition: its definition, or None when it could not be loaded (then whether the
            labels are citable is unknown, and the notice says so).

    Returns:
        E.g. ``"Labels from models, not r²SCAN: do not cite as r²SCAN results (task
        surrogate-r2scan)."``, or None for a citable task.
    """
    if definition is None:
        return (
            f"Task {task}: its definition was not found, so whether its labels are citable "
            "is unknown: do not cite."
        )
    if definition.citable:
        return None
    fidelity = fidelity_name(definition.target_fidelity)
    text = NOT_CITABLE_NOTICE.replace("r²SCAN", fidelity)
    return f"{text} (task {task})."
