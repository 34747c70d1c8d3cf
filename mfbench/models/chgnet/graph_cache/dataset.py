"""The torch side of the graph cache: a map-style dataset of (graph, targets) and its loader.

Built by :meth:`GraphCache.dataset <mfbench.models.chgnet.graph_cache.GraphCache.dataset>` and
:meth:`GraphCache.loader <mfbench.models.chgnet.graph_cache.GraphCache.loader>`; torch and
chgnet are imported only when a batch is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.errors import DataError

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraph
    from torch.utils.data import DataLoader


class GraphDataset:
    """Map-style torch dataset of ``(graph, targets)`` over a frame set, read from a cache.

    Item ``i`` is what :func:`graph_loader` batches: the frame's graph with
    ``graph_id=i`` and ``mp_id`` its frame id, and its targets (the labels of the frame set's
    fidelity, or row ``i`` of ``labels`` when given), float32 tensors ``e`` (eV/atom,
    scalar), ``f`` (eV/Å, ``[n_atoms, 3]``), ``s`` (GPa, ``[3, 3]``) and ``m`` (μB,
    ``[n_atoms]``, None when any magmom is unlabelled); ``f``, ``s`` and ``m`` are views of
    one storage. Collate with chgnet's ``collate_graphs``. Picklable without the frame store,
    for ``DataLoader`` workers.

    Args:
        cache: the :class:`~mfbench.models.chgnet.graph_cache.GraphCache` of the frames' store.
        frames: the frames, in item order.
        labels: substitute targets (e.g. the residuals a Δ-learning method trains on): one row
            per frame of ``frames``, in order, with the frames' atom counts. None: the frames'
            own labels (``frames.labels()``).

    Raises:
        DataError: at construction, when a frame has no graph (cannot be converted, or not
            built), every such frame named; or when ``labels`` does not match ``frames``.
            Nothing is substituted.
    """

    def __init__(self, cache: Any, frames: FrameSet, *, labels: LabelTable | None = None) -> None:
        cache.check_store(frames.store)
        self.cache = cache
        self.indices = np.asarray(frames.indices, dtype=np.int64)
        self.frame_ids = [str(frame_id) for frame_id in frames.frame_ids.tolist()]
        self.table: LabelTable = (
            frames.labels() if labels is None else check_substitute_labels(frames, labels)
        )
        missing = cache.missing(self.indices)
        if missing:
            lines = "\n".join(f"  {frame_id}: {why}" for frame_id, why in missing.items())
            raise DataError(
                f"{len(missing)} frame(s) of the frame set have no graph in "
                f"{cache.directory}:\n{lines}",
                frame=next(iter(missing)) if len(missing) == 1 else None,
            )

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[CrystalGraph, dict[str, Any]]:
        import torch

        index = int(self.indices[i])
        i = int(i) % len(self.indices)
        graph = self.cache.get(index, graph_id=i, mp_id=self.frame_ids[i])
        table = self.table
        atoms = slice(int(table.atom_offsets[i]), int(table.atom_offsets[i + 1]))
        magmoms = table.magmoms[atoms]
        # f, s and m share one float32 storage (one shared-memory segment per item)
        n = atoms.stop - atoms.start
        values = torch.from_numpy(
            np.concatenate([table.forces[atoms].ravel(), table.stress[i].ravel(), magmoms])
            .astype(np.float32)
        )  # fmt: skip
        targets = {
            "e": torch.tensor(table.energy_per_atom[i], dtype=torch.float32),
            "f": values[: 3 * n].view(n, 3),
            "s": values[3 * n : 3 * n + 9].view(3, 3),
            "m": None if np.isnan(magmoms).any() else values[3 * n + 9 :],
        }
        return graph, targets


def check_substitute_labels(frames: FrameSet, labels: LabelTable) -> LabelTable:
    """``labels``, after checking that they fit ``frames`` row by row (frames and atom counts).

    Raises:
        DataError: another number of frames, or a frame with another number of atoms (the
            first such frame is named).
    """
    if labels.n_frames != len(frames):
        raise DataError(
            f"the substitute labels have {labels.n_frames} frame(s), the frame set "
            f"{len(frames)}: give one row per frame, in the frame set's order"
        )
    offsets = frames.store.atom_offsets
    indices = np.asarray(frames.indices, dtype=np.int64)
    expected = offsets[indices + 1] - offsets[indices]
    wrong = np.flatnonzero(labels.n_atoms != expected)
    if len(wrong):
        i = int(wrong[0])
        raise DataError(
            f"the substitute labels give {int(labels.n_atoms[i])} atom(s) for row {i}, the "
            f"frame has {int(expected[i])} ({len(wrong)} row(s) differ); the labels must be "
            "in the frame set's order",
            frame=str(frames.frame_ids[i]),
        )
    return labels


def graph_loader(
    dataset: GraphDataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    pin_memory: bool = False,
    persistent_workers: bool = False,
) -> DataLoader:
    """A ``DataLoader`` of CHGNet batches over ``dataset``.

    Batches are chgnet's ``collate_graphs`` output ``(graphs, targets)``; the order is drawn
    from a generator seeded with ``seed`` in the main process, so it does not depend on
    ``num_workers``.
    """
    import torch
    from chgnet.data.dataset import collate_graphs

    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate_graphs,
        generator=torch.Generator().manual_seed(seed),
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=persistent_workers and num_workers > 0,
    )
