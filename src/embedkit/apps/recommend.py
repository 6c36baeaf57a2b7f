"""Recommendation: collaborative filtering (implicit's ALS / BPR), content vectors from any
embedkit Encoder, and a hybrid of both that also recommends items nobody has rated yet.

>>> from embedkit.apps.recommend import Recommender                            # doctest: +SKIP
>>> rec = Recommender().fit("ml-100k/u.data", items="ml-100k/u.item")          # doctest: +SKIP
>>> [r.item for r in rec.recommend("196", k=3)]                               # doctest: +SKIP
['127', '56', '50']
>>> rec.similar_items("50", k=3)                                              # doctest: +SKIP
>>> rec.recommend_for_new_user(liked_items=["1", "50"], text="space opera")    # doctest: +SKIP
>>> rec.save("movie-rec"); Recommender.load("movie-rec")                      # doctest: +SKIP

How it scores an item ``i`` for a user ``u``:

* **collaborative** (``cf="als"`` or ``"bpr"``): ``user_factors_[u] . item_factors_[i]`` from
  implicit's ALS (explicit ratings become confidences ``1 + alpha * rating``, or
  ``1 + alpha * log1p(rating)``) or BPR (ratings ignored: every interaction is a positive).
  A user who is not in the training data (``recommend_for_new_user``) gets a vector folded in
  from the items they liked, by ALS's least-squares user step with the item factors fixed.
* **content**: each item's text (its title, year, genres, any fields) embedded by the encoder,
  the vectors centred (the mean item vector taken away, which removes the direction every text
  shares) and unit length; the user's profile is the rating-weighted mean of the vectors of the
  items they rated; the score is the cosine of the two.
* **popularity**: ``log(1 + number of interactions)``.
* **items nobody rated** ("cold"): a ridge regression from content vectors to item factors,
  trained on the rated items, gives them factors (and a predicted popularity), so the
  collaborative score covers them too.
* **hybrid**: each of the three scores is standardised per user over the catalogue and the
  three are mixed with weights that sum to one. The weights are not set by hand: ``fit`` holds
  out part of the data (a per-user share of the interactions, and all interactions of a share of
  the items, which then play cold items), fits the collaborative model on the rest and picks, by
  nDCG@k on what was held out, one set of weights per bucket of user activity (1, 2, 3-5, 6-10,
  11-20, 21-50, 51-100, more ratings) and one for cold items (summed over three disjoint shares
  of items). Buckets with few real users are filled with simulated ones (users with longer
  histories cut down to that many ratings). The pick follows the one-standard-error rule: of the
  mixes within one standard error of the best, the one leaning most on the collaborative score,
  so that noise in a few hundred validation users does not set the weights.
  The ridge penalty is chosen in the same pass. Then everything is refitted on all the data.

Saved as a folder: ``recommender.json`` (settings, ids, item texts, tuned weights) and
``arrays.safetensors`` (factors, content vectors, interactions). No pickle.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import InvalidInput, ModelNotFound, NotFitted, require

__all__ = ["Recommender", "Recommendation", "read_interactions", "read_items", "METHODS",
           "ACTIVITY_BUCKETS"]

log = logging.getLogger(__name__)

#: What ``recommend(method=...)`` can rank by.
METHODS = ("hybrid", "cf", "content", "popularity")
#: Upper ends of the user-activity buckets (number of rated items) that get their own weights.
ACTIVITY_BUCKETS = (1, 2, 5, 10, 20, 50, 100, math.inf)
_CF = ("als", "bpr")
_CONFIDENCE = ("linear", "log")
_DUPLICATES = ("error", "last", "first", "sum", "mean", "max")
_SPACES = ("auto", "factors", "content")
_COMPONENTS = ("cf", "content", "popularity")
_RIDGE_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
_CONFIG_FILE = "recommender.json"
_ARRAYS_FILE = "arrays.safetensors"
_ID_COLUMNS = {"user": ("user", "user_id", "userid", "uid"),
               "item": ("item", "item_id", "itemid", "movie", "movie_id", "movieid", "iid"),
               "rating": ("rating", "score", "value", "weight", "count"),
               "timestamp": ("timestamp", "time", "ts", "date")}
#: The 19 genre flags of MovieLens 100K's ``u.item``, for a u.item with no ``u.genre`` beside it.
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western")


@dataclass(frozen=True)
class Recommendation:
    """One recommended (or similar) item: its id and score (higher is better; comparable within
    one list only).
    """

    item: Any
    score: float


# ============================================================================ reading the inputs
def _check_id(value, what: str, row: int):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(f"row {row}: the {what} id must be a str or int, got "
                           f"{type(value).__name__} ({value!r})")
    if isinstance(value, str) and not value.strip():
        raise InvalidInput(f"row {row}: the {what} id is empty")
    return value


def _check_rating(value, row: int) -> float:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        raise InvalidInput(f"row {row}: the rating must be a number, got a bool ({value!r})")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidInput(f"row {row}: the rating must be a number, got {value!r}") from None
    if not isinstance(value, (int, float)):
        raise InvalidInput(f"row {row}: the rating must be a number, got {type(value).__name__} "
                           f"({value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidInput(f"row {row}: the rating must be a finite number, got {value!r}")
    if value <= 0:
        raise InvalidInput(f"row {row}: ratings must be positive (an interaction with weight "
                           f"{value:g} says nothing); got {value:g}. Leave such rows out, or shift "
                           "the scale so that every kept interaction is > 0")
    return value


def _sniff_rows(text: str, source: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise InvalidInput(f"{source} has no rows")
    first = lines[0]
    if "::" in first:
        return [line.split("::") for line in lines]
    if "\t" in first:
        return [line.split("\t") for line in lines]
    if "," in first:
        return [row for row in csv.reader(io.StringIO("\n".join(lines)))]
    if "|" in first:
        return [line.split("|") for line in lines]
    return [line.split() for line in lines]


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # MovieLens 100K's u.item is latin-1


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def read_interactions(source) -> tuple[list, list, np.ndarray, np.ndarray | None]:
    """Read interactions into ``(users, items, ratings, timestamps or None)``.

    ``source`` is a file (MovieLens ``u.data``: ``user item rating timestamp``, tab separated;
    ``ratings.dat`` with ``::``; a CSV, with or without a header naming ``user``/``userId``,
    ``item``/``movieId``, ``rating``, ``timestamp``), or rows: tuples ``(user, item[, rating[,
    timestamp]])`` (no rating: 1.0), mappings with those keys, or a 2-D array. Ids from files stay
    text; ids given as ints stay ints.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"no interactions file at {path}")
        rows = _sniff_rows(_read_text(path), str(path))
        header = None
        if len(rows[0]) >= 3 and not _is_number(rows[0][2].strip()) or not any(
                _is_number(c.strip()) for c in rows[0]):
            header = [c.strip().lower() for c in rows[0]]
            rows = rows[1:]
        if header is not None:
            cols = {}
            for key, names in _ID_COLUMNS.items():
                cols[key] = next((header.index(n) for n in names if n in header), None)
            if cols["user"] is None or cols["item"] is None:
                raise InvalidInput(f"{path}: the header {header} names no user and item columns "
                                   f"(expected one of {_ID_COLUMNS['user']} and of "
                                   f"{_ID_COLUMNS['item']})")
            keys = [k for k in ("user", "item", "rating", "timestamp") if cols[k] is not None]
            order = [cols[k] for k in keys]
            rows = [dict(zip(keys, (r[c].strip() if c < len(r) else "" for c in order)))
                    for r in rows]
        else:
            rows = [[c.strip() for c in r] for r in rows]
        offset = 2 if header is not None else 1
        return _parse_rows(rows, first_row=offset, source=str(path))
    if isinstance(source, np.ndarray):
        if source.ndim != 2 or not 2 <= source.shape[1] <= 4:
            raise InvalidInput(f"an interactions array must have 2 to 4 columns (user, item, "
                               f"rating, timestamp), got shape {source.shape}")
        source = source.tolist()
    if isinstance(source, (bytes, Mapping)) or not isinstance(source, Iterable):
        raise InvalidInput(f"interactions must be rows (user, item, rating[, timestamp]) or a file "
                           f"path, got {type(source).__name__}")
    return _parse_rows(list(source), first_row=1, source="interactions")


def _parse_rows(rows, *, first_row: int, source: str):
    users, items, ratings, stamps = [], [], [], []
    has_time = None
    for n, row in enumerate(rows, start=first_row):
        if isinstance(row, Mapping):
            if "user" not in row or "item" not in row:
                raise InvalidInput(f"{source} row {n}: a mapping row needs 'user' and 'item' keys, "
                                   f"got {sorted(map(str, row))}")
            fields = [row["user"], row["item"], row.get("rating", 1.0)]
            if row.get("timestamp") not in (None, ""):
                fields.append(row["timestamp"])
        elif isinstance(row, (str, bytes)) or not isinstance(row, (Sequence, np.ndarray)):
            raise InvalidInput(f"{source} row {n}: expected (user, item, rating[, timestamp]), got "
                               f"{type(row).__name__} {row!r:.60}")
        else:
            fields = list(row)
            if not 2 <= len(fields) <= 4:
                raise InvalidInput(f"{source} row {n}: expected 2 to 4 fields (user, item, "
                                   f"rating[, timestamp]), got {len(fields)}: {row!r:.80}")
        users.append(_check_id(fields[0], "user", n))
        items.append(_check_id(fields[1], "item", n))
        ratings.append(_check_rating(fields[2], n) if len(fields) > 2 else 1.0)
        row_has_time = len(fields) > 3
        if has_time is None:
            has_time = row_has_time
        elif has_time != row_has_time:
            raise InvalidInput(f"{source} row {n}: some rows have a timestamp and some do not")
        if row_has_time:
            try:
                stamps.append(float(fields[3]))
            except (TypeError, ValueError):
                raise InvalidInput(f"{source} row {n}: the timestamp must be a number, got "
                                   f"{fields[3]!r}") from None
    if not users:
        raise InvalidInput(f"{source} has no interactions")
    return users, items, np.asarray(ratings, dtype=np.float64), (
        np.asarray(stamps, dtype=np.float64) if has_time else None)


def _year(text: str) -> str | None:
    found = re.findall(r"\b(1[89]\d\d|20\d\d)\b", text or "")
    return found[-1] if found else None


def _ml100k_items(rows: list[list[str]], genres: Sequence[str]) -> dict:
    out = {}
    for n, r in enumerate(rows, start=1):
        if len(r) < 5:
            raise InvalidInput(f"u.item row {n}: expected id|title|release date|video date|url|"
                               f"genre flags, got {len(r)} fields")
        flags = r[5:]
        fields = {"title": r[1].strip()}
        year = _year(r[1]) or _year(r[2])  # the title's year; the date can be a re-release
        if year:
            fields["year"] = int(year)
        names = [genres[j] for j, f in enumerate(flags) if f.strip() == "1" and j < len(genres)]
        if names:
            fields["genres"] = names
        out[r[0].strip()] = fields
    return out


def read_items(source) -> dict:
    """Read item descriptions into ``{id: fields}`` (a dict; ``{"text": ...}`` for a bare text).

    ``source``: a MovieLens ``u.item`` file (``|``-separated, latin-1, genre flags; its genre names
    from a ``u.genre`` beside it, else MovieLens 100K's), a CSV with a header (an ``id`` /
    ``item`` / ``movieId`` column, the others fields; a ``genres`` column split on ``|``), a JSON
    lines file (an ``id`` key per line), a mapping ``{id: text}`` or ``{id: {field: value}}``, or
    an iterable of mappings with an ``id`` key.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"no items file at {path}")
        text = _read_text(path)
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            rows = []
            for n, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as exc:
                        raise InvalidInput(f"{path} line {n} is not JSON: {exc}") from None
            return read_items(rows)
        rows = _sniff_rows(text, str(path))
        first = rows[0]
        if len(first) >= 5 and "|" in text.splitlines()[0] and first[0].strip().isdigit():
            genre_file = path.with_name("u.genre")
            genres = ML100K_GENRES
            if genre_file.is_file():
                pairs = [ln.split("|") for ln in _read_text(genre_file).splitlines() if "|" in ln]
                genres = tuple(name for name, _ in sorted(pairs, key=lambda p: int(p[1])))
            return _ml100k_items(rows, genres)
        header = [c.strip() for c in first]
        lower = [h.lower() for h in header]
        id_col = next((lower.index(n) for n in ("id",) + _ID_COLUMNS["item"] if n in lower), None)
        if id_col is None:
            raise InvalidInput(f"{path}: expected a header with an id column (one of id, "
                               f"{', '.join(_ID_COLUMNS['item'])}), got {header}")
        out = {}
        for r in rows[1:]:
            fields = {}
            for j, value in enumerate(r):
                if j == id_col or j >= len(header) or not value.strip():
                    continue
                value = value.strip()
                fields[header[j]] = value.split("|") if lower[j] == "genres" else value
            out[r[id_col].strip()] = fields
        return out
    if isinstance(source, Mapping):
        out = {}
        for key, value in source.items():
            key = _check_id(key, "item", len(out) + 1)
            if isinstance(value, str):
                out[key] = {"text": value}
            elif isinstance(value, Mapping):
                out[key] = dict(value)
            else:
                raise InvalidInput(f"item {key!r}: expected a text or a mapping of fields, got "
                                   f"{type(value).__name__}")
        return out
    if isinstance(source, (bytes, str)) or not isinstance(source, Iterable):
        raise InvalidInput(f"items must be a file, a mapping or rows with an 'id', got "
                           f"{type(source).__name__}")
    out = {}
    for n, row in enumerate(source, start=1):
        if not isinstance(row, Mapping) or not ({"id", "item"} & set(row)):
            raise InvalidInput(f"items row {n}: expected a mapping with an 'id' key, got "
                               f"{row!r:.80}")
        key = _check_id(row["id"] if "id" in row else row["item"], "item", n)
        out[key] = {k: v for k, v in row.items() if k not in ("id", "item")}
    return out


def _read_users(source) -> dict:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"no users file at {path}")
        rows = _sniff_rows(_read_text(path), str(path))
        if rows[0][0].strip().isdigit() and len(rows[0]) == 5 and "|" in _read_text(path)[:200]:
            names = ("age", "gender", "occupation", "zip")  # MovieLens u.user
            return {r[0].strip(): dict(zip(names, (c.strip() for c in r[1:]))) for r in rows}
        header = [c.strip() for c in rows[0]]
        lower = [h.lower() for h in header]
        id_col = next((lower.index(n) for n in ("id",) + _ID_COLUMNS["user"] if n in lower), None)
        if id_col is None:
            raise InvalidInput(f"{path}: expected a header with an id column, got {header}")
        return {r[id_col].strip(): {header[j]: v.strip() for j, v in enumerate(r)
                                    if j != id_col and j < len(header)} for r in rows[1:]}
    if isinstance(source, Mapping):
        return {_check_id(k, "user", n): dict(v) if isinstance(v, Mapping) else {"text": str(v)}
                for n, (k, v) in enumerate(source.items(), start=1)}
    if isinstance(source, (bytes, str)) or not isinstance(source, Iterable):
        raise InvalidInput(f"users must be a file, a mapping or a list of ids, got "
                           f"{type(source).__name__}")
    return {_check_id(u, "user", n): {} for n, u in enumerate(source, start=1)}


def item_text(fields: Mapping) -> str:
    """The text embedded for an item: its ``text``, or its fields written out.

    >>> item_text({"title": "Toy Story (1995)", "year": 1995, "genres": ["Animation", "Comedy"]})
    'Toy Story (1995). Genres: Animation, Comedy'
    """
    if fields.get("text"):
        return str(fields["text"])
    parts = []
    title = fields.get("title") or fields.get("name")
    if title:
        title = str(title)
        year = fields.get("year")
        if year and not re.search(r"\(\d{4}\)", title):
            title = f"{title} ({year})"
        parts.append(title)
    for key, value in fields.items():
        if key in ("title", "name", "year", "text") or value in (None, "", [], ()):
            continue
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        parts.append(f"{str(key).replace('_', ' ').capitalize()}: {value}")
    return ". ".join(parts)


_TEXT_FIELDS = ("text", "title", "name")


def field_features(fields_list: Sequence[Mapping]) -> tuple[np.ndarray, list[str]]:
    """One-hot features from items' categorical fields, and their names.

    A list field (``genres``) gives one column per value, a ``year`` its decade, and any other
    short text field (``director`` from a CSV) one column per value; only values that at least two
    items share count (a value seen once cannot generalise). Text-like fields (``text``,
    ``title``, ``name``) are left to the encoder. Each row is scaled to unit length.

    >>> x, names = field_features([{"genres": ["Drama"], "year": 1995},
    ...                            {"genres": ["Drama", "War"], "year": 1998}])
    >>> names
    ['decade=1990', 'genres=Drama']
    """
    per_item: list[set[str]] = []
    for fields in fields_list:
        keys = set()
        for key, value in fields.items():
            if key in _TEXT_FIELDS or value in (None, "", [], ()):
                continue
            if key == "year":
                year = _year(str(value))
                if year:
                    keys.add(f"decade={int(year) // 10 * 10}")
            elif isinstance(value, (list, tuple)):
                keys.update(f"{key}={v}" for v in value if isinstance(v, (str, int)))
            elif isinstance(value, str) and len(value) <= 100:
                keys.add(f"{key}={value}")
        per_item.append(keys)
    counts = Counter(k for keys in per_item for k in keys)
    names = sorted(k for k, c in counts.items() if c >= 2)
    column = {k: j for j, k in enumerate(names)}
    x = np.zeros((len(per_item), len(names)), dtype=np.float32)
    for n, keys in enumerate(per_item):
        cols = [column[k] for k in keys if k in column]
        if cols:
            x[n, cols] = 1.0 / math.sqrt(len(cols))
    return x, names


# ============================================================================ numeric helpers
def _zscore(scores: np.ndarray) -> np.ndarray:
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return (scores - mean) / np.where(std > 1e-12, std, 1.0)


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 1e-12, norms, 1.0)


def _ridge(features: np.ndarray, targets: np.ndarray, penalty: float) -> np.ndarray:
    """Ridge regression weights ((d + 1) x t), the unpenalised intercept in the last row."""
    a = np.hstack([features, np.ones((len(features), 1))])
    reg = penalty * np.eye(a.shape[1])
    reg[-1, -1] = 0.0
    return np.linalg.solve(a.T @ a + reg, a.T @ targets)


def _apply_ridge(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return features @ weights[:-1] + weights[-1]


def _simplex(available: Sequence[bool], step: float = 0.1) -> np.ndarray:
    """Weight triples on a grid of ``step`` that sum to one, zero for a missing component."""
    n = round(1 / step)
    out = []
    for a in range(n + 1):
        for b in range(n + 1 - a):
            w = np.array([a, b, n - a - b], dtype=np.float64) / n
            if all(avail or w[j] == 0 for j, avail in enumerate(available)):
                out.append(w)
    return np.array(out)


def _topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best per row, best first (-inf entries come last)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = np.arange(scores.shape[0])[:, None]
    order = np.argsort(-scores[rows, part], axis=1, kind="stable")
    return part[rows, order]


def _ndcg(top: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-row binary nDCG@k of ranked indices ``top`` against a boolean rows x items matrix."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    hits = np.take_along_axis(relevant, top[:, :k], axis=1)
    n_rel = np.minimum(relevant.sum(axis=1), k)
    ideal = np.where(n_rel > 0, np.cumsum(discount)[np.maximum(n_rel, 1) - 1], 1.0)
    return (hits * discount[:hits.shape[1]]).sum(axis=1) / ideal


def _relevance_matrix(relevant, n_items: int) -> np.ndarray:
    out = np.zeros((len(relevant), n_items), dtype=bool)
    for r, idx in enumerate(relevant):
        out[r, idx] = True
    return out


def _bucket_of(n: int) -> int:
    return next(b for b, hi in enumerate(ACTIVITY_BUCKETS) if n <= hi)


def _bucket_range(b: int) -> tuple[int, float]:
    return (1 if b == 0 else int(ACTIVITY_BUCKETS[b - 1]) + 1), ACTIVITY_BUCKETS[b]


# ============================================================================ the recommender
class Recommender:
    """Collaborative, content-based and hybrid recommendation (scikit-learn style).

    Args:
        cf: ``"als"`` (implicit's alternating least squares, default), ``"bpr"`` (Bayesian
            personalised ranking) or ``None`` (content and popularity only).
        encoder: the Encoder for item texts: a spec for :func:`embedkit.load` (default the default
            text model), an Encoder, or ``None`` (no content: cold items cannot be scored).
        factors: latent factors of the collaborative model.
        regularization: its L2 penalty (default 30 for ALS, whose confidences are large, and
            0.01 for BPR).
        alpha: ALS confidence slope: a rating ``r`` counts ``1 + alpha * r`` (``"linear"``) or
            ``1 + alpha * log1p(r)`` (``"log"``).
        confidence: ``"linear"`` or ``"log"``.
        iterations: ALS sweeps (default 15) or BPR epochs (default 300).
        learning_rate: BPR's SGD step.
        blend: ``"tune"`` (weights chosen on a validation split, see the module doc) or fixed
            weights ``{"cf": w1, "content": w2, "popularity": w3}`` for every user and item.
        content_ridge: the ridge penalty from content vectors to item factors, or ``"tune"``.
        center_content: take the mean item vector away before comparing content vectors.
        field_features: let the items' categorical fields (see :func:`field_features`: genres,
            decade, ...) join the content vectors in the ridge that places cold items among the
            rated ones (their factors and popularity); the content score itself stays the
            encoder's.
        validation_fraction: share of each user's interactions held out while tuning.
        cold_fraction: share of the rated items made cold while tuning.
        cold_folds: how many disjoint such shares (each one more collaborative fit) the cold-item
            weights are chosen on.
        k: the cut-off of the nDCG that tuning maximises.
        duplicates: a (user, item) pair given twice: ``"error"`` (default), or keep the
            ``"last"`` / ``"first"`` (by timestamp when there is one, else by row), or combine the
            ratings: ``"sum"``, ``"mean"``, ``"max"``.
        seed: seeds the factor initialisation, the tuning split and the simulated users.
        num_threads: threads for implicit (0: all cores). BPR with more than one thread is not
            reproducible run to run (its SGD is lock-free).
        batch_size: encoder batch size.
        progress: progress bars (None: on a terminal).

    After ``fit``: ``user_ids_``, ``item_ids_``, ``interactions_`` (users x items, CSR of the
    ratings), ``user_factors_``, ``item_factors_`` (cold items: mapped from content),
    ``item_vectors_`` (content), ``field_feature_names_``, ``cold_features_`` (set by ``fit``
    only: what the cold-item ridge reads, the content vectors and those one-hot columns),
    ``item_texts_``, ``item_counts_``,
    ``cold_items_`` (bool per item),
    ``item_popularity_`` (``log1p`` of the counts; cold items: predicted from content),
    ``blend_weights_`` (per activity bucket, weights for cf, content, popularity),
    ``cold_weights_``, ``content_ridge_``, ``validation_`` (the tuning record) and
    ``fit_time_``.

    >>> rows = [("ann", "matrix", 5), ("ann", "alien", 4), ("bob", "notebook", 5)]  # doctest: +SKIP
    >>> rec = Recommender(encoder=None).fit(rows)                               # doctest: +SKIP

    """

    def __init__(self, *, cf: str | None = "als", encoder: Any = "multilingual-e5-small",
                 factors: int = 32, regularization: float | None = None, alpha: float = 1.0,
                 confidence: str = "linear", iterations: int | None = None,
                 learning_rate: float = 0.002, blend: str | Mapping = "tune",
                 content_ridge: float | str = "tune", center_content: bool = True,
                 field_features: bool = True,
                 validation_fraction: float = 0.2, cold_fraction: float = 0.2,
                 cold_folds: int = 3, k: int = 10,
                 duplicates: str = "error", seed: int = 0, num_threads: int = 0,
                 batch_size: int = 64, progress: bool | None = None):
        self.cf = cf
        self.encoder = encoder
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.confidence = confidence
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.blend = blend
        self.content_ridge = content_ridge
        self.center_content = center_content
        self.field_features = field_features
        self.validation_fraction = validation_fraction
        self.cold_fraction = cold_fraction
        self.cold_folds = cold_folds
        self.k = k
        self.duplicates = duplicates
        self.seed = seed
        self.num_threads = num_threads
        self.batch_size = batch_size
        self.progress = progress

    # ------------------------------------------------------------------------- settings
    _SETTINGS = ("cf", "factors", "regularization", "alpha", "confidence", "iterations",
                 "learning_rate", "blend", "content_ridge", "center_content", "field_features",
                 "validation_fraction", "cold_fraction", "cold_folds", "k", "duplicates", "seed",
                 "num_threads",
                 "batch_size")

    def get_params(self) -> dict:
        """The constructor arguments (scikit-learn's ``get_params``)."""
        return {name: getattr(self, name) for name in ("encoder",) + self._SETTINGS + ("progress",)}

    def _check_settings(self) -> None:
        if self.cf not in _CF + (None,):
            raise InvalidInput(f"Invalid cf: {self.cf!r}. Valid values are: als, bpr, None")
        if self.confidence not in _CONFIDENCE:
            raise InvalidInput(f"Invalid confidence: {self.confidence!r}. Valid values are: "
                               f"{', '.join(_CONFIDENCE)}")
        if self.duplicates not in _DUPLICATES:
            raise InvalidInput(f"Invalid duplicates: {self.duplicates!r}. Valid values are: "
                               f"{', '.join(_DUPLICATES)}")
        for name in ("center_content", "field_features"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInput(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("factors", "k", "batch_size", "cold_folds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
        if self.iterations is not None and (not isinstance(self.iterations, int)
                                            or isinstance(self.iterations, bool)
                                            or self.iterations <= 0):
            raise InvalidInput(f"iterations must be a positive integer or None, got "
                               f"{self.iterations!r}")
        for name in ("alpha", "learning_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise InvalidInput(f"{name} must be a positive number, got {value!r}")
        if self.regularization is not None and not (
                isinstance(self.regularization, (int, float)) and self.regularization >= 0):
            raise InvalidInput(f"regularization must be a number >= 0 or None, got "
                               f"{self.regularization!r}")
        for name in ("validation_fraction", "cold_fraction"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value < 1:
                raise InvalidInput(f"{name} must be between 0 and 1 (exclusive), got {value!r}")
        if not (self.content_ridge == "tune" or isinstance(self.content_ridge, (int, float))
                and not isinstance(self.content_ridge, bool) and self.content_ridge > 0):
            raise InvalidInput(f"content_ridge must be 'tune' or a positive number, got "
                               f"{self.content_ridge!r}")
        if isinstance(self.blend, Mapping):
            unknown = set(self.blend) - set(_COMPONENTS)
            if unknown:
                raise InvalidInput(f"blend has unknown components {sorted(unknown)}; valid: "
                                   f"{', '.join(_COMPONENTS)}")
            values = [self.blend.get(c, 0.0) for c in _COMPONENTS]
            if any(not isinstance(v, (int, float)) or v < 0 for v in values) or sum(values) <= 0:
                raise InvalidInput(f"blend weights must be numbers >= 0, not all 0, got "
                                   f"{dict(self.blend)}")
        elif self.blend != "tune":
            raise InvalidInput(f"blend must be 'tune' or a mapping of weights for "
                               f"{', '.join(_COMPONENTS)}, got {self.blend!r}")

    @property
    def _reg(self) -> float:
        if self.regularization is not None:
            return float(self.regularization)
        return 30.0 if self.cf == "als" else 0.01

    @property
    def _iters(self) -> int:
        if self.iterations is not None:
            return self.iterations
        return 15 if self.cf == "als" else 300

    # ------------------------------------------------------------------------- fitting
    def fit(self, interactions, items=None, users=None) -> Recommender:
        """Learn from ``interactions`` (see :func:`read_interactions`); ``items`` (see
        :func:`read_items`) give item texts and define the catalogue (ratings of other items are an
        error; catalogue items nobody rated are cold items); ``users`` (ids, a mapping of fields, or
        MovieLens ``u.user``) define the known users likewise.
        """
        t0 = time.perf_counter()
        self._check_settings()
        user_list, item_list, ratings, stamps = read_interactions(interactions)
        catalogue = read_items(items) if items is not None else None
        user_fields = _read_users(users) if users is not None else None
        self._index(user_list, item_list, catalogue, user_fields)
        uidx = np.fromiter((self._user_index[u] for u in user_list), np.int64, len(user_list))
        iidx = np.fromiter((self._item_index[i] for i in item_list), np.int64, len(item_list))
        uidx, iidx, ratings = self._combine_duplicates(uidx, iidx, ratings, stamps, user_list,
                                                       item_list)
        sp = require("scipy.sparse", "apps", "the recommender")
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        self.interactions_ = sp.csr_matrix((ratings, (uidx, iidx)), shape=(n_users, n_items))
        self.interactions_.sort_indices()
        self.item_counts_ = np.diff(self.interactions_.tocsc().indptr).astype(np.int64)
        self.item_fields_ = [dict(catalogue[i]) if catalogue else {} for i in self.item_ids_]
        self.item_texts_ = [item_text(f) for f in self.item_fields_]
        self.user_fields_ = ([dict(user_fields[u]) for u in self.user_ids_]
                             if user_fields is not None else None)
        self.cold_items_ = self.item_counts_ == 0
        self._content = self.encoder is not None and catalogue is not None
        if self.cf is None and not self._content:
            raise InvalidInput("nothing to learn: cf=None needs item texts and an encoder "
                               "(pass items=... and keep encoder set)")
        no_data = [self.item_ids_[i] for i in np.flatnonzero(self.cold_items_)
                   if not (self._content and self.item_texts_[i].strip())]
        if no_data:
            raise InvalidInput(
                f"{len(no_data)} item(s) have no ratings and no text to score them by, e.g. "
                f"{no_data[:5]}; give them a text (and keep an encoder) or leave them out of items")
        self._rating_max = float(ratings.max())
        if self._content:
            self._encode_items()
        else:
            self.item_vectors_ = None
            self.content_mean_ = None
        self._tune()
        self._fit_final()
        self.fit_time_ = round(time.perf_counter() - t0, 3)
        log.info("fitted a %s recommender on %d interactions (%d users, %d items, %d cold) in "
                 "%.1f s", self.cf or "content", len(ratings), n_users, n_items,
                 int(self.cold_items_.sum()), self.fit_time_)
        return self

    def _index(self, user_list, item_list, catalogue, user_fields) -> None:
        if user_fields is not None:
            unknown = [u for u in dict.fromkeys(user_list) if u not in user_fields]
            if unknown:
                raise InvalidInput(f"{len(unknown)} user id(s) in the interactions are not in "
                                   f"users, e.g. {unknown[:5]}")
            self.user_ids_ = list(user_fields)
        else:
            self.user_ids_ = list(dict.fromkeys(user_list))
        if catalogue is not None:
            unknown = [i for i in dict.fromkeys(item_list) if i not in catalogue]
            if unknown:
                raise InvalidInput(f"{len(unknown)} item id(s) in the interactions are not in "
                                   f"items, e.g. {unknown[:5]}")
            self.item_ids_ = list(catalogue)
        else:
            self.item_ids_ = list(dict.fromkeys(item_list))
        self._user_index = {u: n for n, u in enumerate(self.user_ids_)}
        self._item_index = {i: n for n, i in enumerate(self.item_ids_)}

    def _combine_duplicates(self, uidx, iidx, ratings, stamps, user_list, item_list):
        key = uidx * len(self.item_ids_) + iidx
        uniq, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True,
                                                 return_counts=True)
        if len(uniq) == len(key):
            return uidx, iidx, ratings
        if self.duplicates == "error":
            dup = int(np.flatnonzero(counts > 1)[0])
            rows = (np.flatnonzero(inverse == dup) + 1).tolist()
            r = rows[0] - 1
            raise InvalidInput(
                f"{int((counts > 1).sum())} (user, item) pair(s) occur more than once, e.g. user "
                f"{user_list[r]!r} and item {item_list[r]!r} in rows {rows[:5]}; combine them "
                f"first or pass duplicates= one of {', '.join(_DUPLICATES[1:])}")
        order = np.argsort(inverse, kind="stable")
        if self.duplicates in ("last", "first"):
            when = stamps if stamps is not None else np.arange(len(key), dtype=np.float64)
            sign = -1.0 if self.duplicates == "last" else 1.0
            pick = np.lexsort((sign * when, inverse))  # per pair, the wanted row first
            starts = np.r_[0, np.cumsum(counts)[:-1]]
            chosen = pick[starts]
            return uidx[chosen], iidx[chosen], ratings[chosen]
        sums = np.bincount(inverse, weights=ratings)
        if self.duplicates == "sum":
            combined = sums
        elif self.duplicates == "mean":
            combined = sums / counts
        else:
            combined = np.full(len(uniq), -np.inf)
            np.maximum.at(combined, inverse[order], ratings[order])
        return uidx[first], iidx[first], combined

    # -- content ------------------------------------------------------------------------
    def _get_encoder(self):
        if getattr(self, "_encoder_obj", None) is None:
            if isinstance(self.encoder, (str, os.PathLike)):
                from ..models import load

                self._encoder_obj = load(self.encoder)
            elif self.encoder is None:
                raise InvalidInput("this recommender has no encoder (encoder=None)")
            else:
                self._encoder_obj = self.encoder
        return self._encoder_obj

    def _embed(self, texts: list[str]) -> np.ndarray:
        from ..encoder import encode_as

        # Item-to-item and profile similarity are symmetric: E5's "query: " prompt on both sides.
        vectors = encode_as(self._get_encoder(), texts, "query", batch_size=self.batch_size,
                            progress=self.progress)
        return np.asarray(vectors, dtype=np.float32)

    def _content_space(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.content_mean_ is not None:
            raw = raw - self.content_mean_
        return _normalize_rows(raw).astype(np.float32)

    def _encode_items(self) -> None:
        raw = self._embed(self.item_texts_).astype(np.float64)
        raw = _normalize_rows(raw)
        self.content_mean_ = raw.mean(axis=0) if self.center_content else None
        self.item_vectors_ = self._content_space(raw)
        self.cold_features_ = self.item_vectors_
        self.field_feature_names_ = []
        if self.field_features:
            extra, self.field_feature_names_ = field_features(self.item_fields_)
            if extra.shape[1]:
                self.cold_features_ = np.hstack([self.item_vectors_, extra])
        enc = self._get_encoder()
        self.encoder_info_ = {"spec": getattr(enc, "spec", None) or (
            os.fspath(self.encoder) if isinstance(self.encoder, (str, os.PathLike)) else None),
            "name": getattr(enc, "name", None), "dim": int(getattr(enc, "dim", raw.shape[1])),
            "fingerprint": getattr(enc, "fingerprint", None)}

    # -- collaborative ------------------------------------------------------------------
    def _confidences(self, ratings: np.ndarray) -> np.ndarray:
        if self.confidence == "log":
            return 1.0 + self.alpha * np.log1p(ratings)
        return 1.0 + self.alpha * ratings

    def _fit_cf(self, matrix):
        """(user factors, item factors) of implicit's ALS or BPR on a users x items CSR matrix."""
        implicit = require("implicit", "apps", "collaborative filtering")
        threadpoolctl = require("threadpoolctl", "apps", "collaborative filtering")
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        del implicit
        matrix = matrix.copy()
        show = bool(self.progress)
        with threadpoolctl.threadpool_limits(1, "blas"):  # implicit asks for single-thread BLAS
            if self.cf == "als":
                matrix.data = self._confidences(matrix.data)
                model = AlternatingLeastSquares(
                    factors=self.factors, regularization=self._reg, alpha=1.0,
                    iterations=self._iters, calculate_training_loss=False,
                    num_threads=self.num_threads, random_state=self.seed)
            else:
                matrix.data = np.ones_like(matrix.data)
                model = BayesianPersonalizedRanking(
                    factors=self.factors, learning_rate=self.learning_rate,
                    regularization=self._reg, iterations=self._iters,
                    num_threads=self.num_threads, random_state=self.seed)
            model.fit(matrix.astype(np.float32).tocsr(), show_progress=show)
        users = np.asarray(model.user_factors, dtype=np.float32)
        items = np.asarray(model.item_factors, dtype=np.float32)
        return users, items

    def _fold_in(self, histories, item_factors, gram) -> np.ndarray:
        """User vectors from (item indices, ratings) histories, item factors fixed: ALS's user step.

        For BPR (whose last factor column is the item bias, the user's being 1) the least-squares
        step runs on the other columns: an approximation, which the tuned weights account for.
        """
        bpr = self.cf == "bpr"
        y = item_factors[:, :-1] if bpr else item_factors
        f = y.shape[1]
        reg = self._reg if not bpr else 1.0
        out = np.zeros((len(histories), item_factors.shape[1]), dtype=np.float32)
        rows = [r for r, (idx, _) in enumerate(histories) if len(idx)]
        if rows:
            lhs = np.empty((len(rows), f, f))
            rhs = np.empty((len(rows), f, 1))
            for n, r in enumerate(rows):
                idx, vals = histories[r]
                c = self._confidences(np.asarray(vals, dtype=np.float64)) if not bpr else np.full(
                    len(idx), 2.0)
                yh = y[idx].astype(np.float64)
                lhs[n] = gram + (yh.T * (c - 1.0)) @ yh + reg * np.eye(f)
                rhs[n, :, 0] = yh.T @ c
            out[rows, :f] = np.linalg.solve(lhs, rhs)[:, :, 0]
        if bpr:
            out[:, -1] = 1.0
        return out

    # -- tuning -------------------------------------------------------------------------
    def _fixed_weights(self) -> np.ndarray:
        w = np.array([float(self.blend.get(c, 0.0)) for c in _COMPONENTS])
        return w / w.sum()

    def _available(self) -> list[bool]:
        return [self.cf is not None, self._content, True]

    def _tune(self) -> None:
        n_buckets = len(ACTIVITY_BUCKETS)
        self.validation_ = None
        if isinstance(self.blend, Mapping):
            w = self._fixed_weights()
            self.blend_weights_ = np.tile(w, (n_buckets, 1))
            self.cold_weights_ = w.copy()
            self.content_ridge_ = (10.0 if self.content_ridge == "tune"
                                   else float(self.content_ridge))
            return
        rng = np.random.default_rng(self.seed)
        r = self.interactions_.tocoo()
        users, items, vals = r.row, r.col, r.data
        rated = np.flatnonzero(~self.cold_items_)
        tune_cold = self._content and self.cf is not None and len(rated) >= 10
        # disjoint draws of rated items that play cold items: the first also serves the warm tuning
        folds = []
        if tune_cold:
            size = max(1, round(self.cold_fraction * len(rated)))
            order = rng.permutation(rated)
            for f in range(min(self.cold_folds, max(1, len(rated) // size))):
                mask = np.zeros(len(self.item_ids_), dtype=bool)
                mask[order[f * size:(f + 1) * size]] = True
                folds.append(mask)
        pseudo_cold = folds[0] if folds else np.zeros(len(self.item_ids_), dtype=bool)
        on_cold = pseudo_cold[items]
        # per-user holdout among the remaining interactions (at least one stays in training)
        held = np.zeros(len(users), dtype=bool)
        warm_rows = np.flatnonzero(~on_cold)
        by_user = np.split(warm_rows[np.argsort(users[warm_rows], kind="stable")],
                           np.flatnonzero(np.diff(np.sort(users[warm_rows], kind="stable"))) + 1)
        for rows in by_user:
            n_out = int(round(self.validation_fraction * len(rows)))
            if len(rows) >= 2 and n_out >= 1:
                held[rng.choice(rows, size=min(n_out, len(rows) - 1), replace=False)] = True
        train = ~held & ~on_cold
        sp = require("scipy.sparse", "apps", "the recommender")
        shape = self.interactions_.shape

        def matrix(rows, values):
            m = sp.csr_matrix((values[rows], (users[rows], items[rows])), shape=shape)
            m.sort_indices()
            return m

        tr = matrix(train, vals)
        val = matrix(held, np.ones(len(users)))
        if tr.nnz == 0 or (val.nnz == 0 and not on_cold.any()):
            log.info("too little data to tune the blend; using fixed weights")
            self.blend_weights_ = np.tile(self._default_weights(), (n_buckets, 1))
            self.cold_weights_ = self._default_weights()
            self.content_ridge_ = (10.0 if self.content_ridge == "tune"
                                   else float(self.content_ridge))
            return
        t0 = time.perf_counter()
        state = self._make_state(tr, pseudo_cold | self.cold_items_)
        record: dict[str, Any] = {"validation_interactions": int(held.sum()),
                                  "pseudo_cold_items": int(pseudo_cold.sum()),
                                  "cold_folds": len(folds),
                                  "cold_interactions": int(on_cold.sum()), "k": self.k}
        ridge_grid = _RIDGE_GRID if self.content_ridge == "tune" else (float(self.content_ridge),)
        # cold items: the ridge penalty (by the CF score alone), then the weights, each chosen by
        # the nDCG summed over the folds (one pseudo-cold draw alone is noisy: a non-personal
        # signal such as predicted popularity lives or dies by where a few hits land)
        cold_sets = []
        for f, fold in enumerate(folds):
            on_fold = fold[items]
            fold_train = tr if f == 0 else matrix(~on_fold, vals)
            fold_state = state if f == 0 else self._make_state(fold_train,
                                                               fold | self.cold_items_)
            fold_val = matrix(on_fold, np.ones(len(users)))
            fold_users = np.flatnonzero(np.diff(fold_val.indptr) > 0)
            if not len(fold_users):
                continue
            rel = [fold_val.indices[fold_val.indptr[u]:fold_val.indptr[u + 1]] for u in fold_users]
            hist = [(fold_train.indices[fold_train.indptr[u]:fold_train.indptr[u + 1]],
                     fold_train.data[fold_train.indptr[u]:fold_train.indptr[u + 1]])
                    for u in fold_users]
            cold_sets.append((fold, fold_state, fold_users, hist, rel))
        if cold_sets:
            scores_by_penalty = dict.fromkeys(ridge_grid, 0.0)
            n_users = sum(len(c[2]) for c in cold_sets)
            for penalty in ridge_grid:
                for fold, fold_state, fold_users, hist, rel in cold_sets:
                    self._map_cold(fold_state, penalty)
                    z = self._components(fold_state, fold_users, hist)
                    cf_only = np.where(fold, z[0], -np.inf)
                    matrix_rel = _relevance_matrix(rel, len(self.item_ids_))
                    scores_by_penalty[penalty] += float(
                        _ndcg(_topk(cf_only, self.k), matrix_rel, self.k).sum()) / n_users
            self.content_ridge_ = max(scores_by_penalty, key=lambda p: (scores_by_penalty[p], p))
            record["content_ridge"] = {str(p): round(s, 5) for p, s in scores_by_penalty.items()}
            grid = _simplex(self._available())
            per_fold = []
            for fold, fold_state, fold_users, hist, rel in cold_sets:
                self._map_cold(fold_state, self.content_ridge_)
                z = self._components(fold_state, fold_users, hist)
                per_fold.append(self._grid_scores(z, fold[None, :], rel, grid))
            per_user = np.hstack(per_fold)
            scores = per_user.mean(axis=1)
            best = self._choose(per_user, grid)
            self.cold_weights_ = grid[best]
            record["cold"] = {"users": int(n_users), "ndcg": round(float(scores[best]), 5),
                              "ndcg_best_tried": round(float(scores.max()), 5),
                              "weights": self._weights_dict(grid[best]),
                              "ndcg_per_fold": [round(float(f[best].mean()), 5)
                                                for f in per_fold]}
            for name, j in (("ndcg_cf_only", 0), ("ndcg_content_only", 1),
                            ("ndcg_popularity_only", 2)):
                record["cold"][name] = round(float(scores[self._grid_index(grid, j)]), 5)
            self._map_cold(state, self.content_ridge_)
        else:
            self.content_ridge_ = ridge_grid[len(ridge_grid) // 2]
            self._map_cold(state, self.content_ridge_)
            self.cold_weights_ = self._default_weights(cold=True)
        # per-activity-bucket weights on the warm held-out interactions
        record["buckets"] = []
        weights = [None] * n_buckets
        n_hist = np.diff(tr.indptr)
        candidates = ~(pseudo_cold | self.cold_items_)
        grid = _simplex(self._available())
        for b in range(n_buckets):
            lo, hi = _bucket_range(b)
            users_b = np.flatnonzero((n_hist >= lo) & (n_hist <= hi) & (np.diff(val.indptr) > 0))
            hist = [(tr.indices[tr.indptr[u]:tr.indptr[u + 1]],
                     tr.data[tr.indptr[u]:tr.indptr[u + 1]]) for u in users_b]
            rel = [val.indices[val.indptr[u]:val.indptr[u + 1]] for u in users_b]
            folded = None
            n_real = len(users_b)
            if n_real < 50 and math.isfinite(hi):  # simulate users with this many ratings
                sim_users, sim_hist, sim_rel = self._simulated(tr, val, rng, lo, int(hi), 300)
                if len(sim_users):
                    users_b = np.r_[users_b, sim_users]
                    hist = hist + sim_hist
                    rel = rel + sim_rel
                    folded = np.r_[np.zeros(n_real, bool), np.ones(len(sim_users), bool)]
            if len(users_b) < 10:
                record["buckets"].append({"range": [lo, hi if math.isfinite(hi) else None],
                                          "users": len(users_b), "weights": None})
                continue
            z = self._components(state, users_b, hist, folded=folded)
            seen = np.zeros((len(users_b), len(self.item_ids_)), dtype=bool)
            for r_, (idx, _) in enumerate(hist):
                seen[r_, idx] = True
            allowed = candidates[None, :] & ~seen
            per_user = self._grid_scores(z, allowed, rel, grid)
            scores = per_user.mean(axis=1)
            best = self._choose(per_user, grid)
            weights[b] = grid[best]
            entry = {"range": [lo, hi if math.isfinite(hi) else None], "users": int(n_real),
                     "simulated_users": int(len(users_b) - n_real),
                     "ndcg": round(float(scores[best]), 5),
                     "ndcg_best_tried": round(float(scores.max()), 5),
                     "weights": self._weights_dict(grid[best])}
            for name, j in (("ndcg_cf_only", 0), ("ndcg_content_only", 1),
                            ("ndcg_popularity_only", 2)):
                if self._available()[j]:
                    entry[name] = round(float(scores[self._grid_index(grid, j)]), 5)
            record["buckets"].append(entry)
        # buckets without enough users borrow from the nearest bucket that has weights
        known = [b for b in range(n_buckets) if weights[b] is not None]
        for b in range(n_buckets):
            if weights[b] is None:
                weights[b] = (weights[min(known, key=lambda j: (abs(j - b), -j))] if known
                              else self._default_weights())
        self.blend_weights_ = np.array(weights)
        record["seconds"] = round(time.perf_counter() - t0, 2)
        self.validation_ = record

    def _default_weights(self, cold: bool = False) -> np.ndarray:
        if self.cf is not None and not cold:
            return np.array([1.0, 0.0, 0.0])
        if self._content:
            return np.array([0.0, 1.0, 0.0])
        return np.array([1.0, 0.0, 0.0]) if self.cf is not None else np.array([0.0, 0.0, 1.0])

    @staticmethod
    def _grid_index(grid: np.ndarray, component: int) -> int:
        target = np.zeros(3)
        target[component] = 1.0
        return int(np.flatnonzero(np.all(np.isclose(grid, target), axis=1))[0])

    @staticmethod
    def _weights_dict(w) -> dict:
        return {c: round(float(x), 3) for c, x in zip(_COMPONENTS, w)}

    def _grid_scores(self, z, allowed, relevant, grid) -> np.ndarray:
        """nDCG@k per weight triple in ``grid`` (rows) and user (columns), ranking ``allowed``."""
        allowed = np.broadcast_to(allowed, z[0].shape)
        cols = np.flatnonzero(allowed.any(axis=0))  # rank among the columns that can come at all
        relevant = _relevance_matrix(relevant, len(self.item_ids_))[:, cols]
        allowed = allowed[:, cols]
        parts = [np.asarray(c[:, cols], dtype=np.float32) for c in z]
        out = np.zeros((len(grid), len(relevant)))
        for g, w in enumerate(grid):
            s = w[0] * parts[0] + w[1] * parts[1] + w[2] * parts[2]
            s[~allowed] = -np.inf
            out[g] = _ndcg(_topk(s, self.k), relevant, self.k)
        return out

    def _choose(self, per_user: np.ndarray, grid: np.ndarray) -> int:
        """The one-standard-error rule: among the weights whose mean nDCG is within one standard
        error (of the paired per-user difference) of the best, the one that leans most on the
        primary signal (the collaborative score; content without one), then the best mean.

        The validation sets of single activity buckets are a few hundred users; differences
        smaller than their noise should not move the weights away from the plain model.
        """
        means = per_user.mean(axis=1)
        best = int(np.argmax(means))
        n = per_user.shape[1]
        diff = per_user[best][None, :] - per_user
        se = diff.std(axis=1, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(len(grid))
        close = np.flatnonzero(means[best] - means <= se + 1e-12)
        primary = 0 if self.cf is not None else 1
        return int(max(close, key=lambda g: (grid[g, primary], means[g])))

    def _simulated(self, tr, val, rng, lo: int, hi: int, n_max: int):
        """Users with longer histories cut down to ``lo..hi`` ratings; relevant: all the rest."""
        n_hist = np.diff(tr.indptr)
        pool = np.flatnonzero(n_hist > hi)
        if not len(pool):
            return np.array([], dtype=np.int64), [], []
        chosen = rng.choice(pool, size=min(n_max, len(pool)), replace=False)
        hist, rel = [], []
        for u in chosen:
            idx = tr.indices[tr.indptr[u]:tr.indptr[u + 1]]
            vals = tr.data[tr.indptr[u]:tr.indptr[u + 1]]
            n = int(rng.integers(lo, hi + 1))
            keep = rng.choice(len(idx), size=n, replace=False)
            rest = np.setdiff1d(np.arange(len(idx)), keep)
            hist.append((idx[keep], vals[keep]))
            rel.append(np.r_[idx[rest], val.indices[val.indptr[u]:val.indptr[u + 1]]])
        return chosen, hist, rel

    # -- the state the scores are computed from -----------------------------------------
    def _make_state(self, matrix, cold: np.ndarray) -> dict:
        """Factors, gram and popularity for one training matrix; cold items mapped later."""
        state = {"cold": cold, "counts": np.diff(matrix.tocsc().indptr).astype(np.float64)}
        if self.cf is not None:
            users, items = self._fit_cf(matrix)
            state["user_factors"] = users
            state["trained_item_factors"] = items
            y = items[:, :-1] if self.cf == "bpr" else items
            state["gram"] = y.T.astype(np.float64) @ y.astype(np.float64)
        return state

    def _map_cold(self, state: dict, penalty: float) -> None:
        """Fill the cold items' factors and popularity from content (ridge on the rated items)."""
        cold = state["cold"]
        x = self.cold_features_ if self._content else None
        warm = ~cold
        logpop = np.log1p(state["counts"])
        if self.cf is not None:
            items = state["trained_item_factors"].copy()
            if self._content and cold.any() and warm.sum() >= 2:
                w = _ridge(x[warm], items[warm], penalty)
                items[cold] = _apply_ridge(x[cold], w)
                if self.cf == "bpr":
                    items[cold, -1] = np.minimum(items[cold, -1], items[warm, -1].max())
                state["factor_map"] = w.astype(np.float32)
            state["item_factors"] = items.astype(np.float32)
        pop = logpop.copy()
        if self._content and cold.any() and warm.sum() >= 2:
            wp = _ridge(x[warm], logpop[warm][:, None], penalty)
            pop[cold] = np.maximum(_apply_ridge(x[cold], wp)[:, 0], 0.0)
            state["popularity_map"] = wp.astype(np.float32)
        state["popularity"] = pop

    def _components(self, state: dict, users, histories, *, folded=None, user_vectors=None,
                    profiles=None):
        """z-scored (cf, content, popularity) scores, each (len(users) x n_items)."""
        n, n_items = len(histories), len(self.item_ids_)
        zeros = np.zeros((n, n_items))
        if self.cf is not None:
            if user_vectors is None:
                user_vectors = np.zeros((n, state["item_factors"].shape[1]), dtype=np.float32)
                known = np.ones(n, bool) if folded is None else ~folded
                if users is not None and known.any():
                    user_vectors[known] = state["user_factors"][np.asarray(users)[known]]
                if folded is not None and folded.any():
                    user_vectors[folded] = self._fold_in(
                        [h for h, f in zip(histories, folded) if f],
                        state["trained_item_factors"], state["gram"])
            z_cf = _zscore(user_vectors.astype(np.float64) @ state["item_factors"].T.astype(
                np.float64))
        else:
            z_cf = zeros
        if self._content:
            if profiles is None:
                profiles = np.zeros((n, self.item_vectors_.shape[1]))
                for r, (idx, vals) in enumerate(histories):
                    if len(idx):
                        profiles[r] = vals @ self.item_vectors_[idx]
            z_c = _zscore(profiles @ self.item_vectors_.T.astype(np.float64))
        else:
            z_c = zeros
        z_p = np.broadcast_to(_zscore(state["popularity"][None, :]), (n, n_items))
        return z_cf, z_c, z_p

    def _fit_final(self) -> None:
        state = self._make_state(self.interactions_, self.cold_items_.copy())
        self._map_cold(state, self.content_ridge_)
        self._state = state
        self.item_popularity_ = state["popularity"]
        if self.cf is not None:
            self.user_factors_ = state["user_factors"]
            self.item_factors_ = state["item_factors"]
        else:
            self.user_factors_ = self.item_factors_ = None

    # ------------------------------------------------------------------------- using it
    def _check_fitted(self) -> None:
        if not hasattr(self, "_state"):
            raise NotFitted("this Recommender is not fitted yet: call fit() or Recommender.load()")

    def _lookup(self, key, index: dict, what: str) -> int:
        if key in index and not isinstance(key, bool):
            return index[key]
        if isinstance(key, str) and re.fullmatch(r"-?\d+", key.strip()) and int(key) in index:
            return index[int(key)]
        if isinstance(key, int) and not isinstance(key, bool) and str(key) in index:
            return index[str(key)]
        sample = ", ".join(repr(k) for k in list(index)[:3])
        raise InvalidInput(f"unknown {what} {key!r}: the model knows {len(index)} {what}s "
                           f"(e.g. {sample})")

    def _check_k(self, k) -> int:
        if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
            raise InvalidInput(f"k must be a positive integer, got {k!r}")
        return k

    def _history(self, u: int):
        m = self.interactions_
        return m.indices[m.indptr[u]:m.indptr[u + 1]], m.data[m.indptr[u]:m.indptr[u + 1]]

    def _combine(self, z, n_hist: Sequence[int], method: str) -> np.ndarray:
        if method not in METHODS:
            raise InvalidInput(f"Invalid method: {method!r}. Valid methods are: "
                               f"{', '.join(METHODS)}")
        cold = self.cold_items_
        if method == "cf":
            if self.cf is None:
                raise InvalidInput("method='cf' needs a collaborative model (cf='als' or 'bpr')")
            return np.where(cold[None, :], -np.inf, z[0])
        if method == "content":
            if not self._content:
                raise InvalidInput("method='content' needs item texts and an encoder")
            return z[1].copy()
        if method == "popularity":
            counts = np.log1p(self.item_counts_.astype(np.float64))
            return np.broadcast_to(counts, z[0].shape).copy()
        w = np.array([self.blend_weights_[_bucket_of(max(int(h), 1))] for h in n_hist])
        warm = w[:, 0:1] * z[0] + w[:, 1:2] * z[1] + w[:, 2:3] * z[2]
        if not cold.any():
            return warm
        wc = self.cold_weights_
        return np.where(cold[None, :], wc[0] * z[0] + wc[1] * z[1] + wc[2] * z[2], warm)

    def _rank(self, scores: np.ndarray, k: int, exclude: list | None, candidates) -> list:
        if candidates is not None:
            mask = np.zeros(len(self.item_ids_), dtype=bool)
            mask[candidates] = True
            scores = np.where(mask[None, :], scores, -np.inf)
        if exclude is not None:
            for r, idx in enumerate(exclude):
                scores[r, idx] = -np.inf
        top = _topk(scores, k)
        out = []
        for r in range(len(scores)):
            row = [Recommendation(self.item_ids_[i], float(scores[r, i])) for i in top[r]
                   if np.isfinite(scores[r, i])]
            out.append(row)
        return out

    def _candidates(self, candidates):
        if candidates is None:
            return None
        return np.array([self._lookup(c, self._item_index, "item") for c in candidates],
                        dtype=np.int64)

    def recommend(self, user, k: int = 10, exclude_seen: bool = True, *, method: str = "hybrid",
                  candidates: Iterable | None = None) -> list[Recommendation]:
        """The ``k`` best items for a known user, best first.

        Args:
            user: a user id from the training data.
            k: how many.
            exclude_seen: leave out the items the user has rated.
            method: ``"hybrid"`` (default), ``"cf"`` (the collaborative score alone; cold items
                never come), ``"content"`` or ``"popularity"``.
            candidates: rank only these item ids (e.g. the new arrivals).

        """
        return self.recommend_batch([user], k, exclude_seen, method=method,
                                    candidates=candidates)[0]

    def recommend_batch(self, users: Sequence, k: int = 10, exclude_seen: bool = True, *,
                        method: str = "hybrid", candidates: Iterable | None = None,
                        batch_size: int = 1024) -> list[list[Recommendation]]:
        """:meth:`recommend` for many users at once (one list per user, in order)."""
        self._check_fitted()
        k = self._check_k(k)
        if isinstance(users, (str, bytes)) or not isinstance(users, Iterable):
            raise InvalidInput(f"users must be a list of user ids, got {type(users).__name__}")
        rows = [self._lookup(u, self._user_index, "user") for u in users]
        cand = self._candidates(candidates)
        out = []
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            hist = [self._history(u) for u in chunk]
            empty = [self.user_ids_[u] for u, (idx, _) in zip(chunk, hist) if len(idx) == 0]
            if empty:
                raise InvalidInput(f"user {empty[0]!r} has no interactions to recommend from; use "
                                   "recommend_for_new_user(liked_items=..., text=...)")
            z = self._components(self._state, np.array(chunk), hist)
            scores = self._combine(z, [len(h[0]) for h in hist], method)
            out.extend(self._rank(scores, k, [h[0] for h in hist] if exclude_seen else None, cand))
        return out

    def recommend_for_new_user(self, liked_items: Iterable | Mapping | None = None,
                               text: str | None = None, k: int = 10, *,
                               method: str = "hybrid", candidates: Iterable | None = None
                               ) -> list[Recommendation]:
        """Recommendations for someone not in the training data.

        Args:
            liked_items: item ids they liked (each counts as the highest rating in the data), or
                ``{item_id: rating}``. Their collaborative vector is folded in from these.
            text: what they are looking for, in words ("space adventure with robots"); it joins
                their content profile (needs the encoder).
            k: how many.
            method: as in :meth:`recommend`.
            candidates: as in :meth:`recommend`.

        With neither, the most popular items.

        """
        self._check_fitted()
        k = self._check_k(k)
        if isinstance(liked_items, (str, bytes)):
            raise InvalidInput("liked_items must be a list of item ids (or a mapping id: rating), "
                               f"got the string {liked_items!r}; wrap one id in a list")
        if isinstance(liked_items, Mapping):
            pairs = [(self._lookup(i, self._item_index, "item"), _check_rating(r, n))
                     for n, (i, r) in enumerate(liked_items.items(), start=1)]
        else:
            pairs = [(self._lookup(i, self._item_index, "item"), self._rating_max)
                     for i in (liked_items or [])]
        merged = dict(pairs)
        idx = np.array(list(merged), dtype=np.int64)
        vals = np.array(list(merged.values()), dtype=np.float64)
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise InvalidInput(f"text must be a non-empty string, got {text!r}")
        if text is not None and not self._content:
            raise InvalidInput("text needs item texts and an encoder; this model has none")
        cand = self._candidates(candidates)
        if not len(idx) and text is None:
            scores = np.log1p(self.item_counts_.astype(np.float64))[None, :].copy()
            return self._rank(scores, k, None, cand)[0]
        profiles = None
        if self._content:
            profile = vals @ self.item_vectors_[idx] if len(idx) else np.zeros(
                self.item_vectors_.shape[1])
            if len(idx):
                profile = profile / max(np.linalg.norm(profile), 1e-12)
            if text is not None:
                profile = profile + self._content_space(self._embed([text]))[0]
            profiles = profile[None, :]
        user_vectors = None
        if self.cf is not None:
            user_vectors = self._fold_in([(idx, vals)], self._state["trained_item_factors"]
                                         if "trained_item_factors" in self._state
                                         else self._state["item_factors"], self._state["gram"])
        z = self._components(self._state, None, [(idx, vals)], user_vectors=user_vectors,
                             profiles=profiles)
        if not len(idx):  # words only: the content score, with the popularity share kept
            if method == "hybrid":
                w = self.blend_weights_[0]
                scores = (w[0] + w[1]) * z[1] + w[2] * z[2]
            else:
                scores = self._combine(z, [1], method)
        else:
            scores = self._combine(z, [len(idx)], method)
        return self._rank(scores, k, [idx], cand)[0]

    def _space(self, space: str) -> tuple[str, np.ndarray]:
        if space not in _SPACES:
            raise InvalidInput(f"Invalid space: {space!r}. Valid spaces are: {', '.join(_SPACES)}")
        if space == "auto":
            space = "factors" if self.cf is not None else "content"
        if space == "factors":
            if self.cf is None:
                raise InvalidInput("space='factors' needs a collaborative model (cf als or bpr)")
            vectors = np.asarray(self.item_factors_[:, :-1] if self.cf == "bpr"
                                 else self.item_factors_, dtype=np.float64)
            # centred on the rated items' mean: the direction all factors share (mostly
            # popularity) would otherwise dominate every cosine, and more so for the shrunk
            # factors that cold items get from content
            vectors = vectors - vectors[~self.cold_items_].mean(axis=0)
        else:
            if not self._content:
                raise InvalidInput("space='content' needs item texts and an encoder")
            vectors = self.item_vectors_
        return space, _normalize_rows(np.asarray(vectors, dtype=np.float64))

    def similar_items(self, item, k: int = 10, *, space: str = "auto") -> list[Recommendation]:
        """The ``k`` items nearest to ``item`` by cosine, the item itself left out.

        ``space``: ``"factors"`` (the collaborative item factors, centred on their mean; cold
        items by their mapped factors), ``"content"`` (the content vectors), or ``"auto"``
        (factors when there is a collaborative model).
        """
        self._check_fitted()
        k = self._check_k(k)
        i = self._lookup(item, self._item_index, "item")
        _, vectors = self._space(space)
        scores = (vectors @ vectors[i])[None, :]
        return self._rank(scores, k, [np.array([i])], None)[0]

    def item_vectors(self, space: str = "auto") -> np.ndarray:
        """Item vectors (unit length, one row per ``item_ids_``): factors or content."""
        self._check_fitted()
        return self._space(space)[1].astype(np.float32)

    def to_store(self, path, *, space: str = "auto"):
        """Put the item vectors into an embedkit :class:`~embedkit.VectorStore` (a new file, or
        ``":memory:"``), with each item's text and fields; returns the store.

        Search it with an item's vector (``store.search(rec.item_vectors()[i])``) or by keyword.
        """
        from ..store.sqlite import VectorStore

        self._check_fitted()
        space, vectors = self._space(space)
        store = VectorStore(path, dim=vectors.shape[1], metric="cosine")
        if len(store):
            raise InvalidInput(f"{path} already holds {len(store)} items; pass a new store path")
        meta = []
        for n, fields in enumerate(self.item_fields_):
            m = {k: v for k, v in fields.items() if isinstance(v, (str, int, float, bool, list))}
            m.update({"ratings": int(self.item_counts_[n]), "cold": bool(self.cold_items_[n]),
                      "space": space})
            meta.append(m)
        texts = [t or str(i) for t, i in zip(self.item_texts_, self.item_ids_)]
        store.add(texts, ids=[str(i) for i in self.item_ids_], metadata=meta,
                  vectors=vectors.astype(np.float32))
        return store

    @property
    def weights_(self) -> dict:
        """The blend weights per activity bucket and for cold items, readable."""
        self._check_fitted()
        out = {}
        for b, w in enumerate(self.blend_weights_):
            lo, hi = _bucket_range(b)
            name = f"{lo}" if lo == hi else (f"{lo}-{int(hi)}" if math.isfinite(hi) else f"{lo}+")
            out[name] = self._weights_dict(w)
        out["cold items"] = self._weights_dict(self.cold_weights_)
        return out

    # ------------------------------------------------------------------------- files
    def save(self, folder) -> Path:
        """Write ``recommender.json`` and ``arrays.safetensors`` into ``folder`` (no pickle)."""
        self._check_fitted()
        st = require("safetensors.numpy", "apps", "saving a Recommender")
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InvalidInput(f"{folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        s = self._state
        m = self.interactions_
        arrays = {"indptr": m.indptr.astype(np.int64), "indices": m.indices.astype(np.int64),
                  "ratings": m.data.astype(np.float64), "item_counts": self.item_counts_,
                  "cold_items": self.cold_items_.astype(np.uint8),
                  "popularity": s["popularity"].astype(np.float64),
                  "blend_weights": self.blend_weights_.astype(np.float64),
                  "cold_weights": self.cold_weights_.astype(np.float64)}
        if self.cf is not None:
            arrays.update(user_factors=s["user_factors"], item_factors=s["item_factors"],
                          trained_item_factors=s["trained_item_factors"], gram=s["gram"])
        if self._content:
            arrays["item_vectors"] = self.item_vectors_
            if self.content_mean_ is not None:
                arrays["content_mean"] = np.asarray(self.content_mean_, dtype=np.float64)
        for key in ("factor_map", "popularity_map"):
            if key in s:
                arrays[key] = s[key]
        arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        tmp = folder / (_ARRAYS_FILE + ".tmp")
        st.save_file(arrays, str(tmp))
        os.replace(tmp, folder / _ARRAYS_FILE)
        params = {name: getattr(self, name) for name in self._SETTINGS}
        params["blend"] = dict(self.blend) if isinstance(self.blend, Mapping) else self.blend
        config = {
            "type": "recommender", "embedkit_version": __version__, "params": params,
            "encoder": getattr(self, "encoder_info_", None) if self._content else None,
            "content": self._content, "rating_max": self._rating_max,
            "content_ridge": self.content_ridge_, "user_ids": self.user_ids_,
            "item_ids": self.item_ids_, "item_fields": self.item_fields_,
            "item_texts": self.item_texts_, "user_fields": self.user_fields_,
            "field_feature_names": getattr(self, "field_feature_names_", []),
            "validation": self.validation_, "fit_time": getattr(self, "fit_time_", None),
            "weights": self.weights_}
        text = json.dumps(config, ensure_ascii=False, indent=1, default=_json_default)
        tmp = folder / (_CONFIG_FILE + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / _CONFIG_FILE)
        return folder

    @classmethod
    def load(cls, folder, *, encoder: Any = None) -> Recommender:
        """Read a folder written by :meth:`save`. ``encoder``: the Encoder for ``text=`` queries
        (default: loaded by the recorded spec the first time one is needed).
        """
        folder = Path(folder)
        marker = folder / _CONFIG_FILE
        if not marker.is_file():
            raise ModelNotFound(f"{folder} is not a saved recommender (no {_CONFIG_FILE})")
        try:
            config = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelNotFound(f"{marker} is not readable: {exc}") from exc
        if config.get("type") != "recommender":
            raise ModelNotFound(f"{folder} holds a {config.get('type')!r}, not a recommender")
        st = require("safetensors.numpy", "apps", "loading a Recommender")
        sp = require("scipy.sparse", "apps", "the recommender")
        try:
            arrays = st.load_file(str(folder / _ARRAYS_FILE))
        except FileNotFoundError as exc:
            raise ModelNotFound(f"{folder / _ARRAYS_FILE} is missing") from exc
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise ModelNotFound(f"{folder / _ARRAYS_FILE} is not readable: {exc}") from exc
        params = dict(config["params"])
        info = config.get("encoder") or {}
        spec = encoder if encoder is not None else (info.get("spec") if config["content"] else None)
        self = cls(encoder=spec, **params)
        if encoder is not None:
            self._encoder_obj = encoder
        self.encoder_info_ = info or None
        self._content = bool(config["content"])
        self._rating_max = float(config["rating_max"])
        self.content_ridge_ = config["content_ridge"]
        self.user_ids_ = list(config["user_ids"])
        self.item_ids_ = list(config["item_ids"])
        self._user_index = {u: n for n, u in enumerate(self.user_ids_)}
        self._item_index = {i: n for n, i in enumerate(self.item_ids_)}
        self.item_fields_ = config["item_fields"]
        self.item_texts_ = config["item_texts"]
        self.user_fields_ = config.get("user_fields")
        self.validation_ = config.get("validation")
        self.fit_time_ = config.get("fit_time")
        self.interactions_ = sp.csr_matrix(
            (arrays["ratings"], arrays["indices"], arrays["indptr"]),
            shape=(len(self.user_ids_), len(self.item_ids_)))
        self.item_counts_ = arrays["item_counts"]
        self.cold_items_ = arrays["cold_items"].astype(bool)
        self.blend_weights_ = arrays["blend_weights"]
        self.cold_weights_ = arrays["cold_weights"]
        state = {"cold": self.cold_items_.copy(), "popularity": arrays["popularity"],
                 "counts": self.item_counts_.astype(np.float64)}
        for key in ("user_factors", "item_factors", "trained_item_factors", "gram", "factor_map",
                    "popularity_map"):
            if key in arrays:
                state[key] = arrays[key]
        self._state = state
        self.item_popularity_ = state["popularity"]
        self.user_factors_ = state.get("user_factors")
        self.item_factors_ = state.get("item_factors")
        self.item_vectors_ = arrays.get("item_vectors")
        self.content_mean_ = arrays.get("content_mean")
        self.field_feature_names_ = list(config.get("field_feature_names") or [])
        return self

    def __repr__(self) -> str:
        fitted = hasattr(self, "_state")
        what = (f"{len(self.user_ids_)} users, {len(self.item_ids_)} items" if fitted
                else "not fitted")
        return f"Recommender(cf={self.cf!r}, content={getattr(self, '_content', None)}, {what})"


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and math.isinf(obj):
        return None
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
