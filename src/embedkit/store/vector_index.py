"""The vector side of a store: exact search below a size, the HNSW index file above it.

:class:`VectorIndex` answers vector searches for a :class:`~.sqlite.VectorStore`. Below
``ann_threshold`` items it searches exactly, over a matrix read from SQLite once and reread after a
write; above, it keeps the HNSW index of :mod:`.ann` in step with SQLite: loaded from the file beside
the database, caught up from the change log when another process (or this one) wrote since, rebuilt
when the log no longer reaches back far enough, and saved with the log compacted behind it. It also
keeps each key's id in memory (so search answers without reading SQLite) and caches the keys that
match recent metadata filters.

The store owns the connection, the lock and the transactions; this class reads and writes through
them and never opens SQLite itself.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from ..encoder import progress_bar
from .ann import AnnIndex, AnnParams
from .filters import where_sql
from .language import MAX_ITEMS, LanguageCentering, script_of

__all__ = ["VectorIndex"]

log = logging.getLogger(__name__)

FILTER_CACHE = 16  # metadata filters whose matching keys are kept (see VectorIndex._allowed) ...
FILTER_CACHE_KEYS = 1_000_000  # ... up to this many keys in all (~70 MB), the latest filter always


def id_table(pairs, table: list[str | None] | None = None) -> list[str | None]:
    """Put (key, id) pairs into a list indexed by key (grown with None as needed)."""
    table = [] if table is None else table
    for key, id_ in pairs:
        if key >= len(table):
            table.extend([None] * (max(key + 1, 2 * len(table)) - len(table)))
        table[key] = id_
    return table


class VectorIndex:
    """Exact and HNSW vector search over one store's vectors (see the module docstring).

    Args:
        store: the store whose connection, lock and transactions this index uses.
        path: the HNSW index file (None: in memory only, never saved).
        metric: the store's metric.
        threshold: below this many items search is exact.
        params: HNSW parameters of the index file.
    """

    def __init__(self, store, path: Path | None, metric: str, threshold: int, params: AnnParams):
        self._store = store
        self.path, self.metric, self.threshold, self.params = path, metric, int(threshold), params
        self._ann: AnnIndex | None = None
        self.dirty = False  # the in-memory index has changes the file lacks
        self._exact: tuple[int, np.ndarray, np.ndarray] | None = None
        self._count: tuple[int, int] | None = None
        # The id of each stored item at position ``key``, so that vector search answers without
        # reading SQLite. A flat list, not a dict: one memory access a hit instead of three, which
        # shows when the HNSW walk has just flushed the CPU caches. Keys are never reused and an
        # item's key never changes its id, so entries never go wrong; entries of deleted items are
        # cleared when the index catches up with the change log.
        self.ids: list[str | None] = []
        self._filters: OrderedDict[tuple, tuple[int, set[int], np.ndarray]] = OrderedDict()
        # language-neutral search: each key's script (keys never change their text without a new
        # key: an upsert of new text deletes and re-adds), and the centred snapshot
        self._scripts: dict[int, str] = {}
        self._scripts_upto = 0
        self._centring: tuple[int, LanguageCentering] | None = None

    @property
    def loaded(self) -> bool:
        """Whether an HNSW index is in memory."""
        return self._ann is not None

    def size(self, seq: int) -> int:
        """The item count at change-log position ``seq`` (cached: COUNT(*) scans the whole table)."""
        if self._count is None or self._count[0] < seq:
            self._count = (seq, self._store.count())
        return self._count[1]

    def search(self, q: np.ndarray, k: int, where, expansion, seq: int) -> tuple[list[int], list[float]]:
        """Keys and scores of the ``k`` nearest items to ``q`` (matching ``where``) at ``seq``."""
        n = self.size(seq)
        if n == 0:
            return [], []
        if not where:
            if n < self.threshold:
                _, keys, mat = self._exact_matrix(seq)
                return self._exact_top(q, keys, mat, k)
            return self.ann(seq).search(q, k, expansion)
        allowed, allowed_keys = self._allowed(where, seq)
        if not allowed:
            return [], []
        if n < self.threshold:
            _, keys, mat = self._exact_matrix(seq)
            mask = np.isin(keys, allowed_keys)
            return self._exact_top(q, keys[mask], mat[mask], k)
        index = self.ann(seq)
        if len(allowed) > self.threshold:  # many matches: filter inside the HNSW walk
            return index.search(q, k, expansion, allowed=allowed.__contains__)
        try:  # few matches: exact, over their vectors as the index holds them
            return self._exact_top(q, allowed_keys, index.vectors(allowed_keys), k)
        except RuntimeError:  # the index is newer than the filter's snapshot: read SQLite
            cond, params = where_sql(where)
            rows = self._store._query(f"SELECT key, vector FROM items JOIN vectors USING (key) WHERE {cond}",
                               params)
            if not rows:
                return [], []
            keys = np.array([r[0] for r in rows], dtype=np.int64)
            mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            return self._exact_top(q, keys, mat, k)

    def neutral_search(self, q: np.ndarray, text: str, k: int, where, seq: int
                       ) -> tuple[list[int], list[float]] | None:
        """Language-neutral search (:mod:`.language`), or None where it does not apply (not a
        cosine store, fewer than two scripts with enough documents, or too many items)."""
        if self.metric != "cosine":
            return None
        n = self.size(seq)
        if n == 0 or n > MAX_ITEMS:
            return None
        centring = self._centring_at(seq)
        if not centring.active:
            return None
        qc = centring.query(q, text)
        keys, mat = centring.keys, centring.matrix
        if where:
            _, allowed_keys = self._allowed(where, seq)
            mask = np.isin(keys, allowed_keys)
            keys, mat = keys[mask], mat[mask]
            if not len(keys):
                return [], []
        return self._exact_top(qc, keys, mat, k)

    def _centring_at(self, seq: int) -> LanguageCentering:
        if self._centring is None or self._centring[0] < seq:
            at, keys, mat = self._exact_matrix(seq)
            newest = int(keys.max()) if len(keys) else 0
            if newest > self._scripts_upto:
                for key, text in self._store._query("SELECT key, text FROM items WHERE key > ?",
                                                    [self._scripts_upto]):
                    self._scripts[int(key)] = script_of(text)
                self._scripts_upto = newest
            scripts = [self._scripts.get(int(key), "other") for key in keys.tolist()]
            self._centring = (at, LanguageCentering(keys, mat, scripts))
        return self._centring[1]

    def _allowed(self, where: Mapping, seq: int) -> tuple[set[int], np.ndarray]:
        """The keys matching a metadata filter at ``seq``, as a set and a sorted array.

        Cached for the last few filters: a service answers many searches with the same filter,
        and finding the matches can mean reading every item's metadata.
        """
        cond, params = where_sql(where)
        cache_key = (cond, json.dumps(params))
        cached = self._filters.get(cache_key)
        if cached is not None and cached[0] >= seq:
            self._filters.move_to_end(cache_key)
            return cached[1], cached[2]
        allowed = {r[0] for r in self._store._query(f"SELECT key FROM items WHERE {cond}", params)}
        keys = np.array(sorted(allowed), dtype=np.int64)
        self._filters[cache_key] = (seq, allowed, keys)
        while len(self._filters) > 1 and (len(self._filters) > FILTER_CACHE or sum(
                len(entry[2]) for entry in self._filters.values()) > FILTER_CACHE_KEYS):
            self._filters.popitem(last=False)
        return allowed, keys

    def _exact_top(self, q, keys, mat, k) -> tuple[list[int], list[float]]:
        if self.metric == "euclidean":
            scores = -np.sqrt(np.maximum(((mat - q) ** 2).sum(1), 0))
        else:
            scores = mat @ q
        k = min(k, len(keys))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(keys) else np.arange(len(keys))
        top = top[np.argsort(-scores[top], kind="stable")]
        return keys[top].tolist(), scores[top].tolist()

    def _snapshot(self, batch: int = 20_000) -> Iterator[tuple[int, np.ndarray, list[str], np.ndarray]]:
        """(seq, keys, ids, vectors) batches from one consistent read transaction."""
        with self._store._reading() as db:
            seq = self._store._seq()
            cur = db.execute("SELECT key, id, vector FROM items JOIN vectors USING (key) ORDER BY key")
            while rows := cur.fetchmany(batch):
                keys = np.array([r[0] for r in rows], dtype=np.int64)
                vecs = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32)
                yield seq, keys, [r[1] for r in rows], vecs.reshape(len(rows), -1)

    def _exact_matrix(self, seq: int) -> tuple[int, np.ndarray, np.ndarray]:
        if self._exact is None or self._exact[0] < seq:  # positions only grow: newer is fine
            parts = list(self._snapshot())
            dim = self._store.dim or 0
            keys = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
            mat = np.concatenate([p[3] for p in parts]) if parts else np.empty((0, dim), np.float32)
            self.ids = id_table((k, i) for p in parts for k, i in zip(p[1].tolist(), p[2]))
            self._exact = (parts[0][0] if parts else seq, keys, mat)
        return self._exact

    # -- the ANN index ---------------------------------------------------------------------------

    def ann(self, seq: int | None = None) -> AnnIndex:
        """The ANN index, loaded, caught up or rebuilt so that it matches SQLite at ``seq``."""
        ann = self._ann
        if seq is not None and ann is not None and ann.seq >= seq:  # the search path: no lock
            return ann
        with self._store._lock:
            seq = self._store._seq() if seq is None else seq
            if self._ann is not None and self._ann.seq >= seq:  # positions only grow: newer is fine
                return self._ann
            if self._ann is None and self.path is not None:
                self._ann = AnnIndex.open(self.path, self._store.dim, self.metric, self.params)
                if self._ann is not None:
                    # Every item the index can return after catching up is stored now.
                    self.ids = id_table(self._store._query("SELECT key, id FROM items"))
            if self._ann is not None and self._ann.seq != seq and not self._catch_up(self._ann):
                self._ann = None
            if self._ann is None:
                self._ann = self._rebuild()
                self.save()
            return self._ann

    def _catch_up(self, index: AnnIndex) -> bool:
        """Apply logged changes newer than the index; False when the log no longer has them."""
        with self._store._reading() as db:
            seq = self._store._seq()
            # Read fresh: another process may have compacted the log since this store was opened.
            row = db.execute("SELECT value FROM meta WHERE key = 'log_compacted_upto'").fetchone()
            if index.seq < int(row[0] if row else 0) or index.seq > seq:
                return False
            last: dict[int, int] = {}
            for key, op in db.execute("SELECT key, op FROM changes WHERE seq > ? AND seq <= ? ORDER BY seq",
                                      [index.seq, seq]):
                last[key] = op
            index.remove(last)  # removed keys, and added keys that may have been indexed before
            added = []
            for key, op in last.items():
                if op == 1:
                    added.append(key)
                else:
                    if key < len(self.ids):
                        self.ids[key] = None
            for start in range(0, len(added), 500):
                part = added[start:start + 500]
                rows = db.execute("SELECT key, id, vector FROM items JOIN vectors USING (key) "
                                  f"WHERE key IN ({','.join('?' * len(part))})", part).fetchall()
                if rows:
                    self.ids = id_table(((r[0], r[1]) for r in rows), self.ids)
                    index.add(np.array([r[0] for r in rows], dtype=np.int64),
                              np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1))
        index.seq = seq
        self.dirty = self.dirty or bool(last)
        return True

    def _rebuild(self) -> AnnIndex:
        log.info("building the ANN index of %s", self._store.path)
        index = AnnIndex(self._store.dim, self.metric, self.params)
        n = self._store.count()
        with progress_bar(n, "build ANN index", None if n > 50_000 else False) as bar:
            known: list[str | None] = []
            for seq, keys, ids, vecs in self._snapshot():
                index.add(keys, vecs)
                known = id_table(zip(keys.tolist(), ids), known)
                index.seq = seq
                bar.update(len(keys))
        if not len(index):
            index.seq = self._store._seq()
        self.ids = known
        return index

    def save(self) -> None:
        """Write the index file and drop the change-log entries it makes unnecessary."""
        if self._ann is None or self.path is None:
            return
        self._ann.save(self.path)
        with self._store._write() as db:
            db.execute("DELETE FROM changes WHERE seq <= ?", [self._ann.seq])
            self._store._set_meta(log_compacted_upto=self._ann.seq)
        self.dirty = False

    def build(self, *, force: bool = False) -> None:
        """Bring the ANN index file up to date now (search does it lazily otherwise).

        Stores below ``ann_threshold`` are searched exactly and get no index unless ``force``.
        """
        n = self._store.count()
        if n and self._store.dim and (force or n >= self.threshold):
            self.ann()
            if self.dirty:
                self.save()
