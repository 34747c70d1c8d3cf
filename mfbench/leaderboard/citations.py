"""BibTeX for the suite and for the leaderboard's entries.

Only trusted text enters a BibTeX entry: the constants below and names reduced to slugs
(:func:`mfbench.leaderboard.safety.slug`), so a record cannot open an entry of its own with
``@`` or break out of a field with ``}``.
"""

from __future__ import annotations

from importlib import metadata

from mfbench import __version__
from mfbench.leaderboard.safety import slug

#: Huang et al. 2025: the paper whose methods the baselines implement and whose data the
#: ``mp-r2scan`` task uses.
PAPER_KEY = "huang2025crossfunctional"
PAPER_BIBTEX = """@article{huang2025crossfunctional,
  title         = {Cross-functional transferability in foundation machine learning interatomic
                   potentials},
  author        = {Huang, Xu and Deng, Bowen and Zhong, Peichen and Kaplan, Aaron D. and
                   Persson, Kristin A. and Ceder, Gerbrand},
  journal       = {npj Computational Materials},
  year          = {2025},
  doi           = {10.1038/s41524-025-01796-y},
  eprint        = {2504.05565},
  archivePrefix = {arXiv},
  primaryClass  = {cond-mat.mtrl-sci}
}
"""
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


def method_bibtex(name: str, baseline: bool) -> tuple[str, str]:
    """What to cite for a method, and how it is known.

    Args:
        name: the method's name (only its slug enters the file).
        baseline: whether it is one of mfbench's baselines (see :func:`is_baseline`).

    Returns:
        ``(bibtex, note)``: for a baseline, the paper its method comes from and the suite; for
        any other method, the suite only, since the record names no publication.
    """
    if baseline:
        note = (
            "A baseline of mfbench, implementing a transfer strategy of Huang et al. (2025): "
            "cite the paper and the suite."
        )
        return suite_bibtex(), note
    note = (
        "No publication is known for this method; cite its authors' work and the suite "
        "it was measured with."
    )
    return f"% no citation known for method {slug(name)}\n\n{SUITE_BIBTEX}", note
