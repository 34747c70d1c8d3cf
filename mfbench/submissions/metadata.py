"""Submission metadata: the YAML file a submitter writes, checked against its JSON Schema."""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable, Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

from mfbench.errors import MfbenchError

logger = logging.getLogger(__name__)

#: The ``schema`` value of the metadata files this module reads.
SUBMISSION_SCHEMA = "mfbench.submission/1"
METADATA = "submission.yaml"
#: A complete metadata file (what ``mfbench submit`` users start from).
EXAMPLE_METADATA = """\
schema: mfbench.submission/1
method: finetune-refit-atomref        # the name in every submitted result record
description: CHGNet 0.3.0 fine-tuned on r2SCAN after refitting the elemental reference.
authors:
  - {name: Ada Example, affiliation: Example University, orcid: 0000-0002-1825-0097}
paper: {title: Cross-functional transferability, venue: npj Computational Materials,
        year: 2025, doi: 10.1038/s41524-025-01796-y}
code: {url: "https://github.com/example/method", commit: "0123abcd"}  # quoted: digits are numbers
licence: MIT                          # SPDX identifier of the code
training_data:                        # every set of labels learned from, in any stage
  - {dataset: mp-r2scan, fidelity: r2scan, frames: train-fraction}
  - {dataset: mptrj, fidelity: gga, frames: all, note: replayed during fine-tuning}
starting_checkpoint:                  # null when trained from scratch
  name: chgnet-0.3.0
  sha256: "0000000000000000000000000000000000000000000000000000000000000000"
hardware: 1x NVIDIA A100 40GB, 8 CPU cores
"""
#: How much of a dataset a ``frames`` value covers; a larger rank covers more.
_URL_SCHEMES = ("http", "https")


class SubmissionError(MfbenchError):
    """Submission metadata or records are invalid; the message lists every problem found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@cache
def submission_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of submission metadata."""
    text = resources.files("mfbench.data").joinpath("submission.schema.json").read_text("utf-8")
    return json.loads(text)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects a key written twice in one mapping."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports it
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _unique_mapping,  # type: ignore[arg-type]
)


def load_submission_meta(path: Path | str) -> dict[str, Any]:
    """Read submission metadata and check it against :func:`submission_schema`.

    Args:
        path: the metadata YAML file.

    Returns:
        The metadata as parsed from YAML.

    Raises:
        SubmissionError: the file cannot be read, a key appears twice, or the metadata breaks
            the schema or the URL rule; one problem per line, each naming the file and field
            (e.g. ``meta.yaml: authors[0]: Additional properties are not allowed ('emali'
            was unexpected)``).
    """
    path = Path(path)
    try:
        meta = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SubmissionError([f"{path}: cannot read the submission metadata ({exc})"]) from exc
    problems = metadata_problems(meta)
    if problems:
        raise SubmissionError([f"{path}: {problem}" for problem in problems])
    return meta


def metadata_problems(meta: Any) -> list[str]:
    """Every way ``meta`` breaks the submission schema or the URL rule.

    Returns:
        Lines such as ``code.url: 'javascript:alert(1)' does not match '^https?://…'``, sorted
        by field; empty when ``meta`` is valid.
    """
    validator = jsonschema.Draft202012Validator(submission_schema())
    errors = sorted(validator.iter_errors(meta), key=lambda e: list(map(str, e.absolute_path)))
    problems = [f"{_field(error.absolute_path)}: {error.message}" for error in errors]
    if isinstance(meta, dict):
        problems += [f"{where}: {problem}" for where, problem in _url_problems(meta)]
    return list(dict.fromkeys(problems))


def _field(path: Iterable[Any]) -> str:
    """``authors[0].name`` for the path ``("authors", 0, "name")``; ``(top level)`` for ``()``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def _url_problems(value: Any, where: tuple[Any, ...] = ()) -> Iterable[tuple[str, str]]:
    """``(field, problem)`` for every string under a key named ``url`` that is not http(s)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "url" and isinstance(item, str):
                problem = url_problem(item)
                if problem:
                    yield _field((*where, key)), problem
            else:
                yield from _url_problems(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _url_problems(item, (*where, index))


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable link, or None.

    Only absolute ``http``/``https`` URLs with a host are accepted: ``javascript:``,
    ``data:``, ``file:`` and relative links are rejected, as are whitespace, control
    characters and user credentials in the URL.
    """
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return f"{url!r} contains whitespace or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"{url!r} is not a URL ({exc})"
    if parts.scheme.lower() not in _URL_SCHEMES:
        return f"{url!r} must be an http or https URL, not {parts.scheme or 'relative'!r}"
    if not parts.hostname:
        return f"{url!r} has no host"
    if parts.username is not None or parts.password is not None:
        return f"{url!r} must not hold user credentials"
    return None
