"""An on-disk cache of CHGNet crystal graphs, built once per dataset and converter settings.

Structure → :class:`chgnet.graph.CrystalGraph` conversion (neighbour lists, the atom graph and
the bond graph) costs milliseconds per frame, which adds up to tens of minutes or hours for the
real datasets. :meth:`GraphCache.build` converts every frame once, in parallel worker
processes, and every run, method and seed reads the graphs back in about 0.1 ms each::

    cache = GraphCache.build(store, model.graph_converter, workers=8)  # no-op when complete
    graph = cache.get("mp-1234-0-1")  # or a store index; equal to a fresh conversion
    loader = cache.loader(train, batch_size=16, shuffle=True, seed=0)  # chgnet batches

The cache lives in ``$MFBENCH_HOME/graphs`` by default, one folder per dataset and converter
settings; a shard holds the graphs of up to ``shard_size`` frames (default 2048).

Frames CHGNet cannot convert (e.g. an isolated atom with no neighbour within
``atom_graph_cutoff`` when ``on_isolated_atoms="error"``, chgnet's default) are recorded with
the reason; the build finishes the other frames and then raises :class:`GraphConversionError`
naming every one. Reading such a frame raises :class:`~mfbench.errors.DataError`; nothing is
ever substituted for another sample. torch and chgnet are imported only when a graph is built
or read.

One module per job:

- :mod:`.format`: the shard file format (records, hashed header, footer);
- :mod:`.identity`: what a cache is the cache of (dataset preparation, converter settings,
  library versions) and where it lives;
- :mod:`.build`: converting frames and writing shards, in-process or in a process pool;
- :mod:`.index`: finding valid shards, discarding stale and corrupt ones, ``index.json``;
- :mod:`.reader`: :class:`GraphCache`, which builds, repairs and reads a cache;
- :mod:`.dataset`: the torch dataset and ``DataLoader`` over a frame set.
"""

from mfbench.models.chgnet.graph_cache.build import BuildReport, GraphConversionError
from mfbench.models.chgnet.graph_cache.dataset import GraphDataset, graph_loader
from mfbench.models.chgnet.graph_cache.format import CACHE_FORMAT_VERSION, FIELDS
from mfbench.models.chgnet.graph_cache.identity import (
    ConverterSettings,
    cache_directory,
    cache_identity,
    dataset_identity,
    library_versions,
)
from mfbench.models.chgnet.graph_cache.reader import GraphCache

__all__ = [
    "CACHE_FORMAT_VERSION", "FIELDS", "BuildReport", "ConverterSettings", "GraphCache",
    "GraphConversionError", "GraphDataset", "cache_directory", "cache_identity",
    "dataset_identity", "graph_loader", "library_versions",
]  # fmt: skip
