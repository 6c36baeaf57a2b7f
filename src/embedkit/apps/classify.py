"""Text classification and graded sentiment on any embedkit Encoder.

>>> from embedkit.apps.classify import TextClassifier                       # doctest: +SKIP
>>> clf = TextClassifier(model="multilingual-e5-small").fit(
...     ["정말 재미있어요", "최악의 영화", "a great film", "boring and long", ...],
...     ["pos", "neg", "pos", "neg", ...])
>>> clf.predict(["너무 지루했다"]), clf.predict_proba(["너무 지루했다"])           # doctest: +SKIP
(['neg'], array([[0.93, 0.07]]))
>>> stars = TextClassifier(task="graded").fit(reviews, ratings)           # doctest: +SKIP
>>> stars.predict(["연기는 좋았는데 스토리가 아쉽다"])                           # doctest: +SKIP
array([6.4])
>>> clf.save("sentiment/"); TextClassifier.load("sentiment/")              # doctest: +SKIP

Tasks (``task``): ``"binary"`` and ``"multiclass"`` predict a label with probabilities,
``"graded"`` predicts a score (ratings, stars: a regression, clipped to the range seen in
training, or ``score_range``); ``"auto"`` is ``binary`` for two labels and ``multiclass`` for
more (a graded task is never guessed: numbers can be class names).

Heads (``head``), each one scikit-learn model on one or two views of the text:

- ``"linear"``: logistic regression (graded: ridge regression) on the encoder's frozen unit
  vectors, with the model's ``query`` prompt where it has one (E5's recommendation for
  classification);
- ``"tfidf"``: the same on TF-IDF of word 1-2-grams and character 1-4-grams (no encoder);
- ``"hybrid"``: both, their logits (scores) mixed with a weight chosen on the dev split;
- ``"auto"`` (default): like ``hybrid`` with the weight free to be 0 or 1, so the dev split picks
  the encoder alone, TF-IDF alone or the mix;
- ``"finetune"``: the encoder and a linear head trained end to end (cross-entropy; mean squared
  error for graded) with :class:`~embedkit.train.classifier.ClassifierTrainer`: checkpoints that a
  killed run resumes from, progress, the best dev state kept; the head starts from the frozen
  logistic regression (LP-FT). The TF-IDF view joins when it helps on dev;
- ``"setfit"``: the encoder fine-tuned contrastively on pairs by
  :class:`~embedkit.train.FewShotClassifier` (few labelled examples), then as ``auto``.

Every choice (the regularisation ``C`` of each view from a small grid, the mixing weight, the
temperature) is made on held-out predictions, never on the data a head was fitted on:
``dev=`` in ``fit`` (the heads then see the training data only); else, below 5,000 examples,
the out-of-fold predictions of 5-fold cross-fitting (stratified), and above (or for the
fine-tuning heads) a held-out ``dev_fraction``; with ``refit=True`` the heads are then fitted
again on all the training data. Probabilities are calibrated by temperature scaling of the mixed
logits on those held-out predictions (``calibrate``). Fewer than 20 examples: no choices, fixed
defaults.

Saved as a folder (:meth:`TextClassifier.save`), no pickle::

    embedkit.json        type "text_classifier": task, head, labels or score range, the encoder's
                         spec and fingerprint, mixing weight, temperature, recipe, data, dev scores
    head.safetensors     the views' weights and TF-IDF idf vectors (float32)
    tfidf.json           the TF-IDF vocabularies and settings (when the TF-IDF view is used)
    encoder/             the fine-tuned encoder (finetune, setfit), a sentence-transformers folder

``embedkit.load(folder)`` gives the classifier's encoder; :meth:`TextClassifier.load` the
classifier.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, ModelNotFound, NotFitted

__all__ = ["TextClassifier", "read_labelled", "TASKS", "HEADS", "BACKENDS", "MODEL_TYPE",
           "load_encoder", "is_text_classifier"]

log = logging.getLogger(__name__)

TASKS = ("auto", "binary", "multiclass", "graded")
HEADS = ("auto", "linear", "hybrid", "tfidf", "finetune", "setfit")
BACKENDS = ("torch", "onnx", "onnx-int8")
MODEL_TYPE = "text_classifier"
HEAD_FILE = "head.safetensors"
TFIDF_FILE = "tfidf.json"
ENCODER_DIR = "encoder"
FORMAT_VERSION = 1

#: The regularisation grid searched on the dev split (logistic regression's C; ridge alpha = 1/C).
C_GRID_EMBEDDING = (0.00025, 0.001, 0.004, 0.016, 0.064, 0.25, 1.0)
C_GRID_TFIDF = (1.0, 4.0, 16.0)
#: Mixing weights of the TF-IDF view tried on the dev split.
WEIGHT_GRID = tuple(round(0.1 * i, 1) for i in range(11))
#: ``graded="auto"``: classes up to this many distinct scores, else a regression.
MAX_GRADES = 20
GRADED_MODES = ("auto", "classes", "regression")
#: Without a dev split (fewer than MIN_DEV_EXAMPLES training examples): fixed settings.
MIN_DEV_EXAMPLES = 20
DEFAULT_C = {"embedding": 0.1, "probe": 0.1, "tfidf": 4.0}
#: Below this many training examples (and no dev set), choices use k-fold cross-fitting.
CV_BELOW = 5000
CV_FOLDS = 5


# ---------------------------------------------------------------------------------------- data
def _numeric_key(values) -> bool:
    try:
        [float(v) for v in values]
    except (TypeError, ValueError):
        return False
    return True


def read_labelled(data, *, text_column: str | None = None, label_column: str | None = None,
                  limit: int | None = None) -> tuple[list[str], list, dict]:
    """Texts, labels and a description of their source from a TSV / CSV / JSONL file.

    The text column is ``text`` (or ``sentence``, ``document``, ``review``), the label column
    ``label`` (or ``class``, ``category``, ``sentiment``, ``rating``, ``stars``) unless named.
    """
    from ..train.data import read_examples

    columns = {}
    if text_column:
        columns["text"] = text_column
    if label_column:
        columns["label"] = label_column
    ex = read_examples(data, "labelled", columns=columns or None, limit=limit)
    return list(ex.columns["text"]), list(ex.columns["label"]), dict(ex.source)


def _from_xy(X, y, columns) -> tuple[list[str], list, dict]:
    if y is None:
        if not isinstance(X, (str, os.PathLike)):
            raise InvalidInput("pass texts and their labels (y), or a labelled file")
        columns = columns or {}
        return read_labelled(X, text_column=columns.get("text"),
                             label_column=columns.get("label"))
    if isinstance(X, (str, os.PathLike)):
        raise InvalidInput("pass either a labelled file, or texts and their labels (y)")
    if isinstance(y, (str, bytes)):
        raise InvalidInput("y must be a list of labels, not one str")
    texts, labels = list(X), list(y)
    if len(texts) != len(labels):
        raise InvalidInput(f"{len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise InvalidInput("no training examples: the texts are empty")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise InvalidInput(f"text {i} is empty or not a str (got {t!r})")
    for i, v in enumerate(labels):
        if v is None or (isinstance(v, str) and not v.strip()) or (
                isinstance(v, float) and not math.isfinite(v)):
            raise InvalidInput(f"the label of example {i} is empty or not finite (got {v!r})")
    from ..train.data import data_hash

    return texts, labels, {"path": "memory", "rows": len(texts),
                           "sha256": data_hash({"text": texts, "label": labels})}


def _grades(labels, where: str) -> np.ndarray:
    out = np.empty(len(labels), dtype=np.float64)
    for i, v in enumerate(labels):
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise InvalidInput(f"{where}: the label of example {i + 1} is {v!r}, not a number; a "
                               "graded task needs numeric scores (e.g. 1-10 stars). Use "
                               "task='multiclass' for named classes") from None
        if not math.isfinite(out[i]):
            raise InvalidInput(f"{where}: the label of example {i + 1} is {v!r}, not a finite "
                               "number")
    return out


def _sorted_classes(labels) -> list:
    distinct = set(labels)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in distinct):
        return sorted(int(v) for v in distinct)
    strs = sorted({str(v) for v in distinct})
    if _numeric_key(strs):
        return sorted(strs, key=lambda s: (float(s), s))
    return strs


def _stratified_split(targets: np.ndarray, fraction: float, seed: int, classify: bool):
    rng = np.random.default_rng([seed, 7])
    n = len(targets)
    if not classify:
        perm = rng.permutation(n)
        k = max(1, int(round(fraction * n)))
        return np.sort(perm[k:]), np.sort(perm[:k])
    dev = []
    for c in np.unique(targets):
        idx = rng.permutation(np.flatnonzero(targets == c))
        k = int(round(fraction * len(idx)))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        else:
            k = 0
        dev.extend(idx[:k].tolist())
    dev = np.sort(np.asarray(dev, dtype=np.int64))
    mask = np.ones(n, dtype=bool)
    mask[dev] = False
    return np.flatnonzero(mask), dev


def _folds(targets: np.ndarray, k: int, seed: int, classify: bool):
    """``k`` (fit, eval) index pairs whose eval parts cover every row once (stratified)."""
    rng = np.random.default_rng([seed, 11])
    fold_of = np.empty(len(targets), dtype=np.int64)
    groups = [np.flatnonzero(targets == c) for c in np.unique(targets)] if classify else \
        [np.arange(len(targets))]
    offset = 0
    for idx in groups:
        idx = rng.permutation(idx)
        fold_of[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)
            if (fold_of == f).any()]


# ---------------------------------------------------------------------------------- TF-IDF view
class _Tfidf:
    """TF-IDF of word 1-2-grams and character 1-4-grams (within words), each block L2-normalised
    and scaled by 1/sqrt(2), so a row has unit length. sublinear tf, min_df 2 on 1,000+ texts."""

    def __init__(self, *, word_ngrams=(1, 2), char_ngrams=(1, 4), max_features=300_000,
                 min_df: int | None = None):
        self.word_ngrams = tuple(word_ngrams)
        self.char_ngrams = tuple(char_ngrams)
        self.max_features = max_features
        self.min_df = min_df

    def _vectorizers(self, min_df, vocabularies=None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        common = dict(sublinear_tf=True, dtype=np.float32, lowercase=True)
        if vocabularies is None:
            common.update(min_df=min_df, max_features=self.max_features)
        word = TfidfVectorizer(analyzer="word", ngram_range=self.word_ngrams,
                               token_pattern=r"(?u)\b\w+\b",
                               vocabulary=None if vocabularies is None else vocabularies[0],
                               **common)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams,
                               vocabulary=None if vocabularies is None else vocabularies[1],
                               **common)
        return word, char

    def fit(self, texts):
        min_df = self.min_df if self.min_df is not None else (2 if len(texts) >= 1000 else 1)
        self.vectorizers_ = list(self._vectorizers(min_df))
        for v in self.vectorizers_:
            try:
                v.fit(texts)
            except ValueError as exc:  # empty vocabulary
                raise InvalidInput(f"the TF-IDF view found no terms in the training texts: {exc}"
                                   ) from exc
        return self

    def transform(self, texts):
        import scipy.sparse as sp

        blocks = [v.transform(texts) for v in self.vectorizers_]
        return (sp.hstack(blocks, format="csr") * np.float32(1 / math.sqrt(len(blocks)))).tocsr()

    @property
    def n_features(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers_)

    def state(self) -> tuple[dict, dict]:
        meta = {"word_ngrams": list(self.word_ngrams), "char_ngrams": list(self.char_ngrams),
                "max_features": self.max_features, "views": []}
        tensors = {}
        for name, v in zip(("word", "char"), self.vectorizers_):
            terms = [""] * len(v.vocabulary_)
            for term, i in v.vocabulary_.items():
                terms[i] = term
            meta["views"].append({"name": name, "analyzer": v.analyzer, "terms": terms})
            tensors[f"tfidf.idf.{name}"] = np.asarray(v.idf_, dtype=np.float32)
        return meta, tensors

    @classmethod
    def from_state(cls, meta: dict, tensors: dict) -> _Tfidf:
        self = cls(word_ngrams=meta["word_ngrams"], char_ngrams=meta["char_ngrams"],
                   max_features=meta.get("max_features"))
        vocabs = [view["terms"] for view in meta["views"]]
        self.vectorizers_ = list(self._vectorizers(1, vocabs))
        for view, v in zip(meta["views"], self.vectorizers_):
            idf = tensors[f"tfidf.idf.{view['name']}"].astype(np.float64)
            if len(idf) != len(view["terms"]):
                raise ModelNotFound("the TF-IDF vocabulary and idf vector have different sizes")
            v.idf_ = idf
        return self


# --------------------------------------------------------------------------------- the heads
def _fit_head(X, y, classify: bool, C: float, seed: int):
    """(coef (k, d), intercept (k,)) of a logistic regression (classes) or ridge (scores).

    Dense features (sentence vectors) are standardised per dimension for the fit: sentence
    vectors share a large common direction, which makes the unscaled problem ill-conditioned
    (lbfgs then needs thousands of iterations). ``C`` applies to the standardised features; the
    returned weights apply to the raw ones.
    """
    dense = isinstance(X, np.ndarray)
    if dense:
        mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        std[std < 1e-12] = 1.0
        X = ((X - mean) / std).astype(np.float32)
    if classify:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=C, max_iter=3000, random_state=seed)
        model.fit(X, y)
        coef = np.asarray(model.coef_, np.float64)
        intercept = np.asarray(model.intercept_, np.float64)
    else:
        from sklearn.linear_model import Ridge

        model = Ridge(alpha=1.0 / C, random_state=seed)
        model.fit(X, y)
        coef = np.asarray(model.coef_, np.float64).reshape(1, -1)
        intercept = np.asarray(model.intercept_, np.float64).reshape(1)
    if dense:
        coef = coef / std
        intercept = intercept - coef @ mean
    return coef, intercept


def _linear(X, coef, intercept) -> np.ndarray:
    z = X @ coef.T
    return np.asarray(z, dtype=np.float64) + intercept


def _proba(z: np.ndarray) -> np.ndarray:
    if z.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -500, 500)))
        return np.stack([1.0 - p, p], axis=1)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(z: np.ndarray, y: np.ndarray) -> float:
    p = _proba(z)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))


def _temperature(z: np.ndarray, y: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda t: _nll(z / math.exp(t), y), bounds=(-4.0, 4.0),
                          method="bounded", options={"xatol": 1e-4})
    return float(math.exp(res.x))


def _loss(pred: np.ndarray, y: np.ndarray, classify: bool) -> float:
    """The dev criterion every choice minimises: log-loss (classes) or MAE (scores)."""
    if classify:
        return _nll(pred, y)
    return float(np.abs(pred[:, 0] - y).mean())


def classification_metrics(y_true, y_pred, labels) -> dict:
    """Accuracy and macro-F1 (over ``labels``)."""
    y_true, y_pred = list(y_true), list(y_pred)
    acc = float(np.mean([a == b for a, b in zip(y_true, y_pred)])) if y_true else 0.0
    f1s = []
    for c in labels:
        tp = sum(1 for a, b in zip(y_true, y_pred) if a == c and b == c)
        fp = sum(1 for a, b in zip(y_true, y_pred) if a != c and b == c)
        fn = sum(1 for a, b in zip(y_true, y_pred) if a == c and b != c)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {"accuracy": round(acc, 5), "macro_f1": round(float(np.mean(f1s)), 5),
            "n": len(y_true)}


def graded_metrics(y_true, y_pred) -> dict:
    """Spearman, Pearson, MAE and RMSE of predicted scores."""
    from scipy.stats import pearsonr, spearmanr

    t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    rho = spearmanr(t, p).statistic if len(t) > 1 else float("nan")
    r = pearsonr(t, p).statistic if len(t) > 1 and p.std() > 0 else float("nan")
    return {"spearman": round(float(rho), 5), "pearson": round(float(r), 5),
            "mae": round(float(np.abs(t - p).mean()), 5),
            "rmse": round(float(np.sqrt(((t - p) ** 2).mean())), 5), "n": len(t)}


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-class probability in ``bins`` equal-width bins."""
    conf = proba.max(axis=1)
    right = proba.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(right[m].mean() - conf[m].mean())
    return round(float(total), 5)


# ---------------------------------------------------------------------------- the classifier
def _check_choice(name, value, allowed):
    if value not in allowed:
        raise InvalidInput(f"The '{name}' parameter of TextClassifier must be one of "
                           f"{', '.join(map(repr, allowed))}. Got {value!r} instead.")


def _check_number(name, value, low, high=None, *, low_open=True, none_ok=False, integer=False):
    if value is None and none_ok:
        return
    kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value) and (
        value > low if low_open else value >= low) and (high is None or value <= high)
    if not ok:
        what = "an int" if integer else "a float"
        rng = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise InvalidInput(f"The '{name}' parameter of TextClassifier must be {what} {rng}"
                           f"{' or None' if none_ok else ''}. Got {value!r} instead.")


class TextClassifier:
    """Binary, multi-class and graded text classification on an embedkit Encoder.

    Args:
        model: the encoder: a model spec (``"multilingual-e5-small"``, ``"all-MiniLM-L6-v2"``, a
            folder, a hub id) or an Encoder object (one made by :func:`embedkit.load` can be
            saved by its spec). Not used by ``head="tfidf"``.
        task: ``"auto"``, ``"binary"``, ``"multiclass"`` or ``"graded"`` (see the module doc).
        head: ``"auto"``, ``"linear"``, ``"hybrid"``, ``"tfidf"``, ``"finetune"`` or ``"setfit"``.
        backend: how a model spec is run for the frozen vectors: ``"torch"``, ``"onnx"``
            (fp32), ``"onnx-int8"`` (about 2.5x faster on a CPU; vectors within 0.999 cosine).
        C: the regularisation of the heads (logistic regression's C, ridge's 1/alpha; the
            encoder's vectors are standardised per dimension for their head); ``None``: chosen on
            the held-out predictions from a small grid.
        tfidf_weight: the weight of the TF-IDF view in the mix (0: encoder only, 1: TF-IDF only);
            ``None``: chosen on the dev split.
        calibrate: temperature-scale the logits on the dev split.
        dev_fraction: share of the training data held out for the choices when ``fit`` gets no
            ``dev``; refit: fit the heads again on all the data afterwards.
        score_range: (low, high) of a graded task's scores; default: the range in the data.
        graded: how a graded task is learnt: ``"classes"`` (each distinct score a class; the
            prediction is the expected score under the calibrated probabilities),
            ``"regression"`` (ridge; mean squared error when fine-tuning), ``"auto"``: classes
            for at most 20 distinct scores (stars, ratings), else regression.
        prompt: ``"auto"`` (the model's ``query`` prompt if it has one), ``"query"``,
            ``"document"`` or ``None``.
        batch_size: texts per encoding batch.
        epochs, train_batch_size, learning_rate, max_seq_length, max_steps, train_layers,
            warm_start, eval_every, checkpoint_dir, resume: fine-tuning (``head="finetune"``)
            settings, as :class:`~embedkit.train.classifier.ClassifierTrainer`: ``max_steps``
            caps the steps (the other views still see all the data), ``train_layers`` trains only
            the top layers (about 2x faster with 4 of 12), ``warm_start`` starts the head from
            the frozen logistic regression.
        num_iterations: SetFit's rounds of pair generation (``head="setfit"``).
        output_dir: where ``fit`` saves the classifier (default: not saved; a fine-tuned encoder
            then goes to a temporary folder until :meth:`save`).
        seed, progress.

    After ``fit``: ``task_``, ``classes_`` (classification) or ``score_range_`` (graded),
    ``encoder_`` (None when the TF-IDF view alone is used), ``tfidf_weight_``, ``temperature_``,
    ``C_`` (per view), ``dev_scores_`` (dev metrics of each candidate), ``fit_seconds_``.

    """

    def __init__(self, *, model="multilingual-e5-small", task: str = "auto", head: str = "auto",
                 backend: str = "torch", C: float | None = None,
                 tfidf_weight: float | None = None, calibrate: bool = True,
                 dev_fraction: float = 0.1, refit: bool = True,
                 score_range: tuple[float, float] | None = None, graded: str = "auto",
                 prompt: str | None = "auto",
                 batch_size: int = 64, epochs: int = 2, train_batch_size: int = 32,
                 learning_rate: float = 5e-5, max_seq_length: int = 128,
                 max_steps: int | None = None, train_layers: int | None = None,
                 warm_start: bool = True, eval_every: int | None = None,
                 checkpoint_dir=None, resume: bool = True,
                 num_iterations: int = 5, output_dir=None, seed: int = 0,
                 progress: bool | None = None):
        self.model = model
        self.task = task
        self.head = head
        self.backend = backend
        self.C = C
        self.tfidf_weight = tfidf_weight
        self.calibrate = calibrate
        self.dev_fraction = dev_fraction
        self.refit = refit
        self.score_range = score_range
        self.graded = graded
        self.prompt = prompt
        self.batch_size = batch_size
        self.epochs = epochs
        self.train_batch_size = train_batch_size
        self.learning_rate = learning_rate
        self.max_seq_length = max_seq_length
        self.max_steps = max_steps
        self.train_layers = train_layers
        self.warm_start = warm_start
        self.eval_every = eval_every
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.num_iterations = num_iterations
        self.output_dir = output_dir
        self.seed = seed
        self.progress = progress

    # -- configuration ----------------------------------------------------------------------------
    def get_params(self) -> dict:
        """The constructor arguments (the saved configuration)."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params) -> TextClassifier:
        """Change constructor arguments (scikit-learn's convention); returns self."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise InvalidInput(f"Invalid parameter {key!r} for TextClassifier. Valid "
                                   f"parameters are: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_params().items() if k in (
            "model", "task", "head", "backend")}
        return "TextClassifier(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def _validate(self) -> None:
        _check_choice("task", self.task, TASKS)
        _check_choice("head", self.head, HEADS)
        _check_choice("backend", self.backend, BACKENDS)
        _check_choice("prompt", self.prompt, ("auto", "query", "document", None))
        _check_choice("graded", self.graded, GRADED_MODES)
        _check_number("C", self.C, 0.0, none_ok=True)
        _check_number("tfidf_weight", self.tfidf_weight, 0.0, 1.0, low_open=False, none_ok=True)
        _check_number("dev_fraction", self.dev_fraction, 0.0, 0.5)
        _check_number("batch_size", self.batch_size, 0, integer=True)
        _check_number("num_iterations", self.num_iterations, 0, 1000, integer=True)
        for name in ("calibrate", "refit", "warm_start", "resume"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidInput(f"The '{name}' parameter of TextClassifier must be True or "
                                   f"False. Got {getattr(self, name)!r} instead.")
        if self.head == "linear" and self.tfidf_weight not in (None, 0, 0.0):
            raise InvalidInput("head='linear' uses the encoder alone; tfidf_weight must be None "
                               "or 0 (use head='hybrid' to mix in TF-IDF)")
        if self.head == "tfidf" and self.tfidf_weight not in (None, 1, 1.0):
            raise InvalidInput("head='tfidf' uses TF-IDF alone; tfidf_weight must be None or 1")
        if self.score_range is not None:
            try:
                lo, hi = (float(x) for x in self.score_range)
            except (TypeError, ValueError):
                raise InvalidInput(f"score_range must be (low, high); got {self.score_range!r}"
                                   ) from None
            if not lo < hi:
                raise InvalidInput(f"score_range: low must be below high; got {self.score_range!r}")

    # -- encoders -------------------------------------------------------------------------------
    def _load_spec(self, spec):
        from ..models import load

        if self.backend == "torch":
            return load(spec)
        quantize = "int8" if self.backend == "onnx-int8" else None
        folder = Path(spec).expanduser()
        if (folder / "embedkit.json").is_file() and (folder / "modules.json").is_file():
            # a trainer's folder (fine-tuned here): embedkit.load opens those with torch only
            from ..identity import folder_fingerprint
            from ..text.onnx import OnnxEncoder

            enc = OnnxEncoder(folder.resolve(), quantize=quantize)
            enc.fingerprint = folder_fingerprint(folder.resolve(),
                                                 pooling=getattr(enc, "pooling", None))
            enc.spec = str(folder.resolve())
            return enc
        return load(spec, backend="onnx", quantize=quantize)

    def _base_encoder(self):
        from ..encoder import Encoder

        if isinstance(self.model, (str, os.PathLike)):
            return self._load_spec(os.fspath(self.model))
        if isinstance(self.model, Encoder) or hasattr(self.model, "encode"):
            return self.model
        raise InvalidInput(f"The 'model' parameter of TextClassifier must be a model spec (str "
                           f"or path) or an Encoder. Got {type(self.model).__name__} instead.")

    def _model_spec(self, required: bool = True) -> str | None:
        if isinstance(self.model, (str, os.PathLike)):
            spec = os.fspath(self.model)
            path = Path(spec).expanduser()
            return str(path.resolve()) if path.exists() else spec
        spec = getattr(self.model, "spec", None)
        if not spec:
            if not required:
                return None
            raise InvalidInput("this encoder has no spec to load it again (an Encoder made by "
                               "embedkit.load has one); pass the model by name or folder")
        return str(spec)

    def _role(self, encoder) -> str | None:
        if self.prompt is not None and self.prompt != "auto":
            return self.prompt
        if self.prompt == "auto" and hasattr(encoder, "prompt_for"):
            try:
                return "query" if encoder.prompt_for("query") else None
            except InvalidInput:
                return None
        return None

    def _encode(self, encoder, texts, role) -> np.ndarray:
        from ..encoder import encode_as

        opts = dict(batch_size=self.batch_size, normalize=True, progress=self.progress)
        if not texts:
            return np.zeros((0, int(encoder.dim)), dtype=np.float32)
        if role:
            return encode_as(encoder, texts, role, **opts)
        return encoder.encode(texts, **opts)

    # -- fit ------------------------------------------------------------------------------------
    def _targets(self, labels, where, *, fit: bool):
        """Class ids (classification) or float scores (graded)."""
        if self.task_ == "graded":
            scores = _grades(labels, where)
            if not fit:
                return scores
            if self.score_range is not None:
                lo, hi = (float(x) for x in self.score_range)
                bad = np.flatnonzero((scores < lo) | (scores > hi))
                if len(bad):
                    raise InvalidInput(f"{where}: the score {labels[bad[0]]!r} of example "
                                       f"{bad[0] + 1} is outside score_range [{lo:g}, {hi:g}]")
            else:
                lo, hi = float(scores.min()), float(scores.max())
            if lo == hi or len(np.unique(scores)) < 2:
                raise InvalidInput(f"{where}: every score is {scores[0]:g}; a graded task needs "
                                   "at least two different scores")
            self.score_range_ = (lo, hi)
            return scores
        index = {self._key(c): i for i, c in enumerate(self.classes_)}
        out = np.empty(len(labels), dtype=np.int64)
        for i, v in enumerate(labels):
            j = index.get(self._key(v))
            if j is None:
                raise InvalidInput(f"{where}: example {i + 1} has the label {v!r}, which the "
                                   f"training data does not have (its labels: "
                                   f"{', '.join(map(str, self.classes_))})")
            out[i] = j
        return out

    @staticmethod
    def _key(v) -> str:
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return str(int(v))
        return str(v).strip()

    def _resolve_task(self, labels, where) -> None:
        distinct = _sorted_classes(labels)
        if self.task == "graded":
            self.task_ = "graded"
            self.classes_ = None
            return
        if len(distinct) < 2:
            raise InvalidInput(f"{where}: every example has the label {distinct[0]!r}; a "
                               "classifier needs examples of at least 2 classes")
        if self.task == "binary" and len(distinct) != 2:
            raise InvalidInput(f"{where}: task='binary' needs exactly 2 labels; the data has "
                               f"{len(distinct)} ({', '.join(map(str, distinct[:12]))}"
                               f"{', ...' if len(distinct) > 12 else ''}). Use task='multiclass'"
                               " or 'graded'")
        self.task_ = "binary" if self.task == "auto" and len(distinct) == 2 else (
            "multiclass" if self.task == "auto" else self.task)
        self.classes_ = distinct

    def fit(self, X, y=None, *, dev=None, columns: dict[str, str] | None = None,
            callback=None) -> TextClassifier:
        """Fit on texts ``X`` with labels ``y``, or on a labelled file (columns ``text`` and
        ``label`` unless ``columns={"text": ..., "label": ...}``).

        ``dev``: (texts, labels) or a labelled file for every choice (the heads are then fitted
        on the training data alone). Without it the choices are made on out-of-fold predictions
        of ``CV_FOLDS``-fold cross-fitting below ``CV_BELOW`` examples, on a held-out
        ``dev_fraction`` above (and for the fine-tuning heads). ``callback``: fine-tuning
        progress (see the trainers). Returns self.
        """
        self._validate()
        t0 = time.perf_counter()
        texts, labels, source = _from_xy(X, y, columns)
        where = source.get("path", "the training data")
        where = "the training data" if where == "memory" else where
        self._resolve_task(labels, where)
        targets = self._targets(labels, where, fit=True)
        classify = self.task_ != "graded"
        self.grades_ = None
        if not classify and self.graded != "regression":
            grades = np.unique(targets)
            if len(grades) <= MAX_GRADES or self.graded == "classes":
                # a few distinct scores (stars): classes, and the expected score of their
                # probabilities (calibrated like any classifier's)
                self.grades_ = grades
                targets = np.searchsorted(grades, targets)
                classify = True
        fine_tune = self.head in ("finetune", "setfit")
        n = len(texts)
        if dev is not None:
            if isinstance(dev, (str, os.PathLike)):
                dtexts, dlabels, _ = _from_xy(dev, None, columns)
            else:
                dtexts, dlabels, _ = _from_xy(dev[0], dev[1], None)
            dtargets = self._targets(dlabels, "the dev data", fit=False)
            if self.grades_ is not None:  # the nearest grade seen in training
                dtargets = np.abs(dtargets[:, None] - self.grades_[None, :]).argmin(1)
            all_texts, all_y = texts + dtexts, np.concatenate([targets, dtargets])
            folds = [(np.arange(n), np.arange(n, n + len(dtexts)))]
            final, mode = np.arange(n), "dev"
        else:
            all_texts, all_y = texts, targets
            if n < MIN_DEV_EXAMPLES:
                folds, mode = [], "none"
            elif n < CV_BELOW and not fine_tune:
                folds, mode = _folds(targets, CV_FOLDS, self.seed, classify), "cross-fitting"
            else:
                tr, dv = _stratified_split(targets, self.dev_fraction, self.seed, classify)
                folds, mode = ([(tr, dv)] if len(dv) else []), "holdout"
            final = np.arange(n) if (self.refit or mode != "holdout" or not folds) else folds[0][0]
        for fit_idx, _ in folds:
            if classify and len(np.unique(all_y[fit_idx])) < 2:
                raise InvalidInput("a training fold has one class only; add examples of the "
                                   "rarer classes or pass dev=")
        evals = np.concatenate([e for _, e in folds]) if folds else np.zeros(0, np.int64)
        y_eval = all_y[evals]
        self.dev_scores_, self.C_, self.fit_seconds_ = {}, {}, {}
        self.choices_ = {"mode": mode, "examples": int(len(evals))}
        self._fitted_source = source
        use_encoder = self.head != "tfidf" and self.tfidf_weight != 1
        use_tfidf = self.head in ("auto", "hybrid", "tfidf", "finetune", "setfit") and \
            self.tfidf_weight not in (0, 0.0)
        n_classes = len(self.classes_) if self.task_ != "graded" else (
            len(self.grades_) if self.grades_ is not None else 1)
        k = 1 if (not classify or n_classes == 2) else n_classes
        self.encoder_, self._encoder_folder, self._role_name = None, None, None
        self._views, self._tfidf, self._spec = {}, None, None
        oof = {}  # view -> predictions on the eval rows (in ``evals`` order), chosen C
        self._reuse = {}

        # -- the encoder view
        if use_encoder:
            encoder = self._base_encoder()
            role = self._role(encoder)
            ft_head = None
            if fine_tune:
                fit_idx, eval_idx = folds[0] if folds else (np.arange(n), np.zeros(0, np.int64))
                encoder, ft_head = self._fine_tune(
                    encoder, role, [all_texts[i] for i in fit_idx], all_y[fit_idx],
                    [all_texts[i] for i in eval_idx], all_y[eval_idx], k, classify, callback)
                role = self._role(encoder)
            else:
                self._spec = self._model_spec(required=False)
            self.encoder_, self._role_name = encoder, role
            s = time.perf_counter()
            # a fine-tuned head is final: only the eval rows' vectors are needed then
            rows = evals if ft_head is not None else np.arange(len(all_texts))
            E = np.zeros((len(all_texts), int(encoder.dim)), dtype=np.float32)
            E[rows] = self._encode(encoder, [all_texts[i] for i in rows], role)
            self.fit_seconds_["encode"] = round(time.perf_counter() - s, 3)
            s = time.perf_counter()
            if ft_head is not None:
                self.C_["embedding"] = None
                self._views["embedding"] = ft_head
                oof["embedding"] = _linear(E[evals], *ft_head)
            else:
                C, oof["embedding"] = self._choose_C(
                    "embedding", lambda idx: E[idx], all_y, folds, classify, C_GRID_EMBEDDING,
                    final=final)
                self._final_embedding = (E, C)
            self.fit_seconds_["embedding_head"] = round(time.perf_counter() - s, 3)
        # -- the TF-IDF view
        if use_tfidf:
            s = time.perf_counter()
            C, oof["tfidf"] = self._choose_C("tfidf", None, all_y, folds, classify,
                                             C_GRID_TFIDF, texts=all_texts, final=final)
            self.fit_seconds_["tfidf_choice"] = round(time.perf_counter() - s, 3)
        # -- the mix and the temperature
        self.tfidf_weight_, self.temperature_ = self._choose_mix(oof, y_eval, len(evals) > 0,
                                                                 classify)
        # -- the final heads, on ``final`` with the choices made
        s = time.perf_counter()
        if use_encoder and self.tfidf_weight_ < 1 and "embedding" not in self._views:
            E, C = self._final_embedding
            if "embedding" in self._reuse:
                self._views["embedding"] = self._reuse["embedding"][1]
            else:
                self._views["embedding"] = _fit_head(E[final], all_y[final], classify, C,
                                                     self.seed)
        if use_tfidf and self.tfidf_weight_ > 0:
            if "tfidf" in self._reuse:
                self._tfidf, self._views["tfidf"] = self._reuse["tfidf"]
            else:
                final_texts = [all_texts[i] for i in final]
                self._tfidf = _Tfidf().fit(final_texts)
                self._views["tfidf"] = _fit_head(self._tfidf.transform(final_texts),
                                                 all_y[final], classify, self.C_["tfidf"],
                                                 self.seed)
        self._reuse = {}
        self.fit_seconds_["final_heads"] = round(time.perf_counter() - s, 3)
        self._final_embedding = None
        if self.tfidf_weight_ == 1:  # the mix does not use the encoder
            self._views.pop("embedding", None)
            self.encoder_ = None
        self.fit_seconds_["total"] = round(time.perf_counter() - t0, 3)
        if self.output_dir is not None:
            self.save(self.output_dir)
        return self

    def _choose_C(self, view, features, y, folds, classify, grid, texts=None, final=None):
        """The C with the lowest loss on the folds' eval rows; returns (C, their predictions).

        When one fold's training part is ``final`` (a dev set, or a holdout without refit), its
        fits are kept in ``self._reuse[view]`` for the final head.
        """
        grid = [float(self.C)] if self.C is not None else (
            list(grid) if folds else [DEFAULT_C[view]])
        tfs = []
        if texts is not None and folds:  # TF-IDF: each fold's vocabulary from its training part
            fold_features = []
            for fit_idx, eval_idx in folds:
                tf = _Tfidf().fit([texts[i] for i in fit_idx])
                tfs.append(tf)
                fold_features.append((tf.transform([texts[i] for i in fit_idx]),
                                      tf.transform([texts[i] for i in eval_idx])))
        else:
            fold_features = [(features(f), features(e)) for f, e in folds]
        same = len(folds) == 1 and final is not None and np.array_equal(folds[0][0], final)
        heads = {}
        best = None
        for C in grid:
            parts = []
            for (fit_idx, _), (X_fit, X_eval) in zip(folds, fold_features):
                coef, intercept = _fit_head(X_fit, y[fit_idx], classify, C, self.seed)
                if same:
                    heads[C] = (coef, intercept)
                parts.append(_linear(X_eval, coef, intercept))
            if not folds:
                self.C_[view] = C
                return C, None
            pred = np.concatenate(parts)
            y_eval = y[np.concatenate([e for _, e in folds])]
            if classify and self.calibrate:
                loss = _nll(pred / _temperature(pred, y_eval), y_eval)
            else:
                loss = _loss(pred, y_eval, classify)
            self.dev_scores_[f"{view}_C{C:g}"] = round(loss, 5)
            log.info("%s view, C=%g: %s %.4f", view, C, "log-loss" if classify else "MAE", loss)
            if best is None or loss < best[0]:
                best = (loss, C, pred)
        self.C_[view] = best[1]
        if same:
            self._reuse[view] = (tfs[0] if tfs else None, heads[best[1]])
        return best[1], best[2]

    def _choose_mix(self, outputs, y_eval, has_eval, classify):
        if "embedding" not in outputs:
            weights = [1.0]
        elif "tfidf" not in outputs:
            weights = [0.0]
        elif self.tfidf_weight is not None:
            weights = [float(self.tfidf_weight)]
        elif not has_eval:
            weights = [0.5 if self.head == "hybrid" else 0.0]
        elif self.head == "hybrid":
            weights = [w for w in WEIGHT_GRID if 0 < w < 1]
        else:
            weights = list(WEIGHT_GRID)
        if not has_eval:
            return weights[0], 1.0
        best = None
        for w in weights:
            pred = self._mix(outputs.get("embedding"), outputs.get("tfidf"), w)
            T = _temperature(pred, y_eval) if classify and self.calibrate else 1.0
            loss = _loss(pred / T if classify else pred, y_eval, classify)
            if classify:
                hard = (pred[:, 0] > 0).astype(np.int64) if pred.shape[1] == 1 else pred.argmax(1)
                acc = round(float((hard == y_eval).mean()), 5)
                self.dev_scores_[f"mix_w{w:g}"] = {"log_loss": round(loss, 5), "accuracy": acc}
            else:
                self.dev_scores_[f"mix_w{w:g}"] = {"mae": round(loss, 5)}
            if best is None or loss < best[0] - 1e-9:
                best = (loss, w, T)
        return best[1], best[2]

    @staticmethod
    def _mix(z_e, z_t, w):
        if z_e is None:
            return z_t
        if z_t is None:
            return z_e
        return (1.0 - w) * z_e + w * z_t

    def _fine_tune(self, encoder, role, tr_texts, tr_y, dv_texts, dv_y, k, classify, callback):
        spec = self._model_spec()
        out = Path(self.output_dir) / ENCODER_DIR if self.output_dir is not None else Path(
            tempfile.mkdtemp(prefix="embedkit-classifier-")) / ENCODER_DIR
        prompt = None if role is None else ("query" if role == "query" else role)
        if self.head == "setfit":
            if not classify:
                raise InvalidInput("head='setfit' is for classes; a graded task with many "
                                   "distinct scores can use head='finetune' or 'auto'")
            from ..train import FewShotClassifier

            names = self.classes_ if self.task_ != "graded" else list(self.grades_)
            labels = [str(names[i]) for i in tr_y]
            fs = FewShotClassifier(model=spec, num_iterations=self.num_iterations,
                                   prompt=prompt, epochs=1,
                                   batch_size=min(self.train_batch_size, len(tr_texts)),
                                   learning_rate=2e-5,
                                   max_seq_length=self.max_seq_length,
                                   checkpoint_dir=self.checkpoint_dir, resume=self.resume,
                                   output_dir=out, seed=self.seed, progress=self.progress)
            fs.fit(tr_texts, labels, callback=callback)
            self.train_seconds_ = fs.train_seconds_
            self._encoder_folder = out
            return self._load_spec(str(out)), None
        from ..train.classifier import ClassifierTrainer

        init = None
        if self.warm_start:
            s = time.perf_counter()
            E = self._encode(encoder, tr_texts + dv_texts, role)
            y = np.concatenate([tr_y, dv_y])
            n = len(tr_texts)
            folds = [(np.arange(n), np.arange(n, len(y)))] if len(dv_texts) else []
            C, _ = self._choose_C("probe", lambda idx: E[idx], y, folds, classify,
                                  C_GRID_EMBEDDING)
            init = _fit_head(E[:n], tr_y, classify, C, self.seed)
            self.fit_seconds_["probe"] = round(time.perf_counter() - s, 3)
        if classify:
            targets, dev_targets, objective = tr_y, dv_y, "cross_entropy"
        else:
            lo, hi = self.score_range_
            targets = (tr_y - lo) / (hi - lo)
            dev_targets = (dv_y - lo) / (hi - lo)
            objective = "mse"
            if init is not None:  # the probe predicts raw scores; the trainer works in [0, 1]
                init = (init[0] / (hi - lo), (init[1] - lo) / (hi - lo))
        # max_steps caps the epochs' steps (the trainer's own max_steps replaces the epochs)
        batch = min(self.train_batch_size, len(tr_texts))
        steps = self.max_steps if self.max_steps is not None and \
            self.max_steps < self.epochs * math.ceil(len(tr_texts) / batch) else None
        trainer = ClassifierTrainer(
            model=spec, objective=objective, prompt=prompt, epochs=self.epochs,
            batch_size=min(self.train_batch_size, len(tr_texts)),
            learning_rate=self.learning_rate, max_steps=steps,
            train_layers=self.train_layers,
            max_seq_length=self.max_seq_length, eval_every=self.eval_every,
            checkpoint_dir=self.checkpoint_dir, resume=self.resume, output_dir=out,
            seed=self.seed, progress=self.progress)
        trainer.fit(tr_texts, targets, n_outputs=k,
                    dev=(dv_texts, dev_targets) if len(dv_texts) else None, init=init,
                    callback=callback)
        self.train_seconds_ = trainer.train_seconds_
        self.finetune_history_ = trainer.dev_scores_
        coef, intercept = trainer.coef_, trainer.intercept_
        if not classify:
            lo, hi = self.score_range_
            coef, intercept = coef * (hi - lo), intercept * (hi - lo) + lo
        self._encoder_folder = out
        return self._load_spec(str(out)), (coef, intercept)

    # -- prediction -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "task_"):
            raise NotFitted("This TextClassifier is not fitted yet: call fit or load first")

    def _texts(self, texts) -> list[str]:
        if isinstance(texts, (str, bytes)):
            raise InvalidInput("pass a list of texts, not one str")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidInput(f"text {i} must be a str, got {type(t).__name__}")
        return texts

    def _raw(self, texts) -> np.ndarray:
        """The mixed logits (classes) or scores, before temperature and clipping."""
        self._check_fitted()
        texts = self._texts(texts)
        z_e = z_t = None
        if "embedding" in self._views:
            coef, intercept = self._views["embedding"]
            z_e = _linear(self._encode(self.encoder_, texts, self._role_name), coef, intercept)
        if "tfidf" in self._views:
            coef, intercept = self._views["tfidf"]
            z_t = _linear(self._tfidf.transform(texts), coef, intercept) if texts else \
                np.zeros((0, len(intercept)))
        return self._mix(z_e, z_t, self.tfidf_weight_)

    def decision_function(self, texts) -> np.ndarray:
        """Calibrated logits (n, 1) for two classes, (n, k) for more; graded by regression: the
        scores."""
        z = self._raw(texts)
        if self.task_ == "graded" and self.grades_ is None:
            return z
        return z / self.temperature_

    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities (n, len(classes_)), calibrated, in the order of ``classes_``;
        graded with classes: the probability of each of ``grades_``."""
        self._check_fitted()
        if self.task_ == "graded" and self.grades_ is None:
            raise InvalidInput("this graded classifier is a regression: it predicts scores, "
                               "not class probabilities; use predict")
        return _proba(self.decision_function(texts))

    def predict(self, texts):
        """Labels (a list, in the type of the training labels), or scores (graded: a float
        array, the expected grade or the regression's score, clipped to ``score_range_``)."""
        self._check_fitted()
        if self.task_ == "graded":
            lo, hi = self.score_range_
            if self.grades_ is not None:
                return np.clip(self.predict_proba(texts) @ self.grades_, lo, hi)
            return np.clip(self._raw(texts)[:, 0], lo, hi)
        proba = self.predict_proba(texts)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def score(self, texts, labels) -> float:
        """Accuracy (classes) or Spearman correlation (graded) on ``texts`` with ``labels``."""
        m = self.evaluate(texts, labels)
        return m["spearman"] if self.task_ == "graded" else m["accuracy"]

    def evaluate(self, texts, labels) -> dict:
        """Accuracy, macro-F1, log-loss and calibration error (classes), or Spearman, Pearson,
        MAE and RMSE (graded)."""
        self._check_fitted()
        texts = self._texts(texts)
        if len(texts) != len(list(labels)):
            raise InvalidInput(f"{len(texts)} texts but {len(list(labels))} labels")
        if not texts:
            raise InvalidInput("nothing to evaluate: no texts")
        if self.task_ == "graded":
            return graded_metrics(_grades(list(labels), "the labels"), self.predict(texts))
        y = self._targets(list(labels), "the labels", fit=False)
        proba = self.predict_proba(texts)
        pred = proba.argmax(axis=1)
        out = classification_metrics(y.tolist(), pred.tolist(), list(range(len(self.classes_))))
        out["log_loss"] = round(float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y],
                                                              1e-12, 1)))), 5)
        out["ece"] = expected_calibration_error(proba, y)
        return out

    # -- files ----------------------------------------------------------------------------------
    def _recipe(self) -> dict:
        params = {k: v for k, v in self.get_params().items()
                  if k not in ("output_dir", "checkpoint_dir", "progress", "resume")}
        if not isinstance(params["model"], (str, os.PathLike)):
            params["model"] = getattr(params["model"], "spec", None) or repr(params["model"])
        return json.loads(json.dumps(params, default=str))

    def save(self, folder) -> Path:
        """Write the classifier folder (see the module doc); returns its path."""
        self._check_fitted()
        from safetensors.numpy import save_file

        from .. import __version__

        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".saving")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        tensors = {}
        for view, (coef, intercept) in self._views.items():
            tensors[f"{view}.coef"] = np.ascontiguousarray(coef, dtype=np.float32)
            tensors[f"{view}.intercept"] = np.ascontiguousarray(intercept, dtype=np.float32)
        encoder_meta = None
        if "embedding" in self._views:
            if self._encoder_folder is not None:
                src = Path(self._encoder_folder)
                if src.resolve() != (folder / ENCODER_DIR).resolve():
                    shutil.copytree(src, tmp / ENCODER_DIR)
                encoder_meta = {"folder": ENCODER_DIR}
            else:
                if not self._spec:
                    shutil.rmtree(tmp)
                    raise InvalidInput("this classifier's encoder has no spec to load it again "
                                       "(an Encoder made by embedkit.load has one); fit with the "
                                       "model given by name or folder to save it")
                encoder_meta = {"spec": self._spec}
            encoder_meta.update(backend=self.backend, prompt_role=self._role_name,
                                dim=int(self.encoder_.dim),
                                fingerprint=getattr(self.encoder_, "fingerprint", None),
                                name=getattr(self.encoder_, "name", None))
        if "tfidf" in self._views:
            meta, idf = self._tfidf.state()
            tensors.update(idf)
            (tmp / TFIDF_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        save_file(tensors, str(tmp / HEAD_FILE))
        meta = {"type": MODEL_TYPE, "format_version": FORMAT_VERSION,
                "embedkit_version": __version__, "task": self.task_, "head": self.head,
                "classes": self.classes_, "score_range": list(self.score_range_)
                if self.task_ == "graded" else None,
                "grades": None if self.grades_ is None else [float(g) for g in self.grades_],
                "views": sorted(self._views),
                "tfidf_weight": self.tfidf_weight_, "temperature": self.temperature_,
                "C": self.C_, "encoder": encoder_meta, "recipe": self._recipe(),
                "data": self._fitted_source, "choices": self.choices_,
                "dev_scores": self.dev_scores_, "fit_seconds": self.fit_seconds_}
        (tmp / "embedkit.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2,
                                                      default=str), encoding="utf-8")
        if folder.exists():
            if encoder_meta and encoder_meta.get("folder") and not (tmp / ENCODER_DIR).exists():
                os.replace(folder / ENCODER_DIR, tmp / ENCODER_DIR)  # fit wrote it in place
            shutil.rmtree(folder)
        os.replace(tmp, folder)
        if self._encoder_folder is not None:
            self._encoder_folder = folder / ENCODER_DIR
        return folder

    @classmethod
    def load(cls, folder, *, backend: str | None = None) -> TextClassifier:
        """Read a classifier folder; ``backend`` overrides the saved one (torch, onnx,
        onnx-int8)."""
        from safetensors.numpy import load_file

        folder = Path(folder)
        meta = _read_meta(folder)
        if meta.get("type") != MODEL_TYPE:
            raise ModelNotFound(f"{folder} holds a {meta.get('type')!r} model, not a text "
                                "classifier (train one with 'embedkit classify train')")
        try:
            tensors = load_file(str(folder / HEAD_FILE))
            params = dict(meta.get("recipe") or {})
            self = cls(**{k: v for k, v in params.items() if k in cls().get_params()})
            self.task_ = meta["task"]
            self.classes_ = meta["classes"]
            if self.task_ == "graded":
                self.score_range_ = tuple(float(x) for x in meta["score_range"])
            self.grades_ = None if meta.get("grades") is None else np.asarray(
                meta["grades"], dtype=np.float64)
            self.tfidf_weight_ = float(meta["tfidf_weight"])
            self.temperature_ = float(meta["temperature"])
            self.C_ = meta.get("C") or {}
            self.dev_scores_ = meta.get("dev_scores") or {}
            self.fit_seconds_ = meta.get("fit_seconds") or {}
            self._fitted_source = meta.get("data")
            self.choices_ = meta.get("choices") or {}
            self._views = {}
            for view in meta["views"]:
                self._views[view] = (tensors[f"{view}.coef"].astype(np.float64),
                                     tensors[f"{view}.intercept"].astype(np.float64))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelNotFound(f"{folder} is not a readable text classifier: "
                                f"{type(exc).__name__}: {exc}") from exc
        self._tfidf, self.encoder_, self._encoder_folder, self._role_name = None, None, None, None
        self._spec = None
        if "tfidf" in self._views:
            try:
                tmeta = json.loads((folder / TFIDF_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ModelNotFound(f"{folder / TFIDF_FILE} is missing or unreadable: {exc}"
                                    ) from exc
            self._tfidf = _Tfidf.from_state(tmeta, tensors)
            if self._tfidf.n_features != self._views["tfidf"][0].shape[1]:
                raise ModelNotFound(f"{folder}: the TF-IDF vocabulary does not match its weights")
        if "embedding" in self._views:
            enc = meta["encoder"]
            if backend is not None:
                _check_choice("backend", backend, BACKENDS)
                self.backend = backend
            else:
                self.backend = enc.get("backend", "torch")
            if enc.get("folder"):
                self._encoder_folder = folder / enc["folder"]
                self.encoder_ = self._load_spec(str(self._encoder_folder))
            else:
                self._spec = enc["spec"]
                self.encoder_ = self._load_spec(enc["spec"])
                want, got = enc.get("fingerprint"), getattr(self.encoder_, "fingerprint", None)
                if want and got and want != got:
                    raise ModelNotFound(
                        f"{folder} was trained on the vectors of {enc['spec']!r} with fingerprint "
                        f"{want[:12]}..., but that spec now loads a model with fingerprint "
                        f"{got[:12]}...; its head does not fit the new model's vectors. Train "
                        "the classifier again")
            self._role_name = enc.get("prompt_role")
            if int(self.encoder_.dim) != self._views["embedding"][0].shape[1]:
                raise ModelNotFound(f"{folder}: the encoder gives {self.encoder_.dim}-d vectors, "
                                    f"the head expects {self._views['embedding'][0].shape[1]}")
        return self


def _read_meta(folder: Path) -> dict:
    marker = folder / "embedkit.json"
    if not folder.is_dir():
        raise ModelNotFound(f"no classifier folder at {folder}")
    if not marker.is_file():
        raise ModelNotFound(f"{folder} holds no embedkit.json: not a classifier folder")
    try:
        meta = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"{marker} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise ModelNotFound(f"{marker} is not a JSON object")
    return meta


def is_text_classifier(folder) -> bool:
    """Whether ``folder`` holds a :class:`TextClassifier` (``embedkit.json`` type)."""
    try:
        return _read_meta(Path(folder)).get("type") == MODEL_TYPE
    except ModelNotFound:
        return False


def load_encoder(folder, **options):
    """The encoder of a saved classifier (what ``embedkit.load(folder)`` returns for one)."""
    from ..models import load

    folder = Path(folder)
    enc = _read_meta(folder).get("encoder")
    if not enc:
        raise ModelNotFound(f"{folder} is a TF-IDF classifier: it has no encoder")
    if enc.get("folder"):
        return load(str(folder / enc["folder"]), **options)
    return load(enc["spec"], **options)
