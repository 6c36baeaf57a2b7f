"""Similarity between vectors: cosine, dot and euclidean, and exact top-k search.

Every function takes 1-D or 2-D float arrays and returns plain numpy arrays. Scores are always
"higher is more similar": the euclidean score is the negated distance, so one top-k serves all three.

>>> import numpy as np
>>> a = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
>>> cosine(a, a).round(3).tolist()
[[1.0, 0.0], [0.0, 1.0]]
>>> topk(np.array([[0.9, 0.1]]), a, k=1).indices.tolist()
[[0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DimensionMismatch, InvalidInput

__all__ = ["METRICS", "as_matrix", "cosine", "dot", "euclidean", "l2_normalize", "score", "topk",
           "TopK"]

METRICS = ("cosine", "dot", "euclidean")


def as_matrix(x, *, name: str = "vectors", dim: int | None = None) -> np.ndarray:
    """Return ``x`` as a 2-D float32 array, checking shape and finiteness."""
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be numbers, got {type(x).__name__}: {exc}") from exc
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidInput(f"{name} must be a 1-D vector or a 2-D (n, d) array, got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise InvalidInput(f"{name}: dimension 0, expected at least 1")
    if dim is not None and arr.shape[1] != dim:
        raise DimensionMismatch(f"{name}: dimension {arr.shape[1]}, expected {dim}")
    if not np.isfinite(arr).all():
        raise InvalidInput(f"{name}: NaN or infinite values, expected finite numbers")
    return arr


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_matrix(a, name="a"), as_matrix(b, name="b")
    if a.shape[1] != b.shape[1]:
        raise DimensionMismatch(f"cannot compare vectors of dimension {a.shape[1]} and {b.shape[1]}")
    return a, b


def dot(a, b) -> np.ndarray:
    """Inner products, shape (len(a), len(b))."""
    a, b = _pair(a, b)
    return a @ b.T


def cosine(a, b) -> np.ndarray:
    """Cosine similarities, shape (len(a), len(b))."""
    a, b = _pair(a, b)
    return l2_normalize(a) @ l2_normalize(b).T


def euclidean(a, b) -> np.ndarray:
    """Euclidean distances (not negated), shape (len(a), len(b))."""
    a, b = _pair(a, b)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(sq, 0.0))


def score(a, b, metric: str = "cosine") -> np.ndarray:
    """Similarity scores where higher is closer: cosine, dot, or negated euclidean distance."""
    if metric == "cosine":
        return cosine(a, b)
    if metric == "dot":
        return dot(a, b)
    if metric == "euclidean":
        return -euclidean(a, b)
    raise InvalidInput(f"Unknown metric {metric!r}. Valid metrics are: {', '.join(METRICS)}")


@dataclass(frozen=True)
class TopK:
    """Exact top-k result: ``indices`` and ``scores`` of shape (n_queries, k), best first."""

    indices: np.ndarray
    scores: np.ndarray


def topk(queries, corpus, k: int = 10, metric: str = "cosine", *, block: int = 4096) -> TopK:
    """Exact top-k of each query row against the corpus rows, best first.

    ``k`` larger than the corpus returns every corpus row. Work is done in blocks of queries so
    memory stays bounded for large query sets.
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        raise InvalidInput(f"k must be a positive integer, got {k!r}")
    queries, corpus = _pair(queries, corpus)
    k = min(int(k), corpus.shape[0])
    out_i = np.empty((queries.shape[0], k), dtype=np.int64)
    out_s = np.empty((queries.shape[0], k), dtype=np.float32)
    for start in range(0, queries.shape[0], block):
        s = score(queries[start:start + block], corpus, metric)
        if k < s.shape[1]:
            part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(s.shape[1]), s.shape).copy()
        part_scores = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        out_i[start:start + block] = np.take_along_axis(part, order, axis=1)
        out_s[start:start + block] = np.take_along_axis(part_scores, order, axis=1)
    return TopK(out_i, out_s)
