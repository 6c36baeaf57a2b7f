"""The approximate-nearest-neighbour index beside a store, and how it is kept in step with SQLite.

The index is a cache: SQLite is the source of truth. The index file is written atomically (temp
file, fsync, rename) with a JSON sidecar that records the change-log position it reflects and the
file's SHA-256. On open, a missing, unreadable, mismatched or corrupt index is rebuilt from SQLite;
a stale one is brought up to date from the change log.

The library is hnswlib (HNSW), chosen by ``benchmarks/ann_libs.py``: at recall@10 >= 0.95 on 100k
MiniLM vectors it answered single queries about 3x faster than usearch and as fast as faiss, and
unlike faiss's HNSW it can delete and replace vectors by key (see the README).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import require

__all__ = ["AnnParams", "AnnIndex"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnParams:
    """HNSW parameters. The defaults reach recall@10 >= 0.95 on 100k MiniLM vectors (benchmarks)."""

    M: int = 16  # noqa: N815 - the name every HNSW paper and library uses
    ef_construction: int = 128
    ef_search: int = 128


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class AnnIndex:
    """An HNSW index over int64 keys with scores where higher is closer.

    ``metric`` is the store's: "cosine" (vectors already unit length) and "dot" use inner product;
    "euclidean" uses squared L2 and reports the negated distance.
    """

    def __init__(self, dim: int, metric: str, params: AnnParams = AnnParams(), *, capacity: int = 1024):
        self._hnswlib = require("hnswlib", "ann", "the vector index")
        self.dim, self.metric, self.params = dim, metric, params
        self.seq = 0  # the change-log position this index reflects
        self._index = self._new()
        self._index.init_index(max_elements=capacity, ef_construction=params.ef_construction,
                               M=params.M, allow_replace_deleted=True)
        self._ef = params.ef_search
        self._index.set_ef(self._ef)

    def _new(self):
        return self._hnswlib.Index(space="l2" if self.metric == "euclidean" else "ip", dim=self.dim)

    def __len__(self) -> int:
        """Slots in use, deleted vectors included (they are reused by later additions)."""
        return self._index.get_current_count()

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors; a key already present has its vector replaced."""
        if not len(keys):
            return
        need = self._index.get_current_count() + len(keys)
        if need > self._index.get_max_elements():
            self._index.resize_index(max(need, 2 * self._index.get_max_elements()))
        self._index.add_items(np.asarray(vectors, dtype=np.float32), np.asarray(keys, dtype=np.int64),
                              num_threads=os.cpu_count() or 1, replace_deleted=True)

    def remove(self, keys) -> None:
        """Delete vectors by key; keys that are absent or already deleted are ignored."""
        for key in keys:
            try:
                self._index.mark_deleted(int(key))
            except RuntimeError:
                pass

    def search(self, query: np.ndarray, k: int, expansion: int | None = None,
               allowed: Callable[[int], bool] | None = None) -> tuple[list[int], list[float]]:
        """Keys and scores (best first) of the ``k`` nearest to one float32 query vector.

        ``allowed(key)`` restricts the search to keys for which it is true (checked inside the HNSW
        walk, so no over-fetching). Plain lists: a single query returns a handful of results, and
        converting them in Python costs less than NumPy's per-call overhead on the search path.
        """
        ef = max(expansion or self.params.ef_search, k)
        while True:
            if ef != self._ef:
                self._index.set_ef(ef)
                self._ef = ef
            try:
                labels, dist = self._index.knn_query(query, k=k, num_threads=1, filter=allowed)
                break
            except RuntimeError:
                # Fewer than k live vectors were reached (deleted ones take graph slots): widen the
                # search, and at the end settle for fewer results.
                if ef < len(self):
                    ef = min(ef * 4, len(self))
                elif k > 1:
                    k -= 1
                else:
                    return [], []
        if self.metric == "euclidean":
            scores = [-math.sqrt(max(d, 0.0)) for d in dist[0].tolist()]
        else:
            scores = [1.0 - d for d in dist[0].tolist()]
        return labels[0].tolist(), scores

    def vectors(self, keys: np.ndarray) -> np.ndarray:
        """The stored vectors of ``keys`` (RuntimeError if one is absent or deleted)."""
        return np.asarray(self._index.get_items(keys, return_type="numpy"), dtype=np.float32)

    # -- files ---------------------------------------------------------------------------------

    def _sidecar(self, path: Path) -> Path:
        return path.with_name(path.name + ".json")

    def save(self, path: Path) -> None:
        """Write the index and its sidecar atomically."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        self._index.save_index(str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        digest = _sha256(tmp)
        os.replace(tmp, path)
        meta = {"seq": self.seq, "dim": self.dim, "metric": self.metric, "count": len(self),
                "sha256": digest, "params": asdict(self.params)}
        _atomic_write_bytes(self._sidecar(path), json.dumps(meta).encode())

    @classmethod
    def open(cls, path: Path, dim: int, metric: str, params: AnnParams) -> AnnIndex | None:
        """Load a saved index, or None (with a logged reason) when it is missing or unusable."""
        path = Path(path)
        side = path.with_name(path.name + ".json")
        if not path.is_file() or not side.is_file():
            log.info("no ANN index at %s", path)
            return None
        try:
            meta = json.loads(side.read_text())
            if (meta["dim"], meta["metric"], meta["params"]) != (dim, metric, asdict(params)):
                log.warning("ANN index %s was built with other settings; rebuilding", path)
                return None
            if _sha256(path) != meta["sha256"]:
                log.warning("ANN index %s does not match its checksum (corrupt or half written); "
                            "rebuilding", path)
                return None
            index = cls(dim, metric, params, capacity=1)
            index._index = index._new()
            index._index.load_index(str(path), allow_replace_deleted=True)
            index._index.set_ef(index._ef)
            if len(index) != meta["count"]:
                log.warning("ANN index %s holds %d vectors, expected %d; rebuilding", path,
                            len(index), meta["count"])
                return None
            index.seq = int(meta["seq"])
            return index
        except Exception as exc:  # noqa: BLE001 - any failure to read a cache means: rebuild it
            log.warning("cannot read ANN index %s (%s); rebuilding", path, exc)
            return None
