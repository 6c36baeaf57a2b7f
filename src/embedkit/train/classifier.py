"""Supervised fine-tuning of a sentence encoder with a linear head, end to end.

>>> from embedkit.train.classifier import ClassifierTrainer                 # doctest: +SKIP
>>> t = ClassifierTrainer(model="multilingual-e5-small", epochs=2).fit(
...     ["정말 재미있어요", "최악의 영화", "great film", "boring"], [1, 0, 1, 0], n_outputs=1)
>>> t.coef_.shape, t.output_dir_                                            # doctest: +SKIP
((1, 384), PosixPath('/tmp/embedkit-train-...'))

The head reads the encoder's pooled vector scaled to unit length and multiplied by sqrt(dim)
(so each coordinate is about 1, as in BERT fine-tuning, and the usual learning rates move the head
as fast as the encoder). The objective is binary cross-entropy for one output (two classes),
cross-entropy for several (classes), or the mean squared error for one output of scores
(``objective="mse"``, targets scaled to [0, 1]). ``init=(coef, intercept)`` starts the head from a
logistic regression fitted on the frozen vectors (linear probing, then fine-tuning: LP-FT, Kumar
et al. 2022), which keeps the first steps from wrecking the pretrained features.

``coef_`` / ``intercept_`` are given on unit vectors, like a logistic regression fitted on
``encoder.encode(texts, normalize=True)``: ``logits = v @ coef_.T + intercept_``. The loop,
checkpoints (resumable), progress, dev evaluation with the best state kept and the saved folder are
those of every embedkit trainer (:mod:`embedkit.train.base`); the head's weights are kept out of
the saved encoder folder.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidInput
from .base import BaseTrainer, Task, _check_int
from .data import data_hash

__all__ = ["ClassifierTrainer", "OBJECTIVES"]

#: ``cross_entropy``: classes (one output: two classes, sigmoid); ``mse``: scores in [0, 1].
OBJECTIVES = ("cross_entropy", "mse")
_HEAD = "embedkit_head"


class ClassifierTrainer(BaseTrainer):
    """Fine-tune an encoder together with a linear head on labelled texts.

    Args:
        model: the encoder to start from (a model spec embedkit loads: name, folder, hub id).
        objective: ``"cross_entropy"`` (class ids as targets) or ``"mse"`` (scores in [0, 1]).
        prompt: the folder's prompt before every text (``"auto"``: ``"query"`` where the model has
            it, as E5 recommends for classification; ``None``: none).
        the rest as :class:`~embedkit.train.SentenceTrainer`.

    After ``fit``: ``encoder_``, ``output_dir_``, ``coef_``, ``intercept_``, ``history_``,
    ``dev_scores_``, ``best_score_``, ``train_seconds_``, ``examples_per_second_``.

    """

    _unit = "texts"

    def __init__(self, *, model: str = "multilingual-e5-small", objective: str = "cross_entropy",
                 prompt: str | None = "auto", epochs: int = 2, batch_size: int = 32,
                 grad_accum: int = 1, learning_rate: float = 5e-5, warmup_ratio: float = 0.1,
                 weight_decay: float = 0.01, max_steps: int | None = None,
                 max_seq_length: int = 128, freeze_embeddings: bool = True,
                 train_layers: int | None = None, eval_every: int | None = None,
                 checkpoint_dir=None, checkpoint_every: int | None = 100, resume: bool = True,
                 output_dir=None, seed: int = 0, progress: bool | None = None):
        self.model = model
        self.objective = objective
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

    def _targets(self, targets, n_outputs: int, what: str) -> np.ndarray:
        t = np.asarray(targets)
        if self.objective == "mse":
            t = t.astype(np.float32)
            if n_outputs != 1 or not np.all(np.isfinite(t)) or t.min() < 0 or t.max() > 1:
                raise InvalidInput(f"{what}: the mse objective takes one output and scores in "
                                   "[0, 1]")
            return t
        if not np.issubdtype(t.dtype, np.integer):
            raise InvalidInput(f"{what}: cross-entropy targets must be class ids (ints)")
        k = 2 if n_outputs == 1 else n_outputs
        if t.size and (t.min() < 0 or t.max() >= k):
            raise InvalidInput(f"{what}: class ids must lie in [0, {k - 1}]")
        return t.astype(np.int64)

    def fit(self, texts, targets, *, n_outputs: int, dev=None, init=None, callback=None):
        """Train on ``texts`` with ``targets``; ``dev=(texts, targets)`` is evaluated after each
        epoch (or every ``eval_every`` steps) and the best state kept; ``init=(coef, intercept)``
        starts the head (unit-vector space). Returns self.
        """
        self._check_common()
        if self.objective not in OBJECTIVES:
            raise InvalidInput(f"The 'objective' parameter of ClassifierTrainer must be one of "
                               f"{', '.join(map(repr, OBJECTIVES))}. Got {self.objective!r} "
                               "instead.")
        _check_int("ClassifierTrainer", "n_outputs", n_outputs, 1)
        texts = list(texts)
        if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise InvalidInput("ClassifierTrainer needs a non-empty list of non-empty texts")
        y = self._targets(targets, n_outputs, "the training targets")
        if len(y) != len(texts):
            raise InvalidInput(f"{len(texts)} texts but {len(y)} targets")
        import torch

        from ._model import TrainModel, resolve_folder, transformer_config

        folder = resolve_folder(self.model)
        transformer_config(folder)
        tm = TrainModel(folder, max_seq_length=self.max_seq_length,
                        freeze_embeddings=self.freeze_embeddings, train_layers=self.train_layers,
                        prompt=self.prompt)
        dim = int(tm.config["hidden_size"])
        scale = math.sqrt(dim)
        torch.manual_seed(self.seed)
        head = torch.nn.Linear(dim, n_outputs)
        if init is not None:
            coef, intercept = (np.asarray(a, dtype=np.float32) for a in init)
            if coef.shape != (n_outputs, dim) or intercept.shape != (n_outputs,):
                raise InvalidInput(f"init: expected coef ({n_outputs}, {dim}) and intercept "
                                   f"({n_outputs},); got {coef.shape} and {intercept.shape}")
            with torch.no_grad():
                head.weight.copy_(torch.from_numpy(coef / scale))
                head.bias.copy_(torch.from_numpy(intercept))
        elif self.objective == "mse":
            with torch.no_grad():
                head.bias.fill_(float(y.mean()))
        tm.module.add_module(_HEAD, head)
        objective = self.objective

        def features(tm, batch):
            return torch.nn.functional.normalize(tm.embed(batch).float(), dim=-1) * scale

        def loss(tm, rows):
            out = getattr(tm.module, _HEAD)(features(tm, [texts[i] for i in rows]))
            target = torch.from_numpy(y[rows])
            if objective == "mse":
                return torch.nn.functional.mse_loss(out[:, 0], target)
            if n_outputs == 1:
                return torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0],
                                                                           target.float())
            return torch.nn.functional.cross_entropy(out, target)

        lengths = np.asarray(tm.token_lengths(texts), dtype=np.int64)
        columns = {"text": texts, "target": y.tolist()}
        if init is not None:  # a resumed run must start from the same head
            columns["init"] = [float(x) for x in np.concatenate([coef.ravel(), intercept])]
        info = {"path": "memory", "rows": len(texts), "sha256": data_hash(columns),
                "objective": objective, "outputs": n_outputs}
        task = Task("the labelled texts", None, loss, lengths, 1)
        dev_fn = None
        if dev is not None:
            dev_texts, dev_y = list(dev[0]), self._targets(dev[1], n_outputs, "the dev targets")

            def dev_fn(tm):
                logits = self._logits(tm, dev_texts, scale)
                return _dev_metrics(logits, dev_y, objective)
        self._train(tm, [task], dev_fn, callback, [info])
        module = getattr(tm.module, _HEAD)
        self.coef_ = (module.weight.detach().numpy().astype(np.float64) * scale)
        self.intercept_ = module.bias.detach().numpy().astype(np.float64)
        del tm.module._modules[_HEAD]
        self._finish(tm, {"data": [info], "head": {"outputs": n_outputs, "objective": objective}})
        return self

    @staticmethod
    def _logits(tm, texts, scale) -> np.ndarray:
        import torch

        head = getattr(tm.module, _HEAD)
        v = tm.encode(texts)
        with torch.no_grad():
            return head(torch.from_numpy(v) * scale).numpy().astype(np.float64)


def _dev_metrics(logits: np.ndarray, y: np.ndarray, objective: str) -> tuple[float, dict]:
    if objective == "mse":
        pred = np.clip(logits[:, 0], 0.0, 1.0)
        mae = float(np.abs(pred - y).mean())
        return -mae, {"mae": round(mae, 5)}
    pred = (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(1)
    acc = float((pred == y).mean())
    return acc, {"accuracy": round(acc, 5)}
