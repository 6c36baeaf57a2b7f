"""Cross-lingual word mapping: one language's word-vector space rotated onto another's.

Two monolingual :class:`~embedkit.text.word_vectors.WordVectors` (say Korean and English, trained
separately by the word-vector engine) are mapped into one space by an orthogonal matrix ``W``,
so that ``src[w] @ W`` lands near the vectors of ``w``'s translations:

* **Supervised** (Mikolov et al. 2013; Xing et al. 2015; MUSE, Conneau et al. 2018): ``W`` solves
  orthogonal Procrustes on a seed dictionary, ``W = U V^T`` from the SVD of ``X^T Z``.
* **Refinement**: the dictionary is then re-induced from the mapped spaces (mutual nearest
  neighbours by CSLS among the most frequent words, added to the seed) and Procrustes solved
  again, a few times.
* **Unsupervised start** (VecMap, Artetxe et al. 2018): with no dictionary, the first one comes
  from the similarity distributions of the most frequent words (the sorted rows of ``sqrt(X X^T)``
  are comparable across languages), then self-learning with stochastic dictionary induction.
* **Retrieval**: plain nearest neighbours, or CSLS (cross-domain similarity local scaling,
  ``2 cos(x, z) - r_T(x) - r_S(z)``), which penalises "hub" words that are close to everything.

Vectors are length-normalised, mean-centred and normalised again before mapping (VecMap's
robust normalisation); the means are kept with the map so that a new query is treated alike.
A saved map records where its two vector folders are and a fingerprint of their vocabularies, so
that it refuses to run against other vectors.

>>> m = WordMapping().fit(ko, en, dictionary="muse_ko-en_train.tsv")   # doctest: +SKIP
>>> m.translate("자동차", k=3)                                            # doctest: +SKIP
[('car', 0.61), ('cars', 0.55), ('vehicle', 0.52)]
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import DimensionMismatch, InvalidInput, NotFitted
from ..text.word_vectors import UnknownWord, WordVectors, _read_safetensors, _write_safetensors

__all__ = ["WordMapping", "read_dictionary", "split_dictionary"]

log = logging.getLogger(__name__)

Pairs = list[tuple[str, str]]


# ----------------------------------------------------------------------------- dictionaries
def read_dictionary(path: str | os.PathLike) -> Pairs:
    """Read translation pairs, one ``source<TAB>target`` (or whitespace-separated) pair a line.

    A first line whose two fields look like language codes (``en ko``) is taken as a header.
    Lines that are blank are skipped; a line with one field is an error (it names the line).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"dictionary {path} does not exist or is not a file")
    pairs: Pairs = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            parts = line.split("\t") if "\t" in line else line.split()
            parts = [p.strip() for p in parts if p.strip()]
            if len(parts) != 2:
                raise InvalidInput(f"{path}, line {n}: expected two fields (source and target "
                                   f"word, tab-separated), got {len(parts)}: {line[:80]!r}")
            if n == 1 and all(len(p) in (2, 3) and p.isascii() and p.isalpha() and p.islower()
                              for p in parts) and parts[0] != parts[1]:
                continue  # header such as "en\tko"
            pairs.append((parts[0], parts[1]))
    if not pairs:
        raise InvalidInput(f"dictionary {path} has no translation pairs")
    return pairs


def split_dictionary(pairs: Sequence[tuple[str, str]], test_fraction: float = 0.2, *,
                     seed: int = 0) -> tuple[Pairs, Pairs]:
    """Split by *source word* (all translations of a word on one side), reproducibly."""
    if not 0 < test_fraction < 1:
        raise InvalidInput(f"test_fraction must be between 0 and 1, got {test_fraction}")
    sources = sorted({s for s, _ in pairs})
    rng = np.random.default_rng(seed)
    test = set(rng.choice(len(sources), size=max(1, round(len(sources) * test_fraction)),
                          replace=False).tolist())
    test_words = {sources[i] for i in test}
    train = [(s, t) for s, t in pairs if s not in test_words]
    held = [(s, t) for s, t in pairs if s in test_words]
    return train, held


def _as_pairs(dictionary) -> Pairs:
    if dictionary is None:
        return []
    if isinstance(dictionary, (str, os.PathLike)):
        return read_dictionary(dictionary)
    pairs = []
    for item in dictionary:
        if not (isinstance(item, (tuple, list)) and len(item) == 2
                and all(isinstance(w, str) for w in item)):
            raise InvalidInput(f"a dictionary entry must be a (source, target) pair of words, "
                               f"got {item!r}")
        pairs.append((item[0], item[1]))
    if not pairs:
        raise InvalidInput("the dictionary is empty: give (source, target) word pairs, or "
                           "unsupervised=True to start without one")
    return pairs


# ----------------------------------------------------------------------------- vector algebra
def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def _procrustes(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The (semi-)orthogonal ``W`` minimising ``||x W - z||`` (rows of x and z are pairs)."""
    u, _, vt = np.linalg.svd(x.T.astype(np.float64) @ z.astype(np.float64), full_matrices=False)
    return (u @ vt).astype(np.float32)


def _topk_mean(queries: np.ndarray, keys: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Mean of the k largest cosines of each query row among the key rows (both unit rows)."""
    k = min(k, keys.shape[0])
    out = np.empty(queries.shape[0], dtype=np.float32)
    for a in range(0, queries.shape[0], chunk):
        sims = queries[a:a + chunk] @ keys.T
        part = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
        out[a:a + chunk] = part.mean(axis=1)
    return out


def _csls_argmax(queries: np.ndarray, keys: np.ndarray, r_keys: np.ndarray, keep: float = 1.0,
                 rng=None, chunk: int = 1024) -> np.ndarray:
    """Each query row's key with the largest CSLS, ``2 cos - r_query - r_key`` (unit rows).

    ``r_query`` is the same for every key of a row, so only ``r_keys`` changes the argmax. With
    ``keep < 1`` each similarity is dropped with probability ``1 - keep`` first (to 1/256): the
    stochastic dictionary induction of VecMap (Artetxe et al. 2018).
    """
    # cos / 3 - r / 6 ranks like 2 cos - r and lies in [-0.5, 0.5], so subtracting 1 where a
    # similarity is dropped puts it below every kept one: a boolean subtract, not a masked write.
    keys = keys * np.float32(1 / 3)
    r_keys = (r_keys * np.float32(1 / 6)).astype(np.float32)
    threshold = int(round(keep * 256))
    out = np.empty(queries.shape[0], dtype=np.int64)
    for a in range(0, queries.shape[0], chunk):
        sims = queries[a:a + chunk] @ keys.T
        sims -= r_keys[None, :]
        if keep < 1.0:
            dropped = rng.integers(0, 256, size=sims.shape, dtype=np.uint8) >= threshold
            np.subtract(sims, dropped, out=sims)
        out[a:a + chunk] = sims.argmax(axis=1)
    return out


# ----------------------------------------------------------------------------- the mapping
class WordMapping:
    """An orthogonal map from a source word-vector space onto a target one.

    Args:
        refine: rounds of dictionary re-induction + Procrustes after the seed solution
            (0 = plain Procrustes on the seed dictionary).
        refine_vocab: how many of the most frequent words of each side take part in dictionary
            induction.
        csls_k: neighbourhood size of CSLS.
        max_vocab: how many of the most frequent target (and source) words are candidates in
            :meth:`translate` and :meth:`evaluate` (MUSE uses 200,000).
        unsupervised_vocab: most frequent words used by the unsupervised initialisation.
        unsupervised_iterations: most self-learning rounds of the unsupervised start.
        seed: for the stochastic dictionary induction of the unsupervised start.

    Fitted attributes: ``W_`` (source dim x target dim), ``source_mean_``, ``target_mean_``,
    ``dictionary_size_`` (seed pairs with both words in the vocabularies),
    ``dictionary_coverage_`` (their share of the pairs given), ``induced_pairs_`` (pairs used by the
    last Procrustes solution), ``history_`` (per round: pairs used, mean cosine of the pairs).
    """

    def __init__(self, *, refine: int = 1, refine_vocab: int = 15_000, csls_k: int = 10,
                 max_vocab: int = 200_000, unsupervised_vocab: int = 4_000,
                 unsupervised_iterations: int = 60, seed: int = 0):
        for name, value, low in (("refine", refine, 0), ("refine_vocab", refine_vocab, 10),
                                 ("csls_k", csls_k, 1), ("max_vocab", max_vocab, 10),
                                 ("unsupervised_vocab", unsupervised_vocab, 10),
                                 ("unsupervised_iterations", unsupervised_iterations, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidInput(f"{name} must be an integer >= {low}, got {value!r}")
        self.refine = refine
        self.refine_vocab = refine_vocab
        self.csls_k = csls_k
        self.max_vocab = max_vocab
        self.unsupervised_vocab = unsupervised_vocab
        self.unsupervised_iterations = unsupervised_iterations
        self.seed = seed
        self.source_: WordVectors | None = None
        self.target_: WordVectors | None = None

    # -------------------------------------------------------------------------- fitting
    def fit(self, source: WordVectors, target: WordVectors, dictionary=None, *,
            unsupervised: bool = False) -> WordMapping:
        """Learn ``W`` from a seed ``dictionary`` (pairs, or a TSV path), or with none.

        Pairs whose source or target word is not in the vectors are dropped (counted in
        ``dictionary_coverage_``); no pair left is an error.
        """
        for role, wv in (("source", source), ("target", target)):
            if not isinstance(wv, WordVectors):
                raise InvalidInput(f"the {role} must be WordVectors (embedkit.load a word-vector "
                                   f"folder), got {type(wv).__name__}")
            if len(wv) < 2:
                raise InvalidInput(f"the {role} vectors have {len(wv)} word(s); at least 2 needed")
            if not np.isfinite(np.asarray(wv.vectors[: min(len(wv), 100_000)])).all():
                raise InvalidInput(f"the {role} vectors contain NaN or infinite values")
        if dictionary is None and not unsupervised:
            raise InvalidInput("a seed dictionary is needed (pairs or a TSV file), or "
                               "unsupervised=True")
        self.source_, self.target_ = source, target
        xs = _unit(np.asarray(source.vectors, dtype=np.float32))
        zs = _unit(np.asarray(target.vectors, dtype=np.float32))
        self.source_mean_ = xs.mean(axis=0)
        self.target_mean_ = zs.mean(axis=0)
        self._x = _unit(xs - self.source_mean_)
        self._z = _unit(zs - self.target_mean_)
        self.history_: list[dict] = []
        if dictionary is not None:
            given = _as_pairs(dictionary)
            seed_idx = self._indices(given)
            self.dictionary_size_ = len(seed_idx)
            self.dictionary_coverage_ = len(seed_idx) / len(given)
            if not seed_idx:
                raise InvalidInput(f"no pair of the dictionary ({len(given)} pairs, e.g. "
                                   f"{given[0][0]!r} -> {given[0][1]!r}) has both words in the "
                                   f"vectors ({len(source)} source, {len(target)} target words)")
            pairs = np.array(seed_idx, dtype=np.int64)
        else:
            self.dictionary_size_, self.dictionary_coverage_ = 0, 0.0
            pairs = self._unsupervised_start()
            seed_idx = []
        self.W_ = self._solve(pairs)
        for _ in range(self.refine):
            induced = self._induce()
            merged = {tuple(p) for p in seed_idx} | {tuple(p) for p in induced.tolist()}
            pairs = np.array(sorted(merged), dtype=np.int64)
            self.W_ = self._solve(pairs)
        self.induced_pairs_ = int(len(pairs))
        self._cache = {}
        return self

    def _indices(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[int, int]]:
        si, ti = self.source_.key_to_index, self.target_.key_to_index
        return [(si[s], ti[t]) for s, t in pairs if s in si and t in ti]

    def _solve(self, pairs: np.ndarray) -> np.ndarray:
        x, z = self._x[pairs[:, 0]], self._z[pairs[:, 1]]
        w = _procrustes(x, z)
        self.history_.append({"pairs": int(len(pairs)),
                              "mean_cosine": float(np.mean(np.sum((x @ w) * z, axis=1)))})
        return w

    def _induce(self, keep: float = 1.0, rng=None) -> np.ndarray:
        """Mutual CSLS nearest neighbours among the most frequent words (optionally with dropout).

        Works in row blocks, so memory stays at a block of similarities (not the full
        ``refine_vocab`` squared matrix) and each round costs four matrix products.
        """
        n_s = min(self.refine_vocab, len(self.source_))
        n_t = min(self.refine_vocab, len(self.target_))
        xm = _unit(self._x[:n_s] @ self.W_)
        z = self._z[:n_t]
        k = min(self.csls_k, n_s, n_t)
        r_x = _topk_mean(xm, z, k)  # each source word's mean cosine to its k nearest targets
        r_z = _topk_mean(z, xm, k)
        fwd = _csls_argmax(xm, z, r_z, keep, rng)
        bwd = _csls_argmax(z, xm, r_x, keep, rng)
        if keep < 1.0:  # self-learning: both directions (VecMap's "union")
            pairs = np.concatenate([np.stack([np.arange(n_s), fwd], 1),
                                    np.stack([bwd, np.arange(n_t)], 1)])
            return np.unique(pairs, axis=0)
        mutual = np.nonzero(bwd[fwd] == np.arange(n_s))[0]
        return np.stack([mutual, fwd[mutual]], 1)

    def _unsupervised_start(self) -> np.ndarray:
        """VecMap: dictionary from similarity distributions, then stochastic self-learning."""
        n = min(self.unsupervised_vocab, len(self.source_), len(self.target_))

        def signature(m):
            u, s, _ = np.linalg.svd(m[:n].astype(np.float64), full_matrices=False)
            sim = (u * s) @ u.T  # sqrt(M M^T): the similarity matrix, spectrally "un-squared"
            sim.sort(axis=1)
            sim = _unit(sim)
            sim = _unit(sim - sim.mean(axis=0))
            return sim.astype(np.float32)

        sx, sz = signature(self._x), signature(self._z)
        sims = sx @ sz.T
        k = min(self.csls_k, n)
        r_x = np.partition(sims, n - k, axis=1)[:, -k:].mean(axis=1)
        r_z = np.partition(sims, n - k, axis=0)[-k:, :].mean(axis=0)
        sims = 2 * sims - r_x[:, None] - r_z[None, :]
        pairs = np.stack([np.arange(n), sims.argmax(axis=1)], 1)
        rng = np.random.default_rng(self.seed)
        keep, best, stale = 0.1, -np.inf, 0
        for it in range(self.unsupervised_iterations):
            self.W_ = self._solve(pairs)
            objective = self.history_[-1]["mean_cosine"]
            if objective > best + 1e-4:
                best, stale = objective, 0
            else:
                stale += 1
            if stale >= 3:
                if keep >= 1.0:
                    break
                keep, stale, best = min(1.0, keep * 2), 0, -np.inf
            pairs = self._induce(keep=keep, rng=rng)
        log.info("unsupervised start: %d rounds, %d pairs, mean cosine %.3f", it + 1, len(pairs),
                 self.history_[-1]["mean_cosine"])
        return pairs

    # -------------------------------------------------------------------------- retrieval
    def _check(self):
        if self.source_ is None or not hasattr(self, "W_"):
            raise NotFitted("this WordMapping is not fitted; call fit(source, target, "
                            "dictionary) or WordMapping.load(folder)")

    def _side(self, reverse: bool):
        """(query vectors mapped, candidate vectors, candidate words, r of candidates)."""
        key = "reverse" if reverse else "forward"
        if key not in self._cache:
            n_s = min(self.max_vocab, len(self.source_))
            n_t = min(self.max_vocab, len(self.target_))
            if reverse:
                queries = _unit(self._z[:n_t] @ self.W_.T)  # target mapped into source space
                keys = self._x[:n_s]
                words = self.source_.index_to_key[:n_s]
            else:
                queries = _unit(self._x[:n_s] @ self.W_)
                keys = self._z[:n_t]
                words = self.target_.index_to_key[:n_t]
            r_keys = _topk_mean(keys, queries, self.csls_k)  # keys' neighbourhood among queries
            self._cache[key] = (keys, words, r_keys, queries)
        return self._cache[key]

    def _query(self, word: str, reverse: bool) -> np.ndarray:
        wv, mean = ((self.target_, self.target_mean_) if reverse
                    else (self.source_, self.source_mean_))
        if word in wv.key_to_index:
            v = self._z[wv.key_to_index[word]] if reverse else self._x[wv.key_to_index[word]]
        elif wv.has_subwords:
            v = _unit(_unit(wv.get_vector(word)) - mean)
        else:
            raise UnknownWord(word, wv.name)
        m = v @ (self.W_.T if reverse else self.W_)
        return _unit(m)

    def translate(self, word: str, k: int = 5, *, method: str = "csls",
                  reverse: bool = False) -> list[tuple[str, float]]:
        """The ``k`` best translations of ``word`` (source -> target; ``reverse`` for back).

        Scores are cosines for ``method="nn"`` and CSLS scores for ``"csls"``.
        """
        self._check()
        if not isinstance(word, str) or not word:
            raise InvalidInput(f"word must be a non-empty string, got {word!r}")
        if method not in ("csls", "nn"):
            raise InvalidInput(f"method must be 'csls' or 'nn', got {method!r}")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidInput(f"k must be a positive integer, got {k!r}")
        q = self._query(word, reverse)
        keys, words, r_keys, queries = self._side(reverse)
        sims = keys @ q
        if method == "csls":
            kk = min(self.csls_k, keys.shape[0])
            r_q = float(np.partition(sims, len(sims) - kk)[-kk:].mean())
            sims = 2 * sims - r_q - r_keys
        top = np.argsort(-sims)[:k]
        return [(words[i], float(sims[i])) for i in top]

    def evaluate(self, dictionary, *, ks: Sequence[int] = (1, 5),
                 methods: Sequence[str] = ("nn", "csls"), reverse: bool = False) -> dict:
        """Precision@k of word translation on held-out pairs (MUSE's protocol).

        A source word counts as right at k when any of its accepted translations is among the k
        best candidates. Only source words in the vectors with at least one translation among the
        candidates are scored; ``coverage`` is their share of the source words given.
        """
        self._check()
        pairs = _as_pairs(dictionary)
        if reverse:
            pairs = [(t, s) for s, t in pairs]
        q_wv = self.target_ if reverse else self.source_
        keys, words, r_keys, _ = self._side(reverse)
        cand = {w: i for i, w in enumerate(words)}
        gold: dict[str, set[int]] = defaultdict(set)
        sources = {s for s, _ in pairs}
        for s, t in pairs:
            if s in q_wv.key_to_index and t in cand:
                gold[s].add(cand[t])
        if not gold:
            raise InvalidInput("no pair of the evaluation dictionary has both words in the "
                               "vectors")
        qwords = sorted(gold)
        q = np.stack([self._query(w, reverse) for w in qwords])
        out: dict = {"pairs": len(pairs), "source_words": len(sources), "scored": len(qwords),
                     "coverage": len(qwords) / len(sources)}
        kmax = max(ks)
        for method in methods:
            if method not in ("csls", "nn"):
                raise InvalidInput(f"method must be 'csls' or 'nn', got {method!r}")
        cosines = q @ keys.T  # one product for every method
        for method in methods:
            sims = cosines
            if method == "csls":
                kk = min(self.csls_k, keys.shape[0])
                r_q = np.partition(sims, sims.shape[1] - kk, axis=1)[:, -kk:].mean(axis=1)
                sims = 2 * sims - r_q[:, None] - r_keys[None, :]
            top = np.argpartition(-sims, min(kmax, sims.shape[1] - 1), axis=1)[:, :kmax]
            order = np.take_along_axis(sims, top, 1).argsort(axis=1)[:, ::-1]
            top = np.take_along_axis(top, order, 1)
            for k in ks:
                hits = [bool(gold[w] & set(top[i, :k].tolist())) for i, w in enumerate(qwords)]
                out[f"{method}_p@{k}"] = float(np.mean(hits))
        return out

    # -------------------------------------------------------------------------- files
    def save(self, folder: str | os.PathLike, *, source_path=None, target_path=None) -> Path:
        """Save ``W`` and the means, with where the two vector folders are and their fingerprints.

        ``source_path`` / ``target_path`` default to where the vectors were loaded from.
        """
        self._check()
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InvalidInput(f"{folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        sides = {}
        for role, wv, given in (("source", self.source_, source_path),
                                ("target", self.target_, target_path)):
            path = given or getattr(wv, "path", None)
            if path is None:
                raise InvalidInput(f"the {role} vectors were not loaded from a folder; save them "
                                   f"(WordVectors.save) and pass {role}_path=")
            sides[role] = {"path": str(Path(path).resolve()), "name": wv.name, "dim": wv.dim,
                           "vocab_size": len(wv), "fingerprint": _fingerprint(wv)}
        _write_safetensors(folder / "mapping.safetensors",
                           {"W": np.ascontiguousarray(self.W_, dtype=np.float32),
                            "source_mean": self.source_mean_.astype(np.float32),
                            "target_mean": self.target_mean_.astype(np.float32)})
        meta = {"type": "word_mapping", "config": self.get_params(), **sides,
                "dictionary_size": self.dictionary_size_,
                "dictionary_coverage": self.dictionary_coverage_,
                "induced_pairs": self.induced_pairs_, "history": self.history_}
        tmp = folder / "embedkit.json.tmp"
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(folder / "embedkit.json")
        return folder

    def get_params(self) -> dict:
        return {"refine": self.refine, "refine_vocab": self.refine_vocab, "csls_k": self.csls_k,
                "max_vocab": self.max_vocab, "unsupervised_vocab": self.unsupervised_vocab,
                "unsupervised_iterations": self.unsupervised_iterations, "seed": self.seed}

    @classmethod
    def load(cls, folder: str | os.PathLike, *, source: WordVectors | None = None,
             target: WordVectors | None = None) -> WordMapping:
        """Load a saved map and its two vector folders (or the vectors given), checked by content."""
        folder = Path(folder)
        meta_path = folder / "embedkit.json"
        if not meta_path.is_file():
            raise InvalidInput(f"{folder} is not a word mapping folder (no embedkit.json)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{meta_path} is not valid JSON: {exc}") from None
        if meta.get("type") != "word_mapping":
            raise InvalidInput(f"{folder} holds a {meta.get('type')!r}, not a word mapping")
        tensors = _read_safetensors(folder / "mapping.safetensors", mmap=False)
        self = cls(**meta["config"])
        for role, given in (("source", source), ("target", target)):
            side = meta[role]
            if given is None:
                if not Path(side["path"]).is_dir():
                    raise InvalidInput(f"the {role} vectors of this map were at {side['path']}, "
                                       f"which no longer exists; pass {role}= to load")
                given = WordVectors.load(side["path"])
            if given.dim != side["dim"]:
                raise DimensionMismatch(f"the {role} vectors have dimension {given.dim}; this map "
                                        f"was fitted on dimension {side['dim']}")
            if _fingerprint(given) != side["fingerprint"]:
                raise InvalidInput(f"the {role} vectors ({given.name}, {len(given)} words) are not "
                                   f"the ones this map was fitted on ({side['name']}, "
                                   f"{side['vocab_size']} words)")
            setattr(self, f"{role}_", given)
        self.W_ = np.asarray(tensors["W"], dtype=np.float32)
        self.source_mean_ = np.asarray(tensors["source_mean"], dtype=np.float32)
        self.target_mean_ = np.asarray(tensors["target_mean"], dtype=np.float32)
        self._x = _unit(_unit(np.asarray(self.source_.vectors, np.float32)) - self.source_mean_)
        self._z = _unit(_unit(np.asarray(self.target_.vectors, np.float32)) - self.target_mean_)
        self.dictionary_size_ = meta["dictionary_size"]
        self.dictionary_coverage_ = meta["dictionary_coverage"]
        self.induced_pairs_ = meta["induced_pairs"]
        self.history_ = meta["history"]
        self._cache = {}
        return self


def _fingerprint(wv: WordVectors) -> str:
    """Content hash of a vocabulary and its dimension (which words, in which order)."""
    h = hashlib.sha256(str(wv.dim).encode())
    for w in wv.index_to_key:
        h.update(w.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:32]
