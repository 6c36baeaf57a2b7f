"""Projections of a vector space to 2 or 3 dimensions: PCA, t-SNE and UMAP.

Every point is projected (no sampling caps); t-SNE and UMAP first reduce the vectors to
``pca_dims`` (50) dimensions with PCA, as their authors advise, and are deterministic for a seed.

>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(100, 20)).astype("float32")
>>> project_array(X, "pca", dim=2).shape
(100, 2)

:func:`project_array` is the plain array-in, array-out function (the HTTP explorer calls it);
:func:`project` takes vectors, a :class:`~embedkit.text.word_vectors.WordVectors` model or a
vector store, keeps the labels and metadata of every point and returns a :class:`Projection`
that can be plotted (:func:`embedkit.analysis.plots.scatter`) or saved (Parquet, CSV, JSON).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, require

__all__ = ["METHODS", "Projection", "project", "project_array", "check_vectors", "store_arrays"]

log = logging.getLogger(__name__)

METHODS = ("pca", "tsne", "umap")

#: The options each method takes, with their defaults.
DEFAULTS = {
    "pca": {"normalize": False},
    "tsne": {"normalize": False, "pca_dims": 50, "perplexity": 30.0, "metric": "euclidean",
             "learning_rate": "auto", "max_iter": 750, "n_jobs": None},
    "umap": {"normalize": False, "pca_dims": 50, "n_neighbors": 15, "min_dist": 0.1,
             "metric": "euclidean", "n_epochs": None, "n_jobs": None},
}


def check_vectors(X, *, what: str = "vectors", min_rows: int = 2) -> np.ndarray:
    """Return ``X`` as a float32 (n, d) array, or raise :class:`InvalidInput` saying what is wrong."""
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} must be a 2-D array of numbers: {exc}") from None
    if X.ndim != 2:
        raise InvalidInput(f"{what} must be a 2-D array (n points, d dimensions), got shape {X.shape}")
    if X.shape[0] < min_rows:
        raise InvalidInput(f"{what} has {X.shape[0]} points; at least {min_rows} are needed")
    if X.shape[1] < 1:
        raise InvalidInput(f"{what} has no dimensions")
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InvalidInput(f"{what} has NaN or infinite values in {len(rows)} rows "
                           f"(first: row {int(rows[0])}); remove or fix them")
    if float(np.ptp(X, axis=0).max()) == 0.0:
        raise InvalidInput(f"all {X.shape[0]} {what} are the same vector (constant data): "
                           "there is nothing to project or compare")
    return X


def _unit(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    zero = norms[:, 0] == 0
    if zero.any():
        raise InvalidInput(f"{int(zero.sum())} vectors are all zeros (first: row "
                           f"{int(np.flatnonzero(zero)[0])}); they have no direction to normalise")
    return X / norms


def _options(method: str, options: dict) -> dict:
    unknown = set(options) - set(DEFAULTS[method])
    if unknown:
        raise InvalidInput(f"unknown option(s) {', '.join(sorted(unknown))} for method {method!r}; "
                           f"it takes: {', '.join(sorted(DEFAULTS[method]))}")
    return {**DEFAULTS[method], **options}


def _pca(X: np.ndarray, dim: int, seed: int) -> np.ndarray:
    require("sklearn", "all", "PCA")
    from sklearn.decomposition import PCA

    seed = 0 if seed is None else seed
    dim = min(dim, X.shape[0], X.shape[1])
    return PCA(n_components=dim, random_state=seed).fit_transform(X).astype(np.float32)


def project_array(X: np.ndarray, method: str = "pca", dim: int = 2, seed: int = 0,
                  **options) -> np.ndarray:
    """Project the rows of ``X`` to ``dim`` dimensions; returns an (n, dim) float32 array.

    Args:
        X: (n, d) vectors; NaN, infinite or constant data is refused.
        method: ``"pca"``, ``"tsne"`` or ``"umap"``.
        dim: 2 or 3.
        seed: the same seed gives the same coordinates. None: not reproducible, but t-SNE and
            UMAP then use every core.
        **options: ``normalize`` (L2-normalise first, so distances follow cosine); for t-SNE and
            UMAP ``pca_dims`` (PCA pre-reduction, 50; 0 or None for none) and ``metric``; t-SNE
            ``perplexity`` (30), ``learning_rate``, ``max_iter``; UMAP ``n_neighbors`` (15),
            ``min_dist`` (0.1), ``n_epochs``. ``n_jobs`` (None: the library's default; UMAP is
            single-threaded when seeded, which is what makes it deterministic).

    """
    if method not in METHODS:
        raise InvalidInput(f"The 'method' parameter must be one of {', '.join(map(repr, METHODS))}. "
                           f"Got {method!r} instead.")
    if dim not in (2, 3):
        raise InvalidInput(f"The 'dim' parameter must be 2 or 3. Got {dim!r} instead.")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
        raise InvalidInput(f"The 'seed' parameter must be an integer (or None: not reproducible, "
                           f"every core). Got {seed!r} instead.")
    opts = _options(method, options)
    X = check_vectors(X, min_rows=dim + 1)
    n = X.shape[0]
    if opts["normalize"]:
        X = _unit(X)
    if method == "pca":
        out = _pca(X, dim, seed)
        if out.shape[1] < dim:  # fewer input dimensions than asked: pad with zeros
            out = np.hstack([out, np.zeros((n, dim - out.shape[1]), np.float32)])
        return np.ascontiguousarray(out, dtype=np.float32)
    pca_dims = opts["pca_dims"]
    if pca_dims and X.shape[1] > pca_dims:
        X = _pca(X, int(pca_dims), seed)
    if method == "tsne":
        return _tsne(X, dim, seed, opts)
    return _umap(X, dim, seed, opts)


def _tsne(X: np.ndarray, dim: int, seed: int, opts: dict) -> np.ndarray:
    perplexity = float(opts["perplexity"])
    n = X.shape[0]
    if perplexity <= 0:
        raise InvalidInput(f"perplexity must be positive, got {perplexity}")
    if n <= 3 * perplexity:
        raise InvalidInput(f"t-SNE with perplexity {perplexity:g} needs more than {3 * perplexity:g} "
                           f"points (3 x perplexity); got {n}. Lower --perplexity (below {n / 3:.1f}) "
                           "or project more points")
    if dim == 2:
        # openTSNE: FFT-accelerated gradients (~O(n)) from 10,000 points on, where scikit-learn's
        # Barnes-Hut t-SNE takes hours for 100k+ points (benchmarks/analysis_projection.py).
        require("openTSNE", "analysis", "t-SNE")
        from openTSNE import TSNE as OpenTSNE

        model = OpenTSNE(n_components=2, perplexity=perplexity, metric=opts["metric"],
                         random_state=seed, verbose=False,
                         n_jobs=opts["n_jobs"] or (1 if seed is not None else os.cpu_count() or 1),
                         n_iter=max(int(opts["max_iter"]) - 250, 1), early_exaggeration_iter=250,
                         learning_rate=opts["learning_rate"])
        return np.asarray(model.fit(X), dtype=np.float32)
    require("sklearn", "all", "t-SNE")
    from sklearn.manifold import TSNE

    model = TSNE(n_components=dim, perplexity=perplexity, metric=opts["metric"],
                 learning_rate=opts["learning_rate"], max_iter=int(opts["max_iter"]),
                 init="pca", random_state=seed, n_jobs=opts["n_jobs"])
    return model.fit_transform(X).astype(np.float32)


def _umap(X: np.ndarray, dim: int, seed: int, opts: dict) -> np.ndarray:
    n_neighbors = int(opts["n_neighbors"])
    n = X.shape[0]
    if n_neighbors < 2:
        raise InvalidInput(f"n_neighbors must be at least 2, got {n_neighbors}")
    if n <= n_neighbors:
        raise InvalidInput(f"UMAP with n_neighbors={n_neighbors} needs more than {n_neighbors} points; "
                           f"got {n}. Lower --neighbors (below {n}) or project more points")
    umap = require("umap", "analysis", "UMAP")
    import warnings

    kwargs = {}
    if opts["n_jobs"] is not None:
        kwargs["n_jobs"] = opts["n_jobs"]
    elif seed is None:
        kwargs["n_jobs"] = -1
    model = umap.UMAP(n_components=dim, n_neighbors=n_neighbors, min_dist=float(opts["min_dist"]),
                      metric=opts["metric"], random_state=seed, n_epochs=opts["n_epochs"],
                      init="spectral" if n > dim + 1 + n_neighbors else "random", **kwargs)
    with warnings.catch_warnings():
        # "n_jobs value 1 overridden to 1 by setting random_state": expected, seeded runs are serial.
        warnings.filterwarnings("ignore", message=".*n_jobs.*random_state.*")
        out = model.fit_transform(X)
    return np.asarray(out, dtype=np.float32)


@dataclass
class Projection:
    """Projected points with what they stand for.

    ``coords`` is (n, dim) float32; ``labels`` the text of each point (a word, a document's start),
    ``ids`` and ``metadata`` (one dict per point) where the source had them.
    """

    coords: np.ndarray
    method: str
    dim: int
    seed: int
    labels: list[str] | None = None
    ids: list[str] | None = None
    metadata: list[dict] | None = None
    options: dict = field(default_factory=dict)
    seconds: float = 0.0

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    def field(self, name: str) -> list:
        """The metadata values of ``name`` for every point (None where a point lacks it)."""
        if name in ("label", "labels") and self.labels is not None:
            return list(self.labels)
        if not self.metadata:
            raise InvalidInput(f"the points have no metadata, so there is no field {name!r}")
        values = [m.get(name) for m in self.metadata]
        if all(v is None for v in values):
            known = sorted({k for m in self.metadata for k in m})
            raise InvalidInput(f"no point has the metadata field {name!r}; fields: "
                               f"{', '.join(known) or '(none)'}")
        return values

    def columns(self) -> dict[str, list]:
        """The points as columns: id, label, x, y(, z), then one column per metadata field."""
        cols: dict[str, list] = {}
        n = len(self)
        cols["id"] = list(self.ids) if self.ids is not None else [str(i) for i in range(n)]
        cols["label"] = list(self.labels) if self.labels is not None else [""] * n
        for j, axis in enumerate("xyz"[: self.dim]):
            cols[axis] = self.coords[:, j].astype(float).tolist()
        if self.metadata:
            keys = sorted({k for m in self.metadata for k in m} - set(cols))
            for k in keys:
                values = [m.get(k) for m in self.metadata]
                if any(isinstance(v, (dict, list)) for v in values):
                    values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
                cols[k] = values
        return cols

    def save(self, path) -> Path:
        """Write the points to ``.parquet``, ``.csv``, ``.json`` (records) or ``.npy`` (coords only)."""
        path = Path(path)
        suffix = path.suffix.lower()
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".npy":
            np.save(path, self.coords)
            return path
        cols = self.columns()
        if suffix == ".parquet":
            pa = require("pyarrow", "parquet", "Parquet output")
            import pyarrow.parquet as pq

            table = pa.table({k: _arrow_column(pa, v) for k, v in cols.items()})
            meta = {"embedkit": json.dumps({"method": self.method, "dim": self.dim, "seed": self.seed,
                                            "options": self.options})}
            pq.write_table(table.replace_schema_metadata(meta), path)
        elif suffix == ".csv":
            import csv

            with path.open("w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(list(cols))
                w.writerows(zip(*cols.values()))
        elif suffix == ".json":
            rows = [dict(zip(cols, r)) for r in zip(*cols.values())]
            path.write_text(json.dumps({"method": self.method, "dim": self.dim, "seed": self.seed,
                                        "options": self.options, "points": rows},
                                       ensure_ascii=False), encoding="utf-8")
        else:
            raise InvalidInput(f"cannot write {path.name}: use .parquet, .csv, .json or .npy")
        return path


def _arrow_column(pa, values: list):
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep them as text
        return pa.array([None if v is None else str(v) for v in values])


def store_arrays(store) -> tuple[list[str], list[str], list[dict], np.ndarray]:
    """(ids, texts, metadata, vectors) of every item in an embedkit :class:`VectorStore`."""
    ids, texts, metas, vecs = [], [], [], []
    for id_, text, meta, blob in store._query(
            "SELECT id, text, metadata, vector FROM items JOIN vectors USING (key) ORDER BY key"):
        ids.append(id_)
        texts.append(text)
        metas.append(json.loads(meta))
        vecs.append(np.frombuffer(blob, dtype=np.float32))
    if not vecs:
        raise InvalidInput(f"the store {getattr(store, 'path', '')} is empty: nothing to project")
    return ids, texts, metas, np.vstack(vecs)


def _short(text: str, width: int = 40) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def project(source, method: str = "pca", dim: int = 2, seed: int = 0, *,
            labels: Sequence[str] | None = None, metadata: Sequence[dict] | None = None,
            ids: Sequence[str] | None = None, words: Sequence[str] | None = None,
            limit: int | None = None, **options) -> Projection:
    """Project vectors, a word-vectors model or a vector store; labels and metadata are kept.

    Args:
        source: an (n, d) array; a :class:`~embedkit.text.word_vectors.WordVectors` (``words``
            picks the words, else the ``limit`` most frequent, else all); or a
            :class:`~embedkit.store.sqlite.VectorStore` (every item, labelled by its text).
        method, dim, seed, **options: as for :func:`project_array`.
        labels, metadata, ids: one per point, for arrays (override the source's own).

    >>> import numpy as np
    >>> p = project(np.eye(4, 8, dtype="float32") + 0.1, labels=list("abcd"))
    >>> p.coords.shape, p.labels[0]
    ((4, 2), 'a')

    """
    src_ids = src_labels = src_meta = None
    if hasattr(source, "key_to_index") and hasattr(source, "vectors"):  # WordVectors
        if words is not None:
            words = list(words)
            missing = [w for w in words if w not in source and not getattr(source, "has_subwords", False)]
            if missing:
                raise InvalidInput(f"{len(missing)} of {len(words)} words are not in the model "
                                   f"(first: {', '.join(map(repr, missing[:5]))})")
            X = np.vstack([source.get_vector(w) for w in words])
        else:
            count = len(source) if limit is None else min(int(limit), len(source))
            words = list(source.index_to_key[:count])
            X = np.asarray(source.vectors[:count])
        src_labels = words
        if source.counts is not None:
            idx = [source.key_to_index.get(w) for w in words]
            src_meta = [{"count": int(source.counts[i]) if i is not None else 0} for i in idx]
    elif hasattr(source, "_query") and hasattr(source, "search"):  # VectorStore
        src_ids, texts, src_meta, X = store_arrays(source)
        src_labels = [_short(t) for t in texts]
        if limit is not None:
            X, src_ids, src_labels, src_meta = (X[:limit], src_ids[:limit], src_labels[:limit],
                                                src_meta[:limit])
    else:
        X = source
    X = check_vectors(X)
    n = X.shape[0]
    for name, given in (("labels", labels), ("metadata", metadata), ("ids", ids)):
        if given is not None and len(given) != n:
            raise InvalidInput(f"{name} has {len(given)} entries for {n} points; give one per point")
    t0 = time.perf_counter()
    coords = project_array(X, method, dim, seed, **options)
    seconds = time.perf_counter() - t0
    log.info("projected %d points with %s in %.1fs", n, method, seconds)
    return Projection(coords=coords, method=method, dim=dim, seed=seed,
                      labels=list(labels) if labels is not None else src_labels,
                      ids=list(ids) if ids is not None else src_ids,
                      metadata=[dict(m) for m in metadata] if metadata is not None else src_meta,
                      options=_options(method, options), seconds=seconds if math.isfinite(seconds) else 0.0)
