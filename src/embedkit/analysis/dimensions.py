"""The curse of dimensionality: distance concentration against dimension, next to retrieval quality.

For each dimension ``d`` the probe reports, over a sample of query points:

- **relative contrast** ``(D_max - D_min) / D_min`` of Euclidean distances from a query to the
  other points (Beyer et al. 1999; Aggarwal et al. 2001): it falls toward 0 as ``d`` grows for
  random data, which is what "all distances look alike" means;
- the **spread of cosine similarities** (their standard deviation, and the 5th-95th percentile
  range): concentrated similarities leave nothing to rank by;
- **recall@k** of the k nearest neighbours (cosine) in ``d`` dimensions against the exact
  neighbours in the full dimension: the dimension at which the vectors stop being useful.

Real vectors are reduced by PCA or truncated (Matryoshka models are trained so that their first
dimensions work alone); random Gaussian data of the same size is the baseline.

>>> import numpy as np
>>> rows = gaussian_probe(500, dims=[2, 64], n_queries=50)
>>> rows[0]["relative_contrast"] > rows[1]["relative_contrast"]
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidInput
from .projection import check_vectors

__all__ = ["REDUCTIONS", "concentration", "dimension_probe", "gaussian_probe", "plot_dimensions",
           "default_dims"]

REDUCTIONS = ("pca", "truncate")


def default_dims(full: int) -> list[int]:
    """Powers of two from 2 up to ``full`` (and ``full`` itself)."""
    dims, d = [], 2
    while d < full:
        dims.append(d)
        d *= 2
    dims.append(full)
    return dims


def _unit(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return X / norms


def _knn(U: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k most cosine-similar rows of U for each query index (the query left out)."""
    out = np.empty((len(q), k), dtype=np.int64)
    for s in range(0, len(q), 256):
        part = q[s:s + 256]
        sims = U[part] @ U.T
        sims[np.arange(len(part)), part] = -np.inf
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out[s:s + 256] = np.take_along_axis(top, order, axis=1)
    return out


def concentration(X: np.ndarray, queries: np.ndarray) -> dict:
    """Relative contrast and cosine spread of ``X`` seen from the rows ``queries``."""
    X = X.astype(np.float64, copy=False)
    sq = (X ** 2).sum(axis=1)
    U = _unit(X)
    contrasts, cos_all = [], []
    for s in range(0, len(queries), 256):
        part = queries[s:s + 256]
        d2 = sq[part, None] + sq[None, :] - 2.0 * (X[part] @ X.T)
        d = np.sqrt(np.maximum(d2, 0.0))
        d[np.arange(len(part)), part] = np.nan
        dmin, dmax = np.nanmin(d, axis=1), np.nanmax(d, axis=1)
        ok = dmin > 0
        contrasts.append((dmax[ok] - dmin[ok]) / dmin[ok])
        c = U[part] @ U.T
        c[np.arange(len(part)), part] = np.nan
        cos_all.append(c[~np.isnan(c)])
    rc = np.concatenate(contrasts)
    cos = np.concatenate(cos_all)
    p5, p95 = np.percentile(cos, [5, 95])
    return {"relative_contrast": float(np.mean(rc)) if len(rc) else float("nan"),
            "cosine_mean": float(cos.mean()), "cosine_std": float(cos.std()),
            "cosine_p5_p95": float(p95 - p5)}


def _reducer(X: np.ndarray, reduce: str, seed: int):
    if reduce == "truncate":
        return lambda d: X[:, :d]
    from sklearn.decomposition import PCA

    full = PCA(n_components=min(X.shape), random_state=seed).fit(X)
    # Rotate onto the principal axes without centring, so the full dimension keeps every cosine
    # (and recall@k is 1 there); the first d axes are the d directions of most variance.
    Z = X @ full.components_.T
    return lambda d: Z[:, :d]


def dimension_probe(vectors, dims: Sequence[int] | None = None, *, reduce: str = "pca", k: int = 10,
                    n_queries: int = 500, seed: int = 0) -> list[dict]:
    """Concentration and recall@k at each dimension for real vectors reduced by PCA or truncation.

    Returns one dict per dimension: ``dim``, ``relative_contrast``, ``cosine_mean``,
    ``cosine_std``, ``cosine_p5_p95``, ``recall_at_k`` (against the exact cosine neighbours in
    the full dimension) and ``k``.
    """
    if reduce not in REDUCTIONS:
        raise InvalidInput(f"The 'reduce' parameter must be one of {', '.join(map(repr, REDUCTIONS))}. "
                           f"Got {reduce!r} instead.")
    X = check_vectors(vectors, min_rows=3)
    n, full = X.shape
    if k < 1 or k >= n:
        raise InvalidInput(f"k must be from 1 to {n - 1} (fewer than the {n} points); got {k}")
    dims = sorted(set(int(d) for d in (dims or default_dims(full))))
    bad = [d for d in dims if d < 1 or d > full]
    if bad:
        raise InvalidInput(f"dimensions {bad} are outside 1..{full} (the vectors' dimension)")
    rng = np.random.default_rng(seed)
    queries = np.sort(rng.choice(n, size=min(n_queries, n), replace=False))
    truth = _knn(_unit(X.astype(np.float32)), queries, k)
    at = _reducer(X, reduce, seed)
    rows = []
    for d in dims:
        Z = np.ascontiguousarray(at(d), dtype=np.float32)
        row = {"dim": d, "reduce": reduce, **concentration(Z, queries)}
        found = _knn(_unit(Z), queries, k)
        row["recall_at_k"] = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth)]))
        row["k"] = k
        rows.append(row)
    return rows


def gaussian_probe(n: int, dims: Sequence[int], *, k: int = 10, n_queries: int = 500,
                   seed: int = 0) -> list[dict]:
    """The same probe on ``n`` standard Gaussian points, fresh at each dimension; recall@k is that
    of the first ``d`` coordinates against all ``max(dims)`` (random data has no few directions
    that carry its neighbourhoods).
    """
    if n < 3:
        raise InvalidInput(f"n must be at least 3, got {n}")
    rng = np.random.default_rng(seed)
    full = max(dims)
    G = rng.standard_normal((n, full)).astype(np.float32)
    queries = np.sort(rng.choice(n, size=min(n_queries, n), replace=False))
    truth = _knn(_unit(G), queries, k)
    rows = []
    for d in sorted(set(dims)):
        Xd = rng.standard_normal((n, d)).astype(np.float32)
        row = {"dim": d, "reduce": "gaussian", **concentration(Xd, queries)}
        found = _knn(_unit(np.ascontiguousarray(G[:, :d])), queries, k)
        row["recall_at_k"] = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth)]))
        row["k"] = k
        rows.append(row)
    return rows


def plot_dimensions(results: dict[str, list[dict]], path=None, *, title: str = ""):
    """Three panels against dimension: relative contrast, cosine spread, recall@k."""
    import matplotlib

    from .plots import font_families, new_figure, save_figure

    with matplotlib.rc_context({"font.family": font_families(list(results) + [title])}):
        fig, axes = new_figure(14, 4.2, ncols=3)
        for name, rows in results.items():
            x = [r["dim"] for r in rows]
            axes[0].plot(x, [r["relative_contrast"] for r in rows], marker="o", ms=3, label=name)
            axes[1].plot(x, [r["cosine_std"] for r in rows], marker="o", ms=3, label=name)
            axes[2].plot(x, [r["recall_at_k"] for r in rows], marker="o", ms=3, label=name)
        k = next(iter(results.values()))[0]["k"] if results else 10
        for ax, ylabel in zip(axes, ["relative contrast (max-min)/min", "std of cosine similarity",
                                     f"recall@{k} vs full-dim neighbours"]):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log" if ylabel.startswith("relative") else "linear")
            ax.set_xlabel("dimension")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[2].set_ylim(0, 1.02)
        axes[0].legend(fontsize=8)
        if title:
            fig.suptitle(title)
        if path is not None:
            save_figure(fig, path)
    return fig
