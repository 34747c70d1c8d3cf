"""The shard file format of the graph cache: one record per graph, a hashed JSON header.

A shard is one file, written to a temporary name and renamed into place when complete::

    record 0 | record 1 | ... | header JSON | u64 header length | sha256(header) | b"MFBGRPH1"

A record is one graph: the shapes of its eight tensors (``int32 [8, 3]``, -1 = no such
dimension) followed by each tensor's raw bytes, padded to 8 bytes. The header lists, per
record, the frame index and id, the byte offset, a CRC-32 of the record and the composition
string, plus the frames CHGNet could not convert (with the reason), the sha256 of the records
and the full cache identity. Reading a graph is one ``pread`` of its record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraph

#: Version of the shard and index layout; part of the cache identity.
CACHE_FORMAT_VERSION = 1
#: Tensors of a :class:`~chgnet.graph.CrystalGraph` stored per record, in record order.
FIELDS = (
    "atomic_number",  # int32 [n_atoms]
    "atom_frac_coord",  # float32 [n_atoms, 3]
    "lattice",  # float32 [3, 3] Å
    "atom_graph",  # int32 [n_directed, 2]
    "neighbor_image",  # float32 [n_directed, 3]
    "directed2undirected",  # int32 [n_directed]
    "undirected2directed",  # int32 [n_undirected]
    "bond_graph",  # int32 [n_angles, 5]
)
#: Tensors a fresh conversion returns with ``requires_grad=True`` (forces and stress).
REQUIRES_GRAD = ("atom_frac_coord", "lattice")
_MAX_NDIM = 3
_PREFIX_BYTES = len(FIELDS) * _MAX_NDIM * 4
MAGIC = b"MFBGRPH1"
FOOTER = struct.Struct("<Q32s8s")  # header length, sha256 of the header, magic
SHARD_SUFFIX = ".mfbg"
INDEX_FILE = "index.json"
_CHUNK = 1 << 20


def encode_graph(graph: CrystalGraph) -> tuple[bytes, list[list[str]]]:
    """One graph as a record, and its ``[name, numpy dtype]`` field list."""
    shapes = np.full((len(FIELDS), _MAX_NDIM), -1, dtype="<i4")
    parts: list[bytes] = [b""]
    dtypes: list[list[str]] = []
    for k, name in enumerate(FIELDS):
        array = np.ascontiguousarray(getattr(graph, name).detach().cpu().numpy())
        if array.ndim > _MAX_NDIM:
            raise ValueError(f"{name} has {array.ndim} dimensions; the cache stores up to 3")
        shapes[k, : array.ndim] = array.shape
        data = array.tobytes()
        parts.append(data + b"\0" * (-len(data) % 8))
        dtypes.append([name, array.dtype.str])
    parts[0] = shapes.tobytes()
    return b"".join(parts), dtypes


def decode_record(buffer: bytearray, fields: Sequence[Sequence[str]]) -> dict[str, Any]:
    """The tensors of one record, as views of one storage over ``buffer``.

    One storage per graph means one shared-memory segment when a DataLoader worker sends it
    (eight separate tensors cost about twice as much per batch).
    """
    import torch

    whole = torch.frombuffer(buffer, dtype=torch.uint8)
    shapes = np.frombuffer(buffer, dtype="<i4", count=len(FIELDS) * _MAX_NDIM)
    position, tensors = _PREFIX_BYTES, {}
    for (name, dtype_text), dims in zip(
        fields, shapes.reshape(len(FIELDS), _MAX_NDIM).tolist(), strict=True
    ):
        shape = [d for d in dims if d >= 0]
        dtype, itemsize = _torch_dtype(dtype_text)
        size = math.prod(shape) * itemsize
        tensors[name] = whole[position : position + size].view(dtype).view(shape)
        position += size + (-size % 8)
    if position != len(buffer):
        raise ValueError(f"record is {len(buffer)} bytes, its shapes say {position}")
    return tensors


@functools.cache
def _torch_dtype(text: str) -> tuple[Any, int]:
    """Torch dtype and item size of a numpy dtype string such as ``"<f4"``."""
    import torch

    dtype = np.dtype(text)
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype, dtype.itemsize


class CorruptShardError(Exception):
    """A shard file that cannot be trusted (reason in the message)."""


def shard_name(identity_key: str, indices: Sequence[int]) -> str:
    """``shard-<first index>-<hash>.mfbg``: the hash covers the cache identity and the frames."""
    digest = hashlib.sha256(identity_key.encode())
    digest.update(np.asarray(indices, dtype="<i8").tobytes())
    return f"shard-{int(indices[0]):09d}-{digest.hexdigest()[:16]}{SHARD_SUFFIX}"


def read_header(path: Path, verify: bool) -> dict[str, Any]:
    """The header of a shard; ``verify`` also checks the sha256 of its records."""
    try:
        size = path.stat().st_size
        if size < FOOTER.size:
            raise CorruptShardError(f"{size} bytes, shorter than a footer (truncated)")
        with open(path, "rb") as handle:
            handle.seek(size - FOOTER.size)
            header_size, header_sha, magic = FOOTER.unpack(handle.read(FOOTER.size))
            data_size = size - FOOTER.size - header_size
            if magic != MAGIC or data_size < 0:
                raise CorruptShardError("no valid footer (truncated or overwritten)")
            handle.seek(data_size)
            header_bytes = handle.read(header_size)
            if hashlib.sha256(header_bytes).digest() != header_sha:
                raise CorruptShardError("header checksum mismatch")
            header = json.loads(header_bytes)
            if header.get("format") != CACHE_FORMAT_VERSION:
                raise CorruptShardError(f"shard format {header.get('format')!r}")
            if header["data_size"] != data_size:
                raise CorruptShardError(
                    f"{data_size} bytes of records, its header says {header['data_size']}"
                )
            if verify:
                handle.seek(0)
                digest, left = hashlib.sha256(), data_size
                while left:
                    chunk = handle.read(min(_CHUNK, left))
                    if not chunk:
                        raise CorruptShardError("ends early")
                    digest.update(chunk)
                    left -= len(chunk)
                if digest.hexdigest() != header["data_sha256"]:
                    raise CorruptShardError("sha256 of the records does not match its header")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptShardError(f"unreadable ({type(exc).__name__}: {exc})") from exc
    return header


@dataclass(frozen=True)
class Shard:
    """What the reader keeps of a shard's header."""

    name: str
    frames: np.ndarray  # int64 [k] store indices
    offsets: np.ndarray  # int64 [k + 1] record byte offsets
    crc32: np.ndarray  # uint32 [k]
    composition: list[str]
    fields: list[list[str]]

    @classmethod
    def from_header(cls, name: str, header: dict[str, Any]) -> Shard:
        """The reader's view of a header; :class:`CorruptShardError` when inconsistent."""
        shard = cls(
            name,
            np.asarray(header["frames"], dtype=np.int64),
            np.asarray(header["offsets"], dtype=np.int64),
            np.asarray(header["crc32"], dtype=np.uint32),
            list(header["composition"]),
            [list(f) for f in header["fields"]],
        )
        k = len(shard.frames)
        if (
            (len(shard.offsets), len(shard.crc32), len(shard.composition)) != (k + 1, k, k)
            or shard.offsets[-1] != header["data_size"]
            or np.any(np.diff(shard.offsets) <= 0)
            or [f[0] for f in shard.fields] != list(FIELDS)
        ):
            raise CorruptShardError("inconsistent header")
        return shard


# -- the cache ------------------------------------------------------------------------------


def pread_into(fd: int, buffer: bytearray, offset: int) -> int:
    """Read ``len(buffer)`` bytes at ``offset`` without moving the file position."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [buffer], offset)
    data = os.pread(fd, len(buffer), offset)
    buffer[: len(data)] = data
    return len(data)
