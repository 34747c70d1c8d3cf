"""BibTeX for the suite and for the leaderboard's entries.

Result records are untrusted and only enter an entry as slugs
(:func:`mfbench.html.safety.slug`). A submission's metadata (title, authors, DOI, code)
does enter its method's entry, through :func:`bibtex_text` and :func:`bibtex_verbatim`: braces
and backslashes never reach the file unescaped, so a title cannot close its field with ``}``,
open an entry of its own with ``@`` or run a TeX command.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from mfbench import __version__
from mfbench.html.safety import slug
from mfbench.methods.references import HUANG_2025_BIBTEX

#: Huang et al. 2025: the paper whose methods the baselines implement and whose data the
#: ``mp-r2scan`` task uses.
PAPER_KEY = "huang2025crossfunctional"
PAPER_BIBTEX = HUANG_2025_BIBTEX
#: The benchmark itself.
SUITE_KEY = "mfbench"
SUITE_BIBTEX = f"""@misc{{mfbench,
  title        = {{mfbench: a benchmark for cross-functional ({{GGA}} to r{{$^2$}}{{SCAN}})
                  transfer learning of universal machine learning interatomic potentials}},
  author       = {{{{mfbench contributors}}}},
  howpublished = {{Software, version {__version__}}},
  note         = {{Tasks, splits and baselines after Huang et al. (2025), arXiv:2504.05565}}
}}
"""
#: Entry-point group of the registered methods (baselines live here).
METHODS_GROUP = "mfbench.methods"


def suite_bibtex() -> str:
    """The BibTeX file of the suite: the paper and mfbench."""
    return f"{PAPER_BIBTEX}\n{SUITE_BIBTEX}"


def registered_baselines() -> dict[str, str]:
    """Registered method names whose class lives in the ``baselines`` package, with the class.

    Read from the entry points without importing them (no torch).
    """
    found = {}
    for entry in metadata.entry_points(group=METHODS_GROUP):
        if entry.value.split(":", 1)[0].split(".", 1)[0] == "baselines":
            found[entry.name] = entry.value
    return dict(sorted(found.items()))


def is_baseline(name: str, class_path: str, baselines: dict[str, str]) -> bool:
    """True when a record's method is a registered baseline (its name and class both match)."""
    return baselines.get(name) == class_path


def baseline_references(name: str) -> tuple[str, ...]:
    """The BibTeX entries a registered baseline's class names (``Method.references``)."""
    from mfbench.methods import get_method

    return tuple(get_method(name).references)


def method_bibtex(name: str, references: Sequence[str] | None) -> tuple[str, str]:
    """What to cite for a method, and how it is known.

    Args:
        name: the method's name (only its slug enters the file).
        references: for one of mfbench's baselines (see :func:`is_baseline`), the BibTeX
            entries of the publications it follows (:func:`baseline_references`); None for
            any other method.

    Returns:
        ``(bibtex, note)``: for a baseline, the works it follows and the suite; for any other
        method, the suite only, since the record names no publication.
    """
    if references is not None:
        if not references:
            return (
                SUITE_BIBTEX,
                "A baseline of mfbench that follows no publication of its own: cite the suite.",
            )
        keys = ", ".join(_bibtex_key(entry) for entry in references)
        note = f"A baseline of mfbench: cite the work it follows ({keys}) and the suite."
        return "\n".join([*references, SUITE_BIBTEX]), note
    note = (
        "No publication is known for this method; cite its authors' work and the suite "
        "it was measured with."
    )
    return f"% no citation known for method {slug(name)}\n\n{SUITE_BIBTEX}", note


def _bibtex_key(entry: str) -> str:
    """``huang2025crossfunctional`` from ``@article{huang2025crossfunctional, ...``."""
    return entry.split("{", 1)[1].split(",", 1)[0].strip()


def submitted_method_bibtex(entry: str) -> tuple[str, str]:
    """What to cite for a submitted method: its entry (:func:`submission_bibtex`) and the suite."""
    note = (
        "From the submission's metadata: cite the method's work and the suite it was measured with."
    )
    return f"{entry}\n{SUITE_BIBTEX}", note


#: TeX's special characters and what each becomes inside a braced BibTeX field. Braces become
#: commands without braces of their own, so every field stays brace-balanced (BibTeX counts
#: ``\\{`` as a brace too).
_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_TEX_SPECIAL = re.compile("[" + re.escape("".join(_TEX_ESCAPES)) + "]")
#: What a verbatim field (DOI, URL) may hold: no braces, backslashes, quotes or whitespace.
_VERBATIM = re.compile(r"[!#$%&()*+,\-./0-9:;=?@A-Z\[\]_a-z~]+")
#: The word that separates names in a BibTeX author list.
_AND = re.compile(r"\band\b", re.IGNORECASE)


def bibtex_text(value: Any) -> str:
    r"""``value`` as the text of a braced BibTeX field: one line, TeX specials escaped.

    Control characters (Unicode ``Cc``: NUL, newlines) become spaces and format characters
    (``Cf``: bidirectional overrides, zero-width marks) are dropped; runs of whitespace become
    one space; the characters ``\ { } % & # $ _ ~ ^`` become TeX commands. ``@`` needs no
    escape inside a field. Other Unicode is kept (biber and bibtex8 read UTF-8).
    """
    text = "".join(
        " " if unicodedata.category(ch) == "Cc" else ch
        for ch in unicodedata.normalize("NFC", str(value))
        if unicodedata.category(ch) != "Cf"
    )
    text = " ".join(text.split())
    return _TEX_SPECIAL.sub(lambda m: _TEX_ESCAPES[m.group()], text)


#: Each escape :func:`bibtex_text` writes, and the character it stands for.
_TEX_UNESCAPES = {escaped: char for char, escaped in _TEX_ESCAPES.items()}
_TEX_ESCAPED = re.compile("|".join(re.escape(e) for e in sorted(_TEX_UNESCAPES, key=len)[::-1]))


def bibtex_unescape(text: str) -> str:
    r"""The text :func:`bibtex_text` escaped: each of its escapes back to its character.

    ``bibtex_unescape(bibtex_text(s)) == s`` for a one-line NFC string without control or
    format characters and without runs of whitespace (what :func:`bibtex_text` keeps as it is).
    """
    return _TEX_ESCAPED.sub(lambda m: _TEX_UNESCAPES[m.group()], text)


def bibtex_verbatim(value: Any) -> str | None:
    """``value`` for a verbatim field (``doi``, ``url``) when it is plain ASCII, else None.

    Such fields are not typeset through TeX, so escaping would corrupt them; a value with
    braces, backslashes, quotes, whitespace or non-ASCII characters is left out instead.
    """
    text = str(value)
    return text if _VERBATIM.fullmatch(text) else None


def bibtex_author(name: Any) -> str:
    """One author's name for an ``author`` field: ``and`` inside a name is braced."""
    return _AND.sub("{and}", bibtex_text(name))


def submission_bibtex(meta: Mapping[str, Any]) -> str:
    """The BibTeX entry of a submitted method, from its (validated) metadata.

    With a ``paper`` it is the paper: ``@article`` when the venue is known, else ``@misc``;
    without one it cites the code at the submitted commit. The key is ``<method slug><year>``.

    Args:
        meta: the metadata as :func:`mfbench.submissions.load_submission_meta` returns it.

    Returns:
        One entry, ending with a newline.
    """
    method = str(meta.get("method", ""))
    paper = meta.get("paper") if isinstance(meta.get("paper"), Mapping) else {}
    code = meta.get("code") if isinstance(meta.get("code"), Mapping) else {}
    year = paper.get("year")
    key = slug(method) + (str(int(year)) if isinstance(year, int) else "")
    authors = " and ".join(
        bibtex_author(a["name"]) for a in meta.get("authors") or [] if isinstance(a, Mapping)
    )
    fields: list[tuple[str, str | None]]
    if paper:
        kind = "article" if paper.get("venue") else "misc"
        title = paper.get("title") or method
        fields = [
            ("title", "{" + bibtex_text(title) + "}"),
            ("author", authors),
            ("journal" if paper.get("venue") else "", bibtex_text(paper.get("venue", ""))),
            ("year", str(year) if isinstance(year, int) else ""),
            ("doi", bibtex_verbatim(paper["doi"]) if paper.get("doi") else None),
            ("url", bibtex_verbatim(paper["url"]) if paper.get("url") else None),
        ]
    else:
        kind = "misc"
        commit = str(code.get("commit", ""))
        fields = [
            ("title", "{" + bibtex_text(f"{method}: source code") + "}"),
            ("author", authors),
            ("howpublished", bibtex_text(f"Software, commit {commit}")),
            ("url", bibtex_verbatim(code["url"]) if code.get("url") else None),
        ]
    fields.append(("note", bibtex_text(f"mfbench submission of method {method}")))
    shown = [(name, value) for name, value in fields if name and value]
    width = max(len(name) for name, _ in shown)
    body = ",\n".join(f"  {name:<{width}} = {{{value}}}" for name, value in shown)
    return f"@{kind}{{{key},\n{body}\n}}\n"
