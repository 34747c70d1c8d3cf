"""The SevenNet architecture adapter: shipped models, their energy shift, graphs, training.

For predicting with a shipped model as it is (e.g. SevenNet-MF-0's heads):

- :func:`load_calculator`: a ``sevenn`` ASE calculator for a shipped model and head;
- :func:`predict_with_calculator`: predictions of any ASE calculator in mfbench units.

For training one (single-fidelity models, e.g. SevenNet-0):

- :func:`load_sevennet`: a shipped checkpoint as a trainable model, recorded in the run;
- :func:`species_shift`, :func:`add_to_species_shift`: its per-element energy shift (eV, an
  intensive elemental reference, :mod:`mfbench.models.sevenn.shift`);
- :func:`labelled_graphs`, :func:`gpa_to_sevenn_stress`, :func:`sevenn_stress_to_gpa`: sevenn
  graphs of mfbench frames and the stress convention between the two
  (:mod:`mfbench.models.sevenn.graphs`);
- :class:`Recipe`, :func:`train_sevennet`: fine-tuning with sevenn's own trainer under a
  budget, checkpointed every epoch (:mod:`mfbench.models.sevenn.training`);
- :func:`predict_with_sevennet`: batched predictions in mfbench units;
- :func:`save_sevennet`, :func:`load_saved_sevennet`: a fitted model as a sevenn checkpoint.

Needs the optional ``sevenn`` package (``pip install "mfbench[sevenn]"``); it is imported only
when a model is loaded, and a missing package is a one-line :class:`MissingExtraError`.
"""

from mfbench.models.sevenn.checkpoint import is_multi_fidelity, load_sevennet
from mfbench.models.sevenn.extra import INSTALL_COMMAND, MissingExtraError, require_sevenn
from mfbench.models.sevenn.graphs import (
    gpa_to_sevenn_stress,
    labelled_graphs,
    sevenn_stress_to_gpa,
)
from mfbench.models.sevenn.predict import predict_with_sevennet
from mfbench.models.sevenn.pretrained import load_calculator, predict_with_calculator
from mfbench.models.sevenn.saved import SAVED_FILE, load_saved_sevennet, save_sevennet
from mfbench.models.sevenn.shift import (
    add_to_species_shift,
    check_supported_elements,
    species_shift,
)
from mfbench.models.sevenn.training import Recipe, TrainingDivergedError, train_sevennet

__all__ = [
    "INSTALL_COMMAND", "SAVED_FILE", "MissingExtraError", "Recipe", "TrainingDivergedError",
    "add_to_species_shift", "check_supported_elements", "gpa_to_sevenn_stress",
    "is_multi_fidelity", "labelled_graphs", "load_calculator", "load_saved_sevennet",
    "load_sevennet", "predict_with_calculator", "predict_with_sevennet", "require_sevenn",
    "save_sevennet", "sevenn_stress_to_gpa", "species_shift", "train_sevennet",
]  # fmt: skip
