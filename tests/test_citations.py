"""What the site cites for a method: a baseline's own references, else the suite alone."""

from __future__ import annotations

import pytest

from mfbench.leaderboard.citations import (
    SUITE_BIBTEX,
    baseline_references,
    method_bibtex,
    registered_baselines,
)
from mfbench.methods import get_method


def test_every_baseline_names_the_works_it_follows() -> None:
    keys = {
        name: {entry.split("{", 1)[1].split(",", 1)[0] for entry in baseline_references(name)}
        for name in registered_baselines()
    }
    assert keys["gga-floor"] == {"deng2023chgnet"}
    assert keys["finetune-refit-atomref"] == {"huang2025crossfunctional", "deng2023chgnet"}
    assert keys["sevennet-pretrained"] == {"kim2025multifidelity", "park2024sevennet"}
    assert "huang2025crossfunctional" not in keys["sevennet-pretrained"]


@pytest.mark.parametrize("name", sorted(registered_baselines()))
def test_a_baseline_citation_holds_its_references_then_the_suite(name: str) -> None:
    bibtex, note = method_bibtex(name, baseline_references(name))
    references = get_method(name).references
    assert bibtex.endswith(SUITE_BIBTEX)
    assert all(entry in bibtex for entry in references)
    assert bibtex.count("@") == len(references) + 1
    assert note.startswith("A baseline of mfbench")


def test_another_method_is_cited_through_the_suite_only() -> None:
    bibtex, note = method_bibtex("somebody's method", None)
    assert bibtex.count("@") == 1 and "@misc{mfbench" in bibtex
    assert "No publication is known" in note
