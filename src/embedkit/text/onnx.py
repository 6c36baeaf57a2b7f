"""ONNX Runtime fast path for transformer encoders, in fp32 or dynamically quantised int8.

The first time a model folder is used, its transformer is exported to ONNX with torch (token
vectors out, so sentence pooling and token-level vectors share the code of
:class:`~embedkit.text.transformer.TransformerBase`) and, for ``quantize="int8"``, quantised with
``onnxruntime.quantization.quantize_dynamic``. The files are cached on disk under
``$EMBEDKIT_CACHE/onnx`` (default ``~/.cache/embedkit/onnx``) in a folder keyed by a SHA-256 of the
model's files, so any change to the weights, config or tokenizer gives a new export. Each cached
variant is written into a temporary folder and renamed into place, so a killed export never leaves
a half-written cache; a cached file that ONNX Runtime cannot read is rebuilt once.

Later loads need only onnxruntime and tokenizers: torch is imported for the export alone.

>>> enc = OnnxEncoder("path/to/all-MiniLM-L6-v2", quantize="int8")    # doctest: +SKIP
>>> enc.encode(["a red car"]).shape                                   # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from ..encoder import quiet_loading
from ..errors import EmbedkitError, InvalidInput, ModelNotFound, require
from ..folders import atomic_folder, cache_root
from .transformer import CPU_BATCH_TOKENS, TransformerBase

__all__ = ["OnnxEncoder", "QUANTIZE_MODES", "OPTIMIZATION_LEVELS", "cache_dir", "physical_cores",
           "model_hash", "export_onnx"]

log = logging.getLogger(__name__)


class _DropPreprocessingHint(logging.Filter):
    """Drops ONNX Runtime's "consider pre-processing" advice: it targets static quantisation of
    vision models, and the int8 path here is dynamic quantisation of a transformer."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider")

QUANTIZE_MODES = (None, "int8")
OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
#: Bumped when the export recipe changes, so old cached files are not reused.
EXPORT_VERSION = 3
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_dir() -> Path:
    """Where exported models live: ``$EMBEDKIT_CACHE/onnx``, else ``~/.cache/embedkit/onnx``."""
    return cache_root() / "onnx"


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads not counted)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    cores = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            phys = core = None
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not key and core is not None:
                    cores.add((phys, core))
                    phys = core = None
            if core is not None:
                cores.add((phys, core))
    except OSError:
        pass
    n = len(cores) if cores else usable
    return max(1, min(n, usable))


def model_hash(transformer_dir: Path) -> str:
    """SHA-256 over the names and bytes of the files that define a transformer (weights, config,
    tokenizer), plus the export recipe version."""
    folder = Path(transformer_dir)
    digest = hashlib.sha256(f"embedkit-onnx-{EXPORT_VERSION}-opset{OPSET}".encode())
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        if path.suffix not in (".json", ".safetensors", ".bin", ".txt", ".model"):
            continue
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:32]


def _forward_params(model) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return set(model.forward.__code__.co_varnames)


def export_onnx(transformer_dir: Path, out: Path) -> None:
    """Export a Hugging Face transformer to ``out`` (token vectors out), with torch."""
    torch = require("torch", "text", "exporting a transformer to ONNX")
    transformers = require("transformers", "text", "exporting a transformer to ONNX")
    try:
        with quiet_loading():
            model = transformers.AutoModel.from_pretrained(str(transformer_dir),
                                                           attn_implementation="eager")
    except Exception as exc:  # noqa: BLE001
        raise ModelNotFound(
            f"cannot load a transformer model from {transformer_dir} to export it: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    model.eval()
    names = _forward_params(model)
    inputs = [n for n in _INPUTS if n in names]

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            return self.inner(**dict(zip(inputs, args))).last_hidden_state

    # A padded example, so no "mask is all ones" shortcut is traced into the graph.
    ids = torch.full((2, 16), 5, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    example = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    axes = {n: {0: "batch", 1: "sequence"} for n in (*inputs, "last_hidden_state")}
    import warnings

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer warnings about constant shapes are expected
        torch.onnx.export(Hidden(model), tuple(example[n] for n in inputs), str(out),
                          input_names=inputs, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)


class OnnxEncoder(TransformerBase):
    """A transformer encoder run by ONNX Runtime, in fp32 or int8 (``quantize="int8"``).

    Same constructor options, pooling, windows, ``encode``, ``encode_tokens`` and ``chunk`` as
    :class:`~embedkit.text.transformer.TransformerEncoder`; usually chosen through
    ``embedkit.load(spec, backend="onnx", quantize="int8")``.

    >>> enc = OnnxEncoder("path/to/model", quantize="int8")          # doctest: +SKIP
    >>> enc.encode(["a red car", "a blue SUV"]).shape                 # doctest: +SKIP
    (2, 384)

    Args:
        path: the model folder (sentence-transformers or Hugging Face).
        quantize: ``None`` (fp32) or ``"int8"`` (dynamic quantisation of the weights).
        per_channel: int8 weight scales per output channel (default; measured on all-MiniLM-L6-v2:
            mean cosine to fp32 0.994 against 0.966 per tensor on STS-B sentences).
        quantize_ffn_output: also quantise the feed-forward output projections (the matrices of
            shape intermediate x hidden, fed by the GELU). Off by default: their inputs have large
            outliers, and keeping them fp32 raised the mean cosine to fp32 on Korean reviews from
            0.985 to 0.992 for some speed.
        quantize_embeddings: quantise the word-embedding Gather too (default; per tensor). On
            multilingual-e5-small (250037 x 384) keeping it fp32 changed the mean cosine to fp32
            by < 0.0001 for a 3x larger file (408 vs 133 MB); see E5_NOTES.md.
        threads: ONNX Runtime intra-op threads (default: the physical cores).
        optimization: ORT graph optimisation: ``"disable"``, ``"basic"``, ``"extended"``, ``"all"``.
        cache: cache folder (default :func:`cache_dir`).
        name, pooling, max_length, normalize, overlap, truncate, batch_tokens: as for
            ``TransformerEncoder`` (on the CPU).
    """

    def __init__(self, path, *, name: str | None = None, pooling: str | None = None,
                 max_length: int | None = None, normalize: bool | None = None,
                 overlap: int | None = None, truncate: bool = False, quantize: str | None = None,
                 per_channel: bool = True,
                 quantize_ffn_output: bool = False, quantize_embeddings: bool = True,
                 threads: int | None = None,
                 optimization: str = "all", cache: str | os.PathLike | None = None,
                 batch_tokens: int | None = CPU_BATCH_TOKENS):
        if quantize not in QUANTIZE_MODES:
            raise InvalidInput(
                f"Invalid quantize {quantize!r}. Valid values are: None (fp32), 'int8'"
            )
        if optimization not in OPTIMIZATION_LEVELS:
            raise InvalidInput(
                f"Invalid optimization {optimization!r}. Valid levels are: "
                f"{', '.join(OPTIMIZATION_LEVELS)}"
            )
        if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool)
                                    or threads <= 0):
            raise InvalidInput(f"threads must be a positive integer, got {threads!r}")
        self._ort = require("onnxruntime", "onnx", "the ONNX fast path (backend='onnx')")
        cfg = self._configure(path, name=name, pooling=pooling, max_length=max_length,
                              normalize=normalize, overlap=overlap, truncate=truncate,
                              batch_tokens=batch_tokens)
        self.quantize = quantize
        self.per_channel = bool(per_channel)
        self.quantize_ffn_output = bool(quantize_ffn_output)
        self.quantize_embeddings = bool(quantize_embeddings)
        self.threads = threads or physical_cores()
        self.optimization = optimization
        self.cache = Path(cache).expanduser() if cache is not None else cache_dir()
        self.key = model_hash(cfg.transformer_dir)
        self._transformer_dir = cfg.transformer_dir
        self.model_path = self._ensure()
        self.session = self._session(self.model_path, rebuild=True)
        self._input_names = [i.name for i in self.session.get_inputs()]

    # -- cache ---------------------------------------------------------------------------------

    @property
    def variant(self) -> str:
        """The cached variant's folder name: ``fp32``, ``int8`` (per channel, FFN outputs fp32),
        ``int8-per-tensor``, ``int8-all`` or ``int8-per-tensor-all``, with ``-emb-fp32`` when the
        word embeddings stay fp32."""
        if self.quantize is None:
            return "fp32"
        return ("int8" + ("" if self.per_channel else "-per-tensor")
                + ("-all" if self.quantize_ffn_output else "")
                + ("" if self.quantize_embeddings else "-emb-fp32"))

    def _ensure(self, *, force: bool = False) -> Path:
        root = self.cache / self.key
        fp32 = root / "fp32"
        if force:
            shutil.rmtree(root / self.variant, ignore_errors=True)
        if not (fp32 / "model.onnx").is_file():
            log.info("exporting %s to ONNX in %s (once)", self.path, fp32)
            try:
                atomic_folder(fp32, self._export, marker="model.onnx")
            except EmbedkitError:
                raise
            except Exception as exc:  # noqa: BLE001 - the exporter raises anything
                raise ModelNotFound(
                    f"could not export the model in {self._transformer_dir} to ONNX "
                    f"({type(exc).__name__}: {exc}). Use backend='torch' for this model."
                ) from exc
        if self.quantize is None:
            return fp32 / "model.onnx"
        target = root / self.variant
        if not (target / "model.onnx").is_file():
            log.info("quantising %s to %s in %s (once)", self.path, self.variant, target)
            try:
                atomic_folder(target, lambda tmp: self._quantize(fp32 / "model.onnx", tmp), marker="model.onnx")
            except Exception as exc:  # noqa: BLE001
                raise EmbedkitError(
                    f"could not quantise the ONNX export of {self.path} to int8 "
                    f"({type(exc).__name__}: {exc}). Use quantize=None (fp32) for this model."
                ) from exc
        return target / "model.onnx"

    def _export(self, tmp: Path) -> None:
        export_onnx(self._transformer_dir, tmp / "model.onnx")
        (tmp / "export.json").write_text(json.dumps({
            "source": str(self.path), "key": self.key, "opset": OPSET,
            "export_version": EXPORT_VERSION}, indent=2), encoding="utf-8")

    def _quantize(self, source: Path, tmp: Path) -> None:
        require("onnx", "onnx", "int8 quantisation")
        from onnxruntime.quantization import QuantType, quantize_dynamic

        exclude = [] if self.quantize_ffn_output else self._ffn_output_nodes(source)
        if not self.quantize_embeddings:
            exclude += self._word_embedding_nodes(source)
        hint = _DropPreprocessingHint()
        logging.getLogger().addFilter(hint)  # ONNX Runtime logs it on the root logger
        try:
            quantize_dynamic(str(source), str(tmp / "model.onnx"), weight_type=QuantType.QInt8,
                             per_channel=self.per_channel, nodes_to_exclude=exclude)
        finally:
            logging.getLogger().removeFilter(hint)
        (tmp / "export.json").write_text(json.dumps({
            "source": str(self.path), "key": self.key, "quantize": self.quantize,
            "per_channel": self.per_channel, "fp32_nodes": exclude}, indent=2), encoding="utf-8")

    def _ffn_output_nodes(self, source: Path) -> list[str]:
        """MatMul nodes with an intermediate x hidden weight (feed-forward output projections)."""
        onnx = require("onnx", "onnx", "int8 quantisation")
        inner = self.model_config.get("intermediate_size")
        if not isinstance(inner, int):
            return []
        model = onnx.load(str(source), load_external_data=False)
        shapes = {t.name: list(t.dims) for t in model.graph.initializer}
        return [n.name for n in model.graph.node if n.op_type == "MatMul" and len(n.input) == 2
                and shapes.get(n.input[1]) == [inner, self.dim]]

    def _word_embedding_nodes(self, source: Path) -> list[str]:
        """Gather nodes reading the word-embedding matrix (vocab_size x hidden)."""
        onnx = require("onnx", "onnx", "int8 quantisation")
        vocab = self.model_config.get("vocab_size")
        model = onnx.load(str(source), load_external_data=False)
        shapes = {t.name: list(t.dims) for t in model.graph.initializer}
        return [n.name for n in model.graph.node if n.op_type == "Gather"
                and shapes.get(n.input[0]) == [vocab, self.dim]]

    def _session(self, model_path: Path, *, rebuild: bool):
        ort = self._ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.optimization]
        try:
            return ort.InferenceSession(str(model_path), sess_options=opts,
                                        providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            if not rebuild:
                raise EmbedkitError(f"ONNX Runtime cannot load {model_path}: {exc}") from exc
            log.warning("cached ONNX model %s is unreadable (%s); rebuilding it", model_path, exc)
            self.model_path = self._ensure(force=True)
            return self._session(self.model_path, rebuild=False)

    # -- inference -----------------------------------------------------------------------------

    def _forward_hidden(self, batch: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        input_ids, mask = self._pad(batch)
        feeds = {"input_ids": input_ids, "attention_mask": mask,
                 "token_type_ids": np.zeros_like(input_ids)}
        hidden = self.session.run(None, {n: feeds[n] for n in self._input_names})[0]
        return hidden.astype(np.float32, copy=False), mask

    def __repr__(self) -> str:
        return (f"OnnxEncoder(name={self.name!r}, dim={self.dim}, variant={self.variant!r}, "
                f"threads={self.threads})")
