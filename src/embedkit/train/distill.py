"""Multilingual distillation (Reimers & Gurevych, 2020): a student learns to put a sentence and its
translation where the teacher puts the source sentence.

>>> from embedkit.train import DistillationTrainer                          # doctest: +SKIP
>>> d = DistillationTrainer(teacher="all-MiniLM-L6-v2", student="all-MiniLM-L6-v2",
...                         output_dir="minilm-ko").fit("ko_en_parallel/train.tsv")

The data are parallel sentences (``source``: the teacher's language, e.g. English; ``target``: its
translation). The teacher encodes each distinct source sentence once; the vectors are cached in
``$EMBEDKIT_CACHE/teacher-vectors/`` under a hash of the teacher's files, its prompt and the
sentences, so a second run (or a resumed one) does not encode them again. The loss is
``|s(src) - t(src)|^2 + |s(tgt) - t(src)|^2``: the student keeps the teacher's space for the source
language and maps the other language into it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import InvalidInput
from .base import BaseTrainer, Task
from .data import read_examples
from .sentence import dev_evaluator

__all__ = ["DistillationTrainer", "teacher_vectors"]


def teacher_vectors(teacher, texts: list[str], *, prompt_role: str | None, batch_size: int = 64,
                    progress: bool | None = None) -> np.ndarray:
    """The teacher's vectors of ``texts``, from the cache when the same teacher made them."""
    from ..encoder import encode_as
    from ..folders import cache_root
    from ..identity import fingerprint_of

    fp = fingerprint_of(teacher) or getattr(teacher, "name", "teacher")
    h = hashlib.sha256(f"{fp}\n{prompt_role}\n".encode())
    for t in texts:
        h.update(t.encode("utf-8") + b"\x1f")
    path = cache_root() / "teacher-vectors" / f"{h.hexdigest()[:32]}.npy"
    if path.is_file():
        vecs = np.load(path, allow_pickle=False)
        if vecs.shape[0] == len(texts):
            return vecs
    if prompt_role:
        vecs = encode_as(teacher, texts, prompt_role, batch_size=batch_size, progress=progress)
    else:
        vecs = teacher.encode(texts, batch_size=batch_size, progress=progress)
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, vecs, allow_pickle=False)
    os.replace(tmp, path)
    return vecs


class DistillationTrainer(BaseTrainer):
    """Teach a student encoder a new language from parallel sentences and a teacher.

    Args:
        teacher: the teacher model spec (its vectors are the targets).
        student: the student model spec (fine-tuned; must have the teacher's dimension).
        teacher_prompt: the teacher's prompt role for the source sentences (``"auto"``: ``query``
            where the teacher has prompts, as for symmetric tasks; ``None``: none).
        prompt: the student's prompt name (``"auto"`` as in SentenceTrainer).
        the rest as :class:`~embedkit.train.SentenceTrainer`.

    """

    def __init__(self, *, teacher: str = "all-MiniLM-L6-v2", student: str = "all-MiniLM-L6-v2",
                 teacher_prompt: str | None = "auto", prompt: str | None = "auto",
                 epochs: int = 1, batch_size: int = 32, grad_accum: int = 1,
                 learning_rate: float = 5e-5, warmup_ratio: float = 0.1,
                 weight_decay: float = 0.01, max_steps: int | None = None,
                 max_seq_length: int = 128, freeze_embeddings: bool = True,
                 train_layers: int | None = None,
                 eval_every: int | None = None, checkpoint_dir=None,
                 checkpoint_every: int | None = 100, resume: bool = True, output_dir=None,
                 seed: int = 0, progress: bool | None = None):
        self.teacher = teacher
        self.student = student
        self.teacher_prompt = teacher_prompt
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

    def fit(self, data, y=None, *, dev=None, columns: dict[str, str] | None = None, callback=None):
        """Train on parallel sentences (a file or Examples); ``dev``: parallel sentences
        evaluated as target -> source recall@1. Returns self.
        """
        self._check_common()
        import torch

        from ..models import load
        from . import losses
        from ._model import TrainModel, resolve_folder, transformer_config

        if self.teacher_prompt not in (None, "auto", "query", "document"):
            raise InvalidInput("The 'teacher_prompt' parameter of DistillationTrainer must be "
                               f"'auto', 'query', 'document' or None. Got {self.teacher_prompt!r}")
        folder = resolve_folder(self.student)
        transformer_config(folder)
        ex = read_examples(data, "parallel", columns=columns)
        if dev is not None and not hasattr(dev, "kind"):
            dev = read_examples(dev, "parallel", columns=columns)
        dev_fn, dev_ex = dev_evaluator(dev)
        teacher = load(self.teacher)
        role = self.teacher_prompt
        if role == "auto":
            role = "query" if teacher.prompt_for("query") else None
        src = ex.columns["source"]
        uniq: dict[str, int] = {}
        rows = np.asarray([uniq.setdefault(t, len(uniq)) for t in src], dtype=np.int64)
        t_vecs = teacher_vectors(teacher, list(uniq), prompt_role=role, progress=self.progress)
        del teacher
        tm = TrainModel(folder, max_seq_length=self.max_seq_length,
                        freeze_embeddings=self.freeze_embeddings,
                        train_layers=self.train_layers, prompt=self.prompt)
        if t_vecs.shape[1] != int(tm.config["hidden_size"]):
            raise InvalidInput(f"the teacher's vectors have {t_vecs.shape[1]} dimensions, the "
                               f"student's {tm.config['hidden_size']}: distillation needs them equal")
        targets = torch.from_numpy(t_vecs)
        tgt = ex.columns["target"]

        def loss(tm, batch):
            n = len(batch)
            v = tm.embed([src[i] for i in batch] + [tgt[i] for i in batch])
            if tm.normalize:
                v = torch.nn.functional.normalize(v, dim=-1)
            t = targets[rows[batch]]
            return losses.mse(v[:n], t) + losses.mse(v[n:], t)

        lengths = np.asarray(tm.token_lengths(tgt), dtype=np.int64)
        task = Task(f"distill on {ex.source.get('path')}", ex, loss, lengths, 2)
        info = [ex.source | {"loss": "mse", "kind": "parallel", "teacher": str(self.teacher),
                             "teacher_prompt": role}]
        self._train(tm, [task], dev_fn, callback, info)
        self._finish(tm, {"data": info, "dev_data": dev_ex.source if dev_ex else None,
                          "dev_before": getattr(self, "dev_before_", None)})
        return self

    @property
    def output_path(self) -> Path:
        self._check_fitted()
        return Path(self.output_dir_)
