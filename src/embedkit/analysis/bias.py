"""Social bias in vector spaces: WEAT and SEAT, the gender direction, direct bias, hard debiasing
(neutralise and equalise) for word vectors, a linear-projection debias for sentence encoders, and
the Gonen & Goldberg (2019) check of what debiasing leaves behind.

- **WEAT** (Caliskan et al. 2017): ``s(w, A, B) = mean cos(w, a) - mean cos(w, b)``; effect size
  ``(mean_X s - mean_Y s) / std_{X u Y} s`` (population std, as WEFE computes it; 0 when every
  s(w) is within 1e-6 of the others, where the ratio would be rounding noise); one-sided
  permutation p-value over re-partitions of X u Y. The standard tests ship as data
  (:func:`weat_tests`), with Korean counterparts (``ko-*``).
- **SEAT** (May et al. 2019): the same test over sentence embeddings, each word put into
  semantically bleached templates ("This is a doctor.", "이것은 의사입니다.").
- **Gender direction** (Bolukbasi et al. 2016): the first principal components of the centred
  definitional pairs (she/he, woman/man, ...); **direct bias** ``mean_w |cos(w, g)|^c`` over
  neutral words (professions).
- **Hard debias**: neutralise (remove the gender component of every neutral word) and equalise
  (make each pair symmetric about the neutral space). :func:`hard_debias` returns new vectors.
- **Sentence encoders**: :class:`DebiasedEncoder` removes a gender subspace estimated from
  template sentence pairs (Liang et al. 2020, SENT-DEBIAS) from every embedding.
- **Gonen & Goldberg check** (:func:`recoverability`): cluster the most male- and female-biased
  words (by the original he-she projection) after debiasing; accuracy near 50% means the removed
  gender is gone, near 100% that it is still there ("lipstick on a pig").
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from ..errors import InvalidInput, require

__all__ = ["WeatTest", "WeatResult", "weat_tests", "load_weat", "gender_lists", "weat", "run_weat",
           "seat", "SEAT_TEMPLATES", "gender_direction", "direct_bias", "hard_debias",
           "DebiasedEncoder", "sentence_gender_subspace", "recoverability", "gender_projection"]


# ---------------------------------------------------------------------------------- word lists
@dataclass(frozen=True)
class WeatTest:
    """Targets X, Y and attributes A, B (lists of words) with their names."""

    name: str
    X: tuple[str, ...]
    Y: tuple[str, ...]
    A: tuple[str, ...]
    B: tuple[str, ...]
    names: tuple[str, str, str, str] = ("X", "Y", "A", "B")
    language: str = "en"
    source: str = ""


def _data(name: str) -> str:
    return resources.files("embedkit.analysis").joinpath("data", name).read_text(encoding="utf-8")


def weat_tests() -> list[str]:
    """The names of the shipped WEAT tests."""
    folder = resources.files("embedkit.analysis").joinpath("data", "weat")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_weat(name_or_path) -> WeatTest:
    """A shipped test by name (``career-family``, ``ko-math-arts``, ...) or a JSON file of that shape."""
    from pathlib import Path

    path = Path(str(name_or_path))
    if path.suffix == ".json" and path.is_file():
        doc = json.loads(path.read_text(encoding="utf-8"))
    else:
        known = weat_tests()
        if name_or_path not in known:
            raise InvalidInput(f"no WEAT test {name_or_path!r}; shipped tests: {', '.join(known)} "
                               "(or pass a .json file with 'targets' and 'attributes')")
        doc = json.loads(_data(f"weat/{name_or_path}.json"))
    try:
        (x, y), (a, b) = doc["targets"], doc["attributes"]
        return WeatTest(name=doc.get("name", path.stem), X=tuple(x["words"]), Y=tuple(y["words"]),
                        A=tuple(a["words"]), B=tuple(b["words"]),
                        names=(x["name"], y["name"], a["name"], b["name"]),
                        language=doc.get("language", "en"), source=doc.get("source", ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{name_or_path}: a WEAT file needs 'targets' and 'attributes', two "
                           f"entries each with 'name' and 'words' ({exc})") from None


def gender_lists(language: str = "en") -> dict:
    """Definitional pairs, equalise pairs, gender-specific words and professions for a language."""
    if language not in ("en", "ko"):
        raise InvalidInput(f"gender word lists exist for 'en' and 'ko', not {language!r}")
    return json.loads(_data(f"gender_{language}.json"))


# ---------------------------------------------------------------------------------- WEAT
@dataclass
class WeatResult:
    """Effect size, p-value, s(w) per target word and the words found / missing per set."""

    test: str
    effect_size: float
    p_value: float | None
    statistic: float
    found: dict[str, list[str]]
    missing: dict[str, list[str]]
    names: tuple[str, str, str, str] = ("X", "Y", "A", "B")
    permutations: int = 0
    s: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"test": self.test, "effect_size": self.effect_size, "p_value": self.p_value,
                "statistic": self.statistic, "sets": dict(zip("XYAB", self.names)),
                "found": {k: len(v) for k, v in self.found.items()},
                "missing": self.missing, "permutations": self.permutations}


def _unit_rows(M: np.ndarray) -> np.ndarray:
    M = np.asarray(M, dtype=np.float64)
    n = np.linalg.norm(M, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return M / n


def weat(X, Y, A, B, *, permutations: int = 10_000, seed: int = 0) -> tuple[float, float, float, np.ndarray]:
    """WEAT on vectors: (effect size, one-sided p-value, statistic, s of each X then Y row)."""
    X, Y, A, B = (_unit_rows(v) for v in (X, Y, A, B))
    XY = np.vstack([X, Y])
    s = (XY @ A.T).mean(axis=1) - (XY @ B.T).mean(axis=1)
    nx = len(X)
    std = s.std()
    if std == 0:
        raise InvalidInput("every target word is equally near both attribute sets (s(w) constant): "
                           "the effect size is undefined")
    stat = s[:nx].sum() - s[nx:].sum()
    # Every s(w) within float32 noise of the others (after equalising, say): no association is
    # measurable, and the ratio of two rounding errors would be an arbitrary number.
    effect = 0.0 if std < 1e-6 else (s[:nx].mean() - s[nx:].mean()) / std
    p = None
    if permutations:
        total = math.comb(len(s), nx)
        rng = np.random.default_rng(seed)
        if total <= permutations:  # exact test over every partition
            from itertools import combinations

            idx = np.arange(len(s))
            tot = s.sum()
            hits = count = 0
            for comb in combinations(idx, nx):
                sx = s[list(comb)].sum()
                hits += (2 * sx - tot) >= stat - 1e-12
                count += 1
            p = hits / count
        else:
            tot = s.sum()
            perm = np.argsort(rng.random((permutations, len(s))), axis=1)[:, :nx]
            sx = s[perm].sum(axis=1)
            p = (np.sum((2 * sx - tot) >= stat - 1e-12) + 1) / (permutations + 1)
        p = float(p)
    return float(effect), p, float(stat), s


def _lookup(model, words: Sequence[str], lowercase: bool) -> tuple[list[str], list[str], np.ndarray | None]:
    found, missing, vecs = [], [], []
    for w in words:
        key = w
        if key not in model and lowercase and w.lower() in model:
            key = w.lower()
        if key in model:
            found.append(w)
            vecs.append(np.asarray(model.get_vector(key), dtype=np.float32))
        else:
            missing.append(w)
    return found, missing, (np.vstack(vecs) if vecs else None)


def run_weat(model, test, *, permutations: int = 10_000, seed: int = 0,
             lowercase: bool = True, min_found: int = 2) -> WeatResult:
    """WEAT of a word-vectors model on a :class:`WeatTest` (or a shipped test's name).

    Words missing from the vocabulary are left out and reported in ``missing``; a set with fewer
    than ``min_found`` words found is an error that names the set and its missing words.
    """
    if not isinstance(test, WeatTest):
        test = load_weat(test)
    found, missing, vecs = {}, {}, {}
    for key, name, words in zip("XYAB", test.names, (test.X, test.Y, test.A, test.B)):
        f, m, v = _lookup(model, words, lowercase)
        if len(f) < min_found:
            raise InvalidInput(
                f"WEAT test {test.name!r}: only {len(f)} of the {len(words)} words of set "
                f"{key} ({name}) are in the model's vocabulary (need {min_found}); missing: "
                f"{', '.join(m[:12])}{' ...' if len(m) > 12 else ''}")
        found[key], missing[key], vecs[key] = f, m, v
    effect, p, stat, s = weat(vecs["X"], vecs["Y"], vecs["A"], vecs["B"], permutations=permutations,
                              seed=seed)
    return WeatResult(test=test.name, effect_size=effect, p_value=p, statistic=stat, found=found,
                      missing=missing, names=test.names, permutations=permutations,
                      s=dict(zip(found["X"] + found["Y"], map(float, s))))


class _VectorsLookup:
    """A {word: vector} lookup over an array, in the shape :func:`run_weat` reads."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray):
        self.index = {w: i for i, w in enumerate(words)}
        self.vectors = vectors

    def __contains__(self, w) -> bool:
        return w in self.index

    def get_vector(self, w):
        return self.vectors[self.index[w]]


#: SEAT's semantically bleached templates (May et al. 2019), English and Korean.
SEAT_TEMPLATES = {
    "en": ["This is {}.", "That is {}.", "There is {}.", "Here is {}.", "{} is here.",
           "{} is there.", "This is the {}.", "It is {}."],
    "ko": ["이것은 {}입니다.", "저것은 {}입니다.", "{}이 있습니다.", "여기에 {}이 있다.", "{}은 여기에 있다.",
           "그것은 {}이다.", "{}에 대한 이야기.", "이 사람은 {}입니다."],
}


def seat(encoder, test, *, language: str | None = None, templates: Sequence[str] | None = None,
         permutations: int = 10_000, seed: int = 0, batch_size: int = 64) -> WeatResult:
    """SEAT: WEAT over sentence embeddings of the test's words put into bleached templates.

    Every (word, template) sentence is one member of its set, as in May et al. (2019).
    """
    if not isinstance(test, WeatTest):
        test = load_weat(test)
    lang = language or test.language
    temps = list(templates or SEAT_TEMPLATES.get(lang, SEAT_TEMPLATES["en"]))
    sets = {}
    for key, words in zip("XYAB", (test.X, test.Y, test.A, test.B)):
        sents = [t.format(w) for w in words for t in temps]
        sets[key] = (sents, np.asarray(encoder.encode(sents, batch_size=batch_size), dtype=np.float32))
    effect, p, stat, s = weat(*(sets[k][1] for k in "XYAB"), permutations=permutations, seed=seed)
    return WeatResult(test=f"seat:{test.name}", effect_size=effect, p_value=p, statistic=stat,
                      found={k: list(v[0]) for k, v in sets.items()}, missing={k: [] for k in "XYAB"},
                      names=test.names, permutations=permutations)


# ---------------------------------------------------------------------------------- gender subspace
def _pairs_found(model, pairs, lowercase=True) -> list[tuple[str, str]]:
    out = []
    for a, b in pairs:
        if a in model and b in model:
            out.append((a, b))
    return out


def gender_direction(model, pairs: Sequence[Sequence[str]] | None = None, *, language: str = "en",
                     k: int = 1) -> np.ndarray:
    """The gender subspace (k, dim): top principal components of the centred definitional pairs."""
    pairs = pairs if pairs is not None else gender_lists(language)["definitional_pairs"]
    found = _pairs_found(model, pairs)
    if len(found) < 2:
        raise InvalidInput(f"only {len(found)} of the {len(pairs)} definitional pairs are in the "
                           "vocabulary; at least 2 are needed to find a gender direction")
    rows = []
    for a, b in found:
        va = _unit_rows(np.asarray(model.get_vector(a))[None])[0]
        vb = _unit_rows(np.asarray(model.get_vector(b))[None])[0]
        c = (va + vb) / 2
        rows.extend([va - c, vb - c])
    _, _, vt = np.linalg.svd(np.asarray(rows), full_matrices=False)
    g = vt[:k]
    # Orient the first direction from the second word of the pairs (he) to the first (she).
    a, b = found[0]
    if np.dot(np.asarray(model.get_vector(a)) - np.asarray(model.get_vector(b)), g[0]) < 0:
        g[0] = -g[0]
    return g.astype(np.float32)


def gender_projection(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Cosine of each row with ``direction`` (positive: towards the first words, she/woman)."""
    d = direction[0] if direction.ndim == 2 else direction
    return (_unit_rows(vectors) @ (d / np.linalg.norm(d))).astype(np.float32)


def direct_bias(model, words: Sequence[str] | None = None, direction: np.ndarray | None = None, *,
                language: str = "en", c: float = 1.0) -> dict:
    """Bolukbasi's direct bias ``mean |cos(w, g)|^c`` over neutral words (professions by default).

    Returns ``{"direct_bias", "words", "missing", "projections": {word: cos}}``.
    """
    lists = gender_lists(language)
    words = list(words) if words is not None else lists["professions"]
    g = direction if direction is not None else gender_direction(model, language=language)
    found = [w for w in words if w in model]
    if not found:
        raise InvalidInput(f"none of the {len(words)} words is in the vocabulary")
    proj = gender_projection(np.vstack([model.get_vector(w) for w in found]), g)
    return {"direct_bias": float(np.mean(np.abs(proj) ** c)), "words": len(found),
            "missing": [w for w in words if w not in model],
            "projections": dict(zip(found, map(float, proj)))}


def hard_debias(wv, *, language: str = "en", definitional=None, equalize=None, gender_specific=None,
                k: int = 1, neutral_limit: int | None = None):
    """Hard-debiased copy of a :class:`~embedkit.text.word_vectors.WordVectors` (Bolukbasi et al.).

    Every word not in ``gender_specific`` (among the first ``neutral_limit`` words; all by
    default) is normalised and has its component in the gender subspace removed; each equalise
    pair is then placed symmetrically: ``mu_perp +- sqrt(1 - |mu_perp|^2) * g``. All vectors come
    out unit length. Returns ``(new WordVectors, info dict)``.
    """
    from ..text.word_vectors import WordVectors

    lists = gender_lists(language)
    definitional = definitional if definitional is not None else lists["definitional_pairs"]
    equalize = equalize if equalize is not None else lists["equalize_pairs"]
    specific = set(gender_specific if gender_specific is not None else lists["gender_specific"])
    B = gender_direction(wv, definitional, language=language, k=k).astype(np.float64)  # (k, d)
    V = _unit_rows(np.asarray(wv.vectors))
    limit = len(wv) if neutral_limit is None else min(neutral_limit, len(wv))
    neutral = np.array([i < limit and w not in specific for i, w in enumerate(wv.index_to_key)])
    comp = V[neutral] @ B.T
    V[neutral] -= comp @ B
    V[neutral] = _unit_rows(V[neutral])
    done = []
    for a, b in equalize:
        for x, y in ((a, b), (a.capitalize(), b.capitalize())):
            if x in wv and y in wv:
                ia, ib = wv.key_to_index[x], wv.key_to_index[y]
                mu = (V[ia] + V[ib]) / 2
                mu_b = (mu @ B.T) @ B
                nu = mu - mu_b
                scale = math.sqrt(max(1.0 - float(nu @ nu), 0.0))
                for i in (ia, ib):
                    wb = (V[i] @ B.T) @ B
                    diff = wb - mu_b
                    norm = np.linalg.norm(diff)
                    V[i] = nu + scale * (diff / norm if norm > 0 else 0.0)
                done.append((x, y))
    out = WordVectors(wv.index_to_key, V.astype(np.float32), counts=wv.counts,
                      config={**wv.config, "debiased": {"method": "hard", "k": k, "language": language}},
                      name=f"{wv.name}-debiased")
    info = {"neutralised": int(neutral.sum()), "equalised_pairs": len(done),
            "definitional_pairs": len(_pairs_found(wv, definitional)), "subspace_dim": k}
    return out, info


# ---------------------------------------------------------------------------------- sentence encoders
def sentence_gender_subspace(encoder, *, language: str = "en", pairs=None, templates=None,
                             k: int = 1, batch_size: int = 64) -> np.ndarray:
    """Gender subspace of a sentence encoder from template sentences of the definitional pairs.

    Each pair (she, he) is put in every template; the centred pair embeddings go through PCA
    (SENT-DEBIAS, Liang et al. 2020). Returns (k, dim).
    """
    lists = gender_lists(language)
    pairs = pairs if pairs is not None else lists["definitional_pairs"] + lists["equalize_pairs"][:20]
    temps = list(templates or SEAT_TEMPLATES.get(language, SEAT_TEMPLATES["en"]))
    a_sents = [t.format(a) for a, _ in pairs for t in temps]
    b_sents = [t.format(b) for _, b in pairs for t in temps]
    A = _unit_rows(encoder.encode(a_sents, batch_size=batch_size))
    Bv = _unit_rows(encoder.encode(b_sents, batch_size=batch_size))
    c = (A + Bv) / 2
    _, _, vt = np.linalg.svd(np.vstack([A - c, Bv - c]), full_matrices=False)
    return vt[:k].astype(np.float32)


class DebiasedEncoder:
    """An encoder whose embeddings have a linear subspace (gender) projected out, then renormalised.

    >>> import numpy as np
    >>> class E:
    ...     dim = 3; modality = "text"; name = "e"
    ...     def encode(self, items, **kw): return np.array([[1.0, 1.0, 0.0]] * len(items), "float32")
    >>> DebiasedEncoder(E(), np.array([[1.0, 0, 0]])).encode(["x"]).round(3).tolist()
    [[0.0, 1.0, 0.0]]
    """

    def __init__(self, encoder, subspace: np.ndarray):
        B = np.atleast_2d(np.asarray(subspace, dtype=np.float64))
        if B.shape[1] != encoder.dim:
            raise InvalidInput(f"the subspace has dimension {B.shape[1]}, the encoder {encoder.dim}")
        q, _ = np.linalg.qr(B.T)
        self.basis = q.T.astype(np.float32)
        self.encoder = encoder
        self.dim = encoder.dim
        self.modality = getattr(encoder, "modality", "text")
        self.name = f"{getattr(encoder, 'name', 'encoder')}-debiased"

    def encode(self, items, **kwargs) -> np.ndarray:
        E = np.asarray(self.encoder.encode(items, **kwargs), dtype=np.float32)
        E = E - (E @ self.basis.T) @ self.basis
        n = np.linalg.norm(E, axis=1, keepdims=True)
        n[n == 0] = 1.0
        return (E / n).astype(np.float32)


# ---------------------------------------------------------------------------------- Gonen & Goldberg
def recoverability(original, debiased, *, language: str = "en", n: int = 500, limit: int = 50_000,
                   seed: int = 0, exclude=None) -> dict:
    """Gonen & Goldberg (2019): can the removed gender still be recovered after debiasing?

    The ``n`` most male- and ``n`` most female-biased words (by their projection on the original
    he-she direction, among the ``limit`` most frequent, gender-specific words left out) are
    clustered into two groups with k-means on the debiased vectors; ``cluster_accuracy`` is the
    share of words in the cluster of their original gender (0.5 = gone, 1.0 = fully there). A
    cross-validated RBF SVM classifier trained on the debiased vectors gives
    ``classifier_accuracy``. Both are computed on the original vectors too, for reference.
    """
    require("sklearn", "all", "the Gonen & Goldberg check")
    from sklearn.cluster import KMeans
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    lists = gender_lists(language)
    skip = set(lists["gender_specific"]) | set(exclude or ())
    pairs = [p for p in lists["definitional_pairs"] if p[0] in original and p[1] in original]
    if not pairs:
        raise InvalidInput("none of the definitional pairs is in the vocabulary")
    she, he = pairs[0]
    d = np.asarray(original.get_vector(she)) - np.asarray(original.get_vector(he))
    words = [w for w in original.index_to_key[:limit] if w not in skip and w in debiased and
             (w.isalpha() or not w.isascii())]
    P = gender_projection(np.vstack([original.get_vector(w) for w in words]), d)
    order = np.argsort(P)
    n = min(n, len(words) // 2)
    if n < 10:
        raise InvalidInput(f"only {len(words)} candidate words: too few for the check")
    male, female = order[:n], order[-n:]
    idx = np.concatenate([male, female])
    y = np.array([0] * n + [1] * n)
    chosen = [words[i] for i in idx]
    out = {"n_per_gender": int(n), "direction": f"{she} - {he}", "limit": limit}
    for tag, model in (("original", original), ("debiased", debiased)):
        V = _unit_rows(np.vstack([model.get_vector(w) for w in chosen]))
        lab = KMeans(n_clusters=2, random_state=seed, n_init=10).fit_predict(V)
        acc = float(np.mean(lab == y))
        out[f"{tag}_cluster_accuracy"] = max(acc, 1 - acc)
        out[f"{tag}_classifier_accuracy"] = float(np.mean(cross_val_score(
            SVC(kernel="rbf", gamma="scale"), V, y, cv=5)))
    out["examples"] = {"male": [words[i] for i in male[:10]], "female": [words[i] for i in female[-10:][::-1]]}
    return out
