"""The training loop every sentence-encoder trainer shares.

Length-bucketed batches, gradient accumulation, AdamW with linear warm-up and decay, a frozen
word-embedding matrix by default, dev evaluation with the best state kept, checkpoints that a
killed run resumes from, a clear stop on a non-finite loss, a memory estimate checked before the
first step, and a progress bar with the loss and examples/s.

Checkpoints (``checkpoint_dir``)::

    checkpoint_dir/last/trainable.safetensors   the trained tensors (frozen ones come from the model)
    checkpoint_dir/last/optimizer.safetensors   AdamW's moments; optimizer.json its settings
    checkpoint_dir/last/state.json              step, position in the data, history, recipe hash
    checkpoint_dir/best.safetensors             the tensors at the best dev score

A checkpoint is written into a temporary folder and renamed into place, so a run killed while
writing leaves the previous one intact. ``fit`` on a trainer with the same settings and data
resumes from ``last`` (``resume=True``, the default): the data order and dropout masks are derived
from ``seed`` and the step, so a resumed run ends in the same state as one that was not stopped.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EmbedkitError, InvalidInput, NotFitted

__all__ = ["BaseTrainer", "TrainingDiverged", "Task"]

log = logging.getLogger(__name__)

#: Examples per length bucket = batch_size * this: batches hold texts of similar length.
BUCKET_BATCHES = 32


class TrainingDiverged(EmbedkitError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class Task:
    """One dataset and its loss: ``loss(model, rows) -> scalar tensor`` for a batch of row indices."""

    name: str
    examples: object
    loss: Callable
    lengths: np.ndarray
    texts_per_example: int


def _check_int(owner, name, value, low, high=None, none_ok=False):
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        rng = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise InvalidInput(f"The '{name}' parameter of {owner} must be {rng}"
                           f"{' or None' if none_ok else ''}. Got {value!r} instead.")


def _check_float(owner, name, value, low, high=None, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < low or (low_open and value == low) or (high is not None and value > high):
        raise InvalidInput(f"The '{name}' parameter of {owner} must be a float "
                           f"{'>' if low_open else '>='} {low}{f' and <= {high}' if high else ''}. "
                           f"Got {value!r} instead.")


def spearman(x, y) -> float:
    from scipy.stats import spearmanr

    value = spearmanr(x, y).statistic
    return float(value) if np.isfinite(value) else 0.0


def recall_at_1(q: np.ndarray, d: np.ndarray) -> float:
    """Share of queries whose own row of ``d`` is the nearest (both unit vectors)."""
    return float((np.argmax(q @ d.T, axis=1) == np.arange(len(q))).mean())


class BaseTrainer:
    """Configuration checks, ``get_params`` and the shared loop. Subclasses build the tasks."""

    _unit = "pairs"
    #: Parameters that do not change the trained result (left out of the recipe hash).
    _not_recipe = ("output_dir", "checkpoint_dir", "checkpoint_every", "progress", "resume")

    def get_params(self) -> dict:
        """The constructor arguments (the saved configuration)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params):
        """Change constructor arguments (scikit-learn's convention); returns self."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise InvalidInput(f"Invalid parameter {key!r} for {type(self).__name__}. Valid "
                                   f"parameters are: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_common(self) -> None:
        cls = type(self).__name__
        _check_int(cls, "epochs", self.epochs, 1, 10_000)
        _check_int(cls, "batch_size", self.batch_size, 2)
        _check_int(cls, "grad_accum", self.grad_accum, 1, 10_000)
        _check_int(cls, "max_steps", self.max_steps, 1, none_ok=True)
        _check_int(cls, "max_seq_length", self.max_seq_length, 8, 8192)
        _check_float(cls, "learning_rate", self.learning_rate, 0.0, low_open=True)
        _check_float(cls, "warmup_ratio", self.warmup_ratio, 0.0, 1.0)
        _check_float(cls, "weight_decay", self.weight_decay, 0.0)
        _check_int(cls, "seed", self.seed, 0, 2**31 - 1)
        _check_int(cls, "eval_every", self.eval_every, 1, none_ok=True)
        _check_int(cls, "checkpoint_every", self.checkpoint_every, 1, none_ok=True)
        _check_int(cls, "train_layers", self.train_layers, 1, none_ok=True)
        if not isinstance(self.freeze_embeddings, bool):
            raise InvalidInput(f"The 'freeze_embeddings' parameter of {cls} must be True or False. "
                               f"Got {self.freeze_embeddings!r} instead.")
        if not (self.progress is None or isinstance(self.progress, bool)):
            raise InvalidInput(f"The 'progress' parameter of {cls} must be None, True or False. "
                               f"Got {self.progress!r} instead.")

    def _recipe(self) -> dict:
        params = {k: v for k, v in self.get_params().items() if k not in self._not_recipe}
        return json.loads(json.dumps(params, default=str))

    def _recipe_hash(self, data: list[dict]) -> str:
        blob = json.dumps({"recipe": self._recipe(), "data": [d.get("sha256") for d in data],
                           "class": type(self).__name__}, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise NotFitted(f"This {type(self).__name__} is not fitted yet: call fit first")

    def save(self, folder) -> Path:
        """Copy the trained model folder to ``folder`` (a sentence-transformers folder)."""
        self._check_fitted()
        folder = Path(folder)
        if folder.resolve() == Path(self.output_dir_).resolve():
            return folder
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(self.output_dir_, folder)
        return folder

    # -- the loop -------------------------------------------------------------------------------
    def _plan(self, tasks: list[Task], epoch: int) -> list[tuple[int, np.ndarray]]:
        rng = np.random.default_rng([self.seed, epoch])
        batches = []
        b = self.batch_size
        for t, task in enumerate(tasks):
            perm = rng.permutation(len(task.lengths))
            span = b * BUCKET_BATCHES
            for c in range(0, len(perm), span):
                chunk = perm[c:c + span]
                chunk = chunk[np.argsort(task.lengths[chunk], kind="stable")]
                for s in range(0, len(chunk), b):
                    rows = chunk[s:s + b]
                    if len(rows) >= 2:
                        batches.append((t, rows))
        order = rng.permutation(len(batches))
        return [batches[i] for i in order]

    def _check_sizes(self, tasks: list[Task]) -> None:
        for task in tasks:
            n = len(task.lengths)
            if n < self.batch_size:
                raise InvalidInput(
                    f"{task.name}: {n} examples, fewer than one batch (batch_size={self.batch_size})"
                    f". Lower batch_size to at most {n} or add examples")

    def _lr_at(self, step: int, total: int) -> float:
        warm = int(self.warmup_ratio * total)
        if step < warm:
            return self.learning_rate * (step + 1) / (warm + 1)
        return self.learning_rate * max(0.0, (total - step) / max(1, total - warm))

    def _ckpt_paths(self):
        root = Path(self.checkpoint_dir)
        return root, root / "last", root / "best.safetensors"

    def _save_checkpoint(self, tm, opt, state: dict) -> None:
        import torch
        from safetensors.torch import save_file

        root, last, _ = self._ckpt_paths()
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".last-", dir=root))
        save_file(tm.trainable_state(), str(tmp / "trainable.safetensors"))
        sd = opt.state_dict()
        tensors = {}
        for idx, st in sd["state"].items():
            for key, value in st.items():
                if torch.is_tensor(value):
                    tensors[f"{idx}/{key}"] = value.detach().clone().contiguous()
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "optimizer.json").write_text(json.dumps(sd["param_groups"], default=str),
                                            encoding="utf-8")
        (tmp / "state.json").write_text(json.dumps(state, indent=1, default=str), encoding="utf-8")
        old = root / ".last-old"
        if old.exists():
            shutil.rmtree(old)
        if last.exists():
            os.replace(last, old)
        os.replace(tmp, last)
        if old.exists():
            shutil.rmtree(old)

    def _load_checkpoint(self, tm, opt, recipe_hash: str):
        import torch
        from safetensors.torch import load_file

        _, last, best = self._ckpt_paths()
        if not (last / "state.json").is_file():
            return None
        try:
            state = json.loads((last / "state.json").read_text(encoding="utf-8"))
            trainable = load_file(str(last / "trainable.safetensors"))
            moments = load_file(str(last / "optimizer.safetensors"))
            groups = json.loads((last / "optimizer.json").read_text(encoding="utf-8"))
            best_state = load_file(str(best)) if best.is_file() else None
        except Exception as exc:  # noqa: BLE001 - safetensors/json raise several types
            raise InvalidInput(
                f"the checkpoint in {last} is corrupted or incomplete ({type(exc).__name__}: {exc})."
                " Delete it to start over, or pass resume=False (CLI: --no-resume)") from exc
        if state.get("recipe_hash") != recipe_hash:
            raise InvalidInput(
                f"the checkpoint in {last} was made with other settings or data; resuming it "
                "would mix two runs. Use another checkpoint_dir, or pass resume=False (CLI: "
                "--no-resume) to start over")
        tm.load_trainable(trainable)
        sd = {"state": {}, "param_groups": groups}
        for key, value in moments.items():
            idx, name = key.split("/", 1)
            sd["state"].setdefault(int(idx), {})[name] = value
        try:
            opt.load_state_dict(sd)
        except (ValueError, KeyError, RuntimeError) as exc:
            raise InvalidInput(f"the optimizer state in {last} does not fit the model: {exc}") from exc
        state["_best_state"] = best_state
        del torch
        return state

    def _train(self, tm, tasks: list[Task], dev_fn: Callable | None, callback: Callable | None,
               data_info: list[dict]) -> None:
        import torch

        from ..progress import progress
        from ._model import check_memory

        trainable, total = tm.counts()
        seqs = self.batch_size * max(t.texts_per_example for t in tasks)
        self.memory_estimate_ = check_memory(dict(tm.config, _mlm=getattr(self, "_mlm", False)),
                                             seqs, tm.max_length, trainable, total,
                                             type(self).__name__)
        self._check_sizes(tasks)
        self.trainable_parameters_, self.total_parameters_ = trainable, total
        torch.manual_seed(self.seed)
        params = [p for p in tm.module.parameters() if p.requires_grad]
        decay = [p for n, p in tm.module.named_parameters() if p.requires_grad
                 and not (n.endswith("bias") or "LayerNorm" in n or "layer_norm" in n)]
        no_decay = [p for p in params if all(p is not q for q in decay)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=self.learning_rate)
        plan0 = self._plan(tasks, 0)
        steps_per_epoch = math.ceil(len(plan0) / self.grad_accum)
        total_steps = self.max_steps or self.epochs * steps_per_epoch
        epochs = self.epochs if not self.max_steps else math.ceil(total_steps / steps_per_epoch)
        recipe_hash = self._recipe_hash(data_info)
        step, start_epoch, start_batch = 0, 0, 0
        history: list[dict] = []
        best_score, best_step, best_state = -math.inf, None, None
        seen, train_seconds = 0, 0.0
        resumed = None
        if self.checkpoint_dir is not None and self.resume:
            resumed = self._load_checkpoint(tm, opt, recipe_hash)
        if resumed is not None:
            step, start_epoch, start_batch = resumed["step"], resumed["epoch"], resumed["batch"]
            history = resumed.get("history", [])
            best_score = resumed.get("best_score") if resumed.get("best_score") is not None \
                else -math.inf
            best_step = resumed.get("best_step")
            best_state = resumed.get("_best_state")
            seen, train_seconds = resumed.get("examples_seen", 0), resumed.get("train_seconds", 0.0)
            log.info("resuming from step %d of %d (%s)", step, total_steps, self.checkpoint_dir)
        self.resumed_from_step_ = step if resumed is not None else None

        def state_at(epoch, batch):
            return {"recipe_hash": recipe_hash, "step": step, "epoch": epoch, "batch": batch,
                    "history": history, "best_score": best_score if best_step is not None else None,
                    "best_step": best_step, "examples_seen": seen, "train_seconds": train_seconds,
                    "total_steps": total_steps}

        def evaluate():
            nonlocal best_score, best_step, best_state
            score, metrics = dev_fn(tm)
            history.append({"step": step, "dev": metrics})
            if score > best_score:
                best_score, best_step = score, step
                best_state = tm.trainable_state()
                if self.checkpoint_dir is not None:
                    from safetensors.torch import save_file

                    Path(self.checkpoint_dir).mkdir(parents=True, exist_ok=True)
                    tmpf = Path(self.checkpoint_dir) / ".best.tmp"
                    save_file(best_state, str(tmpf))
                    os.replace(tmpf, self._ckpt_paths()[2])
            return metrics

        done = step >= total_steps
        if dev_fn is not None and resumed is None:
            self.dev_before_ = dev_fn(tm)[1]
        bar = progress(total_steps, f"train ({type(self).__name__})", "step", enabled=self.progress)
        bar.update(step)
        ema = None
        micro = 0
        step_losses: list[float] = []
        try:
            for epoch in range(start_epoch, epochs):
                if done:
                    break
                plan = plan0 if epoch == 0 else self._plan(tasks, epoch)
                first = start_batch if epoch == start_epoch else 0
                opt.zero_grad(set_to_none=True)
                boundary = first
                t0 = time.perf_counter()
                for bi, (t, rows) in enumerate(plan):
                    if bi < first:
                        continue
                    torch.manual_seed(self.seed * 1_000_003 + epoch * 100_003 + bi)
                    loss = tasks[t].loss(tm, rows)
                    if not torch.isfinite(loss.detach()):
                        train_seconds += time.perf_counter() - t0
                        self._diverged(tm, opt, state_at(epoch, boundary), loss, step, epoch)
                    (loss / self.grad_accum).backward()
                    value = float(loss.detach())
                    ema = value if ema is None else 0.9 * ema + 0.1 * value
                    step_losses.append(value)
                    seen += len(rows)
                    micro += 1
                    if micro % self.grad_accum and bi != len(plan) - 1:
                        continue
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    lr = self._lr_at(step, total_steps)
                    for g in opt.param_groups:
                        g["lr"] = lr
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    step += 1
                    boundary = bi + 1
                    micro = 0
                    now = time.perf_counter()
                    train_seconds += now - t0
                    t0 = now
                    rate = seen / max(train_seconds, 1e-9)
                    history.append({"step": step, "loss": round(float(np.mean(step_losses)), 6),
                                    "lr": lr})
                    step_losses = []
                    bar.set_postfix_str(f"loss {ema:.4f}, {rate:.1f} {self._unit}/s", refresh=False)
                    bar.update(1)
                    if dev_fn is not None and self.eval_every and step % self.eval_every == 0:
                        evaluate()
                        t0 = time.perf_counter()
                    done = step >= total_steps
                    if self.checkpoint_dir is not None and (
                            done or (self.checkpoint_every and step % self.checkpoint_every == 0)):
                        self._save_checkpoint(tm, opt, state_at(epoch, boundary))
                        t0 = time.perf_counter()
                    if callback is not None:
                        callback({"step": step, "total_steps": total_steps, "loss": ema, "lr": lr,
                                  "epoch": epoch})
                    if done:
                        break
                if dev_fn is not None and not self.eval_every and (
                        not history or history[-1].get("dev") is None):
                    evaluate()
                if self.checkpoint_dir is not None and not done:
                    self._save_checkpoint(tm, opt, state_at(epoch + 1, 0))
                start_batch = 0
        finally:
            bar.close()
        if dev_fn is not None and best_state is not None:
            tm.load_trainable(best_state)
        self.history_ = history
        self.steps_ = step
        self.train_seconds_ = round(train_seconds, 3)
        self.examples_seen_ = seen
        self.examples_per_second_ = round(seen / max(train_seconds, 1e-9), 2)
        self.best_score_ = best_score if best_step is not None else None
        self.best_step_ = best_step
        self.dev_scores_ = [h["dev"] for h in history if "dev" in h]

    def _diverged(self, tm, opt, state, loss, step, epoch):
        where = ""
        if self.checkpoint_dir is not None:
            self._save_checkpoint(tm, opt, state)
            where = (f" The last good state (after step {step}) is kept in "
                     f"{Path(self.checkpoint_dir) / 'last'}.")
        raise TrainingDiverged(
            f"the training loss became {float(loss.detach())} at step {step + 1} (epoch {epoch + 1})"
            f"; training stopped.{where} Lower learning_rate (now {self.learning_rate:g}) or check "
            "the data for empty or duplicated texts")

    def _finish(self, tm, meta: dict) -> None:
        out = Path(self.output_dir) if self.output_dir is not None else Path(
            tempfile.mkdtemp(prefix="embedkit-train-"))
        out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"trainer": type(self).__name__, "recipe": self._recipe(),
                "base_model": str(tm.folder),
                "stats": {"steps": self.steps_, "train_seconds": self.train_seconds_,
                          "examples_seen": self.examples_seen_,
                          f"{self._unit}_per_second": self.examples_per_second_,
                          "trainable_parameters": self.trainable_parameters_,
                          "total_parameters": self.total_parameters_,
                          "best_step": self.best_step_, "best_dev_score": self.best_score_},
                "dev": self.dev_scores_, **meta}
        tm.save(out, meta)
        self.output_dir_ = out
        from ..models import load

        self.encoder_ = load(str(out))
