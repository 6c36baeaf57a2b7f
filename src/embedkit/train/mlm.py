"""Masked-LM continued pre-training on a domain corpus (BERT's objective), streamed from a file.

>>> from embedkit.train import MaskedLMTrainer                               # doctest: +SKIP
>>> m = MaskedLMTrainer(model="multilingual-e5-small", max_steps=500,
...                     output_dir="e5-film").fit("reviews.txt.xz")
>>> m.encoder_.encode(["연기가 정말 좋았다"]).shape                                # doctest: +SKIP
(1, 384)

The corpus is a text file (one text per line; ``.gz``/``.xz``/``.bz2`` read as they stream) or a
list of texts. It is read in blocks of ``batch_size * 32`` lines: each block is shuffled and
bucketed by length with the run's seed, so memory stays one block whatever the corpus size. A
folder without a masked-LM head (such as the converted multilingual-e5-small, or any
sentence-transformers folder) gets a new head; the word-embedding matrix is frozen by default,
which also fixes the head's tied output matrix. Logits are computed only at masked positions.
The result is the encoder alone, in the source folder's sentence-transformers layout (pooling,
prompts), ready to use or to fine-tune further with :class:`~embedkit.train.SentenceTrainer`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import InvalidInput
from .base import BUCKET_BATCHES, BaseTrainer, Task, _check_float
from .data import data_hash, iter_lines
from .sentence import dev_evaluator

__all__ = ["MaskedLMTrainer"]


class _Stream:
    """The batches of one epoch over a streamed corpus: ``len`` known, read lazily."""

    def __init__(self, lines_fn, n_lines: int, batch: int, seed: int, epoch: int, lengths_fn):
        self.lines_fn, self.n_lines, self.batch = lines_fn, n_lines, batch
        self.seed, self.epoch, self.lengths_fn = seed, epoch, lengths_fn
        block = batch * BUCKET_BATCHES
        full, rest = divmod(n_lines, block)
        self.n = full * BUCKET_BATCHES + math.ceil(rest / batch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        block = self.batch * BUCKET_BATCHES
        buf: list[str] = []
        k = 0
        for line in self.lines_fn():
            buf.append(line)
            if len(buf) == block:
                yield from self._emit(buf, k)
                buf, k = [], k + 1
        if buf:
            yield from self._emit(buf, k)

    def _emit(self, buf, k):
        rng = np.random.default_rng([self.seed, self.epoch, k])
        order = rng.permutation(len(buf))
        lengths = np.asarray([len(buf[i]) for i in order])
        order = order[np.argsort(lengths, kind="stable")]
        batches = [order[s:s + self.batch] for s in range(0, len(order), self.batch)]
        for b in rng.permutation(len(batches)):
            yield 0, [buf[i] for i in batches[b]]


class MaskedLMTrainer(BaseTrainer):
    """Continue a transformer's pre-training with masked-LM on a domain corpus.

    Args:
        model: a model spec (named model, folder, hub id).
        mask_probability: share of tokens chosen for prediction (80% become the mask token, 10% a
            random token, 10% stay), as BERT.
        max_lines: read at most this many lines of the corpus per epoch.
        the rest as :class:`~embedkit.train.SentenceTrainer` (``max_steps`` bounds a long corpus).

    After ``fit``: ``encoder_``, ``output_dir_``, ``history_`` (masked-LM loss per step),
    ``dev_before_`` / ``dev_scores_`` when a dev set (scored pairs or pairs) is given.

    """

    _unit = "texts"
    _mlm = True

    def __init__(self, *, model: str = "multilingual-e5-small", mask_probability: float = 0.15,
                 max_lines: int | None = None, epochs: int = 1, batch_size: int = 16,
                 grad_accum: int = 1, learning_rate: float = 5e-5, warmup_ratio: float = 0.1,
                 weight_decay: float = 0.01, max_steps: int | None = None,
                 max_seq_length: int = 128, freeze_embeddings: bool = True,
                 train_layers: int | None = None,
                 eval_every: int | None = None, checkpoint_dir=None,
                 checkpoint_every: int | None = 100, resume: bool = True, output_dir=None,
                 seed: int = 0, progress: bool | None = None):
        self.model = model
        self.mask_probability = mask_probability
        self.max_lines = max_lines
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
        _check_float("MaskedLMTrainer", "mask_probability", self.mask_probability, 0.0, 1.0,
                     low_open=True)
        from .base import _check_int

        _check_int("MaskedLMTrainer", "max_lines", self.max_lines, 1, none_ok=True)

    def _corpus(self, corpus):
        if isinstance(corpus, (str, os.PathLike)):
            path = Path(corpus)
            if not path.is_file():
                raise InvalidInput(f"No such corpus file: {path}")

            def lines():
                for i, line in enumerate(iter_lines(path)):
                    if self.max_lines is not None and i >= self.max_lines:
                        return
                    yield line
            from ..identity import file_sha256

            source = {"path": str(path.resolve()), "sha256": file_sha256(path)}
        elif isinstance(corpus, (list, tuple)):
            texts = [t for t in corpus if isinstance(t, str) and t.strip()]
            if len(texts) != len(corpus):
                raise InvalidInput("every corpus item must be a non-empty str")
            texts = texts[:self.max_lines] if self.max_lines else list(texts)

            def lines():
                return iter(texts)
            source = {"path": "memory", "sha256": data_hash({"text": texts})}
        else:
            raise InvalidInput(f"the corpus must be a text file path or a list of texts, got "
                               f"{type(corpus).__name__}")
        n = sum(1 for _ in lines())
        if n == 0:
            raise InvalidInput(f"the corpus {source['path']} has no non-empty lines")
        source["rows"] = n
        return lines, n, source

    def fit(self, corpus, y=None, *, dev=None, callback=None):
        """Train on ``corpus`` (a text file or a list of texts). Returns self."""
        self._validate()
        import torch

        from ._model import TrainModel, resolve_folder, transformer_config

        folder = resolve_folder(self.model)
        transformer_config(folder)
        lines, n_lines, source = self._corpus(corpus)
        dev_fn, dev_ex = dev_evaluator(dev)
        tm = TrainModel(folder, max_seq_length=self.max_seq_length,
                        freeze_embeddings=self.freeze_embeddings,
                        train_layers=self.train_layers, prompt=None, mlm=True)
        mask_id = None
        for name in (_mask_token(tm), "[MASK]", "<mask>"):
            if name and tm.tokenizer.token_to_id(name) is not None:
                mask_id = tm.tokenizer.token_to_id(name)
                break
        if mask_id is None:
            raise InvalidInput(f"{folder}: the tokenizer has no mask token ([MASK] or <mask>); "
                               "masked-LM training needs one")
        specials = sorted(set(tm.tokenizer.encode("a").ids) - set(
            tm.tokenizer.encode("a", add_special_tokens=False).ids) | {tm.pad})
        vocab = int(tm.config["vocab_size"])
        head = getattr(tm.module, "cls", None) or getattr(tm.module, "lm_head", None)
        p = float(self.mask_probability)
        self._lines, self._n_lines = lines, n_lines

        def loss(tm, texts):
            ids, mask = tm.batch_tensors(texts, prompt=False)
            special = mask == 0
            for s in specials:
                special |= ids == s
            sel = (torch.rand(ids.shape) < p) & ~special
            if not bool(sel.any()):
                cand = (~special).nonzero()
                if len(cand) == 0:
                    return torch.zeros((), requires_grad=True)
                r, c = cand[0]
                sel[r, c] = True
            labels = ids[sel]
            r = torch.rand(ids.shape)
            inputs = ids.clone()
            inputs[sel & (r < 0.8)] = mask_id
            rand = sel & (r >= 0.8) & (r < 0.9)
            inputs[rand] = torch.randint(0, vocab, (int(rand.sum()),))
            if head is not None:
                hidden = tm.forward_hidden(inputs, mask)
                logits = head(hidden[sel])
            else:
                kw = {"token_type_ids": torch.zeros_like(inputs)} if tm._token_type else {}
                logits = tm.module(input_ids=inputs, attention_mask=mask, **kw).logits[sel]
            return torch.nn.functional.cross_entropy(logits.float(), labels)

        task = Task(f"mlm on {source['path']}", None, loss, np.zeros(n_lines, dtype=np.int64), 1)
        info = [source | {"loss": "mlm", "kind": "texts"}]
        self._train(tm, [task], dev_fn, callback, info)
        self._finish(tm, {"data": info, "dev_data": dev_ex.source if dev_ex else None,
                          "dev_before": getattr(self, "dev_before_", None)})
        return self

    def _plan(self, tasks, epoch):
        return _Stream(self._lines, self._n_lines, self.batch_size, self.seed, epoch, None)

    def _check_sizes(self, tasks) -> None:
        if self._n_lines < self.batch_size:
            raise InvalidInput(f"the corpus has {self._n_lines} lines, fewer than one batch "
                               f"(batch_size={self.batch_size}). Lower batch_size or add text")


def _mask_token(tm) -> str | None:
    import json

    cfg = tm.cfg.transformer_dir / "tokenizer_config.json"
    if cfg.is_file():
        try:
            value = json.loads(cfg.read_text(encoding="utf-8")).get("mask_token")
        except ValueError:
            return None
        return value.get("content") if isinstance(value, dict) else value
    return None
