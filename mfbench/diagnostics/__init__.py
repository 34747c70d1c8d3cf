"""Cross-functional diagnostics: how two fidelities' energies differ, before any training.

``mfbench analyze shift`` (:func:`~mfbench.diagnostics.run.shift_diagnostics`) pairs frames of
a low and a high fidelity (:mod:`~mfbench.diagnostics.pairing`), compares their energies raw
and after elemental referencing, fits per-element offsets (:mod:`~mfbench.diagnostics.shift`),
ranks elements by their weight in the formation-energy difference with and without MP2020
anion corrections (:mod:`~mfbench.diagnostics.importance`,
:mod:`~mfbench.diagnostics.corrections`), and writes a JSON report
(:mod:`~mfbench.diagnostics.report`) and a static page (:mod:`~mfbench.diagnostics.page`).
"""

from mfbench.diagnostics.pairing import FidelitySource, PairedEnergies, pair_energies
from mfbench.diagnostics.report import ShiftReport
from mfbench.diagnostics.run import shift_diagnostics, summary_text, write_shift_outputs
from mfbench.diagnostics.shift import ShiftAnalysis, analyze_shift
from mfbench.diagnostics.shift_statistics import agreement, fit_element_offsets

__all__ = [
    "FidelitySource",
    "PairedEnergies",
    "ShiftAnalysis",
    "ShiftReport",
    "agreement",
    "analyze_shift",
    "fit_element_offsets",
    "pair_energies",
    "shift_diagnostics",
    "summary_text",
    "write_shift_outputs",
]
