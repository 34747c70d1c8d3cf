"""The SevenNet architecture adapter: shipped models (e.g. SevenNet-MF-0's heads) as predictors.

- :func:`load_calculator`: a ``sevenn`` ASE calculator for a shipped model and head;
- :func:`predict_with_calculator`: predictions of any ASE calculator in mfbench units.

Needs ``pip install sevenn``; it is imported only when a model is loaded.
"""

from mfbench.models.sevenn.pretrained import load_calculator, predict_with_calculator

__all__ = ["load_calculator", "predict_with_calculator"]
