"""Contrastive fine-tuning of a sentence encoder: MNRL, CoSENT, AnglE, cosine, SimCSE, Matryoshka.

>>> from embedkit.train import SentenceTrainer                              # doctest: +SKIP
>>> trainer = SentenceTrainer(model="multilingual-e5-small", loss="cosent", epochs=1,
...                           output_dir="korsts-model").fit("korsts/sts-train.tsv",
...                                                          dev="korsts/sts-dev.tsv")
>>> trainer.encoder_.encode(["한 남자가 기타를 치고 있다."]).shape            # doctest: +SKIP
(1, 384)

Several datasets, each with its own loss, train together (batches of each dataset interleaved,
as many as its size gives): ``fit({"cosent": "sts-train.tsv", "mnrl-symmetric": "parallel.tsv"})``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidInput
from .base import BaseTrainer, Task, recall_at_1, spearman
from .data import Examples, read_examples
from .losses import LOSS_KINDS

__all__ = ["SentenceTrainer", "dev_evaluator"]


def dev_evaluator(dev, *, columns=None, score_range=None):
    """A function ``model -> (score, metrics)`` for a dev set: STS Spearman for scored pairs,
    recall@1 (anchor -> positive, target -> source) for pairs and parallel sentences.
    """
    if dev is None:
        return None, None
    if not isinstance(dev, Examples):
        dev = _read_any(dev, columns=columns, score_range=score_range)
    if dev.kind == "scored":
        s1, s2, gold = dev.columns["sentence1"], dev.columns["sentence2"], dev.columns["score"]

        def fn(tm):
            v = tm.encode(s1 + s2)
            sims = (v[:len(s1)] * v[len(s1):]).sum(1)
            value = spearman(sims, gold)
            return value, {"sts_spearman": round(value, 5)}
    elif dev.kind in ("pairs", "triplets", "parallel"):
        a, b = (("target", "source") if dev.kind == "parallel" else ("anchor", "positive"))
        qa, qb = dev.columns[a], dev.columns[b]

        def fn(tm):
            v = tm.encode(qa + qb)
            value = recall_at_1(v[:len(qa)], v[len(qa):])
            return value, {"recall@1": round(value, 5)}
    else:
        raise InvalidInput(f"a dev set of {dev.kind} examples cannot be evaluated here; use scored "
                           "pairs (STS Spearman) or pairs / parallel sentences (recall@1)")
    return fn, dev


def _read_any(path, *, columns=None, score_range=None) -> Examples:
    """Scored pairs if the file has a score column, else pairs."""
    try:
        return read_examples(path, "scored", columns=columns, score_range=score_range)
    except InvalidInput as exc:
        if "no column for 'score'" not in str(exc):
            raise
    return read_examples(path, "pairs", columns=columns)


class SentenceTrainer(BaseTrainer):
    """Fine-tune a transformer sentence encoder with a contrastive or scored-pair loss.

    Args:
        model: a model spec embedkit loads (``"multilingual-e5-small"``, a folder, a hub id).
        loss: one of :data:`~embedkit.train.losses.LOSSES` (see the catalogue there), used for
            data passed as one dataset.
        matryoshka_dims: train prefixes of the vector too (e.g. ``(384, 256, 128, 64)``).
        scale: the similarity scale of MNRL / CoSENT / AnglE (20, as sentence-transformers).
        prompt: the folder's prompt put before every text (``"auto"``: ``"query"`` where the model
            has it, as E5 recommends for symmetric tasks; ``None``: no prompt).
        epochs, batch_size, grad_accum (effective batch = batch_size x grad_accum; in-batch
            negatives come from one batch), learning_rate, warmup_ratio, weight_decay,
            max_steps (overrides epochs), max_seq_length (tokens per text while training).
        freeze_embeddings: keep the word-embedding matrix fixed (the default: it is most of a
            multilingual model's parameters and barely moves in fine-tuning).
        eval_every: evaluate the dev set every this many steps (default: after each epoch); the
            best state is kept.
        checkpoint_dir, checkpoint_every, resume: see :mod:`embedkit.train.base`.
        output_dir: where ``fit`` writes the trained folder (default: a new temporary folder).
        seed, progress.

    After ``fit``: ``encoder_`` (the trained model, loaded as embedkit loads any folder),
    ``output_dir_``, ``history_``, ``dev_before_``, ``dev_scores_``, ``best_score_``,
    ``train_seconds_``, ``examples_per_second_``.

    """

    def __init__(self, *, model: str = "multilingual-e5-small", loss: str = "mnrl",
                 matryoshka_dims: tuple[int, ...] | None = None, scale: float = 20.0,
                 prompt: str | None = "auto", epochs: int = 1, batch_size: int = 32,
                 grad_accum: int = 1, learning_rate: float = 2e-5, warmup_ratio: float = 0.1,
                 weight_decay: float = 0.01, max_steps: int | None = None,
                 max_seq_length: int = 128, freeze_embeddings: bool = True,
                 train_layers: int | None = None,
                 eval_every: int | None = None, checkpoint_dir=None,
                 checkpoint_every: int | None = 100, resume: bool = True, output_dir=None,
                 seed: int = 0, progress: bool | None = None):
        self.model = model
        self.loss = loss
        self.matryoshka_dims = matryoshka_dims
        self.scale = scale
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

    def _validate(self) -> None:
        self._check_common()
        if self.loss not in LOSS_KINDS:
            raise InvalidInput(f"The 'loss' parameter of SentenceTrainer must be one of "
                               f"{', '.join(map(repr, LOSS_KINDS))}. Got {self.loss!r} instead.")
        if self.matryoshka_dims is not None:
            dims = self.matryoshka_dims
            if isinstance(dims, (str, bytes)) or not dims or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims):
                raise InvalidInput("The 'matryoshka_dims' parameter of SentenceTrainer must be a "
                                   f"non-empty sequence of positive ints. Got {dims!r} instead.")
        if isinstance(self.scale, bool) or not isinstance(self.scale, (int, float)) or \
                not np.isfinite(self.scale) or self.scale <= 0:
            raise InvalidInput(f"The 'scale' parameter of SentenceTrainer must be a float > 0. "
                               f"Got {self.scale!r} instead.")

    # -- tasks ----------------------------------------------------------------------------------
    def _tasks(self, data, tm, *, columns=None, score_range=None) -> list[Task]:
        if isinstance(data, dict):
            items = list(data.items())
        else:
            items = [(self.loss, data)]
        tasks = []
        for loss, d in items:
            if loss not in LOSS_KINDS:
                raise InvalidInput(f"Unknown loss {loss!r}. Valid losses are: {', '.join(LOSS_KINDS)}")
            ex = read_examples(d, LOSS_KINDS[loss], columns=columns, score_range=score_range)
            if loss == "simcse" and ex.kind != "texts":
                raise InvalidInput("simcse trains on texts only")
            tasks.append(self._task(loss, ex, tm))
        return tasks

    def _task(self, loss_name: str, ex: Examples, tm) -> Task:
        import torch

        from . import losses

        dims = list(self.matryoshka_dims) if self.matryoshka_dims else None
        dim = int(tm.config["hidden_size"])
        if dims and max(dims) > dim:
            raise InvalidInput(f"matryoshka_dims {dims} go beyond the model's {dim} dimensions")
        scale = float(self.scale)

        def run(fn, *vectors, **kw):
            if dims:
                return losses.matryoshka(fn, dims, *vectors, **kw)
            return fn(*vectors, **kw)

        cols = ex.columns
        first = cols[{"texts": "text", "scored": "sentence1"}.get(ex.kind, "anchor")]
        lengths = np.asarray(tm.token_lengths(first), dtype=np.int64)
        name = f"the {loss_name} data ({ex.source.get('path', 'memory')})"
        if loss_name in ("mnrl", "mnrl-symmetric"):
            sym = loss_name == "mnrl-symmetric"
            neg = cols.get("negative")

            def loss(tm, rows):
                a = [cols["anchor"][i] for i in rows]
                p = [cols["positive"][i] for i in rows]
                texts = a + p + ([neg[i] for i in rows] if neg else [])
                v = tm.embed(texts)
                n = len(rows)
                return run(lambda x, y, *z: losses.mnrl(x, y, z[0] if z else None, scale=scale,
                                                        symmetric=sym),
                           v[:n], v[n:2 * n], *([v[2 * n:]] if neg else []))
            per = 3 if neg else 2
        elif loss_name in ("cosent", "angle", "cosine"):
            targets = np.asarray(ex.normalised_scores(), dtype=np.float32)

            def loss(tm, rows):
                a = [cols["sentence1"][i] for i in rows]
                b = [cols["sentence2"][i] for i in rows]
                v = tm.embed(a + b)
                y = torch.from_numpy(targets[rows])
                n = len(rows)
                if loss_name == "cosine":
                    return run(losses.cosine, v[:n], v[n:], targets=y)
                fn = losses.cosent if loss_name == "cosent" else losses.angle
                return run(lambda x, z: fn(x, z, y, scale=scale), v[:n], v[n:])
            per = 2
        elif loss_name == "simcse":
            texts = cols["text"]

            def loss(tm, rows):
                batch = [texts[i] for i in rows]
                v = tm.embed(batch + batch)  # two dropout masks: one forward pass, 2n rows
                n = len(rows)
                return run(lambda x, y: losses.mnrl(x, y, scale=scale), v[:n], v[n:])
            per = 2
        else:  # pragma: no cover - checked in _validate
            raise InvalidInput(f"Unknown loss {loss_name!r}")
        return Task(name, ex, loss, lengths, per)

    def _loss_names(self, data) -> list[str]:
        return list(data) if isinstance(data, dict) else [self.loss]

    def fit(self, data, y=None, *, dev=None, columns: dict[str, str] | None = None,
            score_range: tuple[float, float] | None = None, callback=None):
        """Train on ``data`` (a file, :class:`~embedkit.train.data.Examples`, or a dict
        loss -> data for several datasets); ``dev``: scored pairs or pairs evaluated during
        training, the best state kept. Returns self.
        """
        self._validate()
        from ._model import TrainModel, resolve_folder, transformer_config

        folder = resolve_folder(self.model)
        transformer_config(folder)
        dev_fn, dev_ex = dev_evaluator(dev, columns=columns, score_range=score_range)
        tm = TrainModel(folder, max_seq_length=self.max_seq_length,
                        freeze_embeddings=self.freeze_embeddings,
                        train_layers=self.train_layers, prompt=self.prompt)
        tasks = self._tasks(data, tm, columns=columns, score_range=score_range)
        info = [t.examples.source | {"loss": loss, "kind": t.examples.kind}
                for t, loss in zip(tasks, self._loss_names(data))]
        self._train(tm, tasks, dev_fn, callback, info)
        self._finish(tm, {"data": info, "dev_data": dev_ex.source if dev_ex else None,
                          "dev_before": getattr(self, "dev_before_", None)})
        return self

    @property
    def output_path(self) -> Path:
        """The trained folder (after ``fit``)."""
        self._check_fitted()
        return Path(self.output_dir_)
