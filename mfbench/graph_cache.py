"""An on-disk cache of CHGNet crystal graphs, built once per dataset and converter settings.

Structure → :class:`chgnet.graph.CrystalGraph` conversion (neighbour lists, the atom graph and
the bond graph) costs milliseconds per frame, which adds up to tens of minutes or hours for the
real datasets. :meth:`GraphCache.build` converts every frame once, in parallel worker
processes, and every run, method and seed reads the graphs back in about 0.1 ms each::

    cache = GraphCache.build(store, model.graph_converter, workers=8)  # no-op when complete
    graph = cache.get("mp-1234-0-1")  # or a store index; equal to a fresh conversion
    loader = cache.loader(train, batch_size=16, shuffle=True, seed=0)  # chgnet batches

Layout (one folder per dataset and converter settings)::

    <root>/<dataset key>/<cutoffs-algorithm-settings hash>/
        index.json                  the cache identity and the shards written so far
        shard-<first index>-<hash>.mfbg
        ...

``<root>`` defaults to ``$MFBENCH_HOME/graphs``. A shard holds the graphs of up to
``shard_size`` frames (default 2048) and is one file, written to a temporary name and renamed
into place when complete::

    record 0 | record 1 | ... | header JSON | u64 header length | sha256(header) | b"MFBGRPH1"

A record is one graph: the shapes of its eight tensors (``int32 [8, 3]``, -1 = no such
dimension) followed by each tensor's raw bytes, padded to 8 bytes. The header lists, per
record, the frame index and id, the byte offset, a CRC-32 of the record and the composition
string, plus the frames CHGNet could not convert (with the reason), the sha256 of the records
and the full cache identity. Reading a graph is one ``pread`` of its record.

Identity and integrity:

- The identity is the dataset (key, source sha256, store creation time, sha256 of ``meta.json``
  and of the frame ids), the converter settings (``atom_graph_cutoff``, ``bond_graph_cutoff``
  in Å, ``algorithm``, ``on_isolated_atoms``), the chgnet and pymatgen versions (pymatgen makes
  the neighbour lists) and the cache format. Other cutoffs or algorithm → another folder.
  A shard built for another dataset preparation or library version → stale: discarded with a
  logged warning and its frames converted again.
- Every shard's header is hashed; :meth:`GraphCache.build` checks the sha256 of every shard's
  records (``verify=True``) and the header's frame ids against the store. A truncated,
  bit-flipped or unreadable shard is discarded with a warning and rebuilt; a shard the index
  lists but that is gone is reported and rebuilt.
- Each read checks the record's CRC-32; a record that fails is converted afresh with a warning
  (never used), and the next :meth:`GraphCache.build` repairs its shard.
- Shards are written atomically; an interrupted build keeps its completed shards and the next
  build converts only what is missing. Concurrent builders of the same cache are safe (shard
  names are content hashes, files appear by rename) but may duplicate work.

Frames CHGNet cannot convert (e.g. an isolated atom with no neighbour within
``atom_graph_cutoff`` when ``on_isolated_atoms="error"``, chgnet's default) are recorded with
the reason; the build finishes the other frames and then raises :class:`GraphConversionError`
naming every one. Reading such a frame raises :class:`~mfbench.errors.DataError`; nothing is
ever substituted for another sample.

Workers: ``workers=1`` converts in-process. More workers use a process pool; each worker opens
the store (memory-mapped) and makes its own converter from the settings, converts a chunk of
frames and writes its shard itself, so only small summaries travel between processes. The
default start method is ``fork`` on Linux (workers inherit the imported torch, chgnet and
pymatgen, about 3-5 s of imports each under ``spawn``) and ``spawn`` elsewhere; the code is
spawn-safe. Workers set ``torch.set_num_threads(1)``, as torch's own DataLoader workers do.

torch and chgnet are imported only when a graph is built or read.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import logging
import math
import os
import re
import struct
import sys
import tempfile
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mfbench.atomic_write import current_umask, write_json_atomic
from mfbench.data.frameset import FrameSet
from mfbench.data.labels import LabelTable
from mfbench.data.store import FrameStore
from mfbench.errors import DataError
from mfbench.paths import home

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraph, CrystalGraphConverter
    from torch.utils.data import DataLoader

logger = logging.getLogger(__name__)

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
_REQUIRES_GRAD = ("atom_frac_coord", "lattice")
_MAX_NDIM = 3
_PREFIX_BYTES = len(FIELDS) * _MAX_NDIM * 4
_MAGIC = b"MFBGRPH1"
_FOOTER = struct.Struct("<Q32s8s")  # header length, sha256 of the header, magic
_SUFFIX = ".mfbg"
_INDEX = "index.json"
_MAX_OPEN_SHARDS = 64
_MIN_CHUNK = 32
_STALE_TEMP_SECONDS = 3600.0
_CHUNK = 1 << 20


# -- identity -------------------------------------------------------------------------------


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
        return _sha256_json(asdict(self))

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
        "meta_sha256": _sha256_json(meta),
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


def _sha256_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two identities differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            out += _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} → {new!r}"]


# -- records and shards ---------------------------------------------------------------------


def _encode(graph: CrystalGraph) -> tuple[bytes, list[list[str]]]:
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


def _decode(buffer: bytearray, fields: Sequence[Sequence[str]]) -> dict[str, Any]:
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


class _CorruptShardError(Exception):
    """A shard file that cannot be trusted (reason in the message)."""


def _shard_name(identity_key: str, indices: Sequence[int]) -> str:
    digest = hashlib.sha256(identity_key.encode())
    digest.update(np.asarray(indices, dtype="<i8").tobytes())
    return f"shard-{int(indices[0]):09d}-{digest.hexdigest()[:16]}{_SUFFIX}"


def _read_header(path: Path, verify: bool) -> dict[str, Any]:
    """The header of a shard; ``verify`` also checks the sha256 of its records."""
    try:
        size = path.stat().st_size
        if size < _FOOTER.size:
            raise _CorruptShardError(f"{size} bytes, shorter than a footer (truncated)")
        with open(path, "rb") as handle:
            handle.seek(size - _FOOTER.size)
            header_size, header_sha, magic = _FOOTER.unpack(handle.read(_FOOTER.size))
            data_size = size - _FOOTER.size - header_size
            if magic != _MAGIC or data_size < 0:
                raise _CorruptShardError("no valid footer (truncated or overwritten)")
            handle.seek(data_size)
            header_bytes = handle.read(header_size)
            if hashlib.sha256(header_bytes).digest() != header_sha:
                raise _CorruptShardError("header checksum mismatch")
            header = json.loads(header_bytes)
            if header.get("format") != CACHE_FORMAT_VERSION:
                raise _CorruptShardError(f"shard format {header.get('format')!r}")
            if header["data_size"] != data_size:
                raise _CorruptShardError(
                    f"{data_size} bytes of records, its header says {header['data_size']}"
                )
            if verify:
                handle.seek(0)
                digest, left = hashlib.sha256(), data_size
                while left:
                    chunk = handle.read(min(_CHUNK, left))
                    if not chunk:
                        raise _CorruptShardError("ends early")
                    digest.update(chunk)
                    left -= len(chunk)
                if digest.hexdigest() != header["data_sha256"]:
                    raise _CorruptShardError("sha256 of the records does not match its header")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _CorruptShardError(f"unreadable ({type(exc).__name__}: {exc})") from exc
    return header


@dataclass(frozen=True)
class _ShardTask:
    """One chunk of frames for one worker; plain data, cheap to send to a process."""

    directory: str
    store_path: str
    settings: ConverterSettings
    identity: dict[str, Any]
    identity_key: str
    indices: list[int]


_WORKER_STORES: dict[str, FrameStore] = {}
_WORKER_CONVERTERS: dict[ConverterSettings, Any] = {}


def _worker_init() -> None:
    """Pool initializer: one torch thread per worker (as torch's DataLoader workers)."""
    import torch

    torch.set_num_threads(1)


def _worker_build(task: _ShardTask) -> dict[str, Any]:
    """Pool entry point: open the store and make the converter once per process, build."""
    store = _WORKER_STORES.get(task.store_path)
    if store is None:
        store = _WORKER_STORES[task.store_path] = FrameStore.open(Path(task.store_path))
    converter = _WORKER_CONVERTERS.get(task.settings)
    if converter is None:
        converter = _WORKER_CONVERTERS[task.settings] = task.settings.make()
    return _build_shard(task, store, converter)


def _build_shard(task: _ShardTask, store: FrameStore, converter: Any) -> dict[str, Any]:
    """Convert ``task.indices`` and write their shard; returns ``{"name", "header"}``."""
    directory = Path(task.directory)
    name = _shard_name(task.identity_key, task.indices)
    frames, frame_ids, offsets, crcs, compositions = [], [], [0], [], []
    failed: list[list[Any]] = []
    fields: list[list[str]] | None = None
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for index in task.indices:
                frame_id = str(store.frame_ids[index])
                try:
                    graph = converter(store.structure(index), graph_id=frame_id, mp_id=frame_id)
                except Exception as exc:
                    failed.append([int(index), frame_id, f"{type(exc).__name__}: {exc}"])
                    continue
                record, record_fields = _encode(graph)
                if fields is None:
                    fields = record_fields
                elif record_fields != fields:
                    raise DataError(
                        f"graph tensor dtypes {record_fields} differ from {fields}",
                        frame=frame_id,
                    )
                handle.write(record)
                digest.update(record)
                frames.append(int(index))
                frame_ids.append(frame_id)
                offsets.append(offsets[-1] + len(record))
                crcs.append(zlib.crc32(record))
                compositions.append(graph.composition)
            header = {
                "format": CACHE_FORMAT_VERSION,
                "identity_key": task.identity_key,
                "identity": task.identity,
                "fields": fields or [[name, ""] for name in FIELDS],
                "frames": frames,
                "frame_ids": frame_ids,
                "offsets": offsets,
                "crc32": crcs,
                "composition": compositions,
                "failed": failed,
                "data_size": offsets[-1],
                "data_sha256": digest.hexdigest(),
            }
            header_bytes = json.dumps(header, separators=(",", ":")).encode()
            handle.write(header_bytes)
            header_sha = hashlib.sha256(header_bytes).digest()
            handle.write(_FOOTER.pack(len(header_bytes), header_sha, _MAGIC))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"name": name, "header": header}


@dataclass(frozen=True)
class _Shard:
    """What the reader keeps of a shard's header."""

    name: str
    frames: np.ndarray  # int64 [k] store indices
    offsets: np.ndarray  # int64 [k + 1] record byte offsets
    crc32: np.ndarray  # uint32 [k]
    composition: list[str]
    fields: list[list[str]]

    @classmethod
    def from_header(cls, name: str, header: dict[str, Any]) -> _Shard:
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
            raise _CorruptShardError("inconsistent header")
        return shard


# -- the cache ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildReport:
    """What one :meth:`GraphCache.build` did.

    Attributes:
        directory: the cache folder.
        n_requested: distinct frames asked for.
        n_reused: of those, already in the cache (graph or recorded failure).
        n_converted: frames converted by this build (including failures).
        n_failed: requested frames CHGNet cannot convert (see ``failed``).
        shards_written: shards this build wrote.
        shards_discarded: stale, corrupt or missing shards found and dropped.
        workers: processes used for converting (1 = in-process, 0 = nothing to convert).
        seconds: wall time of the build, s.
        failed: frame id → reason, for the requested frames that cannot be converted.
    """

    directory: str
    n_requested: int
    n_reused: int
    n_converted: int
    n_failed: int
    shards_written: int
    shards_discarded: int
    workers: int
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        """Conversion rate of this build, frames/s (0 when nothing was converted)."""
        return self.n_converted / self.seconds if self.n_converted and self.seconds else 0.0


class GraphConversionError(DataError):
    """CHGNet cannot build the graphs of some frames; every one is named with its reason.

    Attributes:
        failed: frame id → reason.
        cache: the cache, complete for every other frame.
    """

    def __init__(self, failed: dict[str, str], cache: GraphCache | None = None) -> None:
        self.failed, self.cache = dict(failed), cache
        lines = "\n".join(f"  {frame_id}: {reason}" for frame_id, reason in failed.items())
        super().__init__(
            f"CHGNet cannot build the graph of {len(failed)} frame(s); they are not "
            f"substituted (the other frames are cached):\n{lines}",
            frame=next(iter(failed)) if len(failed) == 1 else None,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.failed,))  # picklable (e.g. from a job), without the cache


class GraphCache:
    """CHGNet graphs of a frame store's frames under one converter setting, read from disk.

    Make one with :meth:`build`. Reads are ``pread`` calls on descriptors opened lazily in
    each process (fork-safe); the object pickles without its open files or the frame store,
    so it can be handed to ``DataLoader`` workers under ``fork`` or ``spawn``. One object is
    not meant to be read from several threads at once.

    Attributes:
        directory: the cache folder.
        store_path: the frame store the graphs were made from.
        settings: the converter settings.
        identity: the cache identity (dataset, settings, library versions, format).
        report: what the :meth:`build` that returned this object did.
    """

    def __init__(
        self,
        directory: Path,
        store: FrameStore,
        settings: ConverterSettings,
        identity: dict[str, Any],
    ) -> None:
        self.directory = Path(directory)
        self.store_path = Path(store.path)
        self.settings = settings
        self.identity = identity
        self.identity_key = _sha256_json(identity)
        self.n_frames = len(store)
        self.report: BuildReport | None = None
        self._shards: list[_Shard] = []
        self._shard_of = np.full(self.n_frames, -1, dtype=np.int32)
        self._row_of = np.full(self.n_frames, -1, dtype=np.int32)
        self._failed: dict[int, tuple[str, str]] = {}
        self._listed: set[str] = set()
        self._store: FrameStore | None = store
        self._reset_process_state()

    # -- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        source: FrameStore | FrameSet,
        converter: Any,
        *,
        workers: int = 1,
        root: Path | None = None,
        shard_size: int = 2048,
        verify: bool = True,
        start_method: Literal["fork", "spawn", "forkserver"] | None = None,
        on_failed: Literal["raise", "report"] = "raise",
    ) -> GraphCache:
        """Open the cache of ``source``'s store, converting the frames it lacks.

        Reuses every valid shard; discards stale and corrupt ones with a warning; converts
        the missing frames of ``source`` (all frames of a store, the frames of a frame set)
        in ``workers`` processes; a second call is a no-op.

        Args:
            source: a frame store, or a frame set (only its frames are converted).
            converter: chgnet's ``CrystalGraphConverter``, a CHGNet model (its
                ``graph_converter`` is used), or :class:`ConverterSettings`.
            workers: processes converting frames; 1 converts in this process.
            root: folder holding caches; default ``$MFBENCH_HOME/graphs``.
            shard_size: most frames per shard. With several workers, chunks are smaller
                (about 8 per worker, at least 32 frames) so that the workers stay busy.
            verify: check the sha256 of every existing shard's records (reads the whole
                cache once); without it only headers and sizes are checked up front, and
                each record's CRC-32 when it is read.
            start_method: multiprocessing start method; default ``fork`` on Linux,
                ``spawn`` elsewhere.
            on_failed: ``"raise"`` a :class:`GraphConversionError` after the build when a
                requested frame cannot be converted, or ``"report"`` it in
                ``cache.report.failed`` and return.

        Returns:
            The cache; ``cache.report`` says what was reused, converted and discarded.

        Raises:
            GraphConversionError: frames of ``source`` CHGNet cannot convert (with
                ``on_failed="raise"``); the other frames are cached.
            TypeError: ``converter`` is not chgnet's converter.
        """
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if shard_size < 1:
            raise ValueError(f"shard_size must be at least 1, got {shard_size}")
        started = time.perf_counter()
        if isinstance(source, FrameSet):
            store, wanted = source.store, np.unique(np.asarray(source.indices, dtype=np.int64))
        else:
            store, wanted = source, np.arange(len(source), dtype=np.int64)
        settings = ConverterSettings.from_converter(converter)
        cache = cls(
            cache_directory(store, settings, root), store, settings, cache_identity(store, settings)
        )
        cache.directory.mkdir(parents=True, exist_ok=True)
        discarded = cache._load(verify=verify)

        missing = wanted[~cache._covers(wanted)]
        n_reused = len(wanted) - len(missing)
        chunk = shard_size
        if workers > 1:  # ~8 chunks per worker keep the pool busy to the end
            chunk = min(shard_size, max(_MIN_CHUNK, math.ceil(len(missing) / (8 * workers))))
        tasks = [
            _ShardTask(
                str(cache.directory),
                str(store.path),
                settings,
                cache.identity,
                cache.identity_key,
                [int(i) for i in missing[start : start + chunk]],
            )
            for start in range(0, len(missing), chunk)
        ]
        if tasks:
            logger.info(
                "graph cache %s: converting %d frames in %d shard(s) with %d worker(s) (%d reused)",
                cache.directory,
                len(missing),
                len(tasks),
                min(workers, len(tasks)),
                n_reused,
            )
        done = 0

        def finished(result: dict[str, Any]) -> None:
            nonlocal done
            cache._add(result["name"], result["header"])
            cache._write_index()
            done += 1
            logger.debug("graph cache %s: shard %d/%d done", cache.directory, done, len(tasks))

        used = _run(tasks, workers, start_method, store, finished)
        if discarded or cache._listed != set(cache.shard_names):
            cache._write_index()
        failed = {
            cache._failed[int(i)][0]: cache._failed[int(i)][1]
            for i in wanted
            if int(i) in cache._failed
        }
        cache.report = BuildReport(
            directory=str(cache.directory),
            n_requested=len(wanted),
            n_reused=n_reused,
            n_converted=len(missing),
            n_failed=len(failed),
            shards_written=len(tasks),
            shards_discarded=discarded,
            workers=used,
            seconds=time.perf_counter() - started,
            failed=failed,
        )
        if tasks:
            logger.info(
                "graph cache %s: converted %d frames in %.1f s (%.0f frames/s)",
                cache.directory,
                len(missing),
                cache.report.seconds,
                cache.report.frames_per_second,
            )
        if failed and on_failed == "raise":
            raise GraphConversionError(failed, cache)
        return cache

    def _load(self, verify: bool) -> int:
        """Index the valid shards on disk; drop stale and corrupt ones. Returns how many."""
        listed: set[str] = set()
        self._listed = listed
        index_path = self.directory / _INDEX
        if index_path.exists():
            try:
                index = json.loads(index_path.read_text())
                if index.get("identity_key") == self.identity_key:
                    listed.update(index["shards"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                logger.warning(
                    "graph cache %s: unreadable %s (%s); rebuilding it from the shards",
                    self.directory,
                    _INDEX,
                    exc,
                )
        self._remove_stale_temporaries()
        stale: dict[str, list[str]] = {}
        discarded = 0
        present = set()
        for path in sorted(self.directory.glob(f"shard-*{_SUFFIX}")):
            present.add(path.name)
            try:
                header = _read_header(path, verify)
                if header["identity_key"] != self.identity_key:
                    why = "; ".join(_differences(header.get("identity"), self.identity))
                    stale.setdefault(why or "identity key differs", []).append(path.name)
                    path.unlink(missing_ok=True)
                    discarded += 1
                    continue
                self._check_ids(header)
                self._add(path.name, header)
            except (_CorruptShardError, KeyError, IndexError, TypeError, ValueError) as exc:
                logger.warning(
                    "graph cache %s: shard %s is corrupt (%s); discarding it, its frames "
                    "will be converted again",
                    self.directory,
                    path.name,
                    exc,
                )
                path.unlink(missing_ok=True)
                discarded += 1
        for why, names in stale.items():
            logger.warning(
                "graph cache %s: %d stale shard(s) built for another dataset preparation or "
                "library version (%s); discarding them, their frames will be converted again",
                self.directory,
                len(names),
                why,
            )
        gone = sorted(listed - present)
        if gone:
            logger.warning(
                "graph cache %s: %d shard(s) listed in %s are missing (%s); their frames "
                "will be converted again",
                self.directory,
                len(gone),
                _INDEX,
                ", ".join(gone[:5]) + (" ..." if len(gone) > 5 else ""),
            )
            discarded += len(gone)
        return discarded

    def _check_ids(self, header: dict[str, Any]) -> None:
        """The header's frame ids must be the store's ids at its frame indices."""
        store = self._open_store()
        for indices, ids in (
            (header["frames"], header["frame_ids"]),
            ([f[0] for f in header["failed"]], [f[1] for f in header["failed"]]),
        ):
            idx = np.asarray(indices, dtype=np.int64)
            if len(idx) and (idx.min() < 0 or idx.max() >= self.n_frames):
                raise _CorruptShardError("frame index out of the store's range")
            if len(idx) and store.frame_ids[idx].tolist() != list(ids):
                raise _CorruptShardError("frame ids do not match the store's")

    def _add(self, name: str, header: dict[str, Any]) -> None:
        shard = _Shard.from_header(name, header)
        number = len(self._shards)
        self._shards.append(shard)
        fresh = self._shard_of[shard.frames] < 0  # a frame in two shards: the first wins
        self._shard_of[shard.frames[fresh]] = number
        self._row_of[shard.frames[fresh]] = np.flatnonzero(fresh)
        for index, frame_id, reason in header["failed"]:
            self._failed.setdefault(int(index), (frame_id, reason))

    def _covers(self, indices: np.ndarray) -> np.ndarray:
        """``[n]`` bool: frame has a graph or a recorded failure."""
        failed = np.fromiter(self._failed, dtype=np.int64, count=len(self._failed))
        return (self._shard_of[indices] >= 0) | np.isin(indices, failed)

    def _write_index(self) -> None:
        self._listed = set(self.shard_names)
        write_json_atomic(
            self.directory / _INDEX,
            {
                "format": CACHE_FORMAT_VERSION,
                "identity_key": self.identity_key,
                "identity": self.identity,
                "shards": {
                    s.name: {"graphs": len(s.frames), "first_frame": int(s.frames[0])}
                    if len(s.frames)
                    else {"graphs": 0}
                    for s in self._shards
                },
                "n_graphs": len(self),
                "n_failed": len(self._failed),
            },
        )

    def _remove_stale_temporaries(self) -> None:
        """Temporary files of builds that died more than an hour ago."""
        now = time.time()
        for path in self.directory.glob(f".shard-*{_SUFFIX}.*.tmp"):
            try:
                if now - path.stat().st_mtime > _STALE_TEMP_SECONDS:
                    path.unlink()
            except OSError:
                pass

    # -- reading --------------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of frames with a cached graph."""
        return int((self._shard_of >= 0).sum())

    def __contains__(self, key: object) -> bool:
        try:
            index = self._index_of(key)  # type: ignore[arg-type]
        except (KeyError, IndexError, TypeError):
            return False
        return bool(self._shard_of[index] >= 0)

    @property
    def failed(self) -> dict[str, str]:
        """Frame id → reason, for every frame of the cache CHGNet cannot convert."""
        return {frame_id: reason for frame_id, reason in self._failed.values()}

    @property
    def shard_names(self) -> list[str]:
        """File names of the shards in use."""
        return [s.name for s in self._shards]

    def get(
        self,
        key: int | np.integer | str,
        *,
        graph_id: int | str | None = None,
        mp_id: str | None = None,
    ) -> CrystalGraph:
        """The graph of one frame, equal to a fresh conversion with the cache's settings.

        Args:
            key: store index of the frame, or its frame id.
            graph_id: the graph's ``graph_id``; default the frame id.
            mp_id: the graph's ``mp_id``; default the frame id.

        Returns:
            The ``CrystalGraph`` (``atom_frac_coord`` and ``lattice`` require grad, as in a
            fresh conversion).

        Raises:
            DataError: CHGNet cannot convert the frame (the reason is named), or the frame
                is not in the cache (build it for this frame first).
            KeyError: no frame has this id.
            IndexError: the index is outside the store.
        """
        index = self._index_of(key)
        number = int(self._shard_of[index])
        frame_id: str | None = None
        if number < 0:
            frame_id = str(self._open_store().frame_ids[index])
            if index in self._failed:
                raise DataError(
                    f"CHGNet cannot build its graph ({self._failed[index][1]})", frame=frame_id
                )
            raise DataError(
                f"not in the graph cache {self.directory}; build the cache for these frames",
                frame=frame_id,
            )
        shard, row = self._shards[number], int(self._row_of[index])
        start, stop = int(shard.offsets[row]), int(shard.offsets[row + 1])
        buffer = bytearray(stop - start)
        try:
            problem = None
            if _pread_into(self._fd(number), buffer, start) != len(buffer):
                problem = "ends early"
            elif zlib.crc32(buffer) != int(shard.crc32[row]):
                problem = "fails its checksum"
        except OSError as exc:  # e.g. the shard was discarded by another build meanwhile
            problem = f"cannot be read ({exc})"
        if problem:
            frame_id = str(self._open_store().frame_ids[index])
            logger.warning(
                "graph cache %s: the record of frame %r in %s %s; converting it afresh "
                "(run GraphCache.build to repair the cache)",
                self.directory,
                frame_id,
                shard.name,
                problem,
            )
            return self._convert(index, graph_id, mp_id)
        from chgnet.graph.crystalgraph import CrystalGraph

        tensors = _decode(buffer, shard.fields)
        for name in _REQUIRES_GRAD:
            tensors[name].requires_grad_(True)
        if graph_id is None or mp_id is None:
            frame_id = frame_id or str(self._open_store().frame_ids[index])
        return CrystalGraph(
            **tensors,
            atom_graph_cutoff=self.settings.atom_graph_cutoff,
            bond_graph_cutoff=self.settings.bond_graph_cutoff,
            graph_id=frame_id if graph_id is None else graph_id,
            mp_id=frame_id if mp_id is None else mp_id,
            composition=shard.composition[row],
        )

    def graphs(self, keys: Iterable[int | np.integer | str]) -> list[CrystalGraph]:
        """The graphs of ``keys`` (store indices or frame ids), in order; see :meth:`get`."""
        return [self.get(key) for key in keys]

    def dataset(self, frames: FrameSet) -> GraphDataset:
        """A map-style torch dataset of (graph, targets) over ``frames``."""
        return GraphDataset(self, frames)

    def loader(
        self,
        frames: FrameSet,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
    ) -> DataLoader:
        """A ``DataLoader`` of CHGNet batches over ``frames``, read from this cache.

        Batches are chgnet's ``collate_graphs`` output ``(graphs, targets)``; the order is
        drawn from a generator seeded with ``seed`` in the main process, so it does not
        depend on ``num_workers``.
        """
        import torch
        from chgnet.data.dataset import collate_graphs

        return torch.utils.data.DataLoader(
            self.dataset(frames),
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=collate_graphs,
            generator=torch.Generator().manual_seed(seed),
            num_workers=num_workers,
            pin_memory=pin_memory,
            persistent_workers=persistent_workers and num_workers > 0,
        )

    def check_store(self, store: FrameStore) -> None:
        """Raise :class:`DataError` unless ``store`` is the store this cache was built from."""
        if dataset_identity(store) != self.identity["dataset"]:
            raise DataError(
                f"the graph cache {self.directory} was built from another preparation of "
                "this dataset; build it for this store",
                file=str(store.path),
            )

    def missing(self, keys: Iterable[int | np.integer | str]) -> dict[str, str]:
        """Frame id → why there is no graph (cannot convert / not built), for ``keys``."""
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
            indices = keys.astype(np.int64).ravel()
            if len(indices) and (indices.min() < 0 or indices.max() >= self.n_frames):
                raise IndexError(f"frame indices outside the store ({self.n_frames} frames)")
        else:
            indices = np.array([self._index_of(key) for key in keys], dtype=np.int64)
        out = {}
        for index in indices[self._shard_of[indices] < 0].tolist():
            frame_id = str(self._open_store().frame_ids[index])
            out[frame_id] = (
                f"CHGNet cannot build its graph ({self._failed[index][1]})"
                if index in self._failed
                else "not in the graph cache"
            )
        return out

    def close(self) -> None:
        """Close the open shard files (reopened on the next read)."""
        if self._pid == os.getpid():
            for fd in self._fds.values():
                os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # attributes may be gone at interpreter exit
            self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in ("_store", "_fds", "_pid", "_ids", "_converter"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._store = None
        self._reset_process_state()

    def _reset_process_state(self) -> None:
        self._fds: OrderedDict[int, int] = OrderedDict()
        self._pid = os.getpid()
        self._ids: dict[str, int] | None = None
        self._converter: Any = None

    def _fd(self, number: int) -> int:
        """Open descriptor of shard ``number`` (per process; at most 64 kept open)."""
        if self._pid != os.getpid():  # forked: the parent's descriptors are not ours to use
            self._fds = OrderedDict()
            self._pid = os.getpid()
        fd = self._fds.get(number)
        if fd is None:
            fd = os.open(self.directory / self._shards[number].name, os.O_RDONLY)
            self._fds[number] = fd
            if len(self._fds) > _MAX_OPEN_SHARDS:
                os.close(self._fds.popitem(last=False)[1])
        else:
            self._fds.move_to_end(number)
        return fd

    def _open_store(self) -> FrameStore:
        if self._store is None:
            self._store = FrameStore.open(self.store_path)
        return self._store

    def _index_of(self, key: int | np.integer | str) -> int:
        if isinstance(key, str):
            if self._ids is None:
                ids = self._open_store().frame_ids.tolist()
                self._ids = {str(frame_id): i for i, frame_id in enumerate(ids)}
            if key not in self._ids:
                raise KeyError(f"frame id {key!r} is not in the store {self.store_path}")
            return self._ids[key]
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise TypeError(f"a frame is named by its store index or id, got {key!r}")
        if not 0 <= int(key) < self.n_frames:
            raise IndexError(f"frame index {key} is outside the store ({self.n_frames} frames)")
        return int(key)

    def _convert(self, index: int, graph_id: Any, mp_id: Any) -> CrystalGraph:
        """A fresh conversion (used when a record fails its checksum)."""
        if self._converter is None:
            self._converter = self.settings.make()
        store = self._open_store()
        frame_id = str(store.frame_ids[index])
        try:
            return self._converter(
                store.structure(index),
                graph_id=frame_id if graph_id is None else graph_id,
                mp_id=frame_id if mp_id is None else mp_id,
            )
        except Exception as exc:
            raise DataError(f"CHGNet cannot build its graph ({exc})", frame=frame_id) from exc


def _pread_into(fd: int, buffer: bytearray, offset: int) -> int:
    """Read ``len(buffer)`` bytes at ``offset`` without moving the file position."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [buffer], offset)
    data = os.pread(fd, len(buffer), offset)
    buffer[: len(data)] = data
    return len(data)


def _run(
    tasks: list[_ShardTask],
    workers: int,
    start_method: str | None,
    store: FrameStore,
    finished: Callable[[dict[str, Any]], None],
) -> int:
    """Build ``tasks`` in-process or in a pool; ``finished`` gets each summary.

    Returns:
        The number of processes used.
    """
    if not tasks:
        return 0
    if workers == 1 or len(tasks) == 1:
        converter = tasks[0].settings.make()
        for task in tasks:
            finished(_build_shard(task, store, converter))
        return 1
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    method = start_method or ("fork" if sys.platform == "linux" else "spawn")
    processes = min(workers, len(tasks))
    if method == "fork":
        gc.freeze()  # forked workers' collections then leave the parent's heap pages shared
    try:
        with ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context(method),
            initializer=_worker_init,
        ) as pool:
            futures = [pool.submit(_worker_build, task) for task in tasks]
            try:
                for future in as_completed(futures):
                    finished(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        if method == "fork":
            gc.unfreeze()
    return processes


# -- the torch dataset ----------------------------------------------------------------------


class GraphDataset:
    """Map-style torch dataset of ``(graph, targets)`` over a frame set, read from a cache.

    Item ``i`` is what ``baselines.finetune.graph_loader`` yields: the frame's graph with
    ``graph_id=i`` and ``mp_id`` its frame id, and the targets of the frame set's fidelity,
    float32 tensors ``e`` (eV/atom, scalar), ``f`` (eV/Å, ``[n_atoms, 3]``), ``s`` (GPa,
    ``[3, 3]``) and ``m`` (μB, ``[n_atoms]``, None when any magmom is unlabelled); ``f``,
    ``s`` and ``m`` are views of one storage. Collate
    with chgnet's ``collate_graphs``. Picklable without the frame store, for ``DataLoader``
    workers.

    Raises:
        DataError: at construction, when a frame has no graph (cannot be converted, or not
            built); every such frame is named. Nothing is substituted.
    """

    def __init__(self, cache: GraphCache, frames: FrameSet) -> None:
        cache.check_store(frames.store)
        self.cache = cache
        self.indices = np.asarray(frames.indices, dtype=np.int64)
        self.frame_ids = [str(frame_id) for frame_id in frames.frame_ids.tolist()]
        self.table: LabelTable = frames.labels()
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
