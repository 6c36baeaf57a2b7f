"""Transformer sentence encoder for sentence-transformers and Hugging Face encoder folders.

The pooling (mean, CLS, max, ...), the maximum sequence length and whether vectors are normalised
come from the folder's own sentence-transformers files (``modules.json``,
``sentence_bert_config.json``, ``1_Pooling/config.json``); a plain Hugging Face folder gets mean
pooling. Texts longer than the model's window are never truncated silently: they are split into
overlapping windows of tokens, each window is encoded, and the text's vector is the token-weighted
mean of its windows (or, with ``truncate=True``, only the first window is kept and a warning is
logged). :meth:`TransformerEncoder.chunk` gives the same windows as character spans, which the
indexer stores as separate chunks. :meth:`TransformerEncoder.encode_tokens` gives contextual
token vectors with character offsets into each text.

Tokenisation, windowing, batching and pooling live in :class:`TransformerBase`; a backend only
implements ``_forward_hidden`` (token ids -> token vectors). :class:`TransformerEncoder` runs
torch; :class:`embedkit.text.onnx.OnnxEncoder` runs ONNX Runtime.

torch and transformers are imported only when a torch model is loaded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..encoder import BaseEncoder, progress_bar, quiet_loading
from ..errors import InvalidInput, ModelNotFound, require
from ..similarity import l2_normalize

__all__ = ["TransformerEncoder", "TransformerBase", "TokenEmbeddings", "Chunk", "POOLING_MODES"]

log = logging.getLogger(__name__)

#: Padded tokens per forward pass on the CPU. Measured on multilingual-e5-small, 2 cores, calls of
#: 32 texts (benchmarks/batch_tokens.py, cut points as :meth:`TransformerBase._batches` chooses them):
#: Korean/English sentences 1.57x as fast as 32 rows per pass (one long sentence no longer pads the
#: other 31), 1,200-character paragraphs 1.19x; budgets of 512 and 2,048 were within noise of it.
CPU_BATCH_TOKENS = 1024
#: Rows a forward pass may hold whatever the token budget (4 windows of 512 tokens: 2,048).
MIN_PASS_ROWS = 4
#: What a forward pass costs besides its padded tokens, in tokens: on 2 cores, passes of 4 / 8 / 16
#: rows of 128 tokens took 204 / 364 / 698 ms, about 45 ms (140 tokens' worth) plus 0.31 ms a token.
PASS_OVERHEAD_TOKENS = 128

POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len", "lasttoken")
_ST_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_lasttoken": "lasttoken",
}


@dataclass(frozen=True)
class Chunk:
    """A window of a text: ``text[start:end]`` with its index among the text's windows."""

    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, eq=False)
class TokenEmbeddings:
    """Contextual vectors of one text's tokens: ``vectors[i]`` is ``tokens[i]``, which is
    ``text[offsets[i][0]:offsets[i][1]]`` (character offsets into the original text)."""

    tokens: list[str]
    offsets: list[tuple[int, int]]
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class FolderConfig:
    """What a sentence-transformers / Hugging Face folder says about how to embed."""

    transformer_dir: Path
    pooling: str
    normalize: bool
    max_length: int | None
    prompts: dict[str, str] = field(default_factory=dict)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"cannot read {path}: {exc}") from exc


def read_folder_config(folder: Path) -> FolderConfig:
    """Read pooling, normalisation and max length from a model folder."""
    folder = Path(folder)
    transformer_dir, pooling, normalize, max_length = folder, "mean", False, None
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        for module in _read_json(modules_file):
            kind = str(module.get("type", ""))
            sub = folder / module.get("path", "")
            if kind.endswith("models.Transformer"):
                transformer_dir = sub
            elif kind.endswith("models.Pooling") and (sub / "config.json").is_file():
                cfg = _read_json(sub / "config.json")
                if cfg.get("pooling_mode"):
                    pooling = str(cfg["pooling_mode"]).replace("mean_sqrt_len_tokens",
                                                               "mean_sqrt_len")
                else:
                    on = [mode for key, mode in _ST_POOLING_KEYS.items() if cfg.get(key)]
                    pooling = on[0] if on else "mean"
            elif kind.endswith("models.Normalize"):
                normalize = True
    for name in ("sentence_bert_config.json", "sentence_roberta_config.json"):
        if (transformer_dir / name).is_file():
            max_length = _read_json(transformer_dir / name).get("max_seq_length")
            break
    if pooling not in POOLING_MODES:
        raise ModelNotFound(
            f"Invalid pooling mode {pooling!r} in {folder}. Valid pooling modes are: "
            f"{', '.join(POOLING_MODES)}"
        )
    prompts = {}
    if (folder / "config_sentence_transformers.json").is_file():
        raw = _read_json(folder / "config_sentence_transformers.json").get("prompts") or {}
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise ModelNotFound(f"{folder / 'config_sentence_transformers.json'}: 'prompts' must map "
                                "names to strings")
        prompts = {str(k): v for k, v in raw.items()}
    return FolderConfig(transformer_dir, pooling, normalize, max_length, prompts)


def is_model_folder(folder: Path) -> bool:
    """True if the folder looks like a sentence-transformers or Hugging Face model."""
    folder = Path(folder)
    return (folder / "modules.json").is_file() or (folder / "config.json").is_file()


def read_model_config(transformer_dir: Path) -> dict:
    """The Hugging Face ``config.json`` of the transformer inside a model folder."""
    path = Path(transformer_dir) / "config.json"
    if not path.is_file():
        raise ModelNotFound(
            f"{transformer_dir} has no config.json: it is not a Hugging Face transformer folder"
        )
    cfg = _read_json(path)
    if not isinstance(cfg, dict) or not isinstance(cfg.get("hidden_size"), int):
        raise ModelNotFound(
            f"{path} does not describe a transformer encoder (no integer 'hidden_size')"
        )
    return cfg


class TransformerBase(BaseEncoder):
    """Tokenisation, windows, length-sorted batches and pooling shared by every transformer backend.

    Subclasses call :meth:`_configure` in their constructor and implement
    ``_forward_hidden(batch) -> (hidden, mask)``: token vectors (batch, width, dim) float32 for
    rows of token ids (special tokens included), padded to the batch's longest row only.
    """

    modality = "text"

    def _configure(self, path, *, name: str | None, pooling: str | None, max_length: int | None,
                   normalize: bool | None, overlap: int | None, truncate: bool,
                   batch_tokens: int | None = None) -> FolderConfig:
        self.path = Path(path)
        if not is_model_folder(self.path):
            raise ModelNotFound(
                f"{self.path} is not a model folder: it has neither modules.json "
                "(sentence-transformers) nor config.json (Hugging Face)"
            )
        cfg = read_folder_config(self.path)
        self.pooling = pooling or cfg.pooling
        if self.pooling not in POOLING_MODES:
            raise InvalidInput(
                f"Invalid pooling mode {self.pooling!r}. Valid pooling modes are: "
                f"{', '.join(POOLING_MODES)}"
            )
        if max_length is not None and (not isinstance(max_length, int)
                                       or isinstance(max_length, bool) or max_length <= 0):
            raise InvalidInput(f"max_length must be a positive integer, got {max_length!r}")
        if overlap is not None and (not isinstance(overlap, int) or isinstance(overlap, bool)
                                    or overlap < 0):
            raise InvalidInput(f"overlap must be a non-negative integer, got {overlap!r}")
        if not isinstance(truncate, bool):
            raise InvalidInput(f"truncate must be True or False, got {truncate!r}")
        if batch_tokens is not None and (not isinstance(batch_tokens, int)
                                         or isinstance(batch_tokens, bool) or batch_tokens <= 0):
            raise InvalidInput(f"batch_tokens must be a positive integer or None, got {batch_tokens!r}")
        self.batch_tokens = batch_tokens
        self.default_normalize = cfg.normalize if normalize is None else bool(normalize)
        self.name = name or self.path.name
        self.truncate = truncate
        self.model_config = read_model_config(cfg.transformer_dir)
        self.tokenizer = load_tokenizer(cfg.transformer_dir)
        limit = int(self.model_config.get("max_position_embeddings") or 512)
        if self.model_config.get("model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            limit -= 2  # RoBERTa reserves the first positions for padding offsets
        self.max_length = int(min(max_length or cfg.max_length or limit, limit))
        self.prompts = dict(cfg.prompts)
        self._prefix, self._suffix = special_tokens(self.tokenizer)
        self.n_special = len(self._prefix) + len(self._suffix)
        self.window = self.max_length - self.n_special
        if self.window < 8:
            raise InvalidInput(f"max_length {self.max_length} leaves too few tokens per window")
        default_overlap = max(self.window // 8, 1)
        self.overlap = min(self.window // 2, overlap if overlap is not None else default_overlap)
        self.dim = int(self.model_config["hidden_size"])
        self._pad_id = pad_id(self.tokenizer, cfg.transformer_dir)
        return cfg

    # -- tokens and windows --------------------------------------------------------------------

    def _tokenize(self, texts: list[str]) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        return [e.ids for e in encs], [e.offsets for e in encs]

    def _spans(self, n_tokens: int, window: int, overlap: int) -> list[tuple[int, int]]:
        if n_tokens <= window:
            return [(0, n_tokens)]
        stride = window - overlap
        spans, start = [], 0
        while True:
            end = min(start + window, n_tokens)
            spans.append((start, end))
            if end == n_tokens:
                return spans
            start += stride

    def _text_spans(self, n_tokens: int, window: int | None = None) -> list[tuple[int, int]]:
        """The token windows of one text: all of them, or only the first with ``truncate``."""
        window = self.window if window is None else window
        spans = self._spans(n_tokens, window, min(self.overlap, window // 2))
        return spans[:1] if self.truncate else spans

    def _warn_truncated(self, lengths: list[int]) -> None:
        cut = sum(1 for n in lengths if n > self.window)
        if self.truncate and cut:
            log.warning("%d of %d texts are longer than %d tokens and were truncated "
                        "(truncate=True); pass truncate=False to encode every window",
                        cut, len(lengths), self.window)

    def chunk(self, text: str, *, max_tokens: int | None = None,
              overlap: int | None = None) -> list[Chunk]:
        """Split a text into overlapping windows of at most ``max_tokens`` tokens.

        Returns character spans into ``text``; a text that fits in one window is one chunk.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"text must be a str, got {type(text).__name__}")
        window = min(max_tokens or self.window, self.window)
        overlap = min(window // 2, self.overlap if overlap is None else overlap)
        ids, offsets = self._tokenize([text])
        offsets = offsets[0]
        if not offsets:
            return [Chunk(0, 0, len(text), text)] if text.strip() else []
        chunks = []
        for i, (a, b) in enumerate(self._spans(len(offsets), window, overlap)):
            start = 0 if a == 0 else offsets[a][0]
            end = len(text) if b == len(offsets) else offsets[b - 1][1]
            chunks.append(Chunk(i, start, end, text[start:end]))
        return chunks

    # -- encoding ------------------------------------------------------------------------------

    def _pad(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Pad rows of ids to the batch's longest row, never beyond: (input_ids, attention_mask)."""
        width = max(len(ids) for ids in batch)
        input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, ids in enumerate(batch):
            input_ids[row, :len(ids)] = ids
            mask[row, :len(ids)] = 1
        return input_ids, mask

    def _batches(self, order: list[int], rows: list[list[int]], batch_size: int):
        """Cut rows sorted by length into forward passes of at most ``batch_size`` rows.

        With :attr:`batch_tokens` set (the CPU default), the cut points are chosen to spend the
        least compute: a pass costs its padded tokens (rows x its longest row) plus
        :data:`PASS_OVERHEAD_TOKENS`, and holds at most ``batch_tokens`` padded tokens unless it has
        no more than :data:`MIN_PASS_ROWS` rows (dynamic programming over the sorted rows). So
        sixteen short sentences of mixed lengths go in two or three passes of similar lengths
        rather than one padded to the longest, and windows of 512 tokens go four at a time, where
        32 of them would run at fewer tokens per second (their attention matrices no longer fit in
        cache). Without a budget, passes are plain runs of ``batch_size`` rows.
        """
        budget = self.batch_tokens
        if not budget:
            for start in range(0, len(order), batch_size):
                yield order[start:start + batch_size]
            return
        widths = [len(rows[s]) for s in order]
        n = len(widths)
        best = [0.0] + [float("inf")] * n  # best[j]: least cost of the first j rows
        cut = [0] * (n + 1)
        for j in range(1, n + 1):
            w = widths[j - 1]  # the widest of any pass that ends here
            for size in range(1, min(batch_size, j) + 1):
                if size > MIN_PASS_ROWS and size * w > budget:
                    break
                cost = best[j - size] + PASS_OVERHEAD_TOKENS + size * w
                if cost < best[j]:
                    best[j], cut[j] = cost, j - size
        passes, j = [], n
        while j > 0:
            passes.append(order[cut[j]:j])
            j = cut[j]
        yield from reversed(passes)

    def _forward_hidden(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover - each backend implements it

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Pooled vectors for a batch of token-id lists (special tokens included)."""
        hidden, mask = self._forward_hidden(batch)
        return pool(hidden, mask, self.pooling)

    def _segments(self, texts: list[str], window: int | None = None):
        encs = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        ids = [e.ids for e in encs]
        self._warn_truncated([len(t) for t in ids])
        segments: list[tuple[int, int, int]] = []  # (text index, first token, end token)
        for t, toks in enumerate(ids):
            for a, b in self._text_spans(len(toks), window):
                segments.append((t, a, b))
        return ids, encs, segments

    def encode(self, items, *, batch_size: int = 32, normalize: bool | None = None,
               progress: bool | None = None) -> np.ndarray:
        """Encode texts; long texts are the token-weighted mean of their windows.

        An empty text is encoded as the model's special tokens alone (as sentence-transformers
        does); control characters are dropped by the tokenizer's normaliser.
        """
        return self._encode(items, [], batch_size=batch_size, normalize=normalize, progress=progress)

    def encode_with_prompt(self, items, prompt: str, *, batch_size: int = 32,
                           normalize: bool | None = None, progress: bool | None = None) -> np.ndarray:
        """Encode texts with ``prompt`` before each; a long text gets it in every window.

        The prompt's tokens are those of ``prompt + text`` (its trailing space belongs to the first
        word, as one tokenisation of the whole would give), so short texts embed exactly as
        sentence-transformers' ``encode(..., prompt=prompt)``.
        """
        if not isinstance(prompt, str):
            raise InvalidInput(f"prompt must be a str, got {type(prompt).__name__}")
        prompt_ids = self.tokenizer.encode(prompt.rstrip(), add_special_tokens=False).ids
        if len(prompt_ids) > self.window // 2:
            raise InvalidInput(f"the prompt {prompt!r} takes {len(prompt_ids)} tokens, more than half "
                               f"of the model's {self.window}-token window")
        return self._encode(items, prompt_ids, batch_size=batch_size, normalize=normalize,
                            progress=progress)

    def _encode(self, items, prompt_ids: list[int], *, batch_size: int, normalize: bool | None,
                progress: bool | None) -> np.ndarray:
        self._check_batch_size(batch_size)
        texts = self._prepare(items)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids, _, segments = self._segments(texts, self.window - len(prompt_ids))
        rows = [self._prefix + prompt_ids + ids[t][a:b] + self._suffix for t, a, b in segments]
        order = sorted(range(len(rows)), key=lambda s: len(rows[s]))
        weights = np.zeros(len(texts), dtype=np.float32)
        show = self._show_progress(len(rows), batch_size, progress)
        with progress_bar(len(rows), f"encode ({self.name})", show) as bar:
            for idx in self._batches(order, rows, batch_size):
                vecs = self._forward([rows[s] for s in idx])
                for s, vec in zip(idx, vecs):
                    t = segments[s][0]
                    w = max(len(rows[s]) - self.n_special - len(prompt_ids), 1)
                    out[t] += w * vec
                    weights[t] += w
                bar.update(len(idx))
        out /= np.maximum(weights, 1e-12)[:, None]
        if normalize if normalize is not None else self.default_normalize:
            out = l2_normalize(out)
        return out

    def encode_tokens(self, items, *, batch_size: int = 32, normalize: bool = False,
                      progress: bool | None = None) -> list[TokenEmbeddings]:
        """Contextual token vectors with character offsets into each text.

        >>> enc = TransformerEncoder("path/to/model")                       # doctest: +SKIP
        >>> te = enc.encode_tokens(["the river bank"])[0]                    # doctest: +SKIP
        >>> te.tokens, te.offsets, te.vectors.shape                          # doctest: +SKIP
        (['the', 'river', 'bank'], [(0, 3), (4, 9), (10, 14)], (3, 384))

        Special tokens ([CLS], [SEP], ...) are left out. A token of a long text that falls in
        several overlapping windows gets the mean of its vectors from those windows; with
        ``truncate=True`` only the first window's tokens are returned. Always one
        :class:`TokenEmbeddings` per text (with zero tokens for an empty text).
        """
        self._check_batch_size(batch_size)
        texts = self._prepare(items)
        if not texts:
            return []
        ids, encs, segments = self._segments(texts)
        ends: dict[int, int] = {}  # tokens kept per text (all, unless truncated)
        for t, _, b in segments:
            ends[t] = max(ends.get(t, 0), b)
        sums = [np.zeros((ends.get(t, 0), self.dim), dtype=np.float32) for t in range(len(texts))]
        counts = [np.zeros(ends.get(t, 0), dtype=np.float32) for t in range(len(texts))]
        rows = [self._prefix + ids[t][a:b] + self._suffix for t, a, b in segments]
        order = sorted(range(len(rows)), key=lambda s: len(rows[s]))
        show = self._show_progress(len(rows), batch_size, progress)
        p = len(self._prefix)
        with progress_bar(len(rows), f"encode_tokens ({self.name})", show) as bar:
            for idx in self._batches(order, rows, batch_size):
                hidden, _ = self._forward_hidden([rows[s] for s in idx])
                for s, h in zip(idx, hidden):
                    t, a, b = segments[s]
                    sums[t][a:b] += h[p:p + (b - a)]
                    counts[t][a:b] += 1
                bar.update(len(idx))
        result = []
        for t in range(len(texts)):
            n = ends.get(t, 0)
            vecs = sums[t] / np.maximum(counts[t], 1)[:, None]
            if normalize and n:
                vecs = l2_normalize(vecs)
            result.append(TokenEmbeddings(tokens=list(encs[t].tokens[:n]),
                                          offsets=[tuple(o) for o in encs[t].offsets[:n]],
                                          vectors=vecs.astype(np.float32)))
        return result


class TransformerEncoder(TransformerBase):
    """Sentence embeddings from a transformer folder (BERT, MiniLM, RoBERTa, XLM-R ...) on torch.

    >>> enc = TransformerEncoder("path/to/all-MiniLM-L6-v2")          # doctest: +SKIP
    >>> enc.encode(["a red car", "a blue SUV"]).shape                   # doctest: +SKIP
    (2, 384)

    Args:
        path: the model folder.
        name: the identity stamped into stores (defaults to the folder name).
        pooling: override the folder's pooling mode.
        max_length: tokens per window, special tokens included (defaults to the folder's).
        normalize: override whether vectors are L2-normalised by default.
        overlap: tokens shared by consecutive windows of a long text.
        truncate: keep only the first window of a long text (logs a warning) instead of
            encoding every window.
        device: torch device.
        batch_tokens: padded tokens per forward pass at most (rows x the longest row), besides
            ``batch_size`` rows, with the cut points chosen to waste the least padding (see
            :meth:`TransformerBase._batches`). ``"auto"``: :data:`CPU_BATCH_TOKENS` on the CPU,
            None (plain runs of ``batch_size`` rows) on an accelerator.
    """

    def __init__(self, path, *, name: str | None = None, pooling: str | None = None,
                 max_length: int | None = None, normalize: bool | None = None,
                 overlap: int | None = None, truncate: bool = False, device: str = "cpu",
                 batch_tokens: int | None | str = "auto"):
        if batch_tokens == "auto":
            batch_tokens = CPU_BATCH_TOKENS if str(device).startswith("cpu") else None
        cfg = self._configure(path, name=name, pooling=pooling, max_length=max_length,
                              normalize=normalize, overlap=overlap, truncate=truncate,
                              batch_tokens=batch_tokens)
        self.device = device
        self._torch = require("torch", "text", "the transformer encoder")
        transformers = require("transformers", "text", "the transformer encoder")
        try:
            with quiet_loading():
                self.model = transformers.AutoModel.from_pretrained(str(cfg.transformer_dir))
        except Exception as exc:  # noqa: BLE001 - transformers/safetensors raise many types
            raise ModelNotFound(
                f"cannot load a transformer model from {cfg.transformer_dir}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self.model.eval().to(device)
        import inspect

        self._token_type = "token_type_ids" in inspect.signature(self.model.forward).parameters

    def _forward_hidden(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        torch = self._torch
        input_ids, mask = self._pad(batch)
        inputs = {"input_ids": torch.from_numpy(input_ids).to(self.device),
                  "attention_mask": torch.from_numpy(mask).to(self.device)}
        if self._token_type:
            inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])
        with torch.inference_mode():
            hidden = self.model(**inputs).last_hidden_state.float().cpu().numpy()
        return hidden, mask


def load_tokenizer(folder: Path):
    """A folder's fast tokenizer as a ``tokenizers.Tokenizer``, without truncation or padding."""
    tokenizers = require("tokenizers", "text", "the transformer encoder")
    path = Path(folder) / "tokenizer.json"
    if path.is_file():
        try:
            tok = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises a bare Exception
            raise ModelNotFound(f"cannot read the tokenizer {path}: {exc}") from exc
    else:  # vocab.txt / sentencepiece folders: let transformers convert to a fast tokenizer
        transformers = require("transformers", "text", "the transformer encoder")
        try:
            tok = transformers.AutoTokenizer.from_pretrained(str(folder)).backend_tokenizer
        except Exception as exc:  # noqa: BLE001
            raise ModelNotFound(
                f"{folder} has no usable tokenizer (tokenizer.json or vocab): {exc}"
            ) from exc
    tok.no_truncation()
    tok.no_padding()
    return tok


def special_tokens(tok) -> tuple[list[int], list[int]]:
    """The token ids the tokenizer's post-processor puts before and after a single text."""
    bare = tok.encode("a", add_special_tokens=False).ids
    full = tok.encode("a").ids
    for i in range(len(full) - len(bare) + 1):
        if full[i:i + len(bare)] == bare:
            return full[:i], full[i + len(bare):]
    return [], []


def pad_id(tok, folder: Path) -> int:
    """The padding token id: from tokenizer_config.json's pad_token, else [PAD]/<pad>, else 0."""
    names = []
    cfg = Path(folder) / "tokenizer_config.json"
    if cfg.is_file():
        value = _read_json(cfg).get("pad_token")
        names.append(value.get("content") if isinstance(value, dict) else value)
    for name in [*names, "[PAD]", "<pad>"]:
        if isinstance(name, str) and tok.token_to_id(name) is not None:
            return int(tok.token_to_id(name))
    return 0


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Pool token vectors (batch, seq, dim) into one vector per row with an attention mask."""
    m = mask[:, :, None].astype(np.float32)
    if mode == "cls":
        return hidden[:, 0].astype(np.float32)
    if mode == "max":
        return np.where(m > 0, hidden, -np.inf).max(axis=1).astype(np.float32)
    if mode == "lasttoken":
        last = mask.sum(1) - 1
        return hidden[np.arange(len(hidden)), last].astype(np.float32)
    summed = (hidden * m).sum(axis=1)
    counts = np.maximum(m.sum(axis=1), 1e-9)
    if mode == "mean":
        return (summed / counts).astype(np.float32)
    if mode == "mean_sqrt_len":
        return (summed / np.sqrt(counts)).astype(np.float32)
    raise InvalidInput(
        f"Invalid pooling mode {mode!r}. Valid pooling modes are: {', '.join(POOLING_MODES)}"
    )
