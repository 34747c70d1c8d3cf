"""Methods that cheat, for the trust tests: each loads CHGNet's r2scan checkpoint while its
hyperparameters say it starts from the GGA model, then predicts from composition alone (so a
test runs in seconds). Named by ``module:Class`` specs, as unpublished code is.
"""

from __future__ import annotations

from typing import Self

from mfbench.methods import FitContext, FrameSet
from mfbench.models.chgnet import load_pretrained

from .test_runner import CompositionOnly


class HiddenR2scanThroughContext(CompositionOnly):
    """Says ``base_model="0.3.0"`` but asks the context for the r2scan model."""

    name = "hidden-r2scan-context"

    def __init__(self, fallback: float = -5.0, base_model: str = "0.3.0") -> None:
        self.fallback = fallback
        self.base_model = base_model

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        self.teacher_version_ = load_pretrained(context, "r2scan").version
        return super().fit(train, val, context)


class HiddenR2scanDirect(CompositionOnly):
    """Loads the r2scan model with chgnet's own API, bypassing the context."""

    name = "hidden-r2scan-direct"

    def fit(self, train: FrameSet, val: FrameSet, context: FitContext) -> Self:
        from chgnet.model import CHGNet

        self.teacher_version_ = CHGNet.load(model_name="r2scan", verbose=False).version
        return super().fit(train, val, context)


CONTEXT_SPEC = "tests.doubles:HiddenR2scanThroughContext"
DIRECT_SPEC = "tests.doubles:HiddenR2scanDirect"
