"""Transfer methods: the common interface outside authors implement, and its registry."""

from mfbench.methods.base import FitContext, Method, NotFittedError
from mfbench.methods.registry import get_method, method_names

__all__ = ["FitContext", "Method", "NotFittedError", "get_method", "method_names"]
