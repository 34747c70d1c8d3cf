"""The Materials Project 2020 anion corrections, applied to low-fidelity (GGA) energies.

MP corrects GGA and GGA+U total energies with fitted per-atom constants
(``MaterialsProject2020Compatibility``, Wang et al., Sci. Rep. 11, 15496 (2021)): anion
corrections for oxides (−0.687 eV per O atom; peroxide −0.465, superoxide −0.161, ozonide 0),
S, F, Cl, Br, I, N, Se, Si, Sb, Te and H when they are anions, and GGA/GGA+U mixing corrections
for oxides and fluorides of V, Cr, Mn, Fe, Co, Ni, Mo and W computed with +U.

What :func:`anion_corrections` applies, and what it assumes:

- only the **anion corrections**, computed by pymatgen's own
  ``MaterialsProject2020Compatibility.get_adjustments`` on each material's low-fidelity
  structure, so the oxide type (oxide / peroxide / superoxide / ozonide) and sulfide type come
  from the structure's bond lengths, and anion status from pymatgen's guessed oxidation states
  (when the guess fails, MP2020 corrects only the most electronegative element; such materials
  are counted);
- **no +U mixing corrections**: the frame stores carry no run type or Hubbard U values, so every
  entry is treated as plain GGA (``compat_type="GGA"``, ``run_type="GGA"``, POTCAR checks off);
- single-element materials get no correction (MP2020 never corrects them), so the elemental
  references of formation energies are unchanged.

Whether the low-fidelity labels already contain MP2020 corrections depends on the dataset
(:data:`KNOWN_LOW_LABEL_CORRECTIONS`): MPtrj's ``energy_per_atom`` is MP2020-corrected, and so
is what CHGNet 0.3.0 learned from it, i.e. the surrogate's ``gga`` labels; MatPES PBE energies
are uncorrected. For corrected labels the "without" variant subtracts the anion corrections
(the +U mixing part, which cannot be identified without run types, stays in); for uncorrected
labels the "with" variant adds them.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from mfbench.diagnostics.report import LabelCorrections

logger = logging.getLogger(__name__)

#: What the low-fidelity labels of registered datasets already include.
KNOWN_LOW_LABEL_CORRECTIONS: dict[str, LabelCorrections] = {
    "mptrj": "mp2020",
    "surrogate-aflow": "mp2020",
    # SevenNet-MF-0's PBE head was trained on uncorrected MPtrj energies
    "surrogate-sevennet": "none",
    "matpes-pbe": "none",
}

#: Short description of the scheme, for the report.
SCHEME = (
    "pymatgen MaterialsProject2020Compatibility(compat_type='GGA', check_potcar=False)"
    ".get_adjustments: anion corrections only (oxide/peroxide/superoxide/ozonide, S, F, Cl, "
    "Br, I, N, Se, Si, Sb, Te, H), from each material's low-fidelity structure"
)
#: The assumptions stated in the report.
ASSUMPTIONS = (
    "no run type or Hubbard U is stored, so every low-fidelity energy is treated as plain GGA: "
    "no GGA/GGA+U mixing corrections are applied or removed",
    "oxide and sulfide types come from the structure's bond lengths, anion status from "
    "pymatgen's guessed oxidation states (when the guess fails, only the most electronegative "
    "element is corrected)",
    "single-element materials are never corrected, so elemental references are unchanged",
)
_OXIDATION_WARNING = "Failed to guess oxidation states"
#: The anions whose correction MP2020 applies only when their guessed oxidation state is < 0.
_GUESSED_ANIONS = frozenset({"Br", "I", "Se", "Si", "Sb", "Te", "H", "N", "F", "Cl"})


@dataclass(frozen=True)
class AnionCorrections:
    """MP2020 anion corrections of a list of materials.

    Attributes:
        per_atom: ``[n]`` correction, eV/atom (added to a GGA energy; mostly negative).
        kinds: ``[n]`` tuples of the corrections applied, e.g. ``("oxide", "F")``.
        n_oxidation_guess_failed: materials whose oxidation states pymatgen could not guess.
    """

    per_atom: np.ndarray
    kinds: tuple[tuple[str, ...], ...]
    n_oxidation_guess_failed: int

    def by_kind(self) -> dict[str, int]:
        """Materials per correction kind."""
        counts = Counter(kind for kinds in self.kinds for kind in kinds)
        return dict(sorted(counts.items()))


def anion_corrections(structures: Sequence[Structure], ids: Sequence[str]) -> AnionCorrections:
    """MP2020 anion corrections (eV/atom) of each structure; see the module docstring.

    Args:
        structures: ``[n]`` one low-fidelity structure per material.
        ids: ``[n]`` their ids, for messages.

    Raises:
        ValueError: pymatgen rejects an entry (the message names its id).
    """
    from pymatgen.analysis.compatibility import (
        CompatibilityError,
        MaterialsProject2020Compatibility,
    )
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    if len(structures) != len(ids):
        raise ValueError(f"{len(structures)} structures but {len(ids)} ids")
    scheme = MaterialsProject2020Compatibility(compat_type="GGA", check_potcar=False)
    per_atom = np.zeros(len(structures))
    kinds: list[tuple[str, ...]] = []
    failed = 0
    other: Counter[str] = Counter()
    for position, (structure, entry_id) in enumerate(zip(structures, ids, strict=True)):
        entry = ComputedStructureEntry(
            structure, 0.0, parameters={"run_type": "GGA"}, entry_id=str(entry_id)
        )
        if not any(el.symbol in _GUESSED_ANIONS for el in entry.composition.elements):
            # MP2020 reads oxidation states only to decide whether one of _GUESSED_ANIONS is an
            # anion; without any of them, skip pymatgen's (slow) guess. Same corrections.
            entry.data["oxidation_states"] = {el.symbol: 0.0 for el in entry.composition.elements}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                adjustments = scheme.get_adjustments(entry)
            except CompatibilityError as exc:
                raise ValueError(f"material {entry_id!r}: MP2020 rejects the entry: {exc}") from exc
        for warning in caught:
            message = str(warning.message)
            if message.startswith(_OXIDATION_WARNING):
                failed += 1
            elif issubclass(warning.category, DeprecationWarning | PendingDeprecationWarning):
                # e.g. spglib's notice about its error handling, raised inside pymatgen
                logger.debug("pymatgen/spglib deprecation while correcting: %s", message)
            else:
                other[message.split(".")[0][:120]] += 1
        per_atom[position] = sum(a.value for a in adjustments) / len(structure)
        kinds.append(tuple(_kind(a.name) for a in adjustments))
    for message, count in sorted(other.items()):
        logger.warning("pymatgen warned %d time(s) while correcting: %s", count, message)
    return AnionCorrections(per_atom, tuple(kinds), failed)


def _kind(name: str) -> str:
    """``"MP2020 anion correction (oxide)"`` → ``"oxide"``."""
    return name.rsplit("(", 1)[-1].rstrip(")") if "(" in name else name
