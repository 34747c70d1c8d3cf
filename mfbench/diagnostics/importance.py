"""Which elements drive the formation-energy difference between two fidelities.

The target is, per material, ``ΔH_f(high) − ΔH_f(low)`` in eV/atom; the features are the
material's element fractions from matminer's ``ElementFraction`` featurizer (one column per
element H–Og, summing to 1). Two models:

- ``"linear"`` (default, deterministic): ridge regression without intercept (``alpha = 1e-3``;
  the fractions sum to 1, so an intercept would be redundant). Element ``el`` gets coefficient
  ``c_el`` (eV/atom per unit fraction) and importance ``|c_el| · std(x_el)`` over the train
  materials, in meV/atom: how much of the spread of the target its fraction accounts for.
- ``"tree"``: a random forest (200 trees, ``min_samples_leaf = 2``, seeded); importance is the
  increase of the held-out MAE, in meV/atom, when the element's column is permuted
  (``sklearn.inspection.permutation_importance``, 5 repeats), with its standard deviation.

Only elements present in the train materials are fitted and listed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pymatgen.core import Composition, Element

from mfbench.diagnostics.report import ElementImportance, ImportanceResult, finite

logger = logging.getLogger(__name__)

ImportanceModel = Literal["linear", "tree"]
#: Ridge penalty of the linear model.
RIDGE_ALPHA = 1e-3
#: Random forest size and permutation repeats of the tree model.
N_TREES = 200
N_REPEATS = 5
MEV_PER_EV = 1000.0

FEATURES = "matminer ElementFraction (element fractions, one column per element H-Og)"
TARGET = "formation energy per atom, high minus low fidelity (eV/atom), one value per material"
DEFINITIONS: dict[str, str] = {
    "linear": (
        f"ridge regression (alpha={RIDGE_ALPHA}, no intercept) fitted on the train materials; "
        "importance = |coefficient| x standard deviation of the element fraction over the "
        "train materials, meV/atom"
    ),
    "tree": (
        f"random forest ({N_TREES} trees, min_samples_leaf=2, seeded) fitted on the train "
        "materials; importance = increase of the held-out MAE when the element fraction is "
        f"permuted ({N_REPEATS} repeats), meV/atom"
    ),
}


def element_fraction_features(compositions: Sequence[Composition]) -> tuple[np.ndarray, list[str]]:
    """``([n, n_features], symbols)``: matminer ``ElementFraction`` features of each composition."""
    from matminer.featurizers.composition import ElementFraction

    featurizer = ElementFraction()
    symbols = list(featurizer.feature_labels())
    if not compositions:
        return np.zeros((0, len(symbols))), symbols
    rows = [featurizer.featurize(composition) for composition in compositions]
    return np.asarray(rows, dtype=np.float64), symbols


def _r2(y: np.ndarray, prediction: np.ndarray) -> float | None:
    if len(y) < 2:
        return None
    total = float(np.sum((y - y.mean()) ** 2))
    return finite(1.0 - float(np.sum((y - prediction) ** 2)) / total) if total > 0 else None


def _mae_mev(y: np.ndarray, prediction: np.ndarray | float) -> float | None:
    return float(np.mean(np.abs(y - prediction)) * MEV_PER_EV) if len(y) else None


def element_importance(
    features: np.ndarray,
    symbols: Sequence[str],
    target: np.ndarray,
    train: np.ndarray,
    *,
    model: ImportanceModel = "linear",
    seed: int = 0,
) -> ImportanceResult:
    """Fit ``model`` to ``target`` on the train materials and rank the elements.

    Args:
        features: ``[n, n_features]`` from :func:`element_fraction_features`.
        symbols: ``[n_features]`` element symbol of each column.
        target: ``[n]`` formation-energy difference high − low, eV/atom.
        train: ``[n]`` bool, the materials to fit on; the others are held out.
        model: ``"linear"`` or ``"tree"`` (see the module docstring).
        seed: random state of the tree model and of the permutations.

    Returns:
        Fit quality and the elements sorted by importance; ``skipped`` says why nothing was
        fitted when there are fewer than 2 train materials (or, for the tree model, fewer than
        2 held-out ones).
    """
    if model not in DEFINITIONS:
        raise ValueError(f"importance model must be 'linear' or 'tree', got {model!r}")
    target = np.asarray(target, dtype=np.float64)
    train = np.asarray(train, dtype=bool)
    if features.shape != (len(target), len(symbols)) or train.shape != target.shape:
        raise ValueError(
            f"features {features.shape}, symbols {len(symbols)}, target {target.shape} and "
            f"train {train.shape} do not fit together"
        )
    x_train, y_train = features[train], target[train]
    x_test, y_test = features[~train], target[~train]
    empty = ImportanceResult(
        n_train=len(y_train),
        n_held_out=len(y_test),
        train_r2=None,
        held_out_r2=None,
        held_out_mae_mev_per_atom=None,
        baseline_held_out_mae_mev_per_atom=None,
        elements=[],
    )
    if len(y_train) < 2:
        return empty.model_copy(update={"skipped": f"{len(y_train)} train material(s), need 2"})
    if model == "tree" and len(y_test) < 2:
        return empty.model_copy(
            update={"skipped": f"{len(y_test)} held-out material(s), the tree model needs 2"}
        )
    columns = np.flatnonzero((x_train > 0).any(axis=0))
    x_train, x_test = x_train[:, columns], x_test[:, columns]
    counts = (x_train > 0).sum(axis=0)
    if model == "linear":
        from sklearn.linear_model import Ridge

        regressor = Ridge(alpha=RIDGE_ALPHA, fit_intercept=False).fit(x_train, y_train)
        coefficients = np.asarray(regressor.coef_, dtype=np.float64)
        importance = np.abs(coefficients) * x_train.std(axis=0) * MEV_PER_EV
        spread: np.ndarray | None = None
    else:
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.inspection import permutation_importance

        regressor = RandomForestRegressor(
            n_estimators=N_TREES, min_samples_leaf=2, random_state=seed, n_jobs=1
        ).fit(x_train, y_train)
        permuted = permutation_importance(
            regressor,
            x_test,
            y_test,
            scoring="neg_mean_absolute_error",
            n_repeats=N_REPEATS,
            random_state=seed,
        )
        importance = np.asarray(permuted.importances_mean) * MEV_PER_EV
        spread = np.asarray(permuted.importances_std) * MEV_PER_EV
        coefficients = None
    fitted = regressor.predict(x_train)
    held_out = regressor.predict(x_test) if len(y_test) else np.zeros(0)
    elements = [
        ElementImportance(
            z=Element(symbols[column]).Z,
            symbol=symbols[column],
            importance_mev_per_atom=float(importance[i]),
            importance_std_mev_per_atom=None if spread is None else finite(spread[i]),
            coefficient_ev_per_atom=None if coefficients is None else float(coefficients[i]),
            n_materials=int(counts[i]),
        )
        for i, column in enumerate(columns)
    ]
    elements.sort(key=lambda e: (-e.importance_mev_per_atom, e.z))
    return ImportanceResult(
        n_train=len(y_train),
        n_held_out=len(y_test),
        train_r2=_r2(y_train, fitted),
        held_out_r2=_r2(y_test, held_out),
        held_out_mae_mev_per_atom=_mae_mev(y_test, held_out),
        baseline_held_out_mae_mev_per_atom=_mae_mev(y_test, float(y_train.mean())),
        elements=elements,
    )
