"""The Jinja2 environment of every page mfbench writes, and the templates it reads.

The templates are package data of :mod:`mfbench.html` (``mfbench/html/templates/``), loaded
through the import system, never through the checkout's path, so an installed wheel builds the
same site as a checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)

from mfbench.html.numbers import format_number

#: The package and folder holding the templates.
TEMPLATE_PACKAGE, TEMPLATE_FOLDER = "mfbench.html", "templates"
#: Every template (and inlined script) the site and the diagnostics pages use.
TEMPLATES = (
    "_macros.html.j2",
    "base.html.j2",
    "diagnostics.html.j2",
    "index.html.j2",
    "method.html.j2",
    "sortable.js",
    "task.html.j2",
)


def environment(templates: Path | None = None) -> Environment:
    """The Jinja2 environment: autoescape always on, undefined names are errors.

    Args:
        templates: a folder of templates to use instead of the shipped ones (for tests and
            experiments); None reads the package's templates.
    """
    loader: BaseLoader = (
        PackageLoader(TEMPLATE_PACKAGE, TEMPLATE_FOLDER)
        if templates is None
        else FileSystemLoader(str(templates))
    )
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(
            enabled_extensions=("html", "j2"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["number"] = format_number
    return env


def template_text(name: str, templates: Path | None = None) -> str:
    """The text of one file of the templates (e.g. the inlined ``sortable.js``).

    Args:
        name: the file's name in the templates folder.
        templates: as for :func:`environment`.
    """
    if templates is not None:
        return (Path(templates) / name).read_text(encoding="utf-8")
    folder = resources.files(TEMPLATE_PACKAGE).joinpath(TEMPLATE_FOLDER)
    return folder.joinpath(name).read_text(encoding="utf-8")
