"""Which functional a VASP calculation used, from its INCAR and ``parameters``.

:func:`detect_functional` reads METAGGA, GGA and the POTCAR family, LHFCALC/HFSCREEN/AEXX,
LDAU/LDAUU/LDAUJ, LUSE_VDW/IVDW and ICHARG (a tag absent from both takes VASP's default);
:func:`functional_mismatch` compares the result with a dataset's declared fidelity
(:data:`FIDELITY_FUNCTIONALS`), and :func:`check_calculation` refuses what the VASP reader
(:mod:`mfbench.data.readers.vasp`) must not read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mfbench.errors import DataError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Functional:
    """What one VASP calculation computed, as its INCAR and ``parameters`` say.

    Attributes:
        name: the whole description, e.g. ``"r2SCAN"``, ``"PBE+U"``, ``"HSE06"``,
            ``"revPBE"``, ``"PBE+vdW(DFT-D3)"``.
        base: the exchange-correlation functional alone, e.g. ``"r2SCAN"``, ``"PBE"``,
            ``"SCAN"``, ``"LDA"``, ``"HSE06"`` (a hybrid's name).
        hubbard_u: DFT+U with a non-zero U - J on some element.
        hybrid: LHFCALC is set (exact exchange).
        vdw: the van der Waals correction, e.g. ``"DFT-D3"``, or None.
        non_self_consistent: ICHARG ≥ 10 (fixed charge density, e.g. a band structure).
        evidence: the tag values that decided, e.g. ``"METAGGA = R2scan (INCAR), ..."``.
    """

    name: str
    base: str
    hubbard_u: bool
    hybrid: bool
    vdw: str | None
    non_self_consistent: bool
    evidence: str


@dataclass(frozen=True)
class FidelityFunctional:
    """The functional a declared fidelity stands for.

    Attributes:
        base: required :attr:`Functional.base`.
        hubbard_u_allowed: whether +U runs belong to it.
        description: what it is, for messages.
    """

    base: str
    hubbard_u_allowed: bool
    description: str


#: Declared fidelity → the functional its calculations must use (no hybrid, no vdW ever).
FIDELITY_FUNCTIONALS: dict[str, FidelityFunctional] = {
    "r2scan": FidelityFunctional("r2SCAN", False, "r2SCAN (METAGGA = R2SCAN) without +U"),
    "gga": FidelityFunctional("PBE", True, "Materials Project GGA/GGA+U (PBE, +U allowed)"),
    "pbe": FidelityFunctional("PBE", False, "plain PBE without +U"),
}

_METAGGA_NAMES = {
    "R2SCAN": "r2SCAN", "SCAN": "SCAN", "RSCAN": "rSCAN", "TPSS": "TPSS", "RTPSS": "revTPSS",
    "M06L": "M06-L", "MBJ": "mBJ", "MS0": "MS0", "MS1": "MS1", "MS2": "MS2",
}  # fmt: skip
_GGA_NAMES = {
    "PE": "PBE", "RE": "revPBE", "PS": "PBEsol", "RP": "RPBE", "AM": "AM05", "OR": "optPBE",
    "BO": "optB88", "MK": "optB86b", "91": "PW91", "CA": "LDA", "PZ": "LDA",
}  # fmt: skip
_IVDW_NAMES = {
    1: "DFT-D2", 10: "DFT-D2", 11: "DFT-D3", 12: "DFT-D3(BJ)", 13: "DFT-D4", 2: "TS", 20: "TS",
    21: "TS-H", 202: "MBD", 4: "dDsC",
}  # fmt: skip
_UNSET = frozenset({"", "--", "NONE"})


def _tag(
    name: str, incar: Mapping[str, Any], parameters: Mapping[str, Any], *, incar_first: bool
) -> tuple[Any, str]:
    """Value of INCAR tag ``name`` and where it came from.

    Returns:
        ``(value, "INCAR" | "parameters")``, or ``(None, "default")`` when in neither.
    """
    sources = [("INCAR", incar), ("parameters", parameters)]
    for where, mapping in sources if incar_first else sources[::-1]:
        if mapping.get(name) is not None:
            return mapping[name], where
    return None, "default"


def _flag(value: Any) -> bool:
    """A VASP logical: bool, or text such as ``"T"``, ``".TRUE."``, ``"F"``."""
    if isinstance(value, str):
        return value.strip().upper().lstrip(".").startswith("T")
    return bool(value)


def _floats(value: Any) -> list[float]:
    """A number or list of numbers (as pymatgen parses ``LDAUU``) as a list of floats."""
    if value is None:
        return []
    if isinstance(value, str):
        return [float(v) for v in value.split()]
    if isinstance(value, int | float):
        return [float(value)]
    return [float(v) for v in value]


def _show(value: Any) -> str:
    """A tag value as VASP writes it: ``T``/``F``, numbers with ``:g``, lists space-separated."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return " ".join(_show(v) for v in value)
    return str(value).strip()


def _potcar_functional(potcar_symbols: Sequence[str]) -> str | None:
    """Functional of the POTCARs (``"PAW_PBE Si 05Jan2001"`` → PBE), None if unknown or mixed."""
    families = set()
    for symbol in potcar_symbols:
        head = symbol.split()[0] if symbol.split() else ""
        if head.startswith("PAW_PBE"):
            families.add("PBE")
        elif head == "PAW_GGA":
            families.add("PW91")
        elif head in ("PAW", "PAW_LDA"):
            families.add("LDA")
        else:
            families.add(None)
    return families.pop() if len(families) == 1 else None


def _hybrid_name(hfscreen: float, aexx: float | None) -> str:
    """Name of a hybrid from HFSCREEN (Å⁻¹) and AEXX (fraction of exact exchange)."""
    if 0.2 <= hfscreen <= 0.21:
        return "HSE06"
    if math.isclose(hfscreen, 0.3):
        return "HSE03"
    if hfscreen > 0:
        return f"screened hybrid (HFSCREEN = {hfscreen:g})"
    if aexx is not None and math.isclose(aexx, 1.0):
        return "Hartree-Fock"
    if aexx is None or math.isclose(aexx, 0.25):
        return "PBE0-type hybrid"
    return f"hybrid (AEXX = {aexx:g})"


def detect_functional(
    incar: Mapping[str, Any],
    parameters: Mapping[str, Any],
    potcar_symbols: Sequence[str] = (),
) -> Functional:
    """Decide what functional a calculation used from its INCAR and parameters.

    METAGGA and IVDW are read from the INCAR first (vasprun.xml's ``parameters`` does not list
    METAGGA), every other tag from ``parameters`` first (what VASP used), then the INCAR; a tag
    in neither takes VASP's default (no METAGGA, GGA from the POTCAR, LHFCALC and LDAU off,
    no vdW, a self-consistent ICHARG). With GGA unset (``--``) the POTCAR family decides:
    ``PAW_PBE`` → PBE, ``PAW`` → LDA.

    Args:
        incar: ``Vasprun.incar`` (the INCAR as written), tag → value.
        parameters: ``Vasprun.parameters`` (every tag as VASP used it), tag → value.
        potcar_symbols: ``Vasprun.potcar_symbols``, e.g. ``["PAW_PBE Si 05Jan2001"]``.

    Returns:
        The functional, with the tag values that decided it.
    """
    evidence: list[str] = []

    def tag(name: str, incar_first: bool = False) -> Any:
        value, where = _tag(name, incar, parameters, incar_first=incar_first)
        if value is not None:
            evidence.append(f"{name} = {_show(value)} ({where})")
        return value

    icharg = tag("ICHARG")
    non_self_consistent = icharg is not None and int(icharg) >= 10
    hybrid = _flag(tag("LHFCALC"))
    metagga = tag("METAGGA", incar_first=True)
    metagga_key = str(metagga).strip().upper() if metagga is not None else ""
    gga = str(tag("GGA") or "").strip().upper()
    if hybrid:
        hfscreen = tag("HFSCREEN")
        aexx = tag("AEXX")
        base = _hybrid_name(float(hfscreen or 0.0), None if aexx is None else float(aexx))
    elif metagga_key not in _UNSET:
        base = _METAGGA_NAMES.get(metagga_key, f"metaGGA {metagga_key}")
    elif gga not in _UNSET:
        base = _GGA_NAMES.get(gga, f"GGA = {gga}")
    else:
        potcar = _potcar_functional(potcar_symbols)
        shown = ", ".join(sorted(set(potcar_symbols))) or "none listed"
        evidence.append(f"POTCAR = {shown}")
        base = potcar or "unknown (GGA unset and the POTCAR family unknown)"
    hubbard_u = False
    if _flag(tag("LDAU")):
        u = _floats(tag("LDAUU", incar_first=True))
        j = _floats(tag("LDAUJ", incar_first=True)) or [0.0] * len(u)
        if len(j) != len(u):
            j = [0.0] * len(u)
        hubbard_u = not u or any(abs(a - b) > 1e-8 for a, b in zip(u, j, strict=True))
    vdw = None
    if _flag(tag("LUSE_VDW")):
        vdw = "nonlocal vdW (LUSE_VDW)"
    else:
        ivdw = tag("IVDW", incar_first=True)
        if ivdw is not None and int(ivdw) != 0:
            vdw = _IVDW_NAMES.get(int(ivdw), f"IVDW = {int(ivdw)}")
    name = base + ("+U" if hubbard_u else "") + (f"+vdW({vdw})" if vdw else "")
    if non_self_consistent:
        name += " non-self-consistent"
    return Functional(name, base, hubbard_u, hybrid, vdw, non_self_consistent, ", ".join(evidence))


def functional_mismatch(fidelity: str, functional: Functional) -> str | None:
    """Why ``functional`` does not belong to the declared ``fidelity``, or None if it does.

    Non-self-consistency is not judged here (see :func:`check_calculation`).
    """
    rule = FIDELITY_FUNCTIONALS.get(fidelity)
    if rule is None:
        return (
            f"fidelity {fidelity!r} names no known functional (known: "
            f"{', '.join(sorted(FIDELITY_FUNCTIONALS))})"
        )
    if (
        functional.hybrid
        or functional.vdw is not None
        or functional.base != rule.base
        or (functional.hubbard_u and not rule.hubbard_u_allowed)
    ):
        return f"fidelity {fidelity!r} is {rule.description}"
    return None


def check_calculation(
    functional: Functional, fidelity: str, *, check_functional: bool, file: str, material: str
) -> None:
    """Refuse a non-self-consistent run, and a functional that is not the declared fidelity.

    Args:
        functional: what the calculation is (:func:`detect_functional`).
        fidelity: the dataset's declared fidelity.
        check_functional: False logs a warning for a mismatch instead of refusing.
        file: the vasprun file, for messages.
        material: its material id, for messages.

    Raises:
        DataError: ICHARG ≥ 10 (always), or a mismatch while ``check_functional`` is on.
    """
    if functional.non_self_consistent:
        raise DataError(
            f"non-self-consistent run ({functional.evidence}): ICHARG >= 10 keeps the charge "
            "density fixed, so its energies and forces are not labels of any functional; "
            "move it out of the source folder",
            file=file,
            material=material,
        )
    reason = functional_mismatch(fidelity, functional)
    if reason is None:
        return
    message = (
        f"declared fidelity {fidelity!r}, but the calculation is {functional.name} "
        f"({functional.evidence}); {reason}"
    )
    if check_functional:
        raise DataError(
            message + ". Set the reader option check_functional: false to read it anyway",
            file=file,
            material=material,
        )
    logger.warning("%s: %s; read anyway (check_functional is off)", file, message)
