"""The torch side of training: a model folder opened for training, pooling, saving, memory estimates.

Imported only by ``fit``: this module imports torch at its top.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..encoder import quiet_loading
from ..errors import InvalidInput, ModelNotFound
from ..text.transformer import (
    is_model_folder,
    load_tokenizer,
    pad_id,
    read_folder_config,
    read_model_config,
)

log = logging.getLogger(__name__)

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                 "embedkit.json", "conversion.json", "tf_model.h5", "flax_model.msgpack")


def resolve_folder(spec) -> Path:
    """A model spec (a named model, a folder, a hub id) to the folder of a transformer encoder."""
    from ..models import (
        _E5_ALIASES,
        _MINILM_ALIASES,
        DEFAULT_MODEL,
        default_model_path,
        minilm_path,
    )

    text = str(spec).strip() if spec is not None else DEFAULT_MODEL
    if text.lower() in _E5_ALIASES:
        return default_model_path()
    if text.lower() in _MINILM_ALIASES:
        return minilm_path()
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir() or not is_model_folder(path):
            raise ModelNotFound(f"{path} is not a transformer model folder: expected modules.json "
                                "(sentence-transformers) or config.json (Hugging Face)")
        return path.resolve()
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ModelNotFound(f"no model folder at {path}")
    from ..folders import hub_folder

    return hub_folder(text)


def transformer_config(folder: Path) -> dict:
    """The transformer's config.json, with a clear error for a folder that holds no transformer."""
    cfg = read_folder_config(folder)
    config = read_model_config(cfg.transformer_dir)
    for key in ("num_hidden_layers", "num_attention_heads"):
        if not isinstance(config.get(key), int):
            raise ModelNotFound(f"{cfg.transformer_dir / 'config.json'} does not describe a "
                                f"transformer encoder (no integer {key!r})")
    return config


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable), or the physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 34


def estimate_memory(config: dict, sequences: int, length: int, trainable: int, total: int) -> int:
    """Bytes a training step needs: activations kept for backward, weights, grads, Adam state."""
    h = int(config.get("hidden_size", 384))
    inter = int(config.get("intermediate_size", 4 * h))
    layers = int(config.get("num_hidden_layers", 12))
    heads = int(config.get("num_attention_heads", 12))
    per_layer = length * (12 * h + 3 * inter) + 3 * heads * length * length
    activations = 4 * sequences * layers * per_layer
    vocab = int(config.get("vocab_size", 30000))
    activations += 4 * sequences * length * h * 4  # embeddings output, pooling, (MLM) logits row
    # masked-LM: logits (and their gradient) over the vocabulary at the ~15% masked positions
    mlm = int(2 * 4 * 0.2 * sequences * length * vocab) if config.get("_mlm") else 0
    return int(activations + 4 * total + 12 * trainable + mlm)


def check_memory(config: dict, sequences: int, length: int, trainable: int, total: int,
                 what: str) -> int:
    """Refuse a step that would not fit in memory, with the estimate and what to change."""
    need = estimate_memory(config, sequences, length, trainable, total)
    have = available_memory()
    if need > 0.8 * have:
        raise InvalidInput(
            f"{what}: a training step of {sequences} sequences x {length} tokens needs about "
            f"{need / 2**30:.1f} GiB, more than the {0.8 * have / 2**30:.1f} GiB available "
            f"(80% of {have / 2**30:.1f} GiB free). Lower batch_size (use grad_accum for a large "
            "effective batch) or max_seq_length")
    return need


class TrainModel:
    """A transformer folder opened for training: tokenizer, torch module, pooling, prompts."""

    def __init__(self, folder: Path, *, max_seq_length: int, freeze_embeddings: bool,
                 prompt: str | None = "auto", mlm: bool = False, train_layers: int | None = None):
        import transformers

        self.folder = Path(folder)
        self.cfg = read_folder_config(self.folder)
        self.config = transformer_config(self.folder)
        self.tokenizer = load_tokenizer(self.cfg.transformer_dir)
        limit = int(self.config.get("max_position_embeddings") or 512)
        if self.config.get("model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            limit -= 2
        self.max_length = int(min(max_seq_length, limit))
        self.tokenizer.enable_truncation(self.max_length)
        self.pad = pad_id(self.tokenizer, self.cfg.transformer_dir)
        self.pooling = self.cfg.pooling
        self.normalize = self.cfg.normalize
        if prompt == "auto":
            prompt = "query" if "query" in self.cfg.prompts else None
        if prompt is not None and prompt not in self.cfg.prompts:
            raise InvalidInput(f"the model has no prompt named {prompt!r}; its prompts are: "
                               f"{', '.join(self.cfg.prompts) or '(none)'}")
        self.prompt_name = prompt
        self.prompt = self.cfg.prompts.get(prompt, "") if prompt else ""
        auto = transformers.AutoModelForMaskedLM if mlm else transformers.AutoModel
        try:
            with _quiet():
                self.module = auto.from_pretrained(str(self.cfg.transformer_dir))
        except Exception as exc:  # noqa: BLE001 - transformers raises many types
            raise ModelNotFound(f"cannot load a transformer model from {self.cfg.transformer_dir}: "
                                f"{type(exc).__name__}: {exc}") from exc
        self.encoder = self.module.base_model if mlm else self.module
        import inspect

        self._token_type = "token_type_ids" in inspect.signature(self.encoder.forward).parameters
        if freeze_embeddings:
            self.module.get_input_embeddings().weight.requires_grad_(False)
        if train_layers is not None:
            self._freeze_lower_layers(int(train_layers))
        self.module.train()

    def _freeze_lower_layers(self, keep: int) -> None:
        """Train only the top ``keep`` transformer layers (and what follows them)."""
        n = int(self.config["num_hidden_layers"])
        layers = next((m for m in self.encoder.modules() if isinstance(m, torch.nn.ModuleList)
                       and len(m) == n), None)
        if layers is None:
            raise InvalidInput(f"train_layers: cannot find the {n} transformer layers of this model")
        if keep > n:
            raise InvalidInput(f"train_layers={keep} but the model has {n} layers")
        emb = getattr(self.encoder, "embeddings", None)
        for module in [emb, *list(layers)[:n - keep]]:
            if module is not None:
                for p in module.parameters():
                    p.requires_grad_(False)

    # -- parameters -----------------------------------------------------------------------------
    def trainable(self) -> dict[str, torch.nn.Parameter]:
        return {n: p for n, p in self.module.named_parameters() if p.requires_grad}

    def counts(self) -> tuple[int, int]:
        seen, total, trainable = set(), 0, 0
        for p in self.module.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            total += p.numel()
            trainable += p.numel() if p.requires_grad else 0
        return trainable, total

    # -- tokens and vectors ---------------------------------------------------------------------
    def token_lengths(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch([self.prompt + t for t in texts])]

    def batch_tensors(self, texts: list[str], *, prompt: bool = True):
        encs = self.tokenizer.encode_batch([(self.prompt if prompt else "") + t for t in texts])
        width = max(len(e.ids) for e in encs)
        ids = np.full((len(encs), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for row, e in enumerate(encs):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def forward_hidden(self, ids, mask):
        inputs = {"input_ids": ids, "attention_mask": mask}
        if self._token_type:
            inputs["token_type_ids"] = torch.zeros_like(ids)
        return self.encoder(**inputs).last_hidden_state

    def embed(self, texts: list[str]):
        """Pooled vectors (n, dim) with gradients, as the folder pools them (not normalised)."""
        ids, mask = self.batch_tensors(texts)
        return pool(self.forward_hidden(ids, mask), mask, self.pooling)

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors for evaluation, in eval mode (length-sorted batches)."""
        was = self.module.training
        self.module.eval()
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), int(self.config["hidden_size"])), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            vec = torch.nn.functional.normalize(self.embed([texts[i] for i in idx]).float(), dim=-1)
            out[idx] = vec.numpy()
        self.module.train(was)
        return out

    # -- state ----------------------------------------------------------------------------------
    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone().contiguous() for n, p in self.trainable().items()}

    def load_trainable(self, state: dict) -> None:
        params = self.trainable()
        missing = set(params) - set(state)
        if missing:
            raise InvalidInput(f"the checkpoint lacks {len(missing)} trained tensors (e.g. "
                               f"{sorted(missing)[0]}); it was made for another model or settings")
        with torch.no_grad():
            for n, p in params.items():
                if tuple(state[n].shape) != tuple(p.shape):
                    raise InvalidInput(f"the checkpoint's tensor {n} has shape {tuple(state[n].shape)}"
                                       f", the model's {tuple(p.shape)}")
                p.copy_(state[n])

    def save(self, out: Path, meta: dict) -> Path:
        """Write a sentence-transformers folder: the source folder's files, the trained weights,
        and ``embedkit.json`` (``meta``: recipe, data hashes, metrics).
        """
        out = Path(out)
        tmp = out.with_name(out.name + ".saving")
        if tmp.exists():
            shutil.rmtree(tmp)
        src = self.folder
        rel = self.cfg.transformer_dir.resolve().relative_to(src.resolve()) \
            if self.cfg.transformer_dir.resolve() != src.resolve() else Path("")

        def ignore(d, names):
            skip = {n for n in names if n in _WEIGHT_FILES or n == "onnx" or n.startswith(".")
                    or n.endswith(".saving")}
            return skip
        shutil.copytree(src, tmp, ignore=ignore, symlinks=False)
        target = tmp / rel
        encoder = self.encoder
        with _quiet():
            if encoder is not self.module:  # masked-LM: keep the source's pooler, save the encoder
                import transformers

                encoder = transformers.AutoModel.from_pretrained(str(self.cfg.transformer_dir))
                encoder.load_state_dict(self.encoder.state_dict(), strict=False)
            encoder.save_pretrained(str(target), safe_serialization=True)
        if not (tmp / "modules.json").is_file():  # a plain HF folder: make it sentence-transformers
            _write_st_files(tmp, int(self.config["hidden_size"]), self.pooling)
        if not (target / "sentence_bert_config.json").is_file():
            (target / "sentence_bert_config.json").write_text(json.dumps(
                {"max_seq_length": self.max_length, "do_lower_case": False}), encoding="utf-8")
        meta = {"type": "sentence_encoder", "embedkit_version": __version__, **meta}
        (tmp / "embedkit.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2,
                                                      default=_json_default), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return out


class _quiet:
    """Hide transformers' bars and load reports (a new masked-LM head is expected) for a while."""

    def __enter__(self):
        from transformers.utils import logging as hf_logging

        self._ctx = quiet_loading()
        self._ctx.__enter__()
        self._level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        return self

    def __exit__(self, *exc):
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity(self._level)
        self._ctx.__exit__(*exc)
        return False


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    return repr(obj)


def _write_st_files(folder: Path, dim: int, pooling: str) -> None:
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (folder / "1_Pooling").mkdir(exist_ok=True)
    keys = {"cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens",
            "max": "pooling_mode_max_tokens", "mean_sqrt_len": "pooling_mode_mean_sqrt_len_tokens",
            "lasttoken": "pooling_mode_lasttoken"}
    cfg = {"word_embedding_dimension": dim, **{v: k == pooling for k, v in keys.items()}}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(cfg, indent=2), encoding="utf-8")


def pool(hidden, mask, mode: str):
    """Pool token vectors (batch, seq, dim) with the attention mask, in torch (differentiable)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return hidden.masked_fill(m == 0, -1e9).max(dim=1).values
    if mode == "lasttoken":
        last = mask.sum(1) - 1
        return hidden[torch.arange(hidden.shape[0]), last]
    summed = (hidden * m).sum(1)
    counts = m.sum(1).clamp(min=1e-9)
    if mode == "mean_sqrt_len":
        return summed / counts.sqrt()
    return summed / counts
