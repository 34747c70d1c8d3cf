"""Material-grouped splits and nested data fractions, decided by salted hashes.

Each material id is hashed with the task's salt to a number ``u`` in [0, 1): train when
``u < train``, val when ``u < train + val``, test otherwise. All frames of a material land
on one side, and a material's side never changes when the dataset grows. Fractions hash the
train materials again with a second salt; fraction ``f`` keeps the materials with
``u' < f``, so smaller fractions are subsets of larger ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mfbench.data.checksum import fingerprint
from mfbench.tasks.definition import FractionSpec, SplitSpec

TRAIN, VAL, TEST = 0, 1, 2
SIDES = {"train": TRAIN, "val": VAL, "test": TEST}


def hash_unit(keys: np.ndarray, salt: str) -> np.ndarray:
    """Map each string key to a float in [0, 1) from the first 8 bytes of sha256(salt:key)."""
    out = np.empty(len(keys), dtype=np.float64)
    for i, key in enumerate(keys):
        digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
        out[i] = int.from_bytes(digest[:8], "big") / 2.0**64
    return out


@dataclass(frozen=True)
class Split:
    """A task's split of one dataset's frames.

    Attributes:
        side: ``[n_frames]`` int8, ``TRAIN``/``VAL``/``TEST`` per frame.
        frame_ids, material_ids: ``[n_frames]`` ids of the dataset.
        fraction_spec: the task's fraction rule.
    """

    side: np.ndarray
    frame_ids: np.ndarray
    material_ids: np.ndarray
    fraction_spec: FractionSpec

    @classmethod
    def compute(
        cls,
        frame_ids: np.ndarray,
        material_ids: np.ndarray,
        split: SplitSpec,
        fractions: FractionSpec,
    ) -> Split:
        """Assign every frame to a side by hashing its material id."""
        materials, inverse = np.unique(material_ids, return_inverse=True)
        u = hash_unit(materials, split.salt)
        material_side = np.where(
            u < split.train, TRAIN, np.where(u < split.train + split.val, VAL, TEST)
        ).astype(np.int8)
        return cls(material_side[inverse], frame_ids, material_ids, fractions)

    def indices(self, side: str) -> np.ndarray:
        """Frame indices (ascending) on ``side`` (``"train"``, ``"val"`` or ``"test"``)."""
        return np.flatnonzero(self.side == SIDES[side])

    def fingerprints(self) -> dict[str, str]:
        """sha256 per side over its sorted frame ids, and ``"split"`` over the three."""
        per_side = {name: fingerprint(self.frame_ids[self.indices(name)]) for name in SIDES}
        combined = hashlib.sha256(
            "".join(f"{k}:{v}\n" for k, v in per_side.items()).encode()
        ).hexdigest()
        return {**per_side, "split": combined}

    @cached_property
    def _train_material_rank(self) -> np.ndarray:
        """``[n_train_frames]`` the fraction hash of each train frame's material."""
        train = self.indices("train")
        materials, inverse = np.unique(self.material_ids[train], return_inverse=True)
        return hash_unit(materials, self.fraction_spec.salt)[inverse]

    def train_fraction(self, fraction: float) -> np.ndarray:
        """Frame indices of training fraction ``fraction`` in [0, 1]; nested: f1 < f2 ⇒ subset."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
        train = self.indices("train")
        if fraction >= 1.0:
            return train
        return train[self._train_material_rank < fraction]

    def sizes(self) -> dict[str, int]:
        """Frames per side."""
        return {name: int(np.sum(self.side == code)) for name, code in SIDES.items()}
