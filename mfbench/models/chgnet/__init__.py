"""The CHGNet architecture adapter: pretrained checkpoints, the elemental reference, graphs.

- :func:`load_pretrained`: a shipped CHGNet (``"0.3.0"``, ``"r2scan"``), recorded in the run;
- :func:`predict_with_chgnet`, :func:`check_supported_elements`: predictions in mfbench units;
- :func:`atomref_weights`, :func:`set_atomref_weights`: the intensive ``AtomRef`` (eV/atom);
- :mod:`mfbench.models.chgnet.graph_cache`: crystal graphs converted once per dataset and read
  back by every run (imported on its own: it pulls in the frame store). Its loaders train on a
  frame set's labels, or on substitute targets of the same frames
  (``GraphCache.loader(frames, ..., labels=table)``, e.g. the residuals of a Δ-learning method).

torch and chgnet are imported only when a model is loaded or run.
"""

from mfbench.models.chgnet.atomref import atomref_weights, set_atomref_weights
from mfbench.models.chgnet.pretrained import (
    PRETRAINED,
    PretrainedChgnet,
    check_supported_elements,
    load_pretrained,
    predict_with_chgnet,
)

__all__ = [
    "PRETRAINED", "PretrainedChgnet", "atomref_weights", "check_supported_elements",
    "load_pretrained", "predict_with_chgnet", "set_atomref_weights",
]  # fmt: skip
