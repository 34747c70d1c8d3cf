"""The author API: everything a transfer method may import from mfbench, besides ``mfbench.models``.

Baselines (``baselines/``) and outside methods import from here and from the architecture
adapters under :mod:`mfbench.models`, nothing else (``tests/test_architecture.py`` checks the
baselines).

The interface:

- :class:`Method`: the base class; implement ``fit``, ``predict``, ``save``, ``load``.
- :class:`FitContext`: what the runner hands ``fit`` (device, seed, budget, auxiliary data,
  checkpoint recording).
- :class:`Budget`: the task's training budget (epochs, optimizer steps, batch size).
- :class:`FrameSet`: the frames a method trains on (structures, labels, ids, fingerprint).
- :class:`LabelTable`: what ``predict`` returns (eV/atom, eV/Å, GPa in CHGNet's sign, μB).
- :class:`NotFittedError`: raised by :meth:`Method.check_is_fitted` before ``fit``.
- :class:`FitDivergedError`: raise it from ``fit`` when training diverges.
- :class:`MfbenchError`: base class of mfbench's errors; raise a subclass for user errors.

Tools:

- :func:`fit_elemental_reference`, :class:`ElementalReference`: per-element energies (eV/atom)
  by least squares on composition fractions, or by ridge towards a prior (``strength``).
- :data:`HUANG_2025_BIBTEX`: the paper the suite follows, for ``Method.references``.
- :func:`write_bytes_atomic`, :func:`write_json_atomic`: files written whole or not at all.
- :class:`EpochCheckpoint`, :func:`run_key`: a training stage's checkpoint file, resumed only
  by the same run (``mfbench.epoch_checkpoint``).
- :func:`get_method`, :func:`method_names`: the registry (names and ``module:Class`` specs).
- :func:`describe_methods`: each registered method's class, description and parameters.
- :class:`MethodCalculator` (``mfbench.methods.calculator``): a fitted method as an ASE
  calculator (imported on its own: it needs ``ase``).
"""

from mfbench.atomic_write import write_bytes_atomic, write_json_atomic
from mfbench.data.elemental_reference import ElementalReference, fit_elemental_reference
from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.epoch_checkpoint import EpochCheckpoint, run_key
from mfbench.errors import MfbenchError
from mfbench.methods.base import FitContext, FitDivergedError, Method, NotFittedError
from mfbench.methods.references import HUANG_2025_BIBTEX
from mfbench.methods.registry import describe_methods, get_method, method_names
from mfbench.tasks.definition import Budget

__all__ = [
    "HUANG_2025_BIBTEX", "Budget", "ElementalReference", "EpochCheckpoint", "FitContext",
    "FitDivergedError", "FrameSet", "LabelTable", "Method", "MfbenchError", "NotFittedError",
    "describe_methods", "fit_elemental_reference", "get_method", "method_names", "run_key",
    "write_bytes_atomic", "write_json_atomic",
]  # fmt: skip
