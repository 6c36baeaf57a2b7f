"""Projections for the explorer: :func:`embedkit.analysis.projection.project_array` when the
analysis module has it, else the small fallback here (scikit-learn PCA / t-SNE, umap-learn UMAP).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInput, require

__all__ = ["project", "METHODS", "available_methods"]

METHODS = ("pca", "umap", "tsne")


def available_methods() -> list[str]:
    """The projection methods that can run here."""
    import importlib.util

    out = ["pca"]
    if importlib.util.find_spec("umap") is not None:
        out.append("umap")
    out.append("tsne")
    return out


def project(X: np.ndarray, method: str = "pca", dim: int = 2, seed: int = 0) -> np.ndarray:
    """Project rows of ``X`` to ``dim`` (2 or 3) coordinates with ``method``; float32 (n, dim)."""
    if method not in METHODS:
        raise InvalidInput(f"Unknown projection method {method!r}. Valid methods are: "
                           f"{', '.join(METHODS)}")
    if dim not in (2, 3):
        raise InvalidInput(f"dim must be 2 or 3, got {dim!r}")
    X = np.asarray(X, dtype=np.float32)
    if len(X) < 2:
        raise InvalidInput(f"a projection needs at least 2 points, got {len(X)}")
    try:
        from ..analysis.projection import project_array  # the analysis module, when it exists
    except ImportError:
        project_array = _project_fallback
    return np.asarray(project_array(X, method, dim, seed), dtype=np.float32)


def _project_fallback(X: np.ndarray, method: str, dim: int, seed: int) -> np.ndarray:
    """PCA (scikit-learn), UMAP (umap-learn) or t-SNE (scikit-learn)."""
    n = len(X)
    if method == "pca" or n <= dim + 1:
        decomposition = require("sklearn.decomposition", "serve", "PCA projection")
        k = min(dim, X.shape[1], n)
        out = decomposition.PCA(n_components=k, random_state=seed).fit_transform(X)
    elif method == "umap":
        umap = require("umap", "serve", "UMAP projection")
        out = umap.UMAP(n_components=dim, random_state=seed,
                        n_neighbors=min(15, n - 1)).fit_transform(X)
    else:
        manifold = require("sklearn.manifold", "serve", "t-SNE projection")
        out = manifold.TSNE(n_components=dim, random_state=seed, init="pca",
                            perplexity=float(min(30, max(2, (n - 1) // 3)))).fit_transform(X)
    out = np.asarray(out, dtype=np.float32)
    if out.shape[1] < dim:  # fewer features than dimensions asked for
        out = np.hstack([out, np.zeros((n, dim - out.shape[1]), dtype=np.float32)])
    return out
