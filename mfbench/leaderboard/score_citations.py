"""Cite one ranked score: plain text and BibTeX that name everything needed to check it.

Each row of a task's per-fraction ranked tables (one entry, i.e. method name and params hash, at
one training fraction) gets a :class:`ScoreCitation`: the task and its version, whether its
labels are citable, the method and its params hash, the fraction and training frames, the seeds,
the ranked metric (energy MAE on all test frames, meV/atom: mean over seeds and its 95 %
Student-t interval, or "one seed, no interval"), the leaderboard snapshot id
(:mod:`mfbench.results.snapshot`) and mfbench's version, and the sha256 of each seed's record and
predictions file (so that a changed record can be named, :mod:`mfbench.leaderboard.citation_check`).

Two forms, both written by :func:`citation_file` (what ``mfbench cite`` prints and what the site's
``cite/<task>/fraction-<f>/<entry>.txt`` holds):

- plain text: one sentence to quote (numbers rounded for reading), then a block of
  ``key: value`` lines with the values at full precision (``repr`` of the double), which
  ``mfbench verify`` reads (:mod:`mfbench.leaderboard.citation_parsing`);
- BibTeX: an ``@misc`` entry whose ``note`` is the sentence and whose ``mfbench_*`` fields hold
  the same values (BibTeX ignores fields it does not know).

Record strings (method and task names) are untrusted: in BibTeX they pass through
:func:`mfbench.leaderboard.citations.bibtex_text` (TeX specials become commands, braces stay
balanced); in the plain-text block a name that is not a plain token is written as a JSON string,
so a newline cannot forge a line. The files are plain text, never HTML.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mfbench.html.numbers import is_missing
from mfbench.html.safety import slug
from mfbench.leaderboard.citations import bibtex_text
from mfbench.metrics.catalogue import ENERGY
from mfbench.results.snapshot import fraction_text

#: The first line of the plain-text form.
TEXT_HEADER = "mfbench score citation"
#: Key of the ranked metric in the machine-readable fields.
METRIC = ENERGY.key
#: What the metric is, as the citation says it.
METRIC_TEXT = f"{ENERGY.long} on all test frames, {ENERGY.unit}"
#: Written for the interval when a row has one seed.
ONE_SEED = "one seed, no interval"
#: Written for the interval of several seeds when a seed's value is missing.
NO_INTERVAL = "no interval (a seed's value is missing)"
#: A name written as it is in the plain-text block (anything else is JSON-quoted).
PLAIN_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]*")


@dataclass(frozen=True)
class CitedRecord:
    """One seed's files, as the snapshot hashes them (hex sha256)."""

    seed: int
    record_sha256: str
    predictions_sha256: str


@dataclass(frozen=True)
class ScoreCitation:
    """Everything a citation of one ranked row states.

    Attributes:
        task: the task's name; ``task_version`` its version.
        citable: whether the task's labels may be cited as results of its target fidelity.
        fidelity: the target fidelity as people write it (``r²SCAN``).
        method: the entry's method name; ``params_hash`` its full params hash.
        fraction: the training fraction; ``n_train_frames`` its frames.
        seeds: the seeds averaged, sorted.
        mean: the energy MAE on all test frames, mean over seeds (meV/atom); None if missing.
        ci_low, ci_high: its 95 % Student-t interval (meV/atom); None with one seed.
        rank: the row's rank among the entries of its fraction (None when unranked).
        snapshot: the full snapshot id; ``mfbench_version`` the version hashed in it.
        records: each seed's record and predictions hashes, by seed.
        path: where the site writes the citation (site-relative).
    """

    task: str
    task_version: int
    citable: bool
    fidelity: str
    method: str
    params_hash: str
    fraction: float
    n_train_frames: int
    seeds: tuple[int, ...]
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    rank: int | None
    snapshot: str
    mfbench_version: str
    records: tuple[CitedRecord, ...]
    path: str = ""

    @property
    def interval_text(self) -> str:
        """The interval as the sentence says it, or why there is none."""
        if len(self.seeds) < 2:
            return ONE_SEED
        if self.ci_low is None or self.ci_high is None:
            return NO_INTERVAL
        if self.ci_low == self.ci_high:
            return f"all {len(self.seeds)} seeds gave the same value: 95 % t-interval of zero width"
        return f"95 % t-interval of the mean {_rounded(self.ci_low)} to {_rounded(self.ci_high)}"

    @property
    def labels_text(self) -> str:
        """What the labels are, in words (the model-labelled warning when not citable)."""
        if self.citable:
            return f"{self.fidelity} labels"
        return f"labels from a model, not {self.fidelity}: not {_article(self.fidelity)} result"


def citation_path(task_slug: str, fraction: float, entry_slug: str) -> str:
    """Site-relative path of a row's citation: ``cite/<task>/fraction-<f>/<entry>.txt``."""
    return f"cite/{task_slug}/fraction-{float(fraction):g}/{entry_slug}.txt"


def number_or_none(value: Any) -> float | None:
    """``float(value)``, or None for None and NaN."""
    return None if is_missing(value) else float(value)


def _rounded(value: float | None) -> str:
    """A metric value as the sentence shows it (0.1 meV/atom)."""
    return "not available" if value is None else ENERGY.format(value)


def _article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" or word.startswith("r²") else f"a {word}"


def quoted_name(value: str) -> str:
    r"""A name for plain text: as it is when a plain token, else a one-line JSON string.

    ``@`` is written ``\u0040`` (the same JSON string), so that no name can begin what a
    BibTeX reader takes for an entry when the plain text is pasted into a ``.bib`` file.
    """
    if PLAIN_TOKEN.fullmatch(value):
        return value
    return json.dumps(value, ensure_ascii=True).replace("@", "\\u0040")


def _full(value: float | None) -> str:
    """A number at full precision (``repr``), ``none`` when missing."""
    return "none" if value is None else repr(float(value))


def sentence(citation: ScoreCitation) -> str:
    """The sentence to quote: task, method, fraction, seeds, the number, snapshot, version."""
    c = citation
    seeds = " ".join(map(str, c.seeds))
    rank = f"; rank {c.rank} among the methods at this fraction" if c.rank is not None else ""
    text = (
        f"mfbench task {quoted_name(c.task)} v{c.task_version}, method {quoted_name(c.method)} "
        f"[params {c.params_hash[:8]}], training fraction {c.fraction:g} "
        f"({c.n_train_frames} frames), seed{'s' if len(c.seeds) != 1 else ''} {seeds}: "
        f"{ENERGY.long} {_rounded(c.mean)} {ENERGY.unit} ({c.interval_text}){rank}. "
        f"Leaderboard snapshot {c.snapshot[:12]}, mfbench {c.mfbench_version}."
    )
    if not c.citable:
        text += (
            f" The labels of this task come from a model, not from {c.fidelity}: this is not "
            f"{_article(c.fidelity)} result."
        )
    return " ".join(text.split())


#: The plain-text key and the BibTeX field of every machine-readable value.
FIELD_NAMES = {
    "task": "mfbench_task",
    "task version": "mfbench_task_version",
    "labels": "mfbench_labels",
    "method": "mfbench_method",
    "params hash": "mfbench_params_hash",
    "fraction": "mfbench_fraction",
    "train frames": "mfbench_train_frames",
    "seeds": "mfbench_seeds",
    "metric": "mfbench_metric",
    "mean": "mfbench_mean",
    "95 % interval": "mfbench_interval95",
    "snapshot": "mfbench_snapshot",
    "mfbench version": "mfbench_version",
}
#: Plain-text key prefix (and BibTeX field prefix) of a seed's record hashes.
RECORD_KEY, RECORD_FIELD = "record seed ", "mfbench_record_seed_"


def fields(citation: ScoreCitation) -> list[tuple[str, str, str]]:
    """The machine-readable ``(text key, BibTeX field, value)`` both forms carry, in order."""
    c = citation
    if len(c.seeds) < 2:
        interval = "none, one seed"
    elif c.ci_low is None or c.ci_high is None:
        interval = "none"
    else:
        interval = f"{_full(c.ci_low)} to {_full(c.ci_high)}"
    values = {
        "task": c.task,
        "task version": str(c.task_version),
        "labels": "citable" if c.citable else f"from a model, not {c.fidelity} results",
        "method": c.method,
        "params hash": c.params_hash,
        "fraction": fraction_text(c.fraction),
        "train frames": str(c.n_train_frames),
        "seeds": " ".join(map(str, c.seeds)),
        "metric": f"{METRIC} ({METRIC_TEXT})",
        "mean": _full(c.mean),
        "95 % interval": interval,
    }
    out = [(key, FIELD_NAMES[key], value) for key, value in values.items()]
    out += [
        (
            f"{RECORD_KEY}{r.seed}",
            f"{RECORD_FIELD}{r.seed}",
            f"{r.record_sha256} predictions {r.predictions_sha256}",
        )
        for r in c.records
    ]
    out += [
        ("snapshot", FIELD_NAMES["snapshot"], c.snapshot),
        ("mfbench version", FIELD_NAMES["mfbench version"], c.mfbench_version),
    ]
    return out


def citation_text(citation: ScoreCitation) -> str:
    """The plain-text form: a header, the sentence, the ``key: value`` block."""
    block = "\n".join(
        f"{key}: {quoted_name(value) if key in {'task', 'method'} else value}"
        for key, _, value in fields(citation)
    )
    return (
        f"{TEXT_HEADER}\n\n{sentence(citation)}\n\n{block}\n"
        "check it: mfbench verify THIS_FILE --results RESULTS_FOLDER\n"
    )


def bibtex_key(citation: ScoreCitation) -> str:
    """``mfbench-<task>-<method>-f<fraction>-<params hash prefix>``, safe as a BibTeX key."""
    c = citation
    key = f"mfbench-{slug(c.task)}-{slug(c.method)}-f{c.fraction:g}-{slug(c.params_hash[:8])}"
    return re.sub(r"[^A-Za-z0-9._:-]", "-", key)


def citation_bibtex(citation: ScoreCitation) -> str:
    """The BibTeX form: one ``@misc`` entry."""
    c = citation
    metric = ENERGY.long[:1].upper() + ENERGY.long[1:]
    task, method = quoted_name(c.task), quoted_name(c.method)
    title = (
        f"{metric} of {method} on mfbench task {task} v{c.task_version} at training "
        f"fraction {c.fraction:g}"
    )
    entries = [
        ("title", "{" + bibtex_text(title) + "}"),
        ("author", "{mfbench contributors}"),
        (
            "howpublished",
            bibtex_text(
                f"mfbench leaderboard snapshot {c.snapshot[:12]}, mfbench {c.mfbench_version}"
            ),
        ),
        ("note", bibtex_text(sentence(c))),
        *((name, bibtex_text(value)) for _, name, value in fields(c)),
    ]
    width = max(len(name) for name, _ in entries)
    body = ",\n".join(f"  {name:<{width}} = {{{value}}}" for name, value in entries)
    return f"@misc{{{bibtex_key(c)},\n{body}\n}}\n"


def citation_file(citation: ScoreCitation) -> str:
    """Both forms, as ``mfbench cite`` prints them and the site's ``.txt`` holds them."""
    return f"{citation_text(citation)}\n{citation_bibtex(citation)}"
