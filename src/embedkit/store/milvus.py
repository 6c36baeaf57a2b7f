"""MilvusStore: the store contract on Milvus (a Milvus server or cluster, or Milvus Lite in-process).

``VectorStore("milvus://host:19530/docs")`` and ``VectorStore("milvus-lite://docs.db")`` (also
``embedkit.open(...)`` and every ``--store`` option of the CLI) open one of these; the contract is
the SQLite store's (:class:`~.base.StoreBackend`), checked by the same tests.

One Milvus collection holds the items::

    id        VARCHAR primary key        the caller's id
    text      VARCHAR                    the item's text
    terms     VARCHAR (analyzer)         the keyword terms: Korean as morphemes, English stemmed
    sparse    SPARSE_FLOAT_VECTOR        BM25 of ``terms`` (a Milvus BM25 function)
    metadata  VARCHAR                    the metadata as JSON text, exactly as given
    filters   JSON                       the top-level scalar metadata, typed ("s:ko", "n:1.0",
                                         "b:true", "z:null"), so that ``where`` keeps JSON types
                                         apart as SQLite does (Milvus compares 1 == true otherwise)
    vector    FLOAT_VECTOR(dim)          HNSW (cosine, inner product or L2)

The store's settings (format, metric, model name, spec, fingerprint, prompts) are collection
properties ``embedkit.*``; indexed files' states live in a second collection ``<name>__sources``.

Keyword terms are analysed in Python before they reach Milvus, the same way the SQLite store's
FTS5 index analyses them (kiwipiepy morphemes for Korean, then FTS5's own Porter tokenizer), so
both backends match the same words: Milvus Lite's analyzers offer only the ``standard`` and
``jieba`` tokenizers and ignore a stemmer filter.

Differences from SQLite, by design of Milvus: writes are not transactions (an ``add`` of several
batches that fails part-way deletes what it wrote; ``replace_source`` is delete-then-insert, and a
re-run of ``embedkit index`` repairs an interrupted one); texts and metadata are limited to 65,535
bytes each (Milvus VARCHAR).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from .. import __version__
from ..encoder import ROLES
from ..errors import (
    DimensionMismatch,
    InvalidInput,
    StoreCorrupt,
    StoreError,
    StoreNotFound,
    require,
)
from ..identity import fingerprint_of
from .common import ModelBound
from .filters import analyze_many, fts_query, has_hangul
from .results import Hit, LazyRows, Record, SourceState, check_k

__all__ = ["MilvusStore", "is_milvus_url", "parse_url", "FORMAT"]

log = logging.getLogger(__name__)

FORMAT = "embedkit-milvus-1"
MODES = ("vector", "keyword", "hybrid")
RRF_K = 60
MAX_VARCHAR = 65_535
SCHEMES = ("milvus://", "milvus+https://", "milvus-lite://")
DEFAULT_COLLECTION = "embedkit"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,180}$")
_METRICS = {"cosine": "COSINE", "dot": "IP", "euclidean": "L2"}
_FIELDS = {"id": 21, "text": 21, "terms": 21, "metadata": 21, "filters": 23, "vector": 101,
           "sparse": 104}  # pymilvus DataType values: VARCHAR, JSON, FLOAT_VECTOR, SPARSE
_INSERT_ROWS = 2_000
_lite_lock = threading.Lock()
_lite_users: dict[str, int] = {}  # Milvus Lite data folder -> open stores using its server


def is_milvus_url(path) -> bool:
    """Whether ``path`` names a Milvus store (``milvus://``, ``milvus+https://``, ``milvus-lite://``)."""
    return isinstance(path, str) and path.startswith(SCHEMES)


def parse_url(url: str) -> dict:
    """Split a store URL into what the client needs.

    - ``milvus://[token@]host:port/collection`` (``milvus+https://`` for TLS): a Milvus server;
    - ``milvus-lite://path/to/file.db[?collection=name]``: Milvus Lite in this process, its data in
      the folder ``file.db`` (``milvus-lite:///abs/path.db`` for an absolute path).
    """
    if url.startswith("milvus-lite://"):
        rest = url[len("milvus-lite://"):]
        path, _, query = rest.partition("?")
        params = parse_qs(query)
        collection = params.get("collection", [DEFAULT_COLLECTION])[0]
        if not path or not path.endswith(".db"):
            raise InvalidInput(f"a Milvus Lite store is a path ending in .db, e.g. milvus-lite://docs.db; "
                               f"got {url!r}")
        return {"lite": True, "path": str(Path(unquote(path)).expanduser()), "collection":
                _check_name(collection, url), "uri": None, "token": ""}
    parts = urlsplit(url)
    if not parts.hostname:
        raise InvalidInput(f"a Milvus store URL is milvus://host:port/collection, got {url!r}")
    try:
        port = parts.port or 19530
    except ValueError:
        raise InvalidInput(f"the port in {url!r} is not a number") from None
    collection = parts.path.strip("/") or DEFAULT_COLLECTION
    token = unquote(parts.username or "")
    if parts.password:
        token += ":" + unquote(parts.password)
    scheme = "https" if url.startswith("milvus+https://") else "http"
    return {"lite": False, "host": parts.hostname, "port": port, "collection": _check_name(collection, url),
            "uri": f"{scheme}://{parts.hostname}:{port}", "token": token}


def _check_name(name: str, url: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(f"Milvus collection names are letters, digits and underscores, starting with a "
                           f"letter or underscore; got {name!r} in {url!r}")
    return name


def _quote(text: str) -> str:
    """A string literal of a Milvus filter expression."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _typed(value) -> str | None:
    """A metadata scalar as a string that keeps its JSON type (None for objects and arrays)."""
    if value is None:
        return "z:null"
    if isinstance(value, bool):
        return "b:true" if value else "b:false"
    if isinstance(value, (int, float)):
        return "n:" + repr(float(value))  # 1 and 1.0 are the same JSON number, as in SQLite
    if isinstance(value, str):
        return "s:" + value
    return None


def where_expr(where: Mapping | None) -> str:
    """A Milvus filter expression for metadata equality filters (JSON types kept apart)."""
    if not where:
        return ""
    if not isinstance(where, Mapping):
        raise InvalidInput(f"where must be a dict of metadata field -> value, got {type(where).__name__}")
    parts = []
    for key, value in where.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"metadata filter keys must be non-empty strings, got {key!r}")
        typed = _typed(value)
        if typed is None:
            raise InvalidInput(
                f"metadata filter values must be str, int, float, bool or None; got "
                f"{type(value).__name__} for {key!r}"
            )
        parts.append(f"filters[{_quote(key)}] == {_quote(typed)}")
    return " and ".join(parts)


_fts_lock = threading.Lock()


def keyword_terms(texts: Sequence[str]) -> list[str]:
    """The keyword terms of each text, as the SQLite store's FTS5 index holds them.

    Korean is split into morphemes (:func:`~.filters.analyze_many`), then SQLite's FTS5 ``porter
    unicode61`` tokenizer lower-cases, strips diacritics and stems, so "cars" is "car" on both
    backends. The terms are joined by spaces for Milvus's standard analyzer.
    """
    analysed = analyze_many(list(texts))
    with _fts_lock:
        db = sqlite3.connect(":memory:")
        try:
            db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61 remove_diacritics 2')")
            db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
            db.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", enumerate(analysed))
            words: list[list[str]] = [[] for _ in analysed]
            for doc, term in db.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
                words[doc].append(term)
        finally:
            db.close()
    return [" ".join(w) for w in words]


def _clip(text: str) -> str:
    """``text`` cut to what a VARCHAR holds (keyword terms of a text near the limit)."""
    raw = text.encode("utf-8")
    return text if len(raw) <= MAX_VARCHAR else raw[:MAX_VARCHAR].decode("utf-8", "ignore")


def _check_reachable(host: str, port: int, timeout: float) -> None:
    """Fail within ``timeout`` seconds when nothing listens at host:port (the client would retry)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise StoreError(f"cannot reach the Milvus server at {host}:{port} within {timeout:g} s ({exc}); "
                         "check the address and that Milvus is running") from exc


class MilvusStore(ModelBound):
    """A vector collection in Milvus behind the :class:`~.base.StoreBackend` contract.

    Args:
        url: ``milvus://host:port/collection`` (``milvus+https://`` for TLS; a token as
            ``milvus://user:password@host:port/c``) or ``milvus-lite://path.db[?collection=name]``.
        encoder, dim, metric, create: as for the SQLite :class:`~.sqlite.VectorStore`.
        timeout: seconds to wait for the server before giving up (connection and each call).
        index_params: HNSW build parameters (default ``M=16, efConstruction=128``, as SQLite's).
        ef_search: the HNSW ``ef`` of a search without ``expansion`` (default 128, as SQLite's).
    """

    def __init__(self, url: str, *, encoder=None, dim: int | None = None, metric: str = "cosine",
                 create: bool = True, timeout: float = 10.0, index_params: Mapping | None = None,
                 ef_search: int = 128, **options):
        for name in ("ann_threshold", "ann_params", "read_consistency_interval"):
            options.pop(name, None)  # SQLite-store settings: Milvus keeps its own index and reads
        if options:
            raise InvalidInput(f"unknown option(s) for a Milvus store: {', '.join(sorted(options))}")
        if metric not in _METRICS:
            raise InvalidInput(f"Unknown metric {metric!r}. Valid metrics are: {', '.join(_METRICS)}")
        self.path = url
        self.url = parse_url(url)
        self.collection = self.url["collection"]
        self.sources_collection = self.collection + "__sources"
        self.timeout = float(timeout)
        self.index_params = {"M": 16, "efConstruction": 128, **dict(index_params or {})}
        self.ef_search = int(ef_search)
        self._encoder = None
        self._lock = threading.RLock()
        self._client = None
        self._lite_path = None
        pymilvus = require("pymilvus", "scale", "the Milvus store")
        if not os.environ.get("EMBEDKIT_DEBUG"):
            # pymilvus logs every failed call with a traceback; this store raises a StoreError instead.
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        self._pymilvus = pymilvus
        if self.url["lite"]:
            require("milvus_lite", "scale", "Milvus Lite")
            if not os.environ.get("EMBEDKIT_DEBUG"):
                # The in-process server logs calls it does not implement (pymilvus then falls back).
                logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            folder = Path(self.url["path"])
            if folder.exists() and not folder.is_dir():
                raise StoreCorrupt(f"{folder} is a file; a Milvus Lite store is a folder (made by Milvus Lite)")
            if not folder.exists() and not create:
                raise StoreNotFound(f"no Milvus Lite store at {folder}")
            folder.parent.mkdir(parents=True, exist_ok=True)
            self._lite_path = str(folder.resolve())
            with _lite_lock:
                self._client = self._connect(uri=self._lite_path)
                _lite_users[self._lite_path] = _lite_users.get(self._lite_path, 0) + 1
        else:
            _check_reachable(self.url["host"], self.url["port"], min(self.timeout, 5.0))
            self._client = self._connect(uri=self.url["uri"], token=self.url["token"])
        try:
            self._open(metric, dim, create)
        except BaseException:
            self.close()
            raise
        if encoder is not None:
            self.encoder = encoder

    # -- connection and schema ---------------------------------------------------------------

    def _connect(self, **kwargs):
        try:
            return self._pymilvus.MilvusClient(timeout=self.timeout, **kwargs)
        except Exception as exc:  # MilvusException and the gRPC errors under it
            where = kwargs["uri"]
            raise StoreError(f"cannot connect to Milvus at {where}: {exc}") from exc

    def _call(self, what: str, fn, *args, **kwargs):
        """A client call, with Milvus's errors turned into a StoreError naming what failed."""
        if self._client is None:
            raise StoreError(f"the store {self.path} is closed")
        try:
            return fn(*args, timeout=self.timeout, **kwargs)
        except self._pymilvus.MilvusException as exc:
            raise StoreError(f"Milvus could not {what} in {self.path}: {exc.message}") from exc
        except Exception as exc:
            import grpc  # pymilvus's transport; its decorators re-raise some gRPC errors as they are

            if not isinstance(exc, grpc.RpcError):
                raise
            code = exc.code() if hasattr(exc, "code") else None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                changes = what.split()[0] in ("create", "delete", "record", "undo", "write")
                raise StoreError(
                    f"Milvus did not {what} within {self.timeout:g} s in {self.path}"
                    + ("; the change may or may not have been applied (check count() or get())"
                       if changes else "")
                    + "; a busy server may need a larger timeout= (seconds)") from exc
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise StoreError(f"Milvus could not {what} in {self.path}: "
                             f"{getattr(code, 'name', 'gRPC error')}: {details}") from exc

    def _open(self, metric: str, dim: int | None, create: bool) -> None:
        c = self._client
        if self._call("list collections", c.has_collection, self.collection):
            desc = self._call("describe the collection", c.describe_collection, self.collection)
            props = desc.get("properties") or {}
            if props.get("embedkit.format") != FORMAT:
                raise StoreCorrupt(f"the Milvus collection {self.collection!r} in {self.path} was not made by "
                                   "embedkit (no embedkit.format property); it was left unchanged")
            found = {f["name"]: int(f["type"]) for f in desc["fields"]}
            wrong = [f"{name} ({'missing' if name not in found else 'wrong type'})"
                     for name, kind in _FIELDS.items() if found.get(name) != kind]
            if wrong:
                raise StoreCorrupt(f"the Milvus collection {self.collection!r} in {self.path} does not have "
                                   f"the embedkit schema: {', '.join(wrong)}; it was left unchanged")
            self.meta = {k[len("embedkit."):]: str(v) for k, v in props.items() if k.startswith("embedkit.")}
            vdim = next(int(f["params"]["dim"]) for f in desc["fields"] if f["name"] == "vector")
            if int(self.meta.get("dim", vdim)) != vdim:
                raise StoreCorrupt(f"the Milvus collection {self.collection!r} records dimension "
                                   f"{self.meta['dim']} but its vector field has {vdim}")
            self.meta["dim"] = str(vdim)
            if dim is not None and int(dim) != vdim:
                raise DimensionMismatch(f"the store {self.path} holds {vdim}-dimensional vectors, not {dim}")
            self._call("load the collection", c.load_collection, self.collection)
            self._exists = True
        else:
            if not create:
                raise StoreNotFound(f"no collection {self.collection!r} in {self.path}")
            # The collection is created with the first vectors (Milvus needs the dimension),
            # or now when the dimension is given.
            self.meta = {"format": FORMAT, "metric": metric, "created_at": str(time.time()),
                         "embedkit_version": __version__}
            self._exists = False
            if dim is not None:
                self._create(int(dim))
        self.metric = self.meta["metric"]

    def _create(self, dim: int) -> None:
        p = self._pymilvus
        dt = p.DataType
        schema = p.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", dt.VARCHAR, is_primary=True, max_length=MAX_VARCHAR)
        schema.add_field("text", dt.VARCHAR, max_length=MAX_VARCHAR)
        schema.add_field("terms", dt.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard", "filter": ["lowercase"]})
        schema.add_field("metadata", dt.VARCHAR, max_length=MAX_VARCHAR)
        schema.add_field("filters", dt.JSON)
        schema.add_field("vector", dt.FLOAT_VECTOR, dim=dim)
        schema.add_field("sparse", dt.SPARSE_FLOAT_VECTOR)
        schema.add_function(p.Function(name="bm25", function_type=p.FunctionType.BM25,
                                       input_field_names=["terms"], output_field_names=["sparse"]))
        index = self._client.prepare_index_params()
        index.add_index("vector", index_type="HNSW", metric_type=_METRICS[self.meta["metric"]],
                        params=dict(self.index_params))
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.meta["dim"] = str(dim)
        props = {f"embedkit.{k}": v for k, v in self.meta.items()}
        self._call("create the collection", self._client.create_collection, self.collection,
                   schema=schema, index_params=index, consistency_level="Strong", properties=props)
        desc = self._call("describe the collection", self._client.describe_collection, self.collection)
        if (desc.get("properties") or {}).get("embedkit.format") != FORMAT:  # older servers
            self._set_meta(**self.meta)
        self._exists = True

    def _set_meta(self, **values) -> None:
        values = {k: str(v) for k, v in values.items()}
        if self._exists:
            self._call("record the store's settings", self._client.alter_collection_properties,
                       self.collection, properties={f"embedkit.{k}": v for k, v in values.items()})
        self.meta = {**self.meta, **values}

    def _sources(self) -> bool:
        """Make sure the collection of indexed-file states exists; False when it does not and was not made."""
        if getattr(self, "_sources_ready", False):
            return True
        c = self._client
        if self._call("list collections", c.has_collection, self.sources_collection):
            self._call("load the sources collection", c.load_collection, self.sources_collection)
            self._sources_ready = True
            return True
        return False

    def _create_sources(self) -> None:
        p = self._pymilvus
        schema = p.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("source", p.DataType.VARCHAR, is_primary=True, max_length=MAX_VARCHAR)
        schema.add_field("state", p.DataType.VARCHAR, max_length=MAX_VARCHAR)
        schema.add_field("dummy", p.DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        index = self._client.prepare_index_params()
        index.add_index("dummy", index_type="FLAT", metric_type="L2")
        self._call("create the sources collection", self._client.create_collection,
                   self.sources_collection, schema=schema, index_params=index, consistency_level="Strong")
        self._sources_ready = True

    # -- the model -------------------------------------------------------------------------------

    @property
    def dim(self) -> int | None:
        """The vector dimension (None until the first vector is stored)."""
        return int(self.meta["dim"]) if "dim" in self.meta else None

    @property
    def model(self) -> str | None:
        """The name of the model that made the store's vectors, if recorded."""
        return self.meta.get("model")

    @property
    def model_spec(self) -> str | None:
        """The spec that loads the store's model again."""
        return self.meta.get("model_spec")

    @property
    def modality(self) -> str | None:
        """What the store's model embeds, without loading it."""
        recorded = self.meta.get("model_modality")
        if recorded is None and self._encoder is not None:
            return getattr(self._encoder, "modality", "text")
        return recorded

    def model_record(self) -> dict:
        """The recorded model (name, spec, fingerprint, modality, prompts), for copying a store."""
        return {k: self.meta[k] for k in ("model", "model_spec", "model_fingerprint", "model_modality",
                                          "model_prompts") if k in self.meta}

    def record_model(self, record: Mapping, dim: int) -> None:
        """Record a model (from another store's :meth:`model_record`) before the first vectors."""
        self._stamp(dim, record)

    def _stamp(self, dim: int, record: Mapping | None = None) -> None:
        if not self._exists:
            self._create(dim)
        elif int(self.meta["dim"]) != dim:
            raise DimensionMismatch(f"vectors have dimension {dim}, the store holds {self.meta['dim']}")
        values = {}
        encoder = self._encoder
        if record is not None:
            theirs = dict(record)
            mine = self.model_record()
            clash = [k for k in ("model", "model_fingerprint") if k in mine and k in theirs
                     and mine[k] != theirs[k]]
            if clash:
                from ..errors import ModelMismatch

                raise ModelMismatch(f"the store {self.path} holds vectors made by {mine.get('model')!r}, "
                                    f"not {theirs.get('model')!r}")
            values = {k: v for k, v in theirs.items() if k not in self.meta}
        elif encoder is not None:
            fp = fingerprint_of(encoder)
            if "model" not in self.meta:
                values["model"] = encoder.name
                values["model_spec"] = getattr(encoder, "spec", None) or encoder.name
                values["model_modality"] = getattr(encoder, "modality", "text")
            if fp is not None and "model_fingerprint" not in self.meta:
                values["model_fingerprint"] = fp
            if "model_prompts" not in self.meta:
                prompts = {r: getattr(encoder, "prompt_for", lambda _: None)(r) for r in ROLES}
                values["model_prompts"] = json.dumps({r: p for r, p in prompts.items() if p},
                                                     ensure_ascii=False)
        if values:
            self._set_meta(**values)

    # -- writing -------------------------------------------------------------------------------

    def _prepare(self, texts, ids, metadata, vectors, batch_size, progress):
        # The SQLite store's checks and embedding (ModelBound), with the same messages.
        texts, ids, metas, vectors = super()._prepare(texts, ids, metadata, vectors, batch_size, progress)
        for what, values in (("id", ids), ("text", texts), ("metadata", metas)):
            for i, value in enumerate(values):
                if len(value.encode("utf-8")) > MAX_VARCHAR:
                    raise InvalidInput(f"{what} {i} is longer than the {MAX_VARCHAR} bytes a Milvus "
                                       "VARCHAR field holds; split long texts into chunks")
        return texts, ids, metas, vectors

    def _rows(self, texts, ids, metas, vectors) -> list[dict]:
        korean = [t for t in texts if has_hangul(t)]
        if korean:
            require("kiwipiepy", "korean", "keyword indexing of Korean text")
        terms = keyword_terms(texts)
        rows = []
        for id_, text, term, meta, vec in zip(ids, texts, terms, metas, vectors):
            parsed = json.loads(meta)
            filters = {k: t for k, v in parsed.items() if (t := _typed(v)) is not None}
            rows.append({"id": id_, "text": text, "terms": _clip(term), "metadata": meta,
                         "filters": filters, "vector": vec})
        return rows

    def add(self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
            metadata: Sequence[Mapping] | None = None, vectors=None, batch_size: int = 32,
            progress: bool | None = None) -> list[str]:
        """Add items and return their ids. An id already stored is an error (and nothing is added)."""
        return self._insert(texts, ids, metadata, vectors, batch_size, progress, replace=False)

    def upsert(self, texts: Sequence[str] | None = None, *, ids: Sequence[str],
               metadata: Sequence[Mapping] | None = None, vectors=None, batch_size: int = 32,
               progress: bool | None = None) -> list[str]:
        """Add items, replacing stored items with the same ids."""
        if ids is None:
            raise InvalidInput("upsert() needs ids")
        return self._insert(texts, ids, metadata, vectors, batch_size, progress, replace=True)

    def _insert(self, texts, ids, metadata, vectors, batch_size, progress, *, replace):
        texts, ids, metas, vectors = self._prepare(texts, ids, metadata, vectors, batch_size, progress)
        if not ids:
            return []
        with self._lock:
            self._stamp(vectors.shape[1])
            if not replace:
                taken = self._existing(ids)
                if taken:
                    raise InvalidInput(f"the id {taken[0]!r} is already in the store; use upsert() to replace it")
            rows = self._rows(texts, ids, metas, vectors)
            written: list[str] = []
            op = self._client.upsert if replace else self._client.insert
            try:
                for start in range(0, len(rows), _INSERT_ROWS):
                    part = rows[start:start + _INSERT_ROWS]
                    self._call("write items", op, self.collection, data=part)
                    written.extend(r["id"] for r in part)
            except BaseException:
                if written and not replace:  # no transactions in Milvus: take back what was written
                    try:
                        self._call("undo a failed add", self._client.delete, self.collection, ids=written)
                    except StoreError as exc:
                        log.warning("could not undo a failed add in %s: %s", self.path, exc)
                raise
        return ids

    def _existing(self, ids: Sequence[str]) -> list[str]:
        found = []
        for start in range(0, len(ids), 1000):
            part = list(ids[start:start + 1000])
            found += [r["id"] for r in self._call("read items", self._client.get, self.collection,
                                                  ids=part, output_fields=["id"])]
        return found

    def delete(self, ids: Sequence[str] | None = None, *, where: Mapping | None = None) -> int:
        """Delete items by id or by metadata filter; return how many were deleted."""
        if (ids is None) == (where is None):
            raise InvalidInput("delete() needs exactly one of ids= or where=")
        if ids is not None and isinstance(ids, str):
            raise InvalidInput("ids must be a list of ids; wrap a single id in a list")
        expr = where_expr(where) if where is not None else None
        if not self._exists:
            return 0
        with self._lock:
            if ids is not None:
                present = self._existing(list(dict.fromkeys(ids)))
                if present:
                    self._call("delete items", self._client.delete, self.collection, ids=present)
                return len(present)
            n = self.count(where)
            if n:
                self._call("delete items", self._client.delete, self.collection, filter=expr)
            return n

    # -- reading -------------------------------------------------------------------------------

    def count(self, where: Mapping | None = None) -> int:
        """The number of items (matching ``where`` if given)."""
        expr = where_expr(where)
        if not self._exists:
            return 0
        rows = self._call("count items", self._client.query, self.collection, filter=expr,
                          output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def get(self, ids: Sequence[str]) -> list[Record | None]:
        """The stored items for ``ids``, in order; None where an id is not stored."""
        if isinstance(ids, str):
            raise InvalidInput("ids must be a list of ids; wrap a single id in a list")
        if not self._exists:
            return [None] * len(ids)
        found = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 1000):
            for r in self._call("read items", self._client.get, self.collection,
                                ids=unique[start:start + 1000],
                                output_fields=["id", "text", "metadata", "vector"]):
                found[r["id"]] = self._record(r)
        return [found.get(i) for i in ids]

    @staticmethod
    def _record(r: dict) -> Record:
        return Record(r["id"], r["text"], json.loads(r["metadata"]), np.asarray(r["vector"], dtype=np.float32))

    def records(self, *, where: Mapping | None = None, batch_size: int = 1000) -> Iterator[list[Record]]:
        """Every stored item (matching ``where``), a batch at a time (for copying a store)."""
        expr = where_expr(where)
        if not self._exists:
            return
        it = self._call("read items", self._client.query_iterator, self.collection, batch_size=batch_size,
                        filter=expr, output_fields=["id", "text", "metadata", "vector"])
        try:
            while True:
                batch = it.next()
                if not batch:
                    break
                yield [self._record(r) for r in batch]
        finally:
            it.close()

    # -- search --------------------------------------------------------------------------------

    def search(self, query, *, k: int = 10, mode: str = "vector", where: Mapping | None = None,
               expansion: int | None = None, language_neutral: bool = True) -> list[Hit]:
        """Vector, keyword (BM25) or hybrid (reciprocal rank fusion) search; see the SQLite store.

        ``language_neutral`` is accepted for the common interface and not applied: the centred
        search of :mod:`.language` is an exact search over every vector, which a Milvus
        collection is there to avoid; scores are plain cosines.
        """
        k = check_k(k)
        if self._client is None:
            raise StoreError(f"the store {self.path} is closed")
        if mode not in MODES:
            raise InvalidInput(f"Unknown search mode {mode!r}. Valid modes are: {', '.join(MODES)}")
        if isinstance(query, str) and not query.strip():
            raise InvalidInput("the query is empty")
        if mode != "vector" and not isinstance(query, str):
            raise InvalidInput(f"{mode} search needs a text query")
        expr = where_expr(where)
        if expansion is not None and (not isinstance(expansion, int) or expansion <= 0):
            raise InvalidInput(f"expansion must be a positive integer, got {expansion!r}")
        if mode == "keyword":
            fts_query(query)  # the same check: a query with no words is an error
            if not self._exists:
                return []
            return self._hits(self._keyword(query, k, expr))
        q = self._query_vector(query)
        if mode == "vector":
            return self._hits(self._vector(q, k, expr, expansion))
        fts_query(query)
        depth = max(50, 4 * k)
        fused: dict[str, float] = {}
        rows: dict[str, dict] = {}
        for ranked in (self._vector(q, depth, expr, expansion), self._keyword(query, depth, expr)):
            for rank, (row, _) in enumerate(ranked):
                fused[row["id"]] = fused.get(row["id"], 0.0) + 1.0 / (RRF_K + rank + 1)
                rows[row["id"]] = row
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:k]
        return self._hits([(rows[i], s) for i, s in best])

    def _vector(self, q: np.ndarray, k: int, expr: str, expansion: int | None) -> list[tuple[dict, float]]:
        ef = max(expansion or self.ef_search, k)
        res = self._call("search", self._client.search, self.collection, data=[q.tolist()],
                         anns_field="vector", limit=k, filter=expr,
                         search_params={"metric_type": _METRICS[self.metric], "params": {"ef": ef}},
                         output_fields=["text", "metadata"])
        out = []
        for hit in res[0]:
            d = float(hit["distance"])
            score = -math.sqrt(max(d, 0.0)) if self.metric == "euclidean" else d  # L2 is squared
            out.append(({"id": hit["id"], **hit["entity"]}, score))
        return out

    def _keyword(self, text: str, k: int, expr: str) -> list[tuple[dict, float]]:
        terms = keyword_terms([text])[0]
        if not terms:
            return []
        res = self._call("search", self._client.search, self.collection, data=[terms], anns_field="sparse",
                         limit=k, filter=expr, search_params={"metric_type": "BM25"},
                         output_fields=["text", "metadata"])
        # BM25 scores are >= 0; Milvus Lite reports them negated, a server as they are.
        return [({"id": h["id"], **h["entity"]}, abs(float(h["distance"]))) for h in res[0]]

    @staticmethod
    def _hits(ranked: list[tuple[dict, float]]) -> list[Hit]:
        rows = LazyRows(None, list(range(len(ranked))),
                        {i: (row["text"], row["metadata"]) for i, (row, _) in enumerate(ranked)})
        return [Hit(row["id"], score, i, rows) for i, (row, score) in enumerate(ranked)]

    def build_index(self, *, force: bool = False) -> None:
        """Milvus builds and maintains its indexes itself; this flushes written rows to segments."""
        if self._exists:
            self._call("flush", self._client.flush, self.collection)

    # -- indexed sources -----------------------------------------------------------------------

    def source_state(self, source: str) -> SourceState | None:
        """What the store remembers of an indexed file, or None."""
        if not self._sources():
            return None
        rows = self._call("read a source", self._client.get, self.sources_collection, ids=[source],
                          output_fields=["state"])
        return SourceState(**json.loads(rows[0]["state"])) if rows else None

    def sources(self) -> list[str]:
        """Every indexed source, sorted."""
        if not self._sources():
            return []
        it = self._call("read sources", self._client.query_iterator, self.sources_collection,
                        batch_size=1000, filter="", output_fields=["source"])
        out = []
        try:
            while batch := it.next():
                out += [r["source"] for r in batch]
        finally:
            it.close()
        return sorted(out)

    def _put_source(self, state: SourceState) -> None:
        if not self._sources():
            self._create_sources()
        row = {"source": state.source, "state": json.dumps(state.__dict__), "dummy": [0.0, 0.0]}
        self._call("record a source", self._client.upsert, self.sources_collection, data=[row])

    def replace_source(self, state: SourceState, texts, *, ids, metadata, vectors) -> None:
        """Replace all items of a source and its state (delete, then add, then the state)."""
        with self._lock:
            if self._exists:
                self.delete(where={"source": state.source})
            if ids:
                self.add(texts, ids=ids, metadata=metadata, vectors=vectors)
            self._put_source(SourceState(state.source, state.size, state.mtime_ns, state.sha256, len(ids)))

    def touch_source(self, state: SourceState) -> None:
        """Record a new size/mtime for a source whose content is unchanged."""
        old = self.source_state(state.source)
        if old is not None:
            self._put_source(SourceState(state.source, state.size, state.mtime_ns, old.sha256, old.n_items))

    def remove_source(self, source: str) -> int:
        """Delete a source's items and its state; return how many items were deleted."""
        with self._lock:
            n = self.delete(where={"source": source}) if self._exists else 0
            if self._sources():
                self._call("delete a source", self._client.delete, self.sources_collection, ids=[source])
            return n

    def put_source_state(self, state: SourceState) -> None:
        """Record an indexed file's state as it is (for copying a store)."""
        self._put_source(state)

    # -- housekeeping --------------------------------------------------------------------------

    def info(self) -> dict:
        """A summary of the store: backend, size, model, dimension, metric, index."""
        return {
            "path": self.path, "backend": "milvus-lite" if self.url["lite"] else "milvus",
            "collection": self.collection, "count": self.count(), "dim": self.dim, "metric": self.metric,
            "model": self.model, "model_spec": self.model_spec,
            "model_fingerprint": self.meta.get("model_fingerprint"),
            "model_prompts": json.loads(self.meta.get("model_prompts") or "{}"),
            "sources": len(self.sources()),
            "created_at": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                        time.gmtime(float(self.meta.get("created_at", "0")))),
            "embedkit_version": self.meta.get("embedkit_version"),
            "search": f"HNSW (M={self.index_params['M']}, ef={self.ef_search}) + BM25",
        }

    def integrity_check(self) -> list[str]:
        """Problems Milvus reports with the collection's indexes; an empty list means healthy."""
        if not self._exists:
            return []
        problems = []
        for field in ("vector", "sparse"):
            try:
                desc = self._client.describe_index(self.collection, field, timeout=self.timeout)
            except self._pymilvus.MilvusException as exc:
                problems.append(f"index of {field}: {exc.message}")
                continue
            if desc and desc.get("state") not in (None, "Finished"):
                problems.append(f"index of {field}: {desc.get('state')} {desc.get('index_state_fail_reason', '')}")
        return problems

    def close(self) -> None:
        """Close the connection (and stop this process's Milvus Lite server when no store uses it)."""
        with self._lock:
            client, self._client = self._client, None
            if client is None:
                return
            try:
                client.close()
            finally:
                if self._lite_path is not None:
                    with _lite_lock:
                        left = _lite_users.get(self._lite_path, 1) - 1
                        if left <= 0:
                            _lite_users.pop(self._lite_path, None)
                            from milvus_lite.server_manager import server_manager_instance

                            server_manager_instance.release_server(self._lite_path)
                        else:
                            _lite_users[self._lite_path] = left

    def __enter__(self) -> MilvusStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.count()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self) -> str:
        return f"MilvusStore({self.path!r}, model={self.model!r}, dim={self.dim}, metric={self.metric!r})"
