"""A method module that loads CHGNet's r2scan model when it is imported, before any fit.

Only ``mfbench run`` imports it (by its ``module:Class`` spec), so the import happens inside the
run, as it does in a fresh ``mfbench run`` process.
"""

from __future__ import annotations

from chgnet.model import CHGNet

from .doubles import CompositionOnly

_TEACHER = CHGNet.load(model_name="r2scan", verbose=False)


class ImportTimeR2scan(CompositionOnly):
    """Composition-only predictions; the r2scan model sits in the module, loaded at import."""

    name = "import-time-r2scan"


SPEC = "tests.doubles_import_time:ImportTimeR2scan"
