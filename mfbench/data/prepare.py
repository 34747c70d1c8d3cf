"""``mfbench data prepare``: verify a source file, convert it into a frame store, report."""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.core import Element

from mfbench.data.checksum import sha256_source
from mfbench.data.elemental_reference import composition_fractions
from mfbench.data.frame import Frame
from mfbench.data.readers import read_frames
from mfbench.data.registry import DatasetEntry
from mfbench.data.store import FrameStore, StoreWriter
from mfbench.errors import ChecksumError, DataError
from mfbench.locks import exclusive_lock
from mfbench.paths import locks_dir

logger = logging.getLogger(__name__)


@dataclass
class PrepareReport:
    """What a prepare did: the source, its checksum status and what was converted."""

    dataset: str
    store: str
    source: str
    sha256: str
    checksum_status: str  # "verified" | "unpinned" | "mismatch-accepted" | "skipped-existing"
    n_frames: int
    n_materials: int
    n_atoms: int
    elements: dict[str, int] = field(default_factory=dict)  # symbol → frames containing it
    fidelities: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def prepare(
    entry: DatasetEntry,
    source: Path | None = None,
    *,
    accept_checksum_mismatch: bool = False,
    overwrite: bool = False,
) -> PrepareReport:
    """Verify ``source`` against the registry and convert it into the dataset's frame store.

    Args:
        entry: the registry entry.
        source: the user's copy of the source file or folder; embedded datasets use
            their shipped file when None.
        accept_checksum_mismatch: convert a source whose sha256 differs from the
            registry's pin; the override is recorded in the store and the report.
        overwrite: replace an existing store (otherwise an existing, valid store is kept).

    One process prepares a store at a time: a second one waits for the first (with a warning)
    and then finds its store, or replaces it when ``overwrite`` is given.

    Raises:
        ChecksumError: the sha256 differs from the pin and no override was given.
        DataError: the source is missing or a frame is bad (named in the message), or the
            frame count disagrees with a verified source's pin.
    """
    started = time.perf_counter()
    if source is None:
        source = entry.embedded_path()
    source = Path(source)
    if not source.exists():
        hint = f" (expected a file like {entry.file_name!r})" if entry.file_name else ""
        raise DataError(f"source does not exist{hint}", file=str(source))
    destination = entry.store_path()
    digest = sha256_source(source)
    lock = locks_dir() / f"dataset-{entry.key}.lock"
    with exclusive_lock(lock, what=f"dataset store {destination}", wait=True):
        return _prepare_locked(entry, source, digest, started, accept_checksum_mismatch, overwrite)


def _prepare_locked(
    entry: DatasetEntry,
    source: Path,
    digest: str,
    started: float,
    accept_checksum_mismatch: bool,
    overwrite: bool,
) -> PrepareReport:
    """:func:`prepare` once this process holds the store's lock."""
    destination = entry.store_path()
    _remove_stale_temporaries(destination)
    if destination.exists() and not overwrite:
        store = FrameStore.open(destination)
        if store.meta["source"]["sha256"] == digest:
            logger.info("store %s is already prepared from this source", destination)
            return _report(entry, store, source, "skipped-existing", started)
        raise DataError(
            "a store prepared from a different source exists; pass --overwrite to replace it",
            file=str(destination),
        )

    warnings: list[str] = []
    if entry.sha256 is None:
        status = "unpinned"
        warnings.append(
            f"the registry pins no sha256 for {entry.id}; the source's sha256 {digest} was "
            "recorded but NOT verified against a published value"
        )
    elif digest == entry.sha256:
        status = "verified"
    elif accept_checksum_mismatch:
        status = "mismatch-accepted"
        warnings.append(
            f"sha256 mismatch accepted by the user: expected {entry.sha256}, got {digest}"
        )
    else:
        raise ChecksumError(
            f"{source}: sha256 {digest} does not match the registry's {entry.sha256} for "
            f"{entry.key}. The file may be corrupt, truncated or a different version. "
            "Re-download it, or pass --accept-checksum-mismatch to convert it anyway "
            "(the override is recorded in every result)."
        )
    for warning in warnings:
        logger.warning(warning)

    dropped: list[dict[str, str]] = []
    with StoreWriter(destination, entry.fidelities, overwrite=overwrite) as writer:
        try:
            frames = read_frames(entry.format, source, entry.options)
        except DataError as exc:  # the options are the registry entry's: name it
            raise DataError(f"dataset {entry.id}: {exc}") from exc
        writer.add_all(_physical(frames, entry, str(source), dropped))
        if dropped:
            message = (
                f"dropped {len(dropped)} unphysical frame(s) (unphysical: drop), e.g. "
                f"{dropped[0]['frame']!r}: {dropped[0]['reason']}; all are listed in meta.json"
            )
            logger.warning(message)
            warnings.append(message)
        if entry.n_frames is not None and writer.n_frames + len(dropped) != entry.n_frames:
            message = (
                f"read {writer.n_frames + len(dropped)} frames, the registry expects "
                f"{entry.n_frames}"
            )
            if status == "verified":
                raise DataError(message + " for a verified source: reader bug?", file=str(source))
            logger.warning(message)
            warnings.append(message)
        writer.commit(
            {
                "dataset": entry.model_dump(mode="json"),
                "source": {
                    "path": str(source.resolve()),
                    "sha256": digest,
                    "expected_sha256": entry.sha256,
                    "checksum_status": status,
                },
                "warnings": warnings,
                "dropped_frames": dropped,
            }
        )
    return _report(entry, FrameStore.open(destination), source, status, started)


def _physical(
    frames: Iterable[Frame], entry: DatasetEntry, file: str, dropped: list[dict[str, str]]
) -> Iterator[Frame]:
    """``frames`` within the entry's physical limits; the others refused or dropped.

    Raises:
        DataError: a frame beyond the limits when the entry says ``unphysical: refuse``,
            naming the file, material, frame and what is wrong.
    """
    limits = entry.physical_limits.limits()
    for frame in frames:
        reason = limits.violation(frame)
        if reason is None:
            yield frame
        elif entry.unphysical == "drop":
            dropped.append({"frame": frame.frame_id, "material": frame.material_id,
                            "reason": reason})  # fmt: skip
        else:
            raise DataError(
                f"unphysical frame: {reason}. Set `unphysical: drop` in the dataset's registry "
                "entry to leave such frames out (each is recorded), or widen its "
                "`physical_limits`",
                file=file,
                material=frame.material_id,
                frame=frame.frame_id,
            )


def _remove_stale_temporaries(destination: Path) -> None:
    """Clean up what killed prepares of this store left (the caller holds the store's lock).

    StoreWriter writes into ``.<store>.tmp-XXXXXXXX`` and moves a replaced store to
    ``.<store>.old-<pid>`` for the moment of the swap. Exactly those names are matched (another
    store's temporaries never are). A replaced store left while the store itself is missing (a
    kill between the two renames) is put back rather than removed.
    """
    name = re.escape(destination.name)
    pattern = re.compile(rf"\.{name}\.(tmp-[a-z0-9_]{{8}}|old-\d+)")
    for stale in sorted(destination.parent.iterdir()) if destination.parent.is_dir() else []:
        if not pattern.fullmatch(stale.name) or stale.is_symlink() or not stale.is_dir():
            continue
        if ".old-" in stale.name and not destination.exists():
            logger.warning("restoring %s from %s, left by an interrupted prepare", destination,
                           stale)  # fmt: skip
            os.replace(stale, destination)
            continue
        logger.warning("removing %s, left by an interrupted prepare", stale)
        shutil.rmtree(stale)


def _report(
    entry: DatasetEntry,
    store: FrameStore,
    source: Path,
    status: str,
    started: float,
) -> PrepareReport:
    # frames containing each element, from the flat arrays (no Composition per frame)
    frames_with = (composition_fractions(store.atomic_numbers, store.atom_offsets) > 0).sum(axis=0)
    elements = {
        Element.from_Z(int(z) + 1).symbol: int(frames_with[z]) for z in np.flatnonzero(frames_with)
    }
    return PrepareReport(
        dataset=entry.key,
        store=str(store.path),
        source=str(source),
        sha256=store.meta["source"]["sha256"],
        checksum_status=status,
        n_frames=len(store),
        n_materials=len(set(store.material_ids.tolist())),
        n_atoms=int(store.meta["n_atoms"]),
        elements=dict(sorted(elements.items())),
        fidelities=store.fidelities,
        seconds=round(time.perf_counter() - started, 3),
        warnings=list(store.meta.get("warnings", [])),
    )
