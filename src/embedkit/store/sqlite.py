"""VectorStore: a durable collection of (id, text, metadata, vector) in one SQLite file.

SQLite (WAL journal, ``synchronous=FULL``) is the source of truth: every ``add``, ``upsert`` and
``delete`` is one transaction, so a process killed at any moment leaves every committed item
intact and nothing half written. FTS5 indexes the text for keyword search ranked by BM25. Vector
search is exact (a NumPy matrix product) below ``ann_threshold`` items and approximate above it,
through an hnswlib HNSW index file beside the database (``<store>.ann``) that is only a cache: it is
rebuilt from SQLite when missing, corrupt or built with other settings, and brought up to date from
a change log (kept by triggers) when stale.

>>> import numpy as np
>>> store = VectorStore(":memory:", dim=2)
>>> store.add(["a car", "a pear"], vectors=np.array([[1, 0], [0, 1]]), ids=["c", "p"])
['c', 'p']
>>> [h.id for h in store.search(np.array([0.9, 0.1]), k=1)]
['c']
>>> [h.id for h in store.search("pear", mode="keyword")]
['p']
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import __version__
from ..encoder import ROLES
from ..errors import (
    DimensionMismatch,
    InvalidInput,
    ModelMismatch,
    StoreCorrupt,
    StoreError,
    StoreNotFound,
    require,
)
from ..identity import fingerprint_of
from ..similarity import METRICS
from . import schema
from .ann import AnnParams
from .common import ModelBound
from .filters import analyze_many, fts_query, has_hangul, where_sql
from .results import Hit, LazyRows, Record, SourceState, check_k
from .vector_index import VectorIndex

__all__ = ["VectorStore", "Hit", "Record", "MODES"]

log = logging.getLogger(__name__)

MODES = ("vector", "keyword", "hybrid")
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009)
_clock = time.monotonic  # replaced in tests
_MILVUS_SCHEMES = ("milvus://", "milvus+https://", "milvus-lite://")

class VectorStore(ModelBound):
    """A durable vector collection in one SQLite file, with vector, keyword and hybrid search.

    Args:
        path: the SQLite file (created when missing, unless ``create=False``), or ``":memory:"``.
        encoder: the Encoder that makes vectors from text. The store records its ``name``,
            ``spec``, fingerprint (:mod:`embedkit.identity`) and ``dim`` with the first vectors, and
            refuses a model with another fingerprint (or, where either has none, another name) or
            dimension. Without it, an existing store loads the model it recorded the first time
            it needs one (a text to embed), and checks it the same way.
        dim: the vector dimension, for a store fed with vectors only.
        metric: "cosine" (default; vectors are stored unit length), "dot" or "euclidean".
        create: create the store when it does not exist.
        ann_threshold: below this many items vector search is exact.
        ann_params: HNSW parameters of the index file.
        read_consistency_interval: how stale, in seconds, a search may be with respect to other
            processes writing the same file (this object's own writes are always seen at once).
            0 looks for their commits before every search, at about 5 % of the search's speed.
    """

    def __new__(cls, path=None, *args, **kwargs):
        # ``VectorStore("milvus://host:port/c")`` / ``("milvus-lite://x.db")``: the Milvus backend.
        if cls is VectorStore and isinstance(path, str) and path.startswith(_MILVUS_SCHEMES):
            from .milvus import MilvusStore

            return MilvusStore(path, *args, **kwargs)
        return super().__new__(cls)

    def __init__(self, path, *, encoder=None, dim: int | None = None, metric: str = "cosine",
                 create: bool = True, ann_threshold: int = 20_000, ann_params: AnnParams = AnnParams(),
                 read_consistency_interval: float = 0.1):
        if metric not in METRICS:
            raise InvalidInput(f"Unknown metric {metric!r}. Valid metrics are: {', '.join(METRICS)}")
        self.path = str(path)
        self._encoder = None
        self.ann_threshold = int(ann_threshold)
        self.ann_params = ann_params
        self._lock = threading.RLock()
        self._depth = 0
        try:
            self.read_consistency_interval = float(read_consistency_interval)
        except (TypeError, ValueError):
            self.read_consistency_interval = -1.0
        if not self.read_consistency_interval >= 0:  # also false for NaN
            raise InvalidInput("read_consistency_interval must be a number of seconds >= 0, "
                               f"got {read_consistency_interval!r}")
        self._seen: tuple[float, int] | None = None  # (clock, change-log position) of the last look
        self._pending: weakref.WeakSet[LazyRows] = weakref.WeakSet()  # hits whose rows are unread
        memory = self.path == ":memory:"
        if not memory:
            p = Path(self.path)
            if p.is_dir():
                raise StoreError(f"{p} is a folder; a store is a file (e.g. {p / 'store.db'})")
            if not p.exists():
                if not create:
                    raise StoreNotFound(f"no store at {p}")
                p.parent.mkdir(parents=True, exist_ok=True)
        self._analysed: dict[str, str] = {}  # keyword terms of the batch being written
        self._db, tables = schema.connect(self.path, self._analysed)
        if not tables:
            if not create:
                raise StoreNotFound(f"no store at {self.path}")
            self._create(metric, dim)
        elif "meta" not in tables or "items" not in tables:
            raise StoreCorrupt(f"{self.path} is an SQLite file but not an embedkit store")
        self.meta = self._read_meta()
        if self.meta.get("format") != schema.FORMAT:
            raise StoreCorrupt(f"{self.path} is not an embedkit store (format {self.meta.get('format')!r})")
        if int(self.meta.get("schema_version", 0)) > schema.SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer embedkit (schema "
                             f"{self.meta['schema_version']}); upgrade embedkit to open it")
        with self._lock:
            if schema.migrate(self._db, self.path, int(self.meta.get("schema_version", 0))):
                self.meta = self._read_meta()
        self.metric = self.meta["metric"]
        self._index = VectorIndex(self, self.ann_path, self.metric, self.ann_threshold, self.ann_params)
        if encoder is not None:
            self.encoder = encoder  # checked against the record

    # -- set-up --------------------------------------------------------------------------------

    def _create(self, metric: str, dim: int | None) -> None:
        meta = {"format": schema.FORMAT, "schema_version": str(schema.SCHEMA_VERSION), "metric": metric,
                "created_at": str(time.time()), "embedkit_version": __version__,
                "log_compacted_upto": "0"}
        # The model is recorded with the first vectors, not here: a run that stores nothing binds
        # no model to the store.
        if dim is not None:
            meta["dim"] = str(int(dim))
        with self._lock:
            schema.create(self._db, meta)

    def _read_meta(self) -> dict:
        try:
            return dict(self._db.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(f"cannot read {self.path}: {exc}") from exc

    def _set_meta(self, **values) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             [(k, str(v)) for k, v in values.items()])
        self.meta = {**self.meta, **{k: str(v) for k, v in values.items()}}

    @property
    def meta(self) -> dict[str, str]:
        """The store's settings as recorded in its ``meta`` table."""
        return self._meta

    @meta.setter
    def meta(self, value: dict[str, str]) -> None:
        self._meta = value
        self._dim = int(value["dim"]) if "dim" in value else None  # read on every search

    @property
    def dim(self) -> int | None:
        """The vector dimension (None until the first vector is stored)."""
        return self._dim

    @property
    def model(self) -> str | None:
        """The name of the model that made the store's vectors, if recorded."""
        return self.meta.get("model")

    @property
    def modality(self) -> str | None:
        """What the store's model embeds ("text", "image", "audio", ...), without loading it."""
        recorded = self.meta.get("model_modality")
        if recorded is None and self._encoder is not None:
            return getattr(self._encoder, "modality", "text")
        return recorded

    @property
    def model_spec(self) -> str | None:
        """The spec that loads the store's model again (``embedkit.load(store.model_spec)``)."""
        return self.meta.get("model_spec")

    @property
    def ann_path(self) -> Path | None:
        """The ANN index file beside the database (None for an in-memory store)."""
        return None if self.path == ":memory:" else Path(self.path + ".ann")

    # -- transactions ----------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (nested calls join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            try:
                self._open_db().execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc
            self._depth = 1
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self.meta = self._read_meta()
                raise
            finally:
                self._depth = 0
                self._seen = None  # see our own write at the next search

    transaction = _write

    def _open_db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"the store {self.path} is closed")
        return self._db

    def _seq(self) -> int:
        row = self._open_db().execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
        return int(row[0]) if row else 0

    def _current_seq(self) -> int:
        """The change-log position searches answer at.

        This process's own writes are seen at once. Other processes' commits are looked for at
        most every ``read_consistency_interval`` seconds: the look is a read transaction in SQLite
        (file locks), which would otherwise cost about a twentieth of an HNSW search.
        """
        now = _clock()
        seen = self._seen
        if seen is None or now - seen[0] >= self.read_consistency_interval:
            seq = self._seq()
            if seen is not None and seen[1] != seq:
                self.meta = self._read_meta()  # another process may have stored the first vectors
            self._seen = (now, seq)
            return seq
        return seen[1]

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same committed state."""
        with self._lock:
            own = not self._db.in_transaction
            try:
                if own:
                    self._db.execute("BEGIN")
                yield self._db
            except sqlite3.DatabaseError as exc:
                raise StoreCorrupt(f"cannot read {self.path}: {exc}") from exc
            finally:
                if own and self._db.in_transaction:
                    self._db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------------

    def add(self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
            metadata: Sequence[Mapping] | None = None, vectors=None, batch_size: int = 32,
            progress: bool | None = None) -> list[str]:
        """Add items in one transaction and return their ids. An id already stored is an error."""
        return self._insert(texts, ids, metadata, vectors, batch_size, progress, replace=False)

    def upsert(self, texts: Sequence[str] | None = None, *, ids: Sequence[str],
               metadata: Sequence[Mapping] | None = None, vectors=None, batch_size: int = 32,
               progress: bool | None = None) -> list[str]:
        """Add items, replacing any stored items with the same ids, in one transaction."""
        if ids is None:
            raise InvalidInput("upsert() needs ids")
        return self._insert(texts, ids, metadata, vectors, batch_size, progress, replace=True)

    def _insert(self, texts, ids, metadata, vectors, batch_size, progress, *, replace):
        texts, ids, metas, vectors = self._prepare(texts, ids, metadata, vectors, batch_size, progress)
        if not ids:
            return []
        korean = [t for t in texts if has_hangul(t)]
        if korean:  # the keyword index splits Korean into morphemes: analyse the batch at once
            require("kiwipiepy", "korean", "keyword indexing of Korean text")
            analysed = dict(zip(korean, analyze_many(korean)))
        else:
            analysed = {}
        with self._write() as db, self._analysed_as(analysed):
            self._stamp(vectors.shape[1])
            if replace:
                db.executemany("DELETE FROM items WHERE id = ?", [(i,) for i in ids])
            # Keys are assigned here (inside the write lock) so that the vectors can be written
            # under the same keys; AUTOINCREMENT's counter follows explicit keys.
            row = db.execute("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'items'), 0), "
                             "COALESCE((SELECT MAX(key) FROM items), 0))").fetchone()
            keys = range(row[0] + 1, row[0] + 1 + len(ids))
            try:
                db.executemany("INSERT INTO items (key, id, text, metadata) VALUES (?, ?, ?, ?)",
                               zip(keys, ids, texts, metas))
                db.executemany("INSERT INTO vectors (key, vector) VALUES (?, ?)",
                               zip(keys, (v.tobytes() for v in vectors)))
            except sqlite3.IntegrityError as exc:
                taken = [i for (i,) in db.execute(
                    f"SELECT id FROM items WHERE id IN ({','.join('?' * min(len(ids), 500))})",
                    ids[:500])]
                raise InvalidInput(f"the id {taken[0] if taken else '?'!r} is already in the store; "
                                   "use upsert() to replace it") from exc
        return ids

    @contextmanager
    def _analysed_as(self, terms: dict[str, str]) -> Iterator[None]:
        """Let the keyword index's triggers use ``terms`` (text -> terms) for this write."""
        self._analysed.update(terms)
        try:
            yield
        finally:
            self._analysed.clear()

    def _stamp(self, dim: int) -> None:
        """Record the dimension and model on the first write."""
        values = {}
        if "dim" not in self.meta:
            values["dim"] = dim
        elif int(self.meta["dim"]) != dim:
            raise DimensionMismatch(f"vectors have dimension {dim}, the store holds {self.meta['dim']}")
        encoder = self._encoder  # not the property: stamping never loads a model
        if encoder is not None:
            fp = fingerprint_of(encoder)
            if "model" not in self.meta:
                values["model"] = encoder.name
                values["model_spec"] = getattr(encoder, "spec", None) or encoder.name
                values["model_modality"] = getattr(encoder, "modality", "text")
            if fp is not None and "model_fingerprint" not in self.meta:
                values["model_fingerprint"] = fp  # also for stores recorded by name only
            if "model_prompts" not in self.meta:
                prompts = {r: getattr(encoder, "prompt_for", lambda _: None)(r) for r in ROLES}
                values["model_prompts"] = json.dumps({r: p for r, p in prompts.items() if p},
                                                     ensure_ascii=False)
        if values:
            self._set_meta(**values)

    def delete(self, ids: Sequence[str] | None = None, *, where: Mapping | None = None) -> int:
        """Delete items by id or by metadata filter; return how many were deleted."""
        if (ids is None) == (where is None):
            raise InvalidInput("delete() needs exactly one of ids= or where=")
        with self._write() as db:
            if ids is not None:
                if isinstance(ids, str):
                    raise InvalidInput("ids must be a list of ids; wrap a single id in a list")
                deleted = 0
                for start in range(0, len(ids), 500):
                    part = list(ids[start:start + 500])
                    deleted += db.execute(
                        f"DELETE FROM items WHERE id IN ({','.join('?' * len(part))})", part).rowcount
                return deleted
            cond, params = where_sql(where)
            return db.execute(f"DELETE FROM items WHERE {cond}", params).rowcount

    # -- reading -------------------------------------------------------------------------------

    def count(self, where: Mapping | None = None) -> int:
        """The number of items (matching ``where`` if given)."""
        cond, params = where_sql(where)
        sql = "SELECT COUNT(*) FROM items" + (f" WHERE {cond}" if cond else "")
        return int(self._query(sql, params)[0][0])

    def _query(self, sql: str, params=()) -> list:
        with self._lock:
            try:
                return self._open_db().execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreCorrupt(f"cannot read {self.path}: {exc}") from exc

    def get(self, ids: Sequence[str]) -> list[Record | None]:
        """The stored items for ``ids``, in order; None where an id is not stored."""
        if isinstance(ids, str):
            raise InvalidInput("ids must be a list of ids; wrap a single id in a list")
        found = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            for id_, text, meta, blob in self._query(
                    "SELECT id, text, metadata, vector FROM items JOIN vectors USING (key) "
                    f"WHERE id IN ({','.join('?' * len(part))})",
                    part):
                found[id_] = Record(id_, text, json.loads(meta), np.frombuffer(blob, dtype=np.float32))
        return [found.get(i) for i in ids]

    def _hits(self, keys: list[int], scores: list[float]) -> list[Hit]:
        if not keys:
            return []
        ids = self._index.ids
        try:
            found_ids = [ids[k] for k in keys]
        except IndexError:
            found_ids = [None]
        if None not in found_ids:
            rows = LazyRows(self, keys)
            self._pending.add(rows)
            return [Hit(i, s, k, rows) for i, s, k in zip(found_ids, scores, keys)]
        # Keys not seen yet (keyword results, filtered search): read the rows now.
        found = self._texts(keys, with_ids=True)
        rows = LazyRows(None, keys, {k: r[1:] for k, r in found.items()})
        return [Hit(found[k][0], s, k, rows) for k, s in zip(keys, scores) if k in found]

    def _texts(self, keys: list[int], *, with_ids: bool = False) -> dict[int, tuple]:
        """{key: (text, metadata JSON)} (or (id, text, metadata JSON)) of the stored ``keys``."""
        if self._db is None:
            raise StoreError(f"the store {self.path} is closed")
        cols = "key, id, text, metadata" if with_ids else "key, text, metadata"
        out = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            for row in self._query(f"SELECT {cols} FROM items WHERE key IN ({','.join('?' * len(part))})",
                                   part):
                out[row[0]] = row[1:]
        return out

    def records(self, *, where: Mapping | None = None, batch_size: int = 1000) -> Iterator[list[Record]]:
        """Every stored item (matching ``where``), a batch at a time, in insertion order."""
        cond, params = where_sql(where)
        last = 0
        while True:
            rows = self._query("SELECT key, id, text, metadata, vector FROM items JOIN vectors USING (key) "
                               "WHERE key > ?" + (f" AND {cond}" if cond else "") +
                               " ORDER BY key LIMIT ?", [last, *params, int(batch_size)])
            if not rows:
                return
            last = rows[-1][0]
            yield [Record(i, t, json.loads(m), np.frombuffer(b, dtype=np.float32)) for _, i, t, m, b in rows]

    def model_record(self) -> dict:
        """The recorded model (name, spec, fingerprint, modality, prompts), for copying a store."""
        return {k: self.meta[k] for k in ("model", "model_spec", "model_fingerprint", "model_modality",
                                          "model_prompts") if k in self.meta}

    def record_model(self, record: Mapping, dim: int) -> None:
        """Record a model (another store's :meth:`model_record`) and dimension before the first vectors."""
        mine = self.model_record()
        for key in ("model", "model_fingerprint"):
            if key in mine and key in record and mine[key] != record[key]:
                raise ModelMismatch(f"the store {self.path} holds vectors made by {mine.get('model')!r}, "
                                    f"not {record.get('model')!r}")
        with self._write():
            self._stamp(int(dim))
            values = {k: v for k, v in record.items() if k not in self.meta}
            if values:
                self._set_meta(**values)

    def put_source_state(self, state: SourceState) -> None:
        """Record an indexed file's state as it is (for copying a store)."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                       [state.source, state.size, state.mtime_ns, state.sha256, state.n_items, time.time()])

    # -- search --------------------------------------------------------------------------------

    def search(self, query, *, k: int = 10, mode: str = "vector", where: Mapping | None = None,
               expansion: int | None = None, language_neutral: bool = True) -> list[Hit]:
        """Search the store.

        Args:
            query: a text (embedded with the store's encoder for vector search), or a vector.
            k: how many results.
            mode: "vector", "keyword" (FTS5, BM25) or "hybrid" (reciprocal rank fusion of both).
            where: metadata equality filters, e.g. ``{"lang": "ko"}``.
            expansion: HNSW ``ef`` for this search (default ``ann_params.ef_search``; more is slower
                and more accurate). Only used above ``ann_threshold`` items.
            language_neutral: in a store of documents in several scripts (Korean and English, say),
                compare text queries and documents with each script's mean vector taken out, so
                that a Korean query is not drawn to Korean documents for their language alone
                (:mod:`embedkit.store.language`; cosine stores up to 200,000 items). The scores
                are then cosines of the centred vectors. ``False``: plain cosine.
        """
        k = check_k(k)
        if self._db is None:
            raise StoreError(f"the store {self.path} is closed")
        if mode not in MODES:
            raise InvalidInput(f"Unknown search mode {mode!r}. Valid modes are: {', '.join(MODES)}")
        if isinstance(query, str) and not query.strip():
            raise InvalidInput("the query is empty")
        if mode == "keyword":
            if not isinstance(query, str):
                raise InvalidInput("keyword search needs a text query")
            return self._hits(*self._keyword(query, k, where))
        seq = self._current_seq()
        if mode == "vector":
            return self._hits(*self._vector_search(query, k, where, expansion, seq, language_neutral))
        if not isinstance(query, str):
            raise InvalidInput("hybrid search needs a text query")
        depth = max(50, 4 * k)
        fused: dict[int, float] = {}
        for ranked in (self._vector_search(query, depth, where, expansion, seq, language_neutral),
                       self._keyword(query, depth, where)):
            for rank, key in enumerate(ranked[0]):
                fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return self._hits([key for key, _ in best], [score for _, score in best])

    def _vector_search(self, query, k, where, expansion, seq, language_neutral):
        q = self._query_vector(query)
        if language_neutral and isinstance(query, str):
            found = self._index.neutral_search(q, query, k, where, seq)
            if found is not None:
                return found
        return self._index.search(q, k, where, expansion, seq)

    def _keyword(self, text: str, k: int, where) -> tuple[list[int], list[float]]:
        """Keys and BM25 scores (negated: higher is better) of the best ``k`` keyword matches."""
        cond, params = where_sql(where)
        sql = ("SELECT items.key, -bm25(items_fts) FROM items_fts JOIN items ON items.key = items_fts.rowid "
               "WHERE items_fts MATCH ?" + (f" AND {cond}" if cond else "") +
               " ORDER BY bm25(items_fts) LIMIT ?")
        rows = self._query(sql, [fts_query(text), *params, k])
        return [int(r[0]) for r in rows], [float(r[1]) for r in rows]

    def build_index(self, *, force: bool = False) -> None:
        """Bring the ANN index file up to date now (search does it lazily otherwise).

        Stores below ``ann_threshold`` are searched exactly and get no index unless ``force``.
        """
        self._index.build(force=force)

    # -- indexed sources (for incremental indexing) ------------------------------------------------

    def source_state(self, source: str) -> SourceState | None:
        """What the store remembers of an indexed file, or None."""
        rows = self._query("SELECT source, size, mtime_ns, sha256, n_items FROM sources WHERE source = ?",
                           [source])
        return SourceState(*rows[0]) if rows else None

    def sources(self) -> list[str]:
        """Every indexed source, sorted."""
        return [r[0] for r in self._query("SELECT source FROM sources ORDER BY source")]

    def replace_source(self, state: SourceState, texts, *, ids, metadata, vectors) -> None:
        """Replace all items of a source and its state in one transaction."""
        with self._write() as db:
            db.execute("DELETE FROM items WHERE json_extract(metadata, '$.source') = ?", [state.source])
            if ids:
                self.add(texts, ids=ids, metadata=metadata, vectors=vectors)
            db.execute("INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
                       [state.source, state.size, state.mtime_ns, state.sha256, len(ids), time.time()])

    def touch_source(self, state: SourceState) -> None:
        """Record a new size/mtime for a source whose content is unchanged."""
        with self._write() as db:
            db.execute("UPDATE sources SET size = ?, mtime_ns = ? WHERE source = ?",
                       [state.size, state.mtime_ns, state.source])

    def remove_source(self, source: str) -> int:
        """Delete a source's items and its state; return how many items were deleted."""
        with self._write() as db:
            n = db.execute("DELETE FROM items WHERE json_extract(metadata, '$.source') = ?",
                           [source]).rowcount
            db.execute("DELETE FROM sources WHERE source = ?", [source])
            return n

    # -- housekeeping --------------------------------------------------------------------------

    def info(self) -> dict:
        """A summary of the store: size, model, dimension, metric, index state."""
        ann = self.ann_path
        return {
            "path": self.path, "count": self.count(), "dim": self.dim, "metric": self.metric,
            "model": self.model, "model_spec": self.model_spec,
            "model_fingerprint": self.meta.get("model_fingerprint"),
            "model_prompts": json.loads(self.meta.get("model_prompts") or "{}"),
            "sources": int(self._query("SELECT COUNT(*) FROM sources")[0][0]),
            "created_at": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                        time.gmtime(float(self.meta.get("created_at", "0")))),
            "embedkit_version": self.meta.get("embedkit_version"),
            "search": "exact" if self.count() < self.ann_threshold else "ann",
            "ann_index": str(ann) if ann is not None and ann.exists() else None,
            "size_bytes": (Path(self.path).stat().st_size if self.path != ":memory:" else 0),
        }

    def integrity_check(self) -> list[str]:
        """SQLite's integrity check and the FTS index check; an empty list means healthy."""
        problems = [r[0] for r in self._query("PRAGMA integrity_check") if r[0] != "ok"]
        try:
            with self._lock:
                self._db.execute("INSERT INTO items_fts (items_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            problems.append(f"full-text index: {exc}")
        return problems

    def close(self) -> None:
        """Save a changed ANN index and close the database."""
        with self._lock:
            if getattr(self, "_db", None) is None:
                return
            try:
                for rows in list(self._pending):  # hits returned earlier keep their text
                    rows.load()
                self._pending.clear()
                if self._index.loaded and self._index.dirty:
                    self._index.save()
            finally:
                self._db.close()
                self._db = None

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.count()

    def __repr__(self) -> str:
        return f"VectorStore({self.path!r}, model={self.model!r}, dim={self.dim}, metric={self.metric!r})"

