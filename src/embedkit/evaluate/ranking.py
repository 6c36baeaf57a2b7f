"""Top-k ranking metrics for recommenders, and the per-user stratified split they are measured on.

The definitions follow Microsoft Recommenders' ``python_evaluation`` (the benchmark whose published
MovieLens figures we compare with), so a figure computed here means what theirs means:

* ``precision``: hits in the top k over k (k even when fewer than k items were recommended);
* ``recall``: hits in the top k over the user's relevant items;
* ``ndcg``: binary gains, ideal DCG over ``min(relevant, k)`` items;
* ``map``: the sum of precision at each hit in the top k over the user's relevant items (all of
  them, not ``min(relevant, k)``): Recommenders' ``map`` and, before version 1.2, ``map_at_k``,
  the figure in its published benchmark tables;
* ``map_at_k``: the same sum over ``min(relevant, k)`` (Spark's MAP@k, Recommenders' ``map_at_k``
  since 1.2);
* ``coverage``: distinct items recommended to anyone, over the catalogue.

Each is a mean over the users with at least one relevant item.

>>> m = ranking_metrics([["a", "b", "c"]], [{"b", "z"}], k=3, n_items=4)
>>> round(m["precision"], 4), m["recall"], round(m["map"], 4), m["coverage"]
(0.3333, 0.5, 0.25, 0.75)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from ..errors import InvalidInput

__all__ = ["ranking_metrics", "stratified_split", "METRICS"]

#: The metric names :func:`ranking_metrics` returns (besides ``users``).
METRICS = ("precision", "recall", "ndcg", "map", "map_at_k", "coverage")


def ranking_metrics(recommended: Sequence[Sequence], relevant: Sequence[Collection], *, k: int = 10,
                    n_items: int | None = None) -> dict[str, float]:
    """Precision, recall, nDCG, MAP (two normalisations) at ``k``, and catalogue coverage.

    Args:
        recommended: per user, the recommended items, best first (only the first ``k`` count).
        relevant: per user (same order), the items that are relevant (the held-out ones).
        k: the cut-off.
        n_items: the catalogue size, for ``coverage`` (left out when None).

    """
    if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
        raise InvalidInput(f"k must be a positive integer, got {k!r}")
    if len(recommended) != len(relevant):
        raise InvalidInput(f"{len(recommended)} recommendation lists but {len(relevant)} "
                           "relevant sets")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    totals = dict.fromkeys(("precision", "recall", "ndcg", "map", "map_at_k"), 0.0)
    users = 0
    shown: set = set()
    for recs, rel in zip(recommended, relevant):
        top = list(recs)[:k]
        shown.update(top)
        rel = rel if isinstance(rel, (set, frozenset)) else set(rel)
        if not rel:
            continue
        users += 1
        hits = np.array([item in rel for item in top], dtype=bool)
        n_hits = int(hits.sum())
        totals["precision"] += n_hits / k
        totals["recall"] += n_hits / len(rel)
        if n_hits:
            ideal = discount[:min(len(rel), k)].sum()
            totals["ndcg"] += float(discount[:len(top)][hits].sum() / ideal)
            precision_at_hits = (np.cumsum(hits) / np.arange(1, len(top) + 1))[hits].sum()
            totals["map"] += float(precision_at_hits / len(rel))
            totals["map_at_k"] += float(precision_at_hits / min(len(rel), k))
    out = {name: (value / users if users else 0.0) for name, value in totals.items()}
    if n_items is not None:
        out["coverage"] = len(shown) / n_items if n_items else 0.0
    out["users"] = users
    return out


def stratified_split(users: Sequence, *, ratio: float = 0.75, seed: int = 42) -> np.ndarray:
    """Per-user random split: a boolean mask, True for the rows that go to the training part.

    Each user's rows (in their original order) are shuffled with ``RandomState(seed)`` and the first
    ``round(ratio * n)`` go to training. This is Recommenders' ``python_stratified_split(data,
    ratio, seed=seed)`` (``filter_by="user"``, ``min_rating=1``) row for row: it shuffles each
    user's group with ``DataFrame.sample(frac=1, random_state=seed)``, which draws
    ``RandomState(seed).permutation(n)``, and cuts at ``round(ratio * n)``.

    >>> stratified_split([1, 1, 1, 1, 2, 2], ratio=0.5, seed=0).tolist()
    [False, False, True, True, False, True]
    """
    if not 0.0 < float(ratio) < 1.0:
        raise InvalidInput(f"ratio must be between 0 and 1 (exclusive), got {ratio!r}")
    users = np.asarray(users)
    if users.ndim != 1:
        raise InvalidInput(f"users must be one id per row, got an array of shape {users.shape}")
    order = np.argsort(users, kind="stable")  # group rows by user, keeping their original order
    train = np.zeros(len(users), dtype=bool)
    if not len(users):
        return train
    starts = np.flatnonzero(np.r_[True, users[order][1:] != users[order][:-1]])
    for group in np.split(order, starts[1:]):
        perm = np.random.RandomState(seed).permutation(len(group))
        train[group[perm[:round(ratio * len(group))]]] = True
    return train
