"""The approximate-nearest-neighbour index beside a store, and how it is kept in step with SQLite.

The index is a cache: SQLite is the source of truth. The index file is written atomically (temp
file, fsync, rename) with a JSON sidecar that records the change-log position it reflects and the
file's SHA-256. On open, a missing, unreadable, mismatched or corrupt index is rebuilt from SQLite;
a stale one is brought up to date from the change log.

The library is usearch (HNSW), chosen by ``benchmarks/ann_libs.py``: see the README.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import require

__all__ = ["AnnParams", "AnnIndex"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnnParams:
    """HNSW parameters. Defaults reach recall@10 >= 0.95 on 100k MiniLM vectors (see benchmarks)."""

    connectivity: int = 16
    expansion_add: int = 128
    expansion_search: int = 64


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

    def __init__(self, dim: int, metric: str, params: AnnParams = AnnParams()):
        self._usearch = require("usearch.index", "ann", "the vector index")
        self.dim, self.metric, self.params = dim, metric, params
        self.seq = 0  # the change-log position this index reflects
        self._index = self._usearch.Index(
            ndim=dim, metric="l2sq" if metric == "euclidean" else "ip", dtype="f32",
            connectivity=params.connectivity, expansion_add=params.expansion_add,
            expansion_search=params.expansion_search,
        )

    def __len__(self) -> int:
        return len(self._index)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if len(keys):
            self._index.add(np.asarray(keys, dtype=np.uint64), np.asarray(vectors, dtype=np.float32),
                            threads=os.cpu_count() or 1)

    def remove(self, keys) -> None:
        keys = [int(k) for k in keys if int(k) in self._index]
        if keys:
            self._index.remove(np.asarray(keys, dtype=np.uint64))

    def search(self, query: np.ndarray, k: int, expansion: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Keys and scores (best first) of the ``k`` nearest to one query vector."""
        if len(self._index) == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if expansion is not None:
            self._index.expansion_search = max(expansion, k)
        elif self._index.expansion_search < k:
            self._index.expansion_search = k
        m = self._index.search(np.asarray(query, dtype=np.float32), min(k, len(self._index)))
        keys = np.asarray(m.keys, dtype=np.int64)
        dist = np.asarray(m.distances, dtype=np.float32)
        scores = -np.sqrt(np.maximum(dist, 0)) if self.metric == "euclidean" else 1.0 - dist
        return keys, scores

    # -- files ---------------------------------------------------------------------------------

    def _sidecar(self, path: Path) -> Path:
        return path.with_name(path.name + ".json")

    def save(self, path: Path) -> None:
        """Write the index and its sidecar atomically."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        self._index.save(str(tmp))
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
            index = cls(dim, metric, params)
            index._index.load(str(path))
            if len(index) != meta["count"]:
                log.warning("ANN index %s holds %d vectors, expected %d; rebuilding", path,
                            len(index), meta["count"])
                return None
            index.seq = int(meta["seq"])
            return index
        except Exception as exc:  # noqa: BLE001 - any failure to read a cache means: rebuild it
            log.warning("cannot read ANN index %s (%s); rebuilding", path, exc)
            return None
