"""What a graph cache is the cache of: the dataset preparation, converter settings, libraries.

The identity is the dataset (key, source sha256, store creation time, sha256 of ``meta.json``
and of the frame ids), the converter settings (``atom_graph_cutoff``, ``bond_graph_cutoff`` in
Å, ``algorithm``, ``on_isolated_atoms``), the chgnet and pymatgen versions (pymatgen makes the
neighbour lists) and the cache format. Other cutoffs or algorithm → another folder
(:func:`cache_directory`); a shard built for another dataset preparation or library version
is stale.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mfbench.data.store import FrameStore
from mfbench.models.chgnet.graph_cache.format import CACHE_FORMAT_VERSION
from mfbench.paths import home

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraphConverter


@dataclass(frozen=True)
class ConverterSettings:
    """The settings of chgnet's ``CrystalGraphConverter`` that decide the graphs.

    Attributes:
        atom_graph_cutoff: radius of the atom graph, Å.
        bond_graph_cutoff: bond length below which bonds enter the bond graph, Å.
        algorithm: ``"fast"`` (chgnet's C extension) or ``"legacy"``.
        on_isolated_atoms: ``"error"`` (the frame cannot be converted), ``"warn"`` or
            ``"ignore"`` (the graph is kept with its isolated atoms).
    """

    atom_graph_cutoff: float
    bond_graph_cutoff: float
    algorithm: str
    on_isolated_atoms: str = "error"

    @classmethod
    def from_converter(cls, converter: Any) -> ConverterSettings:
        """Settings of a converter, of a CHGNet model's ``graph_converter``, or given ones.

        Raises:
            TypeError: ``converter`` is not chgnet's ``CrystalGraphConverter`` (a subclass may
                convert differently, and workers rebuild the converter from its settings).
        """
        if isinstance(converter, ConverterSettings):
            return converter
        converter = getattr(converter, "graph_converter", converter)
        from chgnet.graph.converter import CrystalGraphConverter

        if type(converter) is not CrystalGraphConverter:
            raise TypeError(
                f"expected chgnet's CrystalGraphConverter (or a model holding one), got "
                f"{type(converter).__module__}.{type(converter).__qualname__}"
            )
        return cls(
            atom_graph_cutoff=float(converter.atom_graph_cutoff),
            bond_graph_cutoff=float(converter.bond_graph_cutoff),
            algorithm=str(converter.algorithm),
            on_isolated_atoms=str(getattr(converter, "on_isolated_atoms", "error")),
        )

    def make(self) -> CrystalGraphConverter:
        """A new chgnet converter with these settings.

        Raises:
            RuntimeError: the algorithm is not available in this process (chgnet would fall
                back to ``legacy`` silently).
        """
        from chgnet.graph.converter import CrystalGraphConverter

        converter = CrystalGraphConverter(
            atom_graph_cutoff=self.atom_graph_cutoff,
            bond_graph_cutoff=self.bond_graph_cutoff,
            algorithm=self.algorithm,  # type: ignore[arg-type]
            on_isolated_atoms=self.on_isolated_atoms,  # type: ignore[arg-type]
        )
        if converter.algorithm != self.algorithm:
            raise RuntimeError(
                f"chgnet's {self.algorithm!r} graph algorithm is not available in this process"
            )
        return converter

    def key(self) -> str:
        """Hex sha256 of the settings."""
        return sha256_json(asdict(self))

    def folder_name(self) -> str:
        """Readable, unique folder name, e.g. ``6A-3A-fast-0123456789ab``."""
        return (
            f"{self.atom_graph_cutoff:g}A-{self.bond_graph_cutoff:g}A-{self.algorithm}-"
            f"{self.key()[:12]}"
        )


def dataset_identity(store: FrameStore) -> dict[str, Any]:
    """What identifies a prepared store's geometry: its key, source and preparation.

    ``meta.json`` carries the creation time, so preparing a dataset again (even from the same
    source) makes a new identity and the graphs are rebuilt rather than trusted.
    """
    meta = store.meta
    source = meta.get("source") or {}
    ids = "\n".join(str(i) for i in store.frame_ids.tolist())
    return {
        "key": dataset_key(store),
        "source_sha256": source.get("sha256"),
        "created_utc": meta.get("created_utc"),
        "n_frames": len(store),
        "meta_sha256": sha256_json(meta),
        "frame_ids_sha256": hashlib.sha256(ids.encode()).hexdigest(),
    }


def dataset_key(store: FrameStore) -> str:
    """``<id>-v<version>`` from the store's registry entry, else the store folder's name."""
    entry = store.meta.get("dataset") or {}
    key = (
        f"{entry['id']}-v{entry['version']}"
        if entry.get("id") and entry.get("version")
        else store.path.name
    )
    return re.sub(r"[^A-Za-z0-9._-]", "_", key)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that make the graphs (chgnet; pymatgen's neighbour lists)."""
    return {"chgnet": version("chgnet"), "pymatgen": version("pymatgen")}


def cache_identity(store: FrameStore, settings: ConverterSettings) -> dict[str, Any]:
    """The full identity every shard of a cache must carry."""
    return {
        "format": CACHE_FORMAT_VERSION,
        "dataset": dataset_identity(store),
        "converter": asdict(settings),
        "versions": library_versions(),
    }


def cache_directory(
    store: FrameStore, settings: ConverterSettings, root: Path | None = None
) -> Path:
    """Folder of the cache of ``store``'s graphs under ``settings``."""
    base = Path(root) if root is not None else home() / "graphs"
    return base / dataset_key(store) / settings.folder_name()


def sha256_json(value: Any) -> str:
    """Hex sha256 of ``value`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def identity_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two identities differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += identity_differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} → {new!r}"]


# -- records and shards ---------------------------------------------------------------------
