"""Clusters over any vectors: k-means and HDBSCAN, each cluster described by its most typical
members (nearest its centre) and its most distinctive terms (class-based TF-IDF over the member
texts, as BERTopic defines it), with the silhouette of the clustering.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(0, 1, (20, 5)), rng.normal(8, 1, (20, 5))])
>>> r = cluster(X, "kmeans", k=2, texts=["a cat"] * 20 + ["a car"] * 20)
>>> sorted(c.size for c in r.clusters), r.clusters[0].terms[0][0] in ("cat", "car")
([20, 20], True)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInput, require
from .projection import check_vectors

__all__ = ["METHODS", "Cluster", "Clustering", "cluster", "class_tfidf"]

METHODS = ("kmeans", "hdbscan")

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_STOP = frozenset("""a an the and or but of to in on at for with by from as is are was were be been
being it its this that these those he she they we you i his her their our your not no do does did
has have had will would can could should may might there here what which who whom when where how
than then so such also into over under about after before between s t""".split())


@dataclass
class Cluster:
    """One cluster: its id (-1 is HDBSCAN's noise), size, typical members and distinctive terms."""

    id: int
    size: int
    members: list[int]                       # indices of the most typical members
    member_texts: list[str] = field(default_factory=list)
    terms: list[tuple[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.id, "size": self.size, "typical_members": self.member_texts or self.members,
                "terms": [[t, round(s, 5)] for t, s in self.terms]}


@dataclass
class Clustering:
    """The result of :func:`cluster`: a label per point and the clusters described."""

    labels: np.ndarray
    clusters: list[Cluster]
    silhouette: float | None
    method: str
    params: dict

    @property
    def n_clusters(self) -> int:
        return sum(1 for c in self.clusters if c.id >= 0)

    @property
    def noise(self) -> int:
        return int((self.labels < 0).sum())

    def as_dict(self) -> dict:
        return {"method": self.method, "params": self.params, "n_clusters": self.n_clusters,
                "noise_points": self.noise, "silhouette": self.silhouette,
                "clusters": [c.as_dict() for c in self.clusters]}


def _default_tokenizer(texts: Sequence[str]) -> Callable[[str], list[str]]:
    if any(_HANGUL.search(t) for t in texts[:200]):
        from ..text.tokenize import get_tokenizer

        korean = get_tokenizer("korean")
        # Korean: morphemes of two or more characters (particles and endings are mostly shorter).
        return lambda t: [w for w in korean(t) if len(w) > 1 or not _HANGUL.match(w)]
    from ..text.tokenize import tokenize

    return tokenize


def class_tfidf(texts: Sequence[str], labels: Sequence[int], *, top: int = 8,
                tokenizer: Callable[[str], list[str]] | None = None,
                stop_words: frozenset[str] = _STOP) -> dict[int, list[tuple[str, float]]]:
    """Distinctive terms per class: c-TF-IDF ``tf(t, c) * log(1 + A / f(t))``.

    ``tf(t, c)`` is the share of class ``c``'s tokens that are ``t``, ``f(t)`` the count of ``t``
    over all classes and ``A`` the mean number of tokens per class (Grootendorst 2022, BERTopic).
    """
    if len(texts) != len(labels):
        raise InvalidInput(f"texts has {len(texts)} entries for {len(labels)} labels")
    tok = tokenizer or _default_tokenizer(list(texts))
    per_class: dict[int, Counter] = {}
    for text, lab in zip(texts, labels):
        words = [w for w in tok(str(text)) if w.lower() not in stop_words and not w.isdigit()]
        per_class.setdefault(int(lab), Counter()).update(words)
    total = Counter()
    for c in per_class.values():
        total.update(c)
    if not total:
        return {lab: [] for lab in per_class}
    avg = sum(total.values()) / max(len(per_class), 1)
    out = {}
    for lab, counts in per_class.items():
        n = sum(counts.values()) or 1
        scored = [(t, (k / n) * math.log(1 + avg / total[t])) for t, k in counts.items()]
        scored.sort(key=lambda x: (-x[1], x[0]))
        out[lab] = scored[:top]
    return out


def cluster(vectors, method: str = "kmeans", k: int | None = None, *, texts: Sequence[str] | None = None,
            seed: int = 0, min_cluster_size: int = 5, min_samples: int | None = None,
            normalize: bool = True, reduce: int | None = None, top_members: int = 5, top_terms: int = 8,
            silhouette_sample: int = 10_000, tokenizer: Callable[[str], list[str]] | None = None
            ) -> Clustering:
    """Cluster ``vectors`` with k-means or HDBSCAN and describe every cluster.

    Args:
        vectors: (n, d) array.
        method: ``"kmeans"`` or ``"hdbscan"``.
        k: k-means clusters; None picks k in 2..10 with the best silhouette.
        texts: one text per vector: the typical members are shown as text, and the distinctive
            terms come from them.
        normalize: L2-normalise first (so k-means follows cosine similarity).
        reduce: PCA to this many dimensions first (HDBSCAN works better in few dimensions).
        min_cluster_size, min_samples: HDBSCAN's.
        silhouette_sample: silhouette over at most this many points (it costs O(n^2)).

    """
    require("sklearn", "all", "clustering")
    if method not in METHODS:
        raise InvalidInput(f"The 'method' parameter must be one of {', '.join(map(repr, METHODS))}. "
                           f"Got {method!r} instead.")
    X = check_vectors(vectors, min_rows=3)
    n = X.shape[0]
    if texts is not None and len(texts) != n:
        raise InvalidInput(f"texts has {len(texts)} entries for {n} vectors; give one per vector")
    if normalize:
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        if (norms == 0).any():
            raise InvalidInput(f"{int((norms == 0).sum())} vectors are all zeros; they have no direction")
        X = X / norms
    if reduce and X.shape[1] > reduce:
        from sklearn.decomposition import PCA

        X = PCA(n_components=min(int(reduce), n), random_state=seed).fit_transform(X).astype(np.float32)
    params: dict = {"normalize": normalize, "reduce": reduce, "seed": seed}
    if method == "kmeans":
        from sklearn.cluster import KMeans

        if k is not None and (not isinstance(k, (int, np.integer)) or k < 2 or k >= n):
            raise InvalidInput(f"k must be an integer from 2 to {n - 1} (fewer than the {n} points); "
                               f"got {k!r}")
        if k is None:
            best = None
            for kk in range(2, min(10, n - 1) + 1):
                lab = KMeans(n_clusters=kk, random_state=seed, n_init=2).fit_predict(X)
                s = _silhouette(X, lab, silhouette_sample, seed)
                if s is not None and (best is None or s > best[0]):
                    best = (s, kk, lab)
            if best is None:
                raise InvalidInput("k-means found no clustering with 2 or more clusters in these vectors")
            _, k, labels = best
            params["k_chosen_by"] = "silhouette over k = 2..10"
        else:
            labels = KMeans(n_clusters=int(k), random_state=seed, n_init=4).fit_predict(X)
        params["k"] = int(k)
    else:
        from sklearn.cluster import HDBSCAN

        if min_cluster_size < 2 or min_cluster_size > n:
            raise InvalidInput(f"min_cluster_size must be from 2 to the number of points ({n}); "
                               f"got {min_cluster_size}")
        labels = HDBSCAN(min_cluster_size=int(min_cluster_size), min_samples=min_samples,
                         copy=True).fit_predict(X)
        params.update(min_cluster_size=int(min_cluster_size), min_samples=min_samples)
    labels = np.asarray(labels, dtype=np.int64)
    sil = _silhouette(X[labels >= 0], labels[labels >= 0], silhouette_sample, seed)
    terms = class_tfidf(list(texts), labels.tolist(), top=top_terms, tokenizer=tokenizer) if texts else {}
    clusters = []
    for lab in sorted(set(labels.tolist()), key=lambda c: (c < 0, c)):
        idx = np.flatnonzero(labels == lab)
        centre = X[idx].mean(axis=0)
        order = idx[np.argsort(np.linalg.norm(X[idx] - centre, axis=1), kind="stable")][:top_members]
        clusters.append(Cluster(id=int(lab), size=int(len(idx)), members=order.tolist(),
                                member_texts=[str(texts[i]) for i in order] if texts else [],
                                terms=terms.get(int(lab), [])))
    clusters.sort(key=lambda c: (c.id < 0, -c.size))
    return Clustering(labels=labels, clusters=clusters, silhouette=sil, method=method, params=params)


def _silhouette(X: np.ndarray, labels: np.ndarray, sample: int, seed: int) -> float | None:
    from sklearn.metrics import silhouette_score

    k = len(set(labels.tolist()))
    if k < 2 or k >= len(labels):
        return None
    size = min(sample, len(labels)) if len(labels) > sample else None
    return float(silhouette_score(X, labels, sample_size=size, random_state=seed))
