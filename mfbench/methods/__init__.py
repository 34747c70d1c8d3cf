"""Transfer methods: the common interface outside authors implement, and its registry."""

from mfbench.methods.base import FitContext, FitDivergedError, Method, NotFittedError
from mfbench.methods.registry import get_method, method_names

__all__ = [
    "FitContext", "FitDivergedError", "Method", "NotFittedError", "get_method", "method_names",
]  # fmt: skip
