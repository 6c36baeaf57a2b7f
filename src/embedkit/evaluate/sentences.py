"""Sentence-embedding evaluation for any Encoder: STS, retrieval and pair classification.

Every function returns one :class:`EvalResult` (task, model, dataset, size, metrics, seconds), which
prints as a table and serialises to JSON.

>>> import embedkit
>>> from embedkit.evaluate.sentences import evaluate_sts
>>> result = evaluate_sts(embedkit.load(), "sts-dev.tsv")        # doctest: +SKIP
>>> print(result.table())                                          # doctest: +SKIP

Formats (UTF-8; TSV files are split on tabs, no quoting):

* **STS**: a TSV with a header that names the columns ``score``, ``sentence1`` and ``sentence2``
  (the STS-B and KorSTS files: ``genre filename year id score sentence1 sentence2``). The gold
  score is any real scale (0-5 for STS-B).
* **Pairs**: a TSV with a header that names ``sentence1``, ``sentence2`` and ``label`` (0 or 1;
  1 = the pair is a match: paraphrase, duplicate, translation ...).
* **Retrieval**: a BEIR-style folder with ``corpus.jsonl`` (``{"_id", "text", "title"?}`` per
  line), ``queries.jsonl`` (``{"_id", "text"}``) and relevance judgements in ``qrels/<split>.tsv``
  or ``qrels.tsv`` (``query-id corpus-id score``, header optional; score > 0 is relevant, higher
  is more relevant for nDCG).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..encoder import encode_as
from ..errors import InvalidInput, require

__all__ = [
    "EvalResult",
    "StsData",
    "PairData",
    "RetrievalData",
    "read_sts",
    "read_pairs",
    "read_retrieval",
    "evaluate_sts",
    "evaluate_pairs",
    "evaluate_retrieval",
    "spearman",
    "pearson",
    "DEFAULT_KS",
]

log = logging.getLogger(__name__)

DEFAULT_KS = (1, 5, 10, 100)


@dataclass(frozen=True)
class EvalResult:
    """The one result shape of every evaluation."""

    task: str
    model: str
    dataset: str
    n: int
    metrics: dict[str, float]
    seconds: float
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)

    def table(self) -> str:
        """A readable two-column table of the metrics."""
        head = (f"{self.task} | model {self.model} | {self.dataset} | n={self.n} | "
                f"{self.seconds:.1f}s")
        width = max([len(k) for k in self.metrics] + [6])
        lines = [head, f"{'metric':<{width}}  value", f"{'-' * width}  ------"]
        lines += [f"{k:<{width}}  {v:.4f}" for k, v in self.metrics.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class StsData:
    """Sentence pairs with gold similarity scores."""

    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray
    name: str = "sts"


@dataclass(frozen=True)
class PairData:
    """Sentence pairs with 0/1 labels."""

    sentences1: list[str]
    sentences2: list[str]
    labels: np.ndarray
    name: str = "pairs"


@dataclass(frozen=True)
class RetrievalData:
    """Queries, a corpus and relevance judgements (query id -> {doc id: grade})."""

    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, dict[str, float]]
    name: str = "retrieval"


# -- readers ---------------------------------------------------------------------------------------


def _read_tsv(path, required: tuple[str, ...], what: str) -> tuple[list[list[str]], dict[str, int]]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"no {what} file at {path}")
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if not lines:
        raise InvalidInput(
            f"{path} is empty; expected a header with the columns {', '.join(required)}"
        )
    header = [h.strip().lower() for h in lines[0].split("\t")]
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidInput(
            f"{path} must be a TSV whose header names the columns {', '.join(required)}; "
            f"missing {', '.join(missing)} (header was: {lines[0][:200]!r})"
        )
    cols = {c: header.index(c) for c in required}
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) <= max(cols.values()):
            raise InvalidInput(f"{path}, line {number}: expected {len(header)} tab-separated "
                               f"columns, got {len(parts)}")
        rows.append((number, [parts[cols[c]] for c in required]))
    if not rows:
        raise InvalidInput(f"{path} has a header but no rows")
    return rows, cols


def _number(path, line: int, column: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise InvalidInput(
            f"{path}, line {line}: {column} must be a number, got {value!r}"
        ) from None
    if not math.isfinite(x):
        raise InvalidInput(f"{path}, line {line}: {column} must be finite, got {value!r}")
    return x


def read_sts(path) -> StsData:
    """Read an STS-B / KorSTS style TSV (columns ``score``, ``sentence1``, ``sentence2``)."""
    rows, _ = _read_tsv(path, ("score", "sentence1", "sentence2"), "STS")
    scores = np.array([_number(path, n, "score", r[0]) for n, r in rows], dtype=np.float64)
    return StsData([r[1] for _, r in rows], [r[2] for _, r in rows], scores, Path(path).name)


def read_pairs(path) -> PairData:
    """Read a pair-classification TSV (columns ``sentence1``, ``sentence2``, ``label`` 0/1)."""
    rows, _ = _read_tsv(path, ("sentence1", "sentence2", "label"), "pairs")
    labels = []
    for n, r in rows:
        if r[2].strip() not in ("0", "1"):
            raise InvalidInput(f"{path}, line {n}: label must be 0 or 1, got {r[2]!r}")
        labels.append(int(r[2]))
    return PairData([r[0] for _, r in rows], [r[1] for _, r in rows], np.array(labels),
                    Path(path).name)


def _read_jsonl(path: Path, what: str) -> dict[str, str]:
    if not path.is_file():
        raise InvalidInput(f"the retrieval folder has no {path.name} ({what}); expected {path}")
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                key = str(obj.get("_id", obj.get("id")))
                text = obj["text"]
            except (ValueError, KeyError, AttributeError, TypeError):
                raise InvalidInput(
                    f"{path}, line {number}: expected a JSON object with '_id' (or 'id') and 'text'"
                ) from None
            title = obj.get("title") or ""
            out[key] = f"{title}. {text}" if title else str(text)
    if not out:
        raise InvalidInput(f"{path} has no {what}")
    return out


def read_retrieval(folder, *, split: str = "test") -> RetrievalData:
    """Read a BEIR-style folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInput(f"no retrieval folder at {folder}")
    corpus = _read_jsonl(folder / "corpus.jsonl", "documents")
    queries = _read_jsonl(folder / "queries.jsonl", "queries")
    qrels_path = next((p for p in (folder / "qrels" / f"{split}.tsv", folder / "qrels.tsv")
                       if p.is_file()), None)
    if qrels_path is None:
        raise InvalidInput(f"{folder} has no relevance judgements: expected qrels/{split}.tsv or "
                           "qrels.tsv with the columns query-id, corpus-id, score")
    qrels: dict[str, dict[str, float]] = {}
    with open(qrels_path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            parts = line.rstrip("\n").split("\t")
            is_header = number == 1 and parts[0].strip().lower() in ("query-id", "qid")
            if not line.strip() or is_header:
                continue
            if len(parts) < 3:
                raise InvalidInput(
                    f"{qrels_path}, line {number}: expected query-id, corpus-id, score"
                )
            grade = _number(qrels_path, number, "score", parts[2])
            if grade > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = grade
    unknown_q = [q for q in qrels if q not in queries]
    unknown_d = {d for rel in qrels.values() for d in rel if d not in corpus}
    if unknown_q or unknown_d:
        log.warning("%s: %d judged queries and %d judged documents are missing from the files; "
                    "they are ignored", qrels_path, len(unknown_q), len(unknown_d))
    qrels = {q: {d: g for d, g in rel.items() if d in corpus} for q, rel in qrels.items()
             if q in queries}
    qrels = {q: rel for q, rel in qrels.items() if rel}
    if not qrels:
        raise InvalidInput(
            f"{qrels_path} judges no query of queries.jsonl as relevant to any document"
        )
    return RetrievalData(queries, corpus, qrels, folder.name)


# -- statistics ------------------------------------------------------------------------------------


def _rank(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), like scipy.stats.rankdata."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def pearson(a, b) -> float:
    """Pearson correlation (0.0 when either side is constant)."""
    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b / denom) if denom > 0 else 0.0


def spearman(a, b) -> float:
    """Spearman rank correlation with average ranks for ties."""
    return pearson(_rank(a), _rank(b))


def _encoder_name(encoder) -> str:
    return str(getattr(encoder, "name", "") or type(encoder).__name__)


def _encode_unique(encoder, texts: list[str], batch_size: int,
                   progress) -> tuple[np.ndarray, list[int]]:
    """Encode each distinct text once (normalised); return the matrix and each text's row.

    Pairs are a symmetric task: both sides are encoded as queries (E5's "query: " prompt), as the
    E5 authors recommend for similarity.
    """
    index: dict[str, int] = {}
    rows = [index.setdefault(t, len(index)) for t in texts]
    vecs = np.asarray(encode_as(encoder, list(index), "query", batch_size=batch_size, normalize=True,
                                progress=progress), dtype=np.float32)
    return vecs, rows


def _check_encoder(encoder) -> None:
    if isinstance(encoder, (str, bytes)) or not callable(getattr(encoder, "encode", None)):
        raise InvalidInput(f"encoder must be an embedkit Encoder with an encode() method, got "
                           f"{type(encoder).__name__}; for a model name use embedkit.load(name)")


def _pair_cosines(encoder, s1, s2, batch_size, progress) -> np.ndarray:
    vecs, rows = _encode_unique(encoder, list(s1) + list(s2), batch_size, progress)
    a = vecs[rows[:len(s1)]]
    b = vecs[rows[len(s1):]]
    return (a * b).sum(axis=1)


# -- tasks -----------------------------------------------------------------------------------------


def evaluate_sts(encoder, data, *, batch_size: int = 32, progress: bool | None = None,
                 plot: str | os.PathLike | None = None) -> EvalResult:
    """Spearman (and Pearson) correlation between cosine similarities and gold scores (range -1..1).

    ``data`` is a path to an STS TSV or an :class:`StsData`. ``plot`` writes a PNG scatter plot of
    cosine against gold (needs matplotlib).
    """
    _check_encoder(encoder)
    if not isinstance(data, StsData):
        data = read_sts(data)
    started = time.perf_counter()
    cos = _pair_cosines(encoder, data.sentences1, data.sentences2, batch_size, progress)
    metrics = {"spearman": spearman(cos, data.scores), "pearson": pearson(cos, data.scores)}
    result = EvalResult("sts", _encoder_name(encoder), data.name, len(cos), metrics,
                        time.perf_counter() - started)
    if plot is not None:
        _scatter(plot, data.scores, cos, f"{result.model} on {data.name}: "
                 f"Spearman {metrics['spearman']:.4f}")
    return result


def _scatter(path, gold, cos, title: str) -> None:
    require("matplotlib", "plot", "plotting evaluation results")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(gold, cos, s=4, alpha=0.4)
    ax.set_xlabel("gold score")
    ax.set_ylabel("cosine similarity")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(os.fspath(path))


def _best_threshold(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order].astype(np.float64)
    n, pos = len(y), float(y.sum())
    tp = np.cumsum(y)                      # predicting "match" for the top i+1 scores
    fp = np.cumsum(1 - y)
    # only cut between distinct scores
    last = np.r_[s[1:] != s[:-1], True]
    tp_c, fp_c, s_c = tp[last], fp[last], s[last]
    tn_c = (n - pos) - fp_c
    acc = np.r_[(n - pos) / n, (tp_c + tn_c) / n]   # first entry: predict nothing as a match
    thresholds = np.r_[np.inf, s_c]
    f1 = np.where(tp_c > 0, 2 * tp_c / (tp_c + fp_c + pos), 0.0)
    # average precision with tied scores grouped (as scikit-learn computes it)
    recall_c = tp_c / pos if pos else np.zeros_like(tp_c)
    ap = float((np.diff(np.r_[0.0, recall_c]) * (tp_c / (tp_c + fp_c))).sum()) if pos else 0.0
    i, j = int(np.argmax(acc)), int(np.argmax(f1))
    return {"accuracy": float(acc[i]), "accuracy_threshold": float(thresholds[i]),
            "f1": float(f1[j]), "f1_threshold": float(s_c[j]),
            "precision": float(tp_c[j] / (tp_c[j] + fp_c[j])) if tp_c[j] else 0.0,
            "recall": float(tp_c[j] / pos) if pos else 0.0, "average_precision": ap}


def evaluate_pairs(encoder, data, *, batch_size: int = 32,
                   progress: bool | None = None) -> EvalResult:
    """Pair classification from cosine: best-threshold accuracy and F1, and average precision.

    The thresholds are chosen on the same data (as in MTEB): report them, and fix them on a
    development split before trusting them on new data.
    """
    _check_encoder(encoder)
    if not isinstance(data, PairData):
        data = read_pairs(data)
    started = time.perf_counter()
    cos = _pair_cosines(encoder, data.sentences1, data.sentences2, batch_size, progress)
    metrics = _best_threshold(cos.astype(np.float64), np.asarray(data.labels))
    return EvalResult("pairs", _encoder_name(encoder), data.name, len(cos), metrics,
                      time.perf_counter() - started,
                      {"positives": int(np.sum(data.labels))})


def _top_k(q: np.ndarray, d: np.ndarray, k: int, block: int = 256) -> np.ndarray:
    k = min(k, len(d))
    out = np.empty((len(q), k), dtype=np.int64)
    for start in range(0, len(q), block):
        sims = q[start:start + block] @ d.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part_sims = np.take_along_axis(sims, part, axis=1)
        out[start:start + block] = np.take_along_axis(part, np.argsort(-part_sims, axis=1,
                                                                       kind="mergesort"), axis=1)
    return out


def evaluate_retrieval(encoder, data, *, ks=DEFAULT_KS, split: str = "test", batch_size: int = 32,
                       progress: bool | None = None) -> EvalResult:
    """Dense retrieval by cosine: recall@k for each k, MRR@10 and nDCG@10 (linear gains).

    ``data`` is a BEIR-style folder (see the module docstring) or a :class:`RetrievalData`.
    Queries without any relevant document are skipped.
    """
    _check_encoder(encoder)
    ks = tuple(sorted({int(k) for k in ks}))
    if not ks or ks[0] <= 0:
        raise InvalidInput(f"ks must be positive integers, got {ks!r}")
    if not isinstance(data, RetrievalData):
        data = read_retrieval(data, split=split)
    started = time.perf_counter()
    qids = list(data.qrels)
    doc_ids = list(data.corpus)
    docs = np.asarray(encode_as(encoder, [data.corpus[d] for d in doc_ids], "document",
                                batch_size=batch_size, normalize=True, progress=progress),
                      dtype=np.float32)
    queries = np.asarray(encode_as(encoder, [data.queries[q] for q in qids], "query",
                                   batch_size=batch_size, normalize=True, progress=progress),
                         dtype=np.float32)
    top = _top_k(queries, docs, max(max(ks), 10))
    recall = {k: 0.0 for k in ks}
    mrr = ndcg = 0.0
    for row, q in enumerate(qids):
        rel = data.qrels[q]
        ranked = [doc_ids[i] for i in top[row]]
        for k in ks:
            recall[k] += sum(1 for d in ranked[:k] if d in rel) / len(rel)
        first = next((i for i, d in enumerate(ranked[:10]) if d in rel), None)
        mrr += 0.0 if first is None else 1.0 / (first + 1)
        dcg = sum(rel.get(d, 0.0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
        ideal = sorted(rel.values(), reverse=True)[:10]
        ndcg += dcg / sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    n = len(qids)
    metrics = {f"recall@{k}": recall[k] / n for k in ks}
    metrics["mrr@10"] = mrr / n
    metrics["ndcg@10"] = ndcg / n
    return EvalResult("retrieval", _encoder_name(encoder), data.name, n, metrics,
                      time.perf_counter() - started, {"documents": len(doc_ids)})
