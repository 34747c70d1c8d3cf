"""Head-to-head comparisons named by a task's roles: direction-free outcomes per fraction."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from mfbench.leaderboard.task_paper_check import head_to_head_table
from mfbench.metrics.catalogue import ENERGY, FORCE
from mfbench.results.head_to_head import OVERLAP, compare_methods
from mfbench.tasks.definition import Task, get_task
from tests.doubles import synthetic_task

#: Training frames of each nonzero fraction of :func:`_task`.
FRAMES = {0.01: 100, 0.1: 1000, 1.0: 10000}
JOINT, REFIT = "joint-heads", "refit-then-tune"
QUESTION = "Does joint training beat the refit?"


def _task(comparisons: list[dict]) -> Task:
    return synthetic_task("pair", roles={"comparisons": comparisons})


Entries = dict[tuple[str, float], tuple[int, float, float, float]]


def _summary(energies: Entries, forces: Entries | None = None) -> pd.DataFrame:
    """``(method, fraction) -> (n_seeds, mean, ci_low, ci_high)`` of the energy MAE (and of
    the force MAE, when given; the frame has no force columns otherwise) as a summary frame."""
    rows = []
    for (method, fraction), (n, mean, low, high) in energies.items():
        row = {"task": "pair", "task_version": 1, "method": method, "params_hash": "h",
               "fraction": fraction, "n_seeds": n, "n_train_frames": FRAMES[fraction],
               f"{ENERGY.key}_mean": mean, f"{ENERGY.key}_ci_low": low,
               f"{ENERGY.key}_ci_high": high}  # fmt: skip
        if forces is not None:
            _, mean, low, high = forces[(method, fraction)]
            row |= {f"{FORCE.key}_mean": mean, f"{FORCE.key}_ci_low": low,
                    f"{FORCE.key}_ci_high": high}  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


PAIR = [{"method": JOINT, "other": REFIT, "question": QUESTION}]


def test_each_fraction_names_the_lower_method_only_when_the_intervals_are_apart() -> None:
    entries = {
        (JOINT, 0.01): (3, 100.0, 90.0, 110.0),  # apart, joint lower
        (REFIT, 0.01): (3, 300.0, 280.0, 320.0),
        (JOINT, 0.1): (3, 100.0, 90.0, 110.0),  # overlap
        (REFIT, 0.1): (3, 105.0, 100.0, 112.0),
        (JOINT, 1.0): (3, 500.0, 480.0, 520.0),  # apart, refit lower
        (REFIT, 1.0): (3, 50.0, 45.0, 55.0),
    }
    (pair,) = compare_methods(_summary(entries), _task(PAIR), metrics=(ENERGY,))
    assert (pair.question, pair.method, pair.other) == (QUESTION, JOINT, REFIT)
    assert pair.outcomes == [f"{JOINT} lower", OVERLAP, f"{REFIT} lower"]
    first = pair.rows[0]
    assert (first["fraction"], first["n_train_frames"], first["ratio"]) == (0.01, 100, 3.0)
    assert "verdict" not in first
    assert first["text"] == (
        f"fraction 0.01 (100 frames, 3 seeds): {JOINT} 100 [90, 110] vs {REFIT} 300 [280, 320] "
        f"meV/atom (3× lower): {JOINT} lower (intervals do not overlap)"
    )


def test_a_missing_run_or_a_single_seed_is_not_measurable() -> None:
    entries = {
        (JOINT, 0.01): (1, 100.0, float("nan"), float("nan")),
        (REFIT, 0.01): (3, 300.0, 280.0, 320.0),
        (JOINT, 0.1): (3, 100.0, 90.0, 110.0),
    }
    (pair,) = compare_methods(_summary(entries), _task(PAIR), metrics=(ENERGY,))
    assert pair.outcomes == ["not measurable"] * 3
    assert pair.rows[0]["reason"] == f"{JOINT}: one seed, no interval"
    assert pair.rows[1]["reason"] == f"{REFIT} has no run at fraction 0.1"


def test_energy_and_forces_are_read_separately() -> None:
    # the joint method is lower in energy at every fraction and higher in forces
    energies = {(m, f): (3, 100.0 if m == JOINT else 300.0, 0, 0) for m in (JOINT, REFIT)
                for f in FRAMES}  # fmt: skip
    energies = {k: (n, mean, mean - 10, mean + 10) for k, (n, mean, _, _) in energies.items()}
    forces = {(m, f): (3, 110.0, 108.0, 112.0) if m == JOINT else (3, 100.0, 99.0, 101.0)
              for m, f in energies}  # fmt: skip
    energy, force = compare_methods(_summary(energies, forces), _task(PAIR))
    assert (energy.metric, force.metric) == (ENERGY, FORCE)
    assert energy.outcomes == [f"{JOINT} lower"] * 3
    assert force.outcomes == [f"{REFIT} lower"] * 3
    assert force.rows[0]["mean"] == 110.0 and force.rows[0]["other_mean"] == 100.0
    assert force.rows[0]["text"] == (
        f"fraction 0.01 (100 frames, 3 seeds): {JOINT} 110 [108, 112] vs {REFIT} 100 [99, 101] "
        f"meV/Å (1.1× higher): {REFIT} lower (intervals do not overlap, in the opposite order)"
    )


def test_a_summary_without_force_columns_leaves_forces_not_measurable() -> None:
    energies = {(m, 0.1): (3, 100.0, 90.0, 110.0) for m in (JOINT, REFIT)}
    _, force = compare_methods(_summary(energies), _task(PAIR))
    assert force.outcomes == ["not measurable"] * 3
    assert force.rows[1]["reason"] == f"{JOINT}: no finite interval; {REFIT}: no finite interval"


def test_the_site_table_has_one_row_per_comparison_metric_and_fraction() -> None:
    task = _task([*PAIR, {"method": REFIT, "other": JOINT, "question": "the other way"}])
    entries = {(m, f): (3, 100.0 if m == JOINT else 300.0, 0, 0) for m in (JOINT, REFIT)
               for f in FRAMES}  # fmt: skip
    entries = {k: (n, mean, mean * 0.9, mean * 1.1) for k, (n, mean, _, _) in entries.items()}
    forces = {k: (n, 50.0, 45.0, 55.0) for k, (n, *_) in entries.items()}
    table = head_to_head_table(_summary(entries, forces), task, "tasks/pair")
    assert table is not None and table.download == "tasks/pair.head-to-head"
    assert [r["outcome"] for r in table.records] == (
        [f"{JOINT} lower"] * 3 + [OVERLAP] * 3 + [f"{JOINT} lower"] * 3 + [OVERLAP] * 3
    )
    assert [r["question"] for r in table.records] == [QUESTION] * 6 + ["the other way"] * 6
    assert [r["metric"] for r in table.records] == ([ENERGY.key] * 3 + [FORCE.key] * 3) * 2
    assert [r["unit"] for r in table.records[2:4]] == ["meV/atom", "meV/Å"]
    assert table.rows[0][1].text == "energy MAE (meV/atom)"
    assert table.rows[0][5].text == "100 (90.0–110)"
    assert head_to_head_table(_summary(entries), _task([]), "tasks/pair") is None


@pytest.mark.parametrize(
    ("comparisons", "message"),
    [
        ([{"method": JOINT, "other": JOINT, "question": "q"}], "needs two methods"),
        ([*PAIR, *PAIR], "repeat a pair"),
        ([{"method": JOINT, "other": REFIT}], "question"),
    ],
)
def test_malformed_comparisons_are_refused(comparisons: list[dict], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _task(comparisons)


def test_the_ranked_task_compares_the_new_baselines() -> None:
    pairs = {(c.method, c.other) for c in get_task("sevennet-r2scan").roles.comparisons}
    assert ("multi-fidelity", "finetune-refit-atomref") in pairs
    assert ("multi-fidelity", "finetune-residual-atomref") in pairs  # same start
    assert ("sevennet-finetune", "finetune-residual-atomref") in pairs
