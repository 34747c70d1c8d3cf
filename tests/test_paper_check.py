"""The paper's claims checked on summaries: synthetic ones built here, and the committed records.

Each synthetic summary is one row per (method, fraction) with a mean and a 95 % interval in
meV/atom, as :func:`mfbench.results.summarize` gives them; the expected verdicts follow from the
rule in :mod:`mfbench.results.paper_check` by reading the numbers below.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from mfbench.errors import TaskError
from mfbench.results import comparable, records_frame, summarize
from mfbench.results.paper_check import (
    CLAIMED_FACTOR,
    INCONCLUSIVE,
    NOT_MEASURABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    VERDICTS,
    ClaimCheck,
    PaperCast,
    check_paper_claims,
    small_fractions,
)
from mfbench.tasks.definition import Task, get_task
from tests.doubles import synthetic_task

COLUMN = "energy_mae_mev_per_atom"
#: Training frames of each nonzero fraction of :func:`_task`.
FRAMES = {0.01: 100, 0.1: 1000, 1.0: 10000}
COMMITTED = Path(__file__).parents[1] / "leaderboard" / "results" / "baselines"
#: The synthetic task's methods: names no shipped task uses, so the roles must come from the task.
REFIT, TRAINABLE, FROZEN, SCRATCH = "m-four", "m-two", "m-three", "from-nothing"
ROLES = {
    "scratch": SCRATCH,
    "paper": {"method_2": TRAINABLE, "method_3": FROZEN, "method_4": REFIT},
}


def _task(
    min_frames: int = 1000, citable: bool = True, name: str = "paper", roles: dict | None = ROLES
) -> Task:
    return synthetic_task(
        name,
        scaling_fit_min_frames=min_frames,
        citable=citable,
        **({"roles": roles} if roles is not None else {}),
    )


def _summary(entries: dict[tuple[str, float], tuple[int, float, float, float]]) -> pd.DataFrame:
    """``(method, fraction) -> (n_seeds, mean, ci_low, ci_high)`` as a summary frame."""
    rows = [
        {
            "task": "paper",
            "task_version": 1,
            "method": method,
            "params_hash": "h",
            "fraction": fraction,
            "n_seeds": n,
            "n_train_frames": FRAMES.get(fraction, 0),
            f"{COLUMN}_mean": mean,
            f"{COLUMN}_ci_low": low,
            f"{COLUMN}_ci_high": high,
        }
        for (method, fraction), (n, mean, low, high) in entries.items()
    ]
    return pd.DataFrame(rows)


def _tight(mean: float, n: int = 3) -> tuple[int, float, float, float]:
    """``n`` seeds with an interval of ±2 % around ``mean``."""
    return (n, mean, mean * 0.98, mean * 1.02)


def _claims(entries: dict, **task: object) -> list[ClaimCheck]:
    return check_paper_claims(_summary(entries), _task(**task))  # type: ignore[arg-type]


def _atomref(refit: dict[float, tuple], trainable: dict[float, tuple], frozen: dict[float, tuple]):
    entries = {(REFIT, f): v for f, v in refit.items()}
    entries |= {(TRAINABLE, f): v for f, v in trainable.items()}
    entries |= {(FROZEN, f): v for f, v in frozen.items()}
    return entries


# ----------------------------------------------------------------------------- claim 1


def test_claim_1_is_reproduced_when_method_4_is_lower_with_separate_intervals() -> None:
    entries = _atomref(
        {f: _tight(100.0) for f in FRAMES},
        {f: _tight(300.0) for f in FRAMES},
        {f: _tight(1800.0) for f in FRAMES},
    )
    claim = _claims(entries)[0]
    assert claim.verdict == REPRODUCED
    assert [r["verdict"] for r in claim.rows] == [REPRODUCED] * 6
    assert [(r["fraction"], r["other"]) for r in claim.rows] == [
        (f, m) for f in FRAMES for m in (TRAINABLE, FROZEN)
    ]
    frozen_01 = claim.rows[1]
    assert frozen_01["ratio"] == pytest.approx(18.0)
    assert (
        "fraction 0.01 (100 frames, 3 seeds): Method 4 100 [98, 102] vs Method 3 1,800 "
        "[1,764, 1,836] meV/atom (18× lower): reproduced" in claim.detail
    )


def test_claim_1_is_not_reproduced_when_one_fraction_has_the_opposite_order() -> None:
    refit = {f: _tight(100.0) for f in FRAMES}
    refit[1.0] = _tight(500.0)  # worse than Method 2 at fraction 1, intervals apart
    entries = _atomref(
        refit, {f: _tight(300.0) for f in FRAMES}, {f: _tight(900.0) for f in FRAMES}
    )
    claim = _claims(entries)[0]
    assert claim.verdict == NOT_REPRODUCED
    by_key = {(r["fraction"], r["other"]): r["verdict"] for r in claim.rows}
    assert by_key[1.0, TRAINABLE] == NOT_REPRODUCED
    assert by_key[1.0, FROZEN] == REPRODUCED
    assert "(1.67× higher): not reproduced" in claim.detail


def test_overlapping_intervals_are_inconclusive_even_with_the_claimed_order() -> None:
    entries = _atomref(
        {f: (3, 100.0, 80.0, 120.0) for f in FRAMES},
        {f: (3, 110.0, 90.0, 130.0) for f in FRAMES},  # lower mean ordering holds, overlaps
        {f: _tight(900.0) for f in FRAMES},
    )
    claim = _claims(entries)[0]
    assert claim.verdict == INCONCLUSIVE
    assert {r["verdict"] for r in claim.rows if r["other"] == TRAINABLE} == {INCONCLUSIVE}
    assert "intervals overlap" in claim.detail


def test_one_seed_or_a_missing_method_is_not_measurable_and_says_why() -> None:
    one_seed = _atomref(
        {f: (1, 100.0, math.nan, math.nan) for f in FRAMES},
        {f: (1, 300.0, math.nan, math.nan) for f in FRAMES},
        {f: (1, 900.0, math.nan, math.nan) for f in FRAMES},
    )
    claim = _claims(one_seed)[0]
    assert claim.verdict == NOT_MEASURABLE
    assert "Method 4: one seed, no interval" in claim.detail
    missing = _atomref({f: _tight(100.0) for f in FRAMES}, {}, {f: _tight(900.0) for f in FRAMES})
    claim = _claims(missing)[0]
    # Method 3 is beaten everywhere, Method 2 never ran: part reproduced, part unmeasurable
    assert claim.verdict == INCONCLUSIVE
    assert "Method 2 has no run at fraction 0.1" in claim.detail


def test_a_fraction_missing_for_method_4_is_not_measurable_there() -> None:
    refit = {0.01: _tight(100.0), 0.1: _tight(100.0)}
    entries = _atomref(
        refit, {f: _tight(300.0) for f in FRAMES}, {f: _tight(900.0) for f in FRAMES}
    )
    claim = _claims(entries)[0]
    assert claim.verdict == INCONCLUSIVE
    assert [r["verdict"] for r in claim.rows if r["fraction"] == 1.0] == [NOT_MEASURABLE] * 2


def test_two_entries_of_one_method_are_not_pooled() -> None:
    entries = _atomref(
        {f: _tight(100.0) for f in FRAMES},
        {f: _tight(300.0) for f in FRAMES},
        {f: _tight(900.0) for f in FRAMES},
    )
    frame = _summary(entries)
    frame = pd.concat([frame, frame.iloc[[0]].assign(params_hash="other")], ignore_index=True)
    claim = check_paper_claims(frame, _task())[0]
    assert claim.verdict == INCONCLUSIVE
    assert "Method 4 has 2 entries at fraction 0.01" in claim.detail


def test_rows_of_another_task_are_ignored() -> None:
    frame = _summary(
        _atomref(
            {f: _tight(100.0) for f in FRAMES},
            {f: _tight(300.0) for f in FRAMES},
            {f: _tight(900.0) for f in FRAMES},
        )
    )
    claims = check_paper_claims(frame, _task(name="elsewhere"))
    assert [c.verdict for c in claims] == [NOT_MEASURABLE] * 3


# ----------------------------------------------------------------------------- claim 2


def test_small_n_is_the_smallest_fraction_and_those_below_the_fit_threshold() -> None:
    frame = _summary({(REFIT, f): _tight(100.0) for f in FRAMES})
    assert small_fractions(frame, _task(min_frames=1000)) == [0.01]
    assert small_fractions(frame, _task(min_frames=5000)) == [0.01, 0.1]
    assert small_fractions(frame, _task(min_frames=10)) == [0.01]


@pytest.mark.parametrize(
    ("scratch", "verdict"),
    [
        (_tight(400.0), REPRODUCED),
        ((3, 110.0, 95.0, 125.0), INCONCLUSIVE),
        (_tight(50.0), NOT_REPRODUCED),
        ((1, 400.0, math.nan, math.nan), NOT_MEASURABLE),
    ],
)
def test_claim_2_compares_method_4_with_scratch_at_small_n(
    scratch: tuple[int, float, float, float], verdict: str
) -> None:
    entries = {(REFIT, 0.01): _tight(100.0), (SCRATCH, 0.01): scratch}
    # at fraction 1 scratch wins clearly: not a small-N fraction, so it does not count
    entries |= {(REFIT, 1.0): _tight(100.0), (SCRATCH, 1.0): _tight(10.0)}
    claim = _claims(entries)[1]
    assert claim.verdict == verdict
    assert [r["fraction"] for r in claim.rows] == [0.01]
    assert claim.rows[0]["other"] == SCRATCH


# ----------------------------------------------------------------------------- claim 3


def _efficiency(refit_mae: float, spread: float = 0.02, n: int = 3) -> ClaimCheck:
    """Scratch at 100/1,000/10,000 frames with 100/50/25 meV/atom; Method 4 at 100 frames."""
    scratch = {0.01: 100.0, 0.1: 50.0, 1.0: 25.0}
    entries = {(SCRATCH, f): (n, m, m * (1 - spread), m * (1 + spread)) for f, m in scratch.items()}
    entries[REFIT, 0.01] = (n, refit_mae, refit_mae * (1 - spread), refit_mae * (1 + spread))
    entries[REFIT, 0.1] = _tight(refit_mae / 2, n)
    return _claims(entries)[2]


def test_claim_3_reproduced_when_scratch_needs_more_than_ten_times_the_frames() -> None:
    claim = _efficiency(30.0)
    # scratch reaches 30 meV/atom between 1,000 (50) and 10,000 (25) frames, log-log
    expected = 10 ** (3 + math.log10(30 / 50) / math.log10(25 / 50)) / 100
    (row,) = claim.rows
    assert row["factor"] == pytest.approx(expected, rel=1e-9)
    assert row["factor_kind"] == "exact"
    assert row["factor_pessimistic"] < row["factor"] < row["factor_optimistic"]
    assert row["factor_pessimistic"] >= CLAIMED_FACTOR
    assert claim.verdict == REPRODUCED
    assert f"Factor from the means: {expected:.0f}×" in claim.detail


def test_claim_3_not_reproduced_when_scratch_catches_up_within_ten_times() -> None:
    claim = _efficiency(60.0)
    expected = 10 ** (2 + math.log10(60 / 100) / math.log10(50 / 100)) / 100
    assert claim.rows[0]["factor"] == pytest.approx(expected, rel=1e-9)
    assert claim.rows[0]["factor_optimistic"] < CLAIMED_FACTOR
    assert claim.verdict == NOT_REPRODUCED


def test_claim_3_inconclusive_when_the_intervals_straddle_the_factor() -> None:
    # the mean factor is near 10 (45 meV/atom at 100 frames ~ scratch at ~1,360 frames)
    claim = _efficiency(45.0, spread=0.3)
    row = claim.rows[0]
    assert row["factor_pessimistic"] < CLAIMED_FACTOR < row["factor_optimistic"]
    assert claim.verdict == INCONCLUSIVE


def test_claim_3_a_bound_decides_when_scratch_never_reaches_method_4() -> None:
    claim = _efficiency(10.0)
    row = claim.rows[0]
    assert (row["factor"], row["factor_kind"]) == (100.0, "more-than")
    assert claim.verdict == REPRODUCED
    assert "> 100×" in claim.detail


def test_claim_3_one_seed_is_not_measurable_but_shows_the_factor_of_the_means() -> None:
    claim = _efficiency(30.0, n=1)
    assert claim.verdict == NOT_MEASURABLE
    assert "one seed, no interval" in claim.detail
    assert claim.rows[0]["factor"] == pytest.approx(54.6, rel=1e-2)


def test_claim_3_without_scratch_runs_is_not_measurable() -> None:
    claim = _claims({(REFIT, 0.01): _tight(30.0)})[2]
    assert claim.verdict == NOT_MEASURABLE
    assert claim.detail.startswith("scratch has no run with training frames")


def test_a_task_that_is_not_citable_says_so() -> None:
    claims = _claims({(REFIT, 0.01): _tight(30.0)}, citable=False)
    assert all("not citable" in c.detail for c in claims)


# ----------------------------------------------------------------------------- committed


def test_the_committed_one_seed_records_are_not_measurable() -> None:
    records = [
        json.loads(p.read_text())
        for p in sorted((COMMITTED / "surrogate-r2scan-quick").rglob("result.json"))
    ]
    kept, _ = comparable(records_frame(records))
    summary = summarize(kept, metrics=[COLUMN])
    task = get_task("surrogate-r2scan-quick")
    claims = check_paper_claims(summary, task)
    assert [c.verdict for c in claims] == [NOT_MEASURABLE] * 3
    assert all(c.verdict in VERDICTS for c in claims)
    assert all("one seed, no interval" in c.detail for c in claims)
    # the numbers shown are the records' own
    method_4 = PaperCast.of(task).method_4
    assert method_4 == "finetune-refit-atomref"
    refit = next(r for r in records if r["method"]["name"] == method_4 and r["fraction"] == 0.05)
    mae = refit["metrics"]["all"][COLUMN]
    assert claims[0].rows[0]["mean"] == pytest.approx(mae, rel=1e-12)
    assert f"Method 4 {mae:,.0f} vs Method 2" in claims[0].detail
    assert claims[1].rows[0]["fraction"] == 0.05
    assert claims[2].rows[0]["n_train_frames"] == refit["n_train_frames"]


def test_a_summary_without_rows_makes_every_claim_not_measurable() -> None:
    """A task nobody ran (an empty summary without columns) still gets its verdicts."""
    checks = check_paper_claims(pd.DataFrame(), _task())
    assert [c.verdict for c in checks] == ["not measurable"] * 3


def test_a_task_without_paper_roles_has_no_paper_check() -> None:
    with pytest.raises(TaskError, match=r"task paper names no methods of the paper"):
        check_paper_claims(pd.DataFrame(), _task(roles=None))
    with pytest.raises(TaskError, match=r"roles\.paper"):
        small_fractions(pd.DataFrame(), _task(roles={"gain_baselines": [SCRATCH]}))


def test_the_paper_names_come_from_the_roles() -> None:
    cast = PaperCast.of(_task())
    assert [cast.paper_name(m) for m in (REFIT, TRAINABLE, FROZEN, SCRATCH, "other")] == [
        "Method 4",
        "Method 2",
        "Method 3",
        "scratch",
        "other",
    ]
    # the shipped baselines' names mean nothing to a task that does not name them
    claim = _claims({("finetune-refit-atomref", 0.01): _tight(30.0)})[0]
    assert claim.verdict == NOT_MEASURABLE and "Method 4 has no run" in claim.detail
