"""WordVectors: a vocabulary and its matrix, with neighbours, analogies and subword fallback.

>>> import numpy as np
>>> wv = WordVectors(["king", "queen", "man", "woman"],
...                  np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
>>> wv.analogy("man", "king", "woman")[0][0]
'queen'
>>> "king" in wv, "rook" in wv
(True, False)

A WordVectors is also an :class:`~embedkit.encoder.Encoder` of modality ``"word"``: ``encode``
maps each item (a word, or a sentence) to one row; a sentence is the SIF-weighted mean
(weight ``a / (a + p(w))``, Arora et al. 2017, without the common-component removal) of the
vectors of its known words.

Saved as a folder (:meth:`save` / :meth:`load`): ``embedkit.json`` (type, version, dim, subword
settings, training configuration), ``vocab.json`` (words and counts) and ``vectors.safetensors``
(or ``vectors.npy`` + ``ngram_vectors.npy``), plus ``subword_tokenizer.json`` when the subword
units are a tokenizer's pieces. Both kinds of vector file are memory-mapped on load. No pickle
anywhere.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..encoder import BaseEncoder
from ..errors import InvalidInput, ModelNotFound

__all__ = ["WordVectors", "UnknownWord"]

log = logging.getLogger(__name__)

SIF_A = 1e-3
_FORMATS = ("safetensors", "npy")
#: The file a pieces model keeps its subword tokenizer in (tokenizer.json format).
PIECES_FILE = "subword_tokenizer.json"


class UnknownWord(InvalidInput, KeyError):
    """A word is not in the vocabulary and the model has no subword n-grams to build it from."""

    def __init__(self, word: str, model: str = ""):
        self.word = word
        where = f" of {model!r}" if model else ""
        super().__init__(f"{word!r} is not in the vocabulary{where} and the model has no subword "
                         "n-grams to build a vector for it (train with FastText / --subword for that)")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def _version() -> str:
    from .. import __version__

    return __version__


class WordVectors(BaseEncoder):
    """Word vectors: ``words[i]`` has the vector ``vectors[i]``.

    Args:
        words: the vocabulary, most frequent first (as trainers produce it).
        vectors: float32 array (len(words), dim).
        counts: corpus counts of the words (used for SIF weights and ``restrict_vocab``).
        ngram_vectors: hashed n-gram rows (buckets, dim), for vectors of unseen words.
        subword: ``{"min_n", "max_n", "buckets", "korean_jamo"}`` (character n-grams) or
            ``{"pieces", "buckets"}`` (a tokenizer's pieces; ``pieces`` is its tokenizer.json
            text) when ``ngram_vectors`` is given.
        config: training configuration, saved with the model.
        name: identifies the model (a saved model's folder name by default).
    """

    modality = "word"
    default_normalize = False

    def __init__(self, words: Sequence[str], vectors: np.ndarray, *, counts=None,
                 ngram_vectors: np.ndarray | None = None, subword: dict | None = None,
                 config: dict | None = None, name: str = "word-vectors"):
        words = [w if type(w) is str else str(w) for w in words]
        if not isinstance(vectors, np.ndarray):  # keep np.memmap as it is
            vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise InvalidInput(f"vectors must have shape (len(words), dim) = ({len(words)}, dim), "
                               f"got {vectors.shape}")
        if vectors.dtype != np.float32:
            vectors = vectors.astype(np.float32)
        if len(set(words)) != len(words):
            seen, dup = set(), None
            for w in words:
                if w in seen:
                    dup = w
                    break
                seen.add(w)
            raise InvalidInput(f"the vocabulary has the word {dup!r} more than once")
        if (ngram_vectors is None) != (subword is None):
            raise InvalidInput("ngram_vectors and subword must be given together")
        if ngram_vectors is not None and (ngram_vectors.ndim != 2 or ngram_vectors.shape[1]
                                          != vectors.shape[1]):
            raise InvalidInput(f"ngram_vectors must have shape (buckets, {vectors.shape[1]}), "
                               f"got {ngram_vectors.shape}")
        self.index_to_key = words
        self.key_to_index = {w: i for i, w in enumerate(words)}
        self.vectors = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        if self.counts is not None and self.counts.shape != (len(words),):
            raise InvalidInput(f"counts must have one entry per word ({len(words)}), "
                               f"got shape {self.counts.shape}")
        self.ngram_vectors = ngram_vectors
        self.subword = dict(subword) if subword else None
        self.config = dict(config or {})
        self.name = name
        self.dim = int(vectors.shape[1])
        self._unit: np.ndarray | None = None
        self._tokenizer = None
        #: The folder the vectors were loaded from (None when built in memory).
        self.path: Path | None = None

    # ------------------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word) -> bool:
        return word in self.key_to_index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.get_vector(word)

    @property
    def has_subwords(self) -> bool:
        """Whether vectors can be built for words outside the vocabulary."""
        return self.ngram_vectors is not None

    def _subword_vector(self, word: str) -> np.ndarray | None:
        from .ngrams import subword_rows

        rows = subword_rows(word, self.subword)
        if not rows:
            return None
        return np.asarray(self.ngram_vectors[rows], dtype=np.float32).mean(axis=0)

    def get_vector(self, word: str, *, normalize: bool = False) -> np.ndarray:
        """The vector of ``word``; from its n-grams if unseen and the model has them.

        Raises:
            UnknownWord: (an InvalidInput and a KeyError) naming the word otherwise.
        """
        if not isinstance(word, str):
            raise InvalidInput(f"a word must be a str, got {type(word).__name__}")
        i = self.key_to_index.get(word)
        if i is not None:
            v = np.array(self.vectors[i], dtype=np.float32)
        else:
            v = self._subword_vector(word) if self.has_subwords else None
            if v is None:
                raise UnknownWord(word, self.name)
        if normalize:
            n = np.linalg.norm(v)
            if n > 0:
                v = v / n
        return v

    def unit_vectors(self) -> np.ndarray:
        """The L2-normalised matrix (computed once)."""
        if self._unit is None:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            self._unit = (self.vectors / norms).astype(np.float32)
        return self._unit

    # --------------------------------------------------------------------------- queries
    def _as_list(self, words, what: str) -> list[str]:
        if words is None:
            return []
        if isinstance(words, str):
            return [words]
        if not isinstance(words, Iterable):
            raise InvalidInput(f"{what} must be a word or a list of words, got {type(words).__name__}")
        return list(words)

    def _top(self, scores: np.ndarray, topn: int, exclude: Iterable[int]) -> list[tuple[str, float]]:
        scores = scores.astype(np.float64, copy=True)
        for i in exclude:
            if 0 <= i < len(scores):
                scores[i] = -np.inf
        topn = min(topn, len(scores))
        if topn <= 0:
            return []
        idx = np.argpartition(-scores, topn - 1)[:topn]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(self.index_to_key[i], float(scores[i])) for i in idx if np.isfinite(scores[i])]

    def _limit(self, restrict_vocab):
        unit = self.unit_vectors()
        if restrict_vocab is None:
            return unit
        if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, int) or restrict_vocab < 1:
            raise InvalidInput(f"restrict_vocab must be a positive int or None, got {restrict_vocab!r}")
        return unit[:restrict_vocab]

    @staticmethod
    def _check_topn(topn):
        if isinstance(topn, bool) or not isinstance(topn, int) or topn < 1:
            raise InvalidInput(f"topn must be a positive int, got {topn!r}")

    def most_similar(self, positive=None, negative=None, *, topn: int = 10,
                     restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Words closest (cosine) to the mean of ``positive`` minus ``negative`` unit vectors.

        The query words themselves are excluded. ``restrict_vocab`` limits candidates to the
        first (most frequent) N words.
        """
        self._check_topn(topn)
        pos = self._as_list(positive, "positive")
        neg = self._as_list(negative, "negative")
        if not pos and not neg:
            raise InvalidInput("most_similar needs at least one word in positive or negative")
        query = np.zeros(self.dim, dtype=np.float32)
        for w in pos:
            query += self.get_vector(w, normalize=True)
        for w in neg:
            query -= self.get_vector(w, normalize=True)
        query /= max(float(np.linalg.norm(query)), 1e-12)
        unit = self._limit(restrict_vocab)
        exclude = [self.key_to_index[w] for w in pos + neg if w in self.key_to_index]
        return self._top(unit @ query, topn, exclude)

    def similar_by_vector(self, vector, *, topn: int = 10) -> list[tuple[str, float]]:
        """Words closest (cosine) to a vector."""
        self._check_topn(topn)
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            from ..errors import DimensionMismatch

            raise DimensionMismatch(f"vector has {v.shape[0]} dimensions, the model has {self.dim}")
        v = v / max(float(np.linalg.norm(v)), 1e-12)
        return self._top(self.unit_vectors() @ v, topn, ())

    def analogy(self, a: str, b: str, c: str, *, method: str = "3cosadd", topn: int = 1,
                restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Answer a : b :: c : ? (e.g. man : king :: woman : queen), excluding a, b and c.

        ``method="3cosadd"`` ranks by cos(x, b) - cos(x, a) + cos(x, c) (Mikolov et al.);
        ``"3cosmul"`` by cos'(x, b) cos'(x, c) / (cos'(x, a) + 0.001) with cos' = (cos + 1) / 2
        (Levy and Goldberg, 2014).
        """
        self._check_topn(topn)
        method = method.lower() if isinstance(method, str) else method
        if method not in ("3cosadd", "3cosmul"):
            raise InvalidInput(f"Invalid analogy method: {method!r}. Valid methods are: "
                               "'3cosadd', '3cosmul'")
        va, vb, vc = (self.get_vector(w, normalize=True) for w in (a, b, c))
        unit = self._limit(restrict_vocab)
        if method == "3cosadd":
            scores = unit @ (vb - va + vc)
        else:
            sa, sb, sc = ((unit @ v + 1.0) / 2.0 for v in (va, vb, vc))
            scores = sb * sc / (sa + 1e-3)
        exclude = [self.key_to_index[w] for w in (a, b, c) if w in self.key_to_index]
        return self._top(scores, topn, exclude)

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words."""
        return float(self.get_vector(word1, normalize=True) @ self.get_vector(word2, normalize=True))

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of the others' unit vectors."""
        words = self._as_list(words, "words")
        if len(words) < 2:
            raise InvalidInput("doesnt_match needs at least two words")
        m = np.stack([self.get_vector(w, normalize=True) for w in words])
        mean = m.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        return words[int(np.argmin(m @ mean))]

    # ---------------------------------------------------------------------------- encoder
    def _tokens(self, item: str) -> list[str]:
        if item in self.key_to_index:
            return [item]
        if self._tokenizer is None:
            from .tokenize import get_tokenizer

            spec = self.config.get("tokenizer", "english")
            self._tokenizer = get_tokenizer(spec if spec in ("english", "whitespace", "korean")
                                            else "english")
        tokens = self._tokenizer(item)
        if not tokens and item.strip():
            tokens = [item.strip()]
        return tokens

    def _weights(self) -> np.ndarray | None:
        if self.counts is None:
            return None
        p = self.counts / max(int(self.counts.sum()), 1)
        return (SIF_A / (SIF_A + p)).astype(np.float32)

    def _encode_batch(self, items: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        weights = self._weights()
        for r, item in enumerate(items):
            tokens = self._tokens(item)
            total, acc = 0.0, np.zeros(self.dim, dtype=np.float32)
            for t in tokens:
                i = self.key_to_index.get(t)
                if i is not None:
                    wgt = 1.0 if weights is None else float(weights[i])
                    acc += wgt * self.vectors[i]
                    total += wgt
                elif self.has_subwords:
                    v = self._subword_vector(t)
                    if v is not None:  # unseen, so rarer than any known word: full SIF weight
                        acc += v
                        total += 1.0
            if total == 0.0:
                if len(tokens) <= 1:
                    raise UnknownWord(item, self.name)
                raise InvalidInput(f"item {r} ({item[:60]!r}) has no word in the vocabulary of "
                                   f"{self.name!r}")
            out[r] = acc / total
        return out

    # ------------------------------------------------------------------------------ files
    def save(self, folder: str | os.PathLike, *, format: str = "safetensors") -> Path:
        """Save to a folder: ``embedkit.json``, ``vocab.json`` and the vectors (no pickle)."""
        if format not in _FORMATS:
            raise InvalidInput(f"Invalid vectors format: {format!r}. Valid formats are: "
                               f"{', '.join(_FORMATS)}")
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InvalidInput(f"{folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"vectors": np.ascontiguousarray(self.vectors, dtype=np.float32)}
        if self.ngram_vectors is not None:
            tensors["ngram_vectors"] = np.ascontiguousarray(self.ngram_vectors, dtype=np.float32)
        for stale in ("vectors.safetensors", "vectors.npy", "ngram_vectors.npy"):
            (folder / stale).unlink(missing_ok=True)
        if format == "safetensors":
            _write_safetensors(folder / "vectors.safetensors", tensors)
        else:
            for key, arr in tensors.items():
                np.save(folder / f"{key}.npy", arr, allow_pickle=False)
        vocab = {"words": self.index_to_key,
                 "counts": None if self.counts is None else self.counts.tolist()}
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        subword = self.subword
        (folder / PIECES_FILE).unlink(missing_ok=True)
        if subword and subword.get("pieces"):  # the tokenizer in its own file, named in the meta
            (folder / PIECES_FILE).write_text(subword["pieces"], encoding="utf-8")
            subword = {**subword, "pieces": PIECES_FILE}
        meta = {"type": "word_vectors", "embedkit_version": _version(), "format": format,
                "dim": self.dim, "vocab_size": len(self), "subword": subword,
                "config": _jsonable(self.config)}
        (folder / "embedkit.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2),
                                              encoding="utf-8")
        log.info("saved %d word vectors to %s", len(self), folder)
        self.path = folder.resolve()
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, *, mmap: bool = True, name: str | None = None,
             **options) -> WordVectors:
        """Load a folder written by :meth:`save` (vectors memory-mapped unless ``mmap=False``)."""
        if options:
            raise InvalidInput(f"WordVectors.load got unknown options: {', '.join(sorted(options))}; "
                               "valid options are mmap, name")
        folder = Path(folder)
        marker = folder / "embedkit.json"
        if not marker.is_file():
            raise ModelNotFound(f"{folder} is not a saved word-vectors model (no embedkit.json)")
        try:
            meta = json.loads(marker.read_text(encoding="utf-8"))
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            words = vocab["words"]
            counts = vocab.get("counts")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelNotFound(f"{folder} is not a readable word-vectors model: {exc}") from exc
        if meta.get("type") != "word_vectors":
            raise ModelNotFound(f"{folder} holds a {meta.get('type')!r} model, not word_vectors")
        fmt = meta.get("format", "safetensors")
        mode = "r" if mmap else None
        if fmt == "safetensors":
            tensors = _read_safetensors(folder / "vectors.safetensors", mmap=mmap)
        elif fmt == "npy":
            tensors = {}
            for key in ("vectors", "ngram_vectors"):
                path = folder / f"{key}.npy"
                if path.is_file():
                    try:
                        tensors[key] = np.load(path, mmap_mode=mode, allow_pickle=False)
                    except ValueError as exc:
                        raise InvalidInput(f"{path} is not a valid .npy file: {exc}") from exc
        else:
            raise ModelNotFound(f"{marker}: unknown vectors format {fmt!r}")
        if "vectors" not in tensors:
            raise ModelNotFound(f"{folder} has no vectors")
        subword = meta.get("subword")
        if subword and subword.get("pieces"):
            try:
                subword = {**subword, "pieces": (folder / PIECES_FILE).read_text(encoding="utf-8")}
            except OSError as exc:
                raise ModelNotFound(f"{folder}: the subword tokenizer {PIECES_FILE} is missing or "
                                    f"unreadable ({exc})") from exc
        wv = cls(words, tensors["vectors"], counts=counts, ngram_vectors=tensors.get("ngram_vectors"),
                 subword=subword, config=meta.get("config") or {},
                 name=name or folder.resolve().name)
        wv.path = folder.resolve()
        return wv


def _jsonable(obj):
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        if isinstance(obj, dict):
            return {str(k): _jsonable(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [_jsonable(v) for v in obj]
        return repr(obj)


# -------------------------------------------------------------- safetensors (memory-mapped)
_ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header, offset = {}, 0
    for key, arr in tensors.items():
        header[key] = {"dtype": "F32", "shape": list(arr.shape),
                       "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    header["__metadata__"] = {"format": "np", "writer": "embedkit"}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # 8-byte aligned data, so the arrays can be memory-mapped
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(len(raw).to_bytes(8, "little"))
        fh.write(raw)
        for arr in tensors.values():
            fh.write(np.ascontiguousarray(arr, dtype="<f4").tobytes())
    os.replace(tmp, path)


def _read_safetensors(path: Path, *, mmap: bool) -> dict[str, np.ndarray]:
    """Read a safetensors file by its documented layout; arrays are memory-mapped views."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if n <= 0 or 8 + n > size:
                raise ValueError("header length is out of range")
            header = json.loads(fh.read(n).decode("utf-8"))
    except FileNotFoundError as exc:
        raise ModelNotFound(f"{path} is missing") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not a valid safetensors file: {exc}") from exc
    out = {}
    base = 8 + n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(info.get("dtype"))
        start, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if dtype is None or base + end > size or end - start != int(np.prod(shape)) * np.dtype(dtype).itemsize:
            raise InvalidInput(f"{path}: tensor {key!r} is truncated or has an unsupported layout "
                               f"(dtype {info.get('dtype')}, shape {shape}, file size {size})")
        if mmap:
            arr = np.memmap(path, dtype=np.dtype(dtype).newbyteorder("<"), mode="r",
                            offset=base + start, shape=shape)
        else:
            with open(path, "rb") as fh:
                fh.seek(base + start)
                arr = np.frombuffer(fh.read(end - start), dtype=np.dtype(dtype).newbyteorder("<"))
                arr = arr.reshape(shape)
        out[key] = arr
    return out


