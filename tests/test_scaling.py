"""Tests of mfbench.results.scaling against closed-form power laws worked out in each test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mfbench.results.scaling import (
    Bound,
    data_efficiency_factor,
    fit_power_law,
    fit_power_law_seeds,
    frames_to_reach,
    learning_curve_area,
    mae_at_frames,
    no_fit_reason,
    transfer_gain,
    transfer_gain_table,
)
from mfbench.results.scaling_table import TABLE_COLUMNS, scaling_table

#: 13 points, 4 per decade, from 1e2 to 1e5 training frames.
N = np.logspace(2, 5, 13)


def power_law(n: np.ndarray, prefactor: float = 300.0, slope: float = -0.4) -> np.ndarray:
    return prefactor * np.asarray(n, dtype=float) ** slope


# --- fit_power_law -------------------------------------------------------------------------------


def test_exact_power_law_is_recovered() -> None:
    fit = fit_power_law(N, power_law(N), min_frames=0)
    assert fit is not None
    assert fit.slope == pytest.approx(-0.4, abs=1e-12)
    assert fit.prefactor == pytest.approx(300.0, rel=1e-12)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert fit.n_points == 13
    assert fit.n_range == (100.0, 100000.0)
    assert fit.predict(1000.0) == pytest.approx(300.0 * 1000.0**-0.4, rel=1e-12)
    np.testing.assert_allclose(fit.predict(N), power_law(N), rtol=1e-12)


def test_noise_lowers_r2() -> None:
    rng = np.random.default_rng(0)
    noisy = power_law(N) * np.exp(rng.normal(0.0, 0.1, N.size))
    fit = fit_power_law(N, noisy, min_frames=0)
    assert fit is not None
    assert 0.9 < fit.r2 < 1.0
    assert fit.slope == pytest.approx(-0.4, abs=0.05)


def test_points_below_min_frames_are_ignored() -> None:
    n = np.concatenate([[50.0], N])
    mae = np.concatenate([[1e4], power_law(N)])
    fit = fit_power_law(n, mae, min_frames=100)
    assert fit is not None
    assert fit.slope == pytest.approx(-0.4, abs=1e-12)
    assert fit.prefactor == pytest.approx(300.0, rel=1e-12)
    assert fit.n_points == 13
    with_outlier = fit_power_law(n, mae, min_frames=0)
    assert with_outlier is not None and with_outlier.slope < -0.5


def test_zero_frames_and_bad_mae_are_left_out() -> None:
    n = np.concatenate([[0.0, 1000.0, 2000.0], N])
    mae = np.concatenate([[1e3, math.nan, 0.0], power_law(N)])
    fit = fit_power_law(n, mae, min_frames=0)
    assert fit is not None
    assert fit.slope == pytest.approx(-0.4, abs=1e-12)
    assert fit.n_points == 13


def test_fewer_than_three_distinct_frames_give_no_fit() -> None:
    assert fit_power_law(N, power_law(N), min_frames=1e5) is None  # one point qualifies
    assert fit_power_law(N, power_law(N), min_frames=2e5) is None  # none qualify
    assert fit_power_law([1e3, 1e3], [10.0, 12.0], min_frames=0) is None  # two seeds, one n
    # two fractions with repeated seeds are still two points: no line through them
    assert fit_power_law([1e3, 1e3, 1e4, 1e4], [10.0, 12.0, 5.0, 6.0], min_frames=0) is None
    assert fit_power_law(N[-3:], power_law(N[-3:]), min_frames=0) is not None


def test_the_committed_demo_curve_through_two_points_is_not_fitted() -> None:
    # the demo task before this rule: 2 fractions >= 50 frames gave R² = 1.00 and a prefactor
    # of 16,799,909 meV/atom; now there is no fit, and the reason says why
    n, mae = [0.0, 187.0, 375.0], [1077.0, 913.0, 450.0]
    assert fit_power_law(n, mae, min_frames=50) is None
    assert no_fit_reason(n, mae, min_frames=50) == (
        "only 2 fractions with ≥ 50 training frames (and a positive MAE); a power law needs 3"
    )
    assert no_fit_reason([10.0], [5.0], min_frames=1000).startswith("no fraction with ≥ 1,000")
    assert no_fit_reason(N, power_law(N), min_frames=0) is None


def test_repeated_frames_are_fitted_as_seeds() -> None:
    n = np.repeat([1e3, 1e4, 1e5], 2)
    mae = np.array([10.0, 12.0, 5.0, 6.0, 2.5, 3.0])
    fit = fit_power_law(n, mae, min_frames=0)
    assert fit is not None
    # the fit goes through the geometric means of the two seeds at each n: a factor 2 per decade
    assert fit.slope == pytest.approx(-math.log10(2.0), rel=1e-12)
    assert fit.r2 < 1.0


def test_seed_fits_average_the_parameters_with_a_t_interval() -> None:
    # three seeds, exact power laws with slopes -0.3, -0.4, -0.5 and prefactors 200, 300, 400
    slopes, prefactors = [-0.3, -0.4, -0.5], [200.0, 300.0, 400.0]
    curves = [(N, power_law(N, a, b)) for a, b in zip(prefactors, slopes, strict=True)]
    fit = fit_power_law_seeds(curves, min_frames=0)
    assert fit is not None and fit.n_seeds == 3
    assert fit.law.slope == pytest.approx(-0.4, abs=1e-12)
    logs = np.log10(prefactors)
    assert fit.law.prefactor == pytest.approx(10 ** logs.mean(), rel=1e-12)
    # by hand: t_{0.975, 2} = 0.95 / sqrt(2 · 0.975 · 0.025) = 4.3027; slopes have s = 0.1
    t = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    half = t * 0.1 / math.sqrt(3)
    assert fit.slope_ci == pytest.approx((-0.4 - half, -0.4 + half), rel=1e-9)
    half_log = t * logs.std(ddof=1) / math.sqrt(3)
    assert fit.log10_prefactor_ci == pytest.approx(
        (logs.mean() - half_log, logs.mean() + half_log), rel=1e-9
    )
    assert fit.law.n_points == 3 * N.size and 0 < fit.law.r2 < 1


def test_one_seed_or_seeds_without_three_fractions_give_no_interval() -> None:
    one = fit_power_law_seeds([(N, power_law(N))], min_frames=0)
    assert one is not None and one.n_seeds == 1
    assert one.law.slope == pytest.approx(-0.4, abs=1e-12)
    assert all(math.isnan(v) for v in (*one.slope_ci, *one.log10_prefactor_ci))
    # the second seed ran at two fractions only: it is left out of the fit
    short = (N[:2], power_law(N[:2], 500.0, -0.9))
    assert fit_power_law_seeds([(N, power_law(N)), short], min_frames=0).n_seeds == 1
    assert fit_power_law_seeds([short], min_frames=0) is None


def test_constant_mae_has_zero_slope_and_undefined_r2() -> None:
    fit = fit_power_law(N, np.full(N.size, 7.0), min_frames=0)
    assert fit is not None
    assert fit.slope == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(fit.r2)


def test_mismatched_shapes_raise() -> None:
    with pytest.raises(ValueError, match="equal length"):
        fit_power_law([1.0, 2.0], [1.0], min_frames=0)


# --- frames_to_reach -----------------------------------------------------------------------------


def test_frames_to_reach_exact_power_law() -> None:
    bound = frames_to_reach(N, power_law(N), target=30.0)
    assert bound.kind == "exact"
    assert bound.value == pytest.approx((300.0 / 30.0) ** (1 / 0.4), rel=1e-9)  # 316.23 frames


def test_frames_to_reach_at_a_measured_point() -> None:
    bound = frames_to_reach(N, power_law(N), target=float(power_law(1e3)))
    assert bound == Bound(pytest.approx(1e3, rel=1e-9), "exact")


def test_frames_to_reach_beyond_and_before_the_measured_range() -> None:
    # 300 * 1e5**-0.4 = 3.0 is the lowest measured MAE
    assert frames_to_reach(N, power_law(N), target=1.0) == Bound(1e5, "more-than")
    # 300 * 100**-0.4 = 47.5 is the highest measured MAE
    assert frames_to_reach(N, power_law(N), target=100.0) == Bound(100.0, "at-most")


def test_frames_to_reach_takes_the_first_crossing() -> None:
    n = [1e4, 10.0, 1e3, 100.0]  # unsorted on purpose
    mae = [20.0, 100.0, 80.0, 50.0]
    # 40 is first reached between 1e3 (80) and 1e4 (20): halfway in log10(mae) -> 10**3.5
    assert frames_to_reach(n, mae, 40.0).value == pytest.approx(10**3.5, rel=1e-12)
    # 60 is first reached between 10 (100) and 100 (50), although 1e3 is above 60 again
    expected = 10 ** (1 + math.log10(100 / 60) / math.log10(2))
    assert frames_to_reach(n, mae, 60.0) == Bound(pytest.approx(expected, rel=1e-12), "exact")


def test_frames_to_reach_rejects_bad_curves() -> None:
    with pytest.raises(ValueError, match="distinct"):
        frames_to_reach([100.0, 100.0], [2.0, 1.0], 1.5)
    with pytest.raises(ValueError, match="zero-shot"):
        frames_to_reach([0.0, 100.0], [2.0, 1.0], 1.5)
    with pytest.raises(ValueError, match="target"):
        frames_to_reach([10.0, 100.0], [2.0, 1.0], 0.0)


def test_bound_formatting() -> None:
    assert str(Bound(5.656854, "exact")) == "5.66"
    assert str(Bound(1e5, "more-than")) == "> 1e+05"
    assert Bound(100.0, "at-most").format(".0f") == "≤ 100"


# --- data efficiency ------------------------------------------------------------------------------


def test_mae_at_frames_interpolates_in_log_log() -> None:
    assert mae_at_frames(N, power_law(N), 500.0) == pytest.approx(power_law(500.0), rel=1e-12)
    with pytest.raises(ValueError, match="outside"):
        mae_at_frames(N, power_law(N), 50.0)


def test_data_efficiency_of_parallel_power_laws() -> None:
    scratch = (N, power_law(N))
    method = (N, 0.5 * power_law(N))
    # 0.5 * 300 * n**-0.4 = 300 * (f n)**-0.4  =>  f = 2**(1/0.4) = 5.657
    bound = data_efficiency_factor(method, scratch, at_frames=1000.0)
    assert bound.kind == "exact"
    assert bound.value == pytest.approx(2 ** (1 / 0.4), rel=1e-9)


def test_data_efficiency_bounds() -> None:
    scratch = (N, power_law(N))
    # scratch would need 1e5 * 5.66 frames, beyond its largest measured 1e5
    better = data_efficiency_factor((N, 0.5 * power_law(N)), scratch, at_frames=1e5)
    assert better == Bound(pytest.approx(1.0), "more-than")
    # a method 10x worse than scratch: scratch matches it with 1000 * 10**-2.5 = 3.2 frames,
    # below its smallest measured 100
    worse = data_efficiency_factor((N, 10.0 * power_law(N)), scratch, at_frames=1000.0)
    assert worse == Bound(pytest.approx(0.1), "at-most")


# --- transfer gain --------------------------------------------------------------------------------


def test_transfer_gain_sign() -> None:
    assert transfer_gain(17.0, 27.0) == pytest.approx(10.0 / 27.0)  # better than baseline: > 0
    assert transfer_gain(54.0, 27.0) == pytest.approx(-1.0)  # twice the baseline's MAE
    assert transfer_gain(27.0, 27.0) == 0.0
    gains = transfer_gain([10.0, 20.0, 40.0], [20.0, 20.0, 20.0])
    np.testing.assert_allclose(gains, [0.5, 0.0, -1.0])
    assert math.isnan(transfer_gain(math.nan, 20.0))
    with pytest.raises(ValueError, match="> 0"):
        transfer_gain(1.0, 0.0)


# --- learning-curve area --------------------------------------------------------------------------


def test_area_of_a_constant_curve_is_the_constant() -> None:
    assert learning_curve_area(N, np.full(N.size, 42.0), 150.0, 5e4) == pytest.approx(42.0)


def test_area_of_a_line_in_log_n_is_its_midpoint_value() -> None:
    # mae = 100 - 10 log10(n); bounds 1e2 and 1e4 fall between measured points and are
    # interpolated; the mean over log10(n) in [2, 4] is the value at log10(n) = 3
    n = [10.0, 1e3, 1e5]
    mae = [90.0, 70.0, 50.0]
    assert learning_curve_area(n, mae, 100.0, 1e4) == pytest.approx(70.0, rel=1e-12)
    assert learning_curve_area(n, mae, 10.0, 1e5) == pytest.approx(70.0, rel=1e-12)


def test_area_bounds_outside_the_curve_raise() -> None:
    with pytest.raises(ValueError, match="measured range"):
        learning_curve_area(N, power_law(N), 50.0, 1e3)
    with pytest.raises(ValueError, match="measured range"):
        learning_curve_area(N, power_law(N), 1e3, 1e6)
    with pytest.raises(ValueError, match="n_min < n_max"):
        learning_curve_area(N, power_law(N), 1e3, 1e3)


# --- scaling_table --------------------------------------------------------------------------------


def _summary(with_zero_shot: bool) -> pd.DataFrame:
    """scratch = 300 n^-0.4 on 1e2..1e6, transfer = half of it on 1e2..1e5, zero-shot only n=0."""
    n_scratch = np.logspace(2, 6, 17)
    rows = [
        {"method": "scratch", "n_train_frames": n, "energy_mae": power_law(n)} for n in n_scratch
    ]
    rows += [
        {"method": "transfer", "n_train_frames": n, "energy_mae": 0.5 * power_law(n)} for n in N
    ]
    if with_zero_shot:
        rows += [
            {"method": "transfer", "n_train_frames": 0, "energy_mae": 1e3},
            {"method": "scratch", "n_train_frames": 0, "energy_mae": 5e3},
            {"method": "zero-shot", "n_train_frames": 0, "energy_mae": 60.0},
        ]
    return pd.DataFrame(rows)


def test_scaling_table_fits_each_method_without_fraction_zero() -> None:
    table = scaling_table(
        _summary(with_zero_shot=True), "energy_mae", min_frames=1000, scratch_method="scratch"
    )
    assert list(table["method"]) == ["scratch", "transfer", "zero-shot"]
    rows = table.set_index("method")
    assert rows.loc["scratch", "slope"] == pytest.approx(-0.4, abs=1e-12)
    assert rows.loc["scratch", "prefactor"] == pytest.approx(300.0, rel=1e-12)
    assert rows.loc["transfer", "prefactor"] == pytest.approx(150.0, rel=1e-12)
    assert rows.loc["transfer", "n_points"] == 9  # 1e3..1e5, 4 per decade
    assert rows.loc["transfer", "fit_n_min"] == pytest.approx(1e3)
    # transfer at its largest n = 1e5 needs 5.657e5 scratch frames, inside scratch's range
    assert rows.loc["transfer", "efficiency_at_frames"] == pytest.approx(1e5)
    assert rows.loc["transfer", "data_efficiency_factor"] == pytest.approx(2**2.5, rel=1e-9)
    assert rows.loc["transfer", "data_efficiency_kind"] == "exact"
    assert rows.loc["scratch", "data_efficiency_factor"] == pytest.approx(1.0)
    # AUC over the range both methods measured, n = 1e2..1e5 (zero-shot has none)
    assert (rows.loc["transfer", "auc_n_min"], rows.loc["transfer", "auc_n_max"]) == (1e2, 1e5)
    assert rows.loc["transfer", "auc"] == pytest.approx(0.5 * rows.loc["scratch", "auc"])
    zero_shot = rows.loc["zero-shot"]
    assert zero_shot["n_points"] == 0
    assert np.isnan(zero_shot[["slope", "r2", "data_efficiency_factor", "auc"]].astype(float)).all()


def test_scaling_table_is_unchanged_by_fraction_zero_rows() -> None:
    with_zero = scaling_table(
        _summary(with_zero_shot=True), "energy_mae", min_frames=0, scratch_method="scratch"
    )
    without = scaling_table(
        _summary(with_zero_shot=False), "energy_mae", min_frames=0, scratch_method="scratch"
    )
    pd.testing.assert_frame_equal(with_zero[with_zero["method"] != "zero-shot"], without)


def test_scaling_table_without_scratch_or_with_seed_rows() -> None:
    summary = _summary(with_zero_shot=False)
    for scratch in ("none", None):  # no run of that name; a task without a scratch role
        table = scaling_table(summary, "energy_mae", min_frames=1000, scratch_method=scratch)
        assert table["data_efficiency_factor"].isna().all()
        assert table["data_efficiency_kind"].isna().all()
    with pytest.raises(ValueError, match="one row per"):
        scaling_table(pd.concat([summary, summary]), "energy_mae", 1000, scratch_method="scratch")
    with pytest.raises(ValueError, match="force_mae"):
        scaling_table(summary, "force_mae", min_frames=1000, scratch_method="scratch")


def test_scaling_table_with_per_seed_rows_gives_intervals_and_reasons() -> None:
    n = np.array([100.0, 1000.0, 10000.0])
    per_seed = pd.DataFrame(
        [
            {"method": "transfer", "seed": seed, "n_train_frames": x, "energy_mae": y}
            for seed, (a, b) in enumerate([(200.0, -0.3), (300.0, -0.4), (400.0, -0.5)])
            for x, y in zip(n, power_law(n, a, b), strict=True)
        ]
        + [
            {"method": "short", "seed": 0, "n_train_frames": x, "energy_mae": 10.0 / x}
            for x in n[:2]
        ]
    )
    means = per_seed.groupby(["method", "n_train_frames"], as_index=False)["energy_mae"].mean()
    table = scaling_table(
        means, "energy_mae", min_frames=100, scratch_method=None, per_seed=per_seed
    )
    rows = table.set_index("method")
    assert list(table.columns) == list(TABLE_COLUMNS)
    transfer = rows.loc["transfer"]
    assert transfer["n_seed_fits"] == 3 and transfer["no_fit_reason"] is None
    assert transfer["slope"] == pytest.approx(-0.4, abs=1e-12)
    assert transfer["slope_ci_low"] < -0.4 < transfer["slope_ci_high"]
    assert transfer["log10_prefactor"] == pytest.approx(np.log10([200, 300, 400]).mean())
    short = rows.loc["short"]
    assert short["n_points"] == 0 and np.isnan(short["slope"]) and np.isnan(short["prefactor"])
    assert short["no_fit_reason"] == (
        "only 2 fractions with ≥ 100 training frames (and a positive MAE); a power law needs 3"
    )
    with pytest.raises(ValueError, match="seed"):
        scaling_table(
            means, "energy_mae", 100, scratch_method=None, per_seed=per_seed.drop(columns="seed")
        )


def test_transfer_gain_table_compares_each_fraction_with_the_baselines() -> None:
    df = pd.DataFrame(
        {
            "method": ["zero-shot", "zero-shot", "scratch", "finetune", "finetune"],
            "fraction": [0.1, 0.5, 0.5, 0.1, 0.5],
            "mae": [40.0, 30.0, 20.0, 30.0, 15.0],
        }
    )
    table = transfer_gain_table(df, "mae", ["zero-shot", "scratch"])
    row = table.set_index(["method", "fraction"])
    assert row.loc[("finetune", 0.1), "gain_vs_zero-shot"] == pytest.approx(0.25)
    assert row.loc[("finetune", 0.5), "gain_vs_zero-shot"] == pytest.approx(0.5)
    assert row.loc[("finetune", 0.5), "gain_vs_scratch"] == pytest.approx(0.25)
    assert np.isnan(row.loc[("finetune", 0.1), "gain_vs_scratch"])  # no scratch run at 0.1
    assert row.loc[("zero-shot", 0.5), "gain_vs_zero-shot"] == 0.0
    assert list(table["fraction"]) == sorted(table["fraction"])
