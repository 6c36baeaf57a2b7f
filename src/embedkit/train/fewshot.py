"""Few-shot text classification, SetFit-style: contrastive fine-tuning on pairs made from a few
labelled examples, then a logistic-regression head on the fine-tuned vectors.

>>> from embedkit.train import FewShotClassifier                            # doctest: +SKIP
>>> clf = FewShotClassifier(model="multilingual-e5-small", output_dir="sentiment").fit(
...     ["정말 재미있어요", "최악의 영화", "great film", "boring"], ["pos", "neg", "pos", "neg"])
>>> clf.predict(["너무 지루했다"])                                              # doctest: +SKIP
['neg']

Pairs (SetFit's generation): for each of ``num_iterations`` rounds, each example is paired with
one random example of its class (target 1) and one of another class (target 0); the encoder learns
with the ``cosine`` loss (SetFit's default). ``finetune=False`` skips that and fits the head on the
frozen encoder (the baseline). The head's weights are saved as JSON (``classifier.json``) beside
the encoder in one sentence-transformers folder; :meth:`FewShotClassifier.load` reads both back,
and ``embedkit.load(folder)`` gives the encoder alone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, ModelNotFound, NotFitted
from .base import BaseTrainer, _check_float, _check_int
from .data import Examples, read_examples

__all__ = ["FewShotClassifier", "make_pairs"]

CLASSIFIER_FILE = "classifier.json"


def make_pairs(texts: list[str], labels: list[str], iterations: int, seed: int) -> Examples:
    """SetFit's pair generation: per round, each example with one same-class and one other-class
    partner (targets 1 and 0).
    """
    rng = np.random.default_rng(seed)
    labels_arr = np.asarray(labels)
    by_class = {c: np.flatnonzero(labels_arr == c) for c in sorted(set(labels))}
    a, b, s = [], [], []
    for _ in range(iterations):
        for i, label in enumerate(labels):
            same = by_class[label][by_class[label] != i]
            if len(same):
                j = int(rng.choice(same))
                a.append(texts[i]), b.append(texts[j]), s.append(1.0)
            other = np.flatnonzero(labels_arr != label)
            j = int(rng.choice(other))
            a.append(texts[i]), b.append(texts[j]), s.append(0.0)
    return Examples.from_columns("scored", sentence1=a, sentence2=b, score=s, score_range=(0.0, 1.0))


class FewShotClassifier(BaseTrainer):
    """Few-shot classification: contrastive fine-tuning on generated pairs + logistic regression.

    Args:
        model: the encoder to start from.
        num_iterations: rounds of pair generation (2 pairs per example per round).
        finetune: fine-tune the encoder (SetFit); ``False``: logistic regression on frozen vectors.
        C: inverse regularisation of the logistic regression (scikit-learn's ``C``).
        the rest as :class:`~embedkit.train.SentenceTrainer` (loss: ``cosine``).

    After ``fit``: ``encoder_``, ``classes_``, ``coef_``, ``intercept_``, ``output_dir_``.

    """

    def __init__(self, *, model: str = "multilingual-e5-small", num_iterations: int = 5,
                 finetune: bool = True, C: float = 1.0, prompt: str | None = "auto",
                 epochs: int = 1, batch_size: int = 16, grad_accum: int = 1,
                 learning_rate: float = 2e-5, warmup_ratio: float = 0.1,
                 weight_decay: float = 0.01, max_steps: int | None = None,
                 max_seq_length: int = 64, freeze_embeddings: bool = True,
                 train_layers: int | None = None,
                 eval_every: int | None = None, checkpoint_dir=None,
                 checkpoint_every: int | None = 100, resume: bool = True, output_dir=None,
                 seed: int = 0, progress: bool | None = None):
        self.model = model
        self.num_iterations = num_iterations
        self.finetune = finetune
        self.C = C
        self.prompt = prompt
        self.epochs = epochs
        self.batch_size = batch_size
        self.grad_accum = grad_accum
        self.learning_rate = learning_rate
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.max_steps = max_steps
        self.max_seq_length = max_seq_length
        self.freeze_embeddings = freeze_embeddings
        self.train_layers = train_layers
        self.eval_every = eval_every
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.output_dir = output_dir
        self.seed = seed
        self.progress = progress

    # -- data -----------------------------------------------------------------------------------
    @staticmethod
    def _labelled(X, y, columns=None) -> Examples:
        if y is None:
            return read_examples(X, "labelled", columns=columns)
        if isinstance(X, (str, os.PathLike)):
            raise InvalidInput("pass either a labelled file, or texts and their labels (y)")
        texts, labels = list(X), list(y)
        if len(texts) != len(labels):
            raise InvalidInput(f"{len(texts)} texts but {len(labels)} labels")
        return Examples.from_columns("labelled", text=texts, label=labels)

    def _encode(self, encoder, texts):
        from ..encoder import encode_as

        if self._role:
            return encode_as(encoder, texts, self._role, batch_size=64, progress=self.progress)
        return encoder.encode(texts, batch_size=64, progress=self.progress)

    def fit(self, X, y=None, *, columns: dict[str, str] | None = None, callback=None):
        """Fit on texts ``X`` with labels ``y``, or on a labelled file (``text``, ``label``)."""
        self._check_common()
        _check_int("FewShotClassifier", "num_iterations", self.num_iterations, 1, 1000)
        _check_float("FewShotClassifier", "C", self.C, 0.0, low_open=True)
        if not isinstance(self.finetune, bool):
            raise InvalidInput(f"The 'finetune' parameter of FewShotClassifier must be True or "
                               f"False. Got {self.finetune!r} instead.")
        ex = self._labelled(X, y, columns)
        texts, labels = ex.columns["text"], ex.columns["label"]
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise InvalidInput(f"few-shot classification needs examples of at least 2 classes; "
                               f"the data has only {classes[0]!r} ({len(labels)} examples)")
        from sklearn.linear_model import LogisticRegression

        from ..models import load

        out = Path(self.output_dir) if self.output_dir is not None else Path(
            tempfile.mkdtemp(prefix="embedkit-fewshot-"))
        if self.finetune:
            from .sentence import SentenceTrainer

            pairs = make_pairs(texts, labels, self.num_iterations, self.seed)
            params = {k: v for k, v in self.get_params().items()
                      if k not in ("num_iterations", "finetune", "C")}
            trainer = SentenceTrainer(**params | {"loss": "cosine", "output_dir": out})
            trainer.fit(pairs, callback=callback)
            self.encoder_ = trainer.encoder_
            self.history_ = trainer.history_
            self.train_seconds_ = trainer.train_seconds_
            self.examples_per_second_ = trainer.examples_per_second_
            self.pairs_ = len(pairs)
        else:
            from ._model import resolve_folder

            src = resolve_folder(self.model)
            if out.exists():
                shutil.rmtree(out)
            shutil.copytree(src, out, ignore=shutil.ignore_patterns("onnx", ".*", "embedkit.json"))
            self.encoder_ = load(str(out))
            self.history_, self.train_seconds_, self.pairs_ = [], 0.0, 0
        self._role = None
        if self.prompt == "auto":
            self._role = "query" if self.encoder_.prompt_for("query") else None
        elif self.prompt is not None:
            self._role = self.prompt
        vecs = self._encode(self.encoder_, texts)
        head = LogisticRegression(C=self.C, max_iter=2000)
        head.fit(vecs, labels)
        self.classes_ = [str(c) for c in head.classes_]
        self.coef_ = head.coef_.astype(np.float64)
        self.intercept_ = head.intercept_.astype(np.float64)
        self.output_dir_ = out
        self._write_head(out, ex)
        return self

    def _write_head(self, out: Path, ex: Examples) -> None:
        head = {"classes": self.classes_, "coef": self.coef_.tolist(),
                "intercept": self.intercept_.tolist(), "prompt_role": self._role}
        (out / CLASSIFIER_FILE).write_text(json.dumps(head), encoding="utf-8")
        marker = out / "embedkit.json"
        meta = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else {
            "type": "sentence_encoder", "trainer": "FewShotClassifier", "base_model": str(self.model)}
        meta["classifier"] = {"file": CLASSIFIER_FILE, "head": "logistic_regression",
                              "classes": self.classes_, "data": ex.source,
                              "recipe": self._recipe()}
        marker.write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str),
                          encoding="utf-8")

    # -- prediction -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFitted("This FewShotClassifier is not fitted yet: call fit or load first")

    def decision_function(self, texts) -> np.ndarray:
        self._check_fitted()
        if isinstance(texts, str):
            raise InvalidInput("pass a list of texts, not one str")
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.coef_)), dtype=np.float64)
        v = self._encode(self.encoder_, texts).astype(np.float64)
        return v @ self.coef_.T + self.intercept_

    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities (n, len(classes_)), in the order of ``classes_``."""
        z = self.decision_function(texts)
        if len(self.classes_) == 2:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1 - p, p], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, texts) -> list[str]:
        """The most probable class of each text."""
        proba = self.predict_proba(texts)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def score(self, texts, labels) -> float:
        """Accuracy on ``texts`` with true ``labels``."""
        pred = self.predict(texts)
        labels = [str(x) for x in labels]
        return float(np.mean([p == t for p, t in zip(pred, labels)])) if labels else 0.0

    @classmethod
    def load(cls, folder, **options) -> FewShotClassifier:
        """Read a saved classifier folder (encoder + ``classifier.json``)."""
        from ..models import load

        folder = Path(folder)
        path = folder / CLASSIFIER_FILE
        if not path.is_file():
            raise ModelNotFound(f"{folder} holds no classifier ({CLASSIFIER_FILE} is missing): "
                                "train one with 'embedkit train fewshot'")
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
            coef = np.asarray(head["coef"], dtype=np.float64)
            intercept = np.asarray(head["intercept"], dtype=np.float64)
            classes = [str(c) for c in head["classes"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelNotFound(f"{path} is not a valid classifier file: {exc}") from exc
        if coef.ndim != 2 or len(intercept) != len(coef):
            raise ModelNotFound(f"{path}: coef and intercept do not match")
        self = cls()
        self.encoder_ = load(str(folder), **options)
        self.classes_, self.coef_, self.intercept_ = classes, coef, intercept
        self._role = head.get("prompt_role")
        self.output_dir_ = folder
        return self
