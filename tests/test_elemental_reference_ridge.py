"""The ridge elemental reference: ``fit_elemental_reference(..., prior=, strength=)``."""

from __future__ import annotations

import numpy as np
import pytest

from mfbench.methods import fit_elemental_reference

HYDROGEN, OXYGEN, IRON = 0, 7, 25  # columns Z - 1


def _frames() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Two pure-H frames at -1 eV/atom and one pure-Fe frame at -7 eV/atom (n = 3)."""
    fractions = np.zeros((3, 94))
    fractions[0, HYDROGEN] = fractions[1, HYDROGEN] = fractions[2, IRON] = 1.0
    return fractions, np.array([-1.0, -1.0, -7.0]), ["mp-1", "mp-2", "mp-3"]


def test_an_element_seen_in_one_frame_is_pulled_to_the_prior_first() -> None:
    fractions, energy, materials = _frames()
    prior = np.zeros(94)
    prior[IRON] = -2.0
    # XᵀX/n = diag(2/3, 1/3); w = (Xᵀy/n + λ prior) / (diag + λ)
    fit = fit_elemental_reference(fractions, energy, materials, prior=prior, strength=1 / 3)
    assert fit.weights[IRON] == pytest.approx(-4.5, abs=1e-12)  # halfway from -7 to -2
    assert fit.weights[HYDROGEN] == pytest.approx(-2 / 3, abs=1e-12)  # a third of the way to 0
    assert fit.strength == pytest.approx(1 / 3)
    assert np.isnan(fit.weights[OXYGEN])
    pulls = [
        fit_elemental_reference(fractions, energy, materials, prior=prior, strength=s).weights[IRON]
        for s in (0.0, 1e-2, 1e-1, 1.0, 10.0)
    ]
    assert pulls[0] == pytest.approx(-7.0) and all(np.diff(pulls) > 0) and pulls[-1] < -2.0


def test_strength_zero_is_todays_least_squares_exactly() -> None:
    rng = np.random.default_rng(4)
    fractions = np.zeros((12, 94))
    for row in fractions:
        row[rng.choice([0, 2, 7, 11, 25, 41], size=3, replace=False)] = rng.dirichlet(np.ones(3))
    energy = rng.normal(-5.0, 2.0, size=12)
    present = fractions.sum(axis=0) > 0
    expected, *_ = np.linalg.lstsq(fractions[:, present], energy, rcond=None)
    materials = [f"mp-{k}" for k in range(12)]
    for fit in (
        fit_elemental_reference(fractions, energy, materials),
        fit_elemental_reference(fractions, energy, materials, prior=np.ones(94), strength=0.0),
    ):
        np.testing.assert_array_equal(fit.weights[present], expected)
        assert fit.strength == 0.0


def test_a_large_strength_puts_every_weight_at_the_prior() -> None:
    fractions, energy, materials = _frames()
    prior = np.linspace(-3.0, 0.0, 94)
    fit = fit_elemental_reference(fractions, energy, materials, prior=prior, strength=1e9)
    np.testing.assert_allclose(fit.weights[[HYDROGEN, IRON]], prior[[HYDROGEN, IRON]], atol=1e-8)
    # the default prior is the one-parameter fit: every element at the mean, -3 eV/atom
    fit = fit_elemental_reference(fractions, energy, materials, strength=1e9)
    np.testing.assert_allclose(fit.weights[[HYDROGEN, IRON]], [-3.0, -3.0], atol=1e-8)
    assert fit.residual_mae_ev_per_atom == pytest.approx((2 + 2 + 4) / 3, abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strength": -1e-3}, "strength must be a finite number >= 0, got -0.001"),
        ({"strength": float("nan")}, "strength must be a finite number >= 0"),
        ({"strength": 0.1, "prior": np.zeros(3)}, r"prior must have shape \(94,\)"),
        ({"strength": 0.1, "prior": np.full(94, np.nan)}, r"not finite for Z = \[1, 26\]"),
    ],
)
def test_bad_strength_or_prior_is_refused(kwargs: dict, message: str) -> None:
    fractions, energy, materials = _frames()
    with pytest.raises(ValueError, match=message):
        fit_elemental_reference(fractions, energy, materials, **kwargs)
