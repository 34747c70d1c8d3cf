"""Read back the score citations :mod:`mfbench.leaderboard.score_citations` writes.

A file may hold the plain-text form, the BibTeX form, both (as ``mfbench cite`` prints them and
the site's ``cite/…/*.txt`` holds them) or several citations. Each form is read from its
machine-readable part only: the plain text's ``key: value`` block and the BibTeX entry's
``mfbench_*`` fields; the quotable sentence is for people and is not parsed.

Reading is forgiving where editors and reference managers change a file: line ends (CRLF),
quoting prefixes (``>``, ``%``, ``#``), spacing and line wrapping inside BibTeX fields, the case
of BibTeX field names, ``"…"`` instead of ``{…}`` around a field. It is strict about content: a
citation lacking a required value, or with a value of the wrong form, is a
:class:`CitationParseError` naming the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mfbench.errors import MfbenchError
from mfbench.leaderboard.citations import bibtex_text, bibtex_unescape
from mfbench.leaderboard.score_citations import (
    FIELD_NAMES,
    METRIC,
    RECORD_FIELD,
    RECORD_KEY,
    TEXT_HEADER,
)

#: The values every citation must state (plain-text keys).
REQUIRED = tuple(FIELD_NAMES)
_HEX = re.compile(r"[0-9a-f]{64}")
_QUOTE_PREFIX = re.compile(r"^\s*(?:[>%#]\s?)*")
_TEXT_LINE = re.compile(r"^([a-z0-9 %]+?)\s*:\s?(.*)$")
_BIBTEX_START = re.compile(r"@\s*([A-Za-z]+)\s*[{(]\s*([^,\s]*)\s*,")
_FIELD_NAME = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_:.-]*)\s*=\s*")


class CitationParseError(MfbenchError):
    """A file holds no citation, or one that lacks a value or states it in the wrong form."""


@dataclass(frozen=True)
class CitedScore:
    """What one citation claims, typed.

    Attributes:
        form: ``"plain text"`` or ``"BibTeX"``.
        task, task_version, citable: the task, its version and whether its labels are citable.
        method: the method's name (for the BibTeX form, as :func:`bibtex_text` leaves it).
        params_hash: the entry's params hash (hex).
        fraction, n_train_frames, seeds: the training fraction, its frames, the seeds.
        mean: energy MAE on all test frames, meV/atom (None: stated as missing).
        interval: its 95 % interval ``(low, high)`` in meV/atom, or None (one seed, or none).
        records: ``{seed: (record sha256, predictions sha256)}``.
        snapshot: the snapshot id (full, or a prefix of at least 12 hex characters).
        mfbench_version: the mfbench version hashed into the snapshot.
    """

    form: str
    task: str
    task_version: int
    citable: bool
    method: str
    params_hash: str
    fraction: float
    n_train_frames: int
    seeds: tuple[int, ...]
    mean: float | None
    interval: tuple[float, float] | None
    records: tuple[tuple[int, str, str], ...]
    snapshot: str
    mfbench_version: str

    def same_claims(self, other: CitedScore) -> bool:
        """Whether two citations (e.g. the two forms of one file) claim the same thing."""
        return _claims(self) == _claims(other)

    def names_method(self, name: str) -> bool:
        """Whether ``name`` (a method name from a record) is the one cited.

        The BibTeX form keeps names as :func:`bibtex_text` left them (whitespace collapsed,
        control characters dropped), so names are compared in that form.
        """
        if self.form == "BibTeX":
            return bibtex_text(name) == bibtex_text(self.method)
        return name == self.method


def _claims(score: CitedScore) -> tuple:
    return tuple(getattr(score, f) for f in CitedScore.__dataclass_fields__ if f != "form")


def parse_citations(text: str) -> list[CitedScore]:
    """Every citation in ``text``: plain-text blocks first, then BibTeX entries.

    Raises:
        CitationParseError: no citation is found, or one is incomplete or malformed.
    """
    found = [_typed("plain text", values) for values in _text_blocks(text)]
    found += [_typed("BibTeX", values) for values in _bibtex_entries(text)]
    if not found:
        raise CitationParseError(
            "no mfbench score citation found: give the file `mfbench cite` wrote (or the "
            "site's cite/…/*.txt), with its key: value lines or its BibTeX entry"
        )
    return found


def _text_blocks(text: str) -> list[dict[str, str]]:
    """The ``key: value`` blocks of plain-text citations, one per header (or one without)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = _QUOTE_PREFIX.sub("", raw).strip()
        if line.startswith("@"):  # a BibTeX entry begins: plain text ends
            current = None
            continue
        if line.lower() == TEXT_HEADER:
            current = {}
            blocks.append(current)
            continue
        match = _TEXT_LINE.match(line)
        if not match:
            continue
        key, value = match.group(1).strip().lower(), match.group(2).strip()
        if key not in FIELD_NAMES and not key.startswith(RECORD_KEY):
            continue
        if current is None:
            current = {}
            blocks.append(current)
        if key in current:
            raise CitationParseError(f"plain-text citation: {key!r} is given twice")
        current[key] = _text_value(key, value)
    return [block for block in blocks if block]


def _text_value(key: str, value: str) -> str:
    """A plain-text value; names written as JSON strings are decoded."""
    if key in {"task", "method"} and value.startswith('"'):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError as exc:
            raise CitationParseError(f"plain-text citation: {key}: {value!r} ({exc})") from exc
        if not isinstance(decoded, str):
            raise CitationParseError(f"plain-text citation: {key}: {value!r} is not a name")
        return decoded
    return value


def _bibtex_entries(text: str) -> list[dict[str, str]]:
    """The ``mfbench_*`` fields of every BibTeX entry that has them, as plain-text keys."""
    by_field = {field: key for key, field in FIELD_NAMES.items()}
    entries = []
    position = 0
    while match := _BIBTEX_START.search(text, position):
        fields, position = _bibtex_fields(text, match.end())
        values: dict[str, str] = {}
        for name, value in fields.items():
            value = " ".join(bibtex_unescape(value).split())
            if name in by_field:
                values[by_field[name]] = value
            elif name.startswith(RECORD_FIELD):
                values[RECORD_KEY + name.removeprefix(RECORD_FIELD)] = value
        if any(key in values for key in ("snapshot", "mean", "params hash")):
            entries.append(values)
    return entries


def _bibtex_fields(text: str, start: int) -> tuple[dict[str, str], int]:
    """The fields of the entry whose fields begin at ``start``, and where the entry ends.

    Returns:
        ``({field name (lower case): raw value}, the index after the entry)``; an ``@`` inside
        a field is text, so the next entry is looked for only after this one.
    """
    fields: dict[str, str] = {}
    position = start
    while True:
        match = _FIELD_NAME.match(text, position)
        if not match:
            return fields, position
        name = match.group(1).lower()
        value, position = _bibtex_value(text, match.end())
        if name in fields:
            raise CitationParseError(f"BibTeX citation: field {name} is given twice")
        fields[name] = value


def _bibtex_value(text: str, start: int) -> tuple[str, int]:
    """A field value (``{…}`` with nested braces, ``"…"`` or a bare word) and where it ends."""
    if start >= len(text):
        raise CitationParseError("BibTeX citation: the entry ends inside a field")
    opener = text[start]
    if opener not in '{"':
        word = re.match(r"[^,}\s]*", text[start:])
        assert word is not None
        return word.group(), start + word.end()
    depth, position = 0, start
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if opener == "{" and depth == 0:
                return text[start + 1 : position], position + 1
        elif char == '"' and opener == '"' and depth == 0 and position > start:
            return text[start + 1 : position], position + 1
        position += 1
    raise CitationParseError("BibTeX citation: a field's braces or quotes are not closed")


def _typed(form: str, values: dict[str, str]) -> CitedScore:
    """The claims of one citation, checked for completeness and form."""
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise CitationParseError(f"{form} citation lacks {', '.join(missing)}")
    where = f"{form} citation"
    metric = values["metric"].split()[0] if values["metric"].split() else ""
    if metric != METRIC:
        raise CitationParseError(f"{where}: metric {metric!r}; mfbench cites {METRIC} only")
    labels = values["labels"].lower()
    if labels != "citable" and not labels.startswith("from a model"):
        raise CitationParseError(
            f"{where}: labels {values['labels']!r} is neither 'citable' nor 'from a model, …'"
        )
    seeds = tuple(_integer(where, "seeds", s) for s in values["seeds"].split())
    records = []
    for key, value in values.items():
        if key.startswith(RECORD_KEY):
            seed = _integer(where, key, key.removeprefix(RECORD_KEY))
            parts = value.lower().split()
            if (
                len(parts) != 3
                or parts[1] != "predictions"
                or not all(_HEX.fullmatch(p) for p in parts[::2])
            ):
                raise CitationParseError(
                    f"{where}: {key}: expected '<sha256> predictions <sha256>', got {value!r}"
                )
            records.append((seed, parts[0], parts[2]))
    snapshot = values["snapshot"].lower()
    if not re.fullmatch(r"[0-9a-f]{12,64}", snapshot):
        raise CitationParseError(f"{where}: snapshot {values['snapshot']!r} is not a hex id")
    return CitedScore(
        form=form,
        task=values["task"],
        task_version=_integer(where, "task version", values["task version"]),
        citable=labels == "citable",
        method=values["method"],
        params_hash=values["params hash"].lower(),
        fraction=_real(where, "fraction", values["fraction"]),
        n_train_frames=_integer(where, "train frames", values["train frames"]),
        seeds=seeds,
        mean=None if values["mean"].lower() == "none" else _real(where, "mean", values["mean"]),
        interval=_interval(where, values["95 % interval"]),
        records=tuple(sorted(records)),
        snapshot=snapshot,
        mfbench_version=values["mfbench version"],
    )


def _interval(where: str, value: str) -> tuple[float, float] | None:
    if value.lower().startswith("none"):
        return None
    parts = value.split(" to ")
    if len(parts) != 2:
        raise CitationParseError(f"{where}: 95 % interval {value!r} is not 'LOW to HIGH'")
    return _real(where, "95 % interval", parts[0]), _real(where, "95 % interval", parts[1])


def _integer(where: str, key: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise CitationParseError(f"{where}: {key}: {value!r} is not an integer") from None


def _real(where: str, key: str, value: str) -> float:
    try:
        return float(value.strip())
    except ValueError:
        raise CitationParseError(f"{where}: {key}: {value!r} is not a number") from None
