"""Intrinsic evaluation of word vectors: word similarity (Spearman) and analogies (accuracy).

>>> from embedkit.evaluate.words import evaluate_similarity, evaluate_analogies
>>> sim = evaluate_similarity(wv, "wordsim353.tsv")              # doctest: +SKIP
>>> sim.spearman, sim.oov_pairs                                    # doctest: +SKIP
>>> ana = evaluate_analogies(wv, "questions-words.txt", restrict_vocab=30000)  # doctest: +SKIP
>>> ana.to_dict()["semantic"]["accuracy"]                          # doctest: +SKIP

File formats:

* similarity: TSV with a header ``word1 word2 score`` (tabs or, without tabs, whitespace);
* analogy: ``questions-words.txt`` layout: ``: section`` lines, then ``a b c d`` lines
  (a : b :: c : d, predict d from b - a + c).

Sections whose name starts with ``gram`` (English) or ``syn`` (Korean) are syntactic, the others
semantic. Analogy questions are answered among the ``restrict_vocab`` most frequent words (as
gensim's ``restrict_vocab=30000``); a question with a word outside them is skipped and counted
in ``coverage``. Accuracy is over the questions attempted.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidInput

__all__ = ["evaluate_similarity", "evaluate_analogies", "SimilarityResult", "AnalogyResult",
           "SectionResult", "read_similarity", "read_analogies"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimilarityResult:
    """Spearman correlation between cosine similarity and human scores."""

    dataset: str
    spearman: float | None
    pearson: float | None
    pairs: int
    found_pairs: int
    oov_pairs: int
    oov_words: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        """Fraction of pairs with both words known."""
        return self.found_pairs / self.pairs if self.pairs else 0.0

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        d = asdict(self)
        d["coverage"] = self.coverage
        d["oov_words"] = self.oov_words[:50]
        return d


@dataclass(frozen=True)
class SectionResult:
    """Analogy accuracy of one section."""

    name: str
    correct: int
    attempted: int
    total: int

    @property
    def accuracy(self) -> float:
        """Correct / attempted (0 when nothing was attempted)."""
        return self.correct / self.attempted if self.attempted else 0.0

    @property
    def kind(self) -> str:
        """``"syntactic"`` or ``"semantic"``."""
        n = self.name.lower()
        return "syntactic" if n.startswith(("gram", "syn")) else "semantic"

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"name": self.name, "kind": self.kind, "correct": self.correct,
                "attempted": self.attempted, "total": self.total, "accuracy": self.accuracy}


def _group(sections: list[SectionResult]) -> dict:
    correct = sum(s.correct for s in sections)
    attempted = sum(s.attempted for s in sections)
    total = sum(s.total for s in sections)
    return {"correct": correct, "attempted": attempted, "total": total,
            "accuracy": correct / attempted if attempted else 0.0,
            "coverage": attempted / total if total else 0.0}


@dataclass(frozen=True)
class AnalogyResult:
    """Analogy accuracy per section, with semantic / syntactic / overall totals."""

    dataset: str
    method: str
    restrict_vocab: int | None
    sections: list[SectionResult]

    def _totals(self, kind: str | None) -> dict:
        return _group([s for s in self.sections if kind is None or s.kind == kind])

    @property
    def accuracy(self) -> float:
        """Overall accuracy over attempted questions."""
        return self._totals(None)["accuracy"]

    @property
    def coverage(self) -> float:
        """Fraction of questions attempted (all four words in the restricted vocabulary)."""
        return self._totals(None)["coverage"]

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"dataset": self.dataset, "method": self.method, "restrict_vocab": self.restrict_vocab,
                "total": self._totals(None), "semantic": self._totals("semantic"),
                "syntactic": self._totals("syntactic"),
                "sections": [s.to_dict() for s in self.sections]}


def _read_lines(path) -> tuple[Path, list[str]]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"No such evaluation file: {path}")
    try:
        return path, path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def read_similarity(path) -> list[tuple[str, str, float]]:
    """Read ``word1 word2 score`` rows (a header line is skipped)."""
    path, lines = _read_lines(path)
    rows = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) < 3:
            raise InvalidInput(f"{path}, line {lineno}: expected 'word1<TAB>word2<TAB>score', "
                               f"got {line[:80]!r}")
        try:
            score = float(parts[2])
        except ValueError:
            if lineno == 1 or not rows:
                continue  # header
            raise InvalidInput(f"{path}, line {lineno}: the score {parts[2]!r} is not a number") from None
        rows.append((parts[0].strip(), parts[1].strip(), score))
    if not rows:
        raise InvalidInput(f"{path} has no similarity pairs (expected 'word1<TAB>word2<TAB>score' lines)")
    return rows


def read_analogies(path) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Read a questions-words.txt file into ``[(section, [(a, b, c, d), ...]), ...]``."""
    path, lines = _read_lines(path)
    sections: list[tuple[str, list]] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.startswith(":"):
            sections.append((line[1:].strip(), []))
            continue
        parts = line.split()
        if len(parts) != 4:
            raise InvalidInput(f"{path}, line {lineno}: expected four words 'a b c d' or a ': section' "
                               f"line, got {line[:80]!r}")
        if not sections:
            sections.append(("default", []))
        sections[-1][1].append(tuple(parts))
    if not any(qs for _, qs in sections):
        raise InvalidInput(f"{path} has no analogy questions (expected questions-words.txt layout)")
    return sections


def _lookup(wv, word: str, lowercase: bool):
    if word in wv.key_to_index:
        return word
    if lowercase and word.lower() in wv.key_to_index:
        return word.lower()
    return None


def evaluate_similarity(wv, path: str | os.PathLike, *, lowercase: bool = True,
                        use_subwords: bool = False) -> SimilarityResult:
    """Spearman (and Pearson) correlation of cosine similarity with human scores.

    Pairs with a word outside the vocabulary are left out and counted in ``oov_pairs``, unless
    ``use_subwords`` and the model can build vectors for unseen words.
    """
    from scipy.stats import pearsonr, spearmanr

    rows = read_similarity(path)
    model, human, oov = [], [], []
    for w1, w2, score in rows:
        k1, k2 = _lookup(wv, w1, lowercase), _lookup(wv, w2, lowercase)
        if (k1 is None or k2 is None) and use_subwords and getattr(wv, "has_subwords", False):
            k1 = k1 or (w1.lower() if lowercase else w1)
            k2 = k2 or (w2.lower() if lowercase else w2)
        if k1 is None or k2 is None:
            oov.extend(w for w, k in ((w1, k1), (w2, k2)) if k is None)
            continue
        model.append(wv.similarity(k1, k2))
        human.append(score)
    found = len(model)
    if found >= 3:
        rho = float(spearmanr(model, human).statistic)
        r = float(pearsonr(model, human).statistic)
    else:
        rho = r = None
    return SimilarityResult(dataset=Path(path).name, spearman=rho, pearson=r, pairs=len(rows),
                            found_pairs=found, oov_pairs=len(rows) - found,
                            oov_words=sorted(set(oov)))


def evaluate_analogies(wv, path: str | os.PathLike, *, restrict_vocab: int | None = 30000,
                       method: str = "3cosadd", lowercase: bool = True,
                       batch_size: int = 512) -> AnalogyResult:
    """Analogy accuracy per section among the ``restrict_vocab`` most frequent words.

    The question words a, b, c are excluded from the answers (as gensim and word2vec's
    ``compute-accuracy``). ``method`` is ``"3cosadd"`` or ``"3cosmul"``.
    """
    if method not in ("3cosadd", "3cosmul"):
        raise InvalidInput(f"Invalid analogy method: {method!r}. Valid methods are: '3cosadd', '3cosmul'")
    if restrict_vocab is not None and (isinstance(restrict_vocab, bool) or not isinstance(
            restrict_vocab, int) or restrict_vocab < 1):
        raise InvalidInput(f"restrict_vocab must be a positive int or None, got {restrict_vocab!r}")
    sections = read_analogies(path)
    unit = wv.unit_vectors()
    n = len(unit) if restrict_vocab is None else min(restrict_vocab, len(unit))
    unit = np.ascontiguousarray(unit[:n])
    index = {w: i for i, w in enumerate(wv.index_to_key[:n])}
    if lowercase:
        for w, i in list(index.items()):
            index.setdefault(w.lower(), i)
    results = []
    for name, questions in sections:
        ids = []
        for q in questions:
            row = [index.get(w, index.get(w.lower()) if lowercase else None) for w in q]
            if all(r is not None for r in row):
                ids.append(row)
        correct = 0
        if ids:
            arr = np.asarray(ids, dtype=np.int64)
            for start in range(0, len(arr), batch_size):
                b = arr[start:start + batch_size]
                va, vb, vc = unit[b[:, 0]], unit[b[:, 1]], unit[b[:, 2]]
                if method == "3cosadd":
                    scores = (vb - va + vc) @ unit.T
                else:
                    sa = (va @ unit.T + 1.0) / 2.0
                    sb = (vb @ unit.T + 1.0) / 2.0
                    sc = (vc @ unit.T + 1.0) / 2.0
                    scores = sb * sc / (sa + 1e-3)
                rows = np.arange(len(b))
                for col in range(3):
                    scores[rows, b[:, col]] = -np.inf
                correct += int((scores.argmax(axis=1) == b[:, 3]).sum())
        results.append(SectionResult(name=name, correct=correct, attempted=len(ids),
                                     total=len(questions)))
        log.debug("analogy section %s: %d/%d", name, correct, len(ids))
    return AnalogyResult(dataset=Path(path).name, method=method, restrict_vocab=restrict_vocab,
                         sections=results)
