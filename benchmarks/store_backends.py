"""The SQLite store (HNSW index file) and Milvus Lite side by side: ingest rows/s and search QPS at
recall@10 >= 0.95, at 100k (and, where the machine allows, 1M) vectors.

Vectors: ``--real`` NSMC reviews embedded with all-MiniLM-L6-v2 (384-d, cached by _data.py); a
store of N items holds each real vector plus Gaussian noise (sigma ``--noise`` per coordinate, then
unit length) cycled over the real ones, with the review's text, so the keyword index is built too.
Queries: ``--queries`` other real reviews' vectors (not in the store). Ground truth: exact top-10
by NumPy. Both stores get the same rows in the same batches (``--batch``), the same HNSW settings
(M=16, efConstruction=128), and are searched one query at a time; ef is swept and the lowest ef
reaching recall@10 >= 0.95 is reported.

    flock /tmp/embedkit-heavy.lock python benchmarks/store_backends.py --n 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _data import minilm_vectors, nsmc_texts  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
EFS = (16, 32, 64, 128, 256)


def make_rows(real: np.ndarray, texts: list[str], n: int, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    m = len(real)
    for start in range(0, n, 10_000):
        idx = np.arange(start, min(start + 10_000, n)) % m
        v = real[idx] + rng.standard_normal((len(idx), real.shape[1])).astype(np.float32) * noise
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        yield start, v.astype(np.float32), [texts[i] for i in idx]


def exact_truth(store_vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    out = []
    for s in range(0, len(queries), 100):
        sims = queries[s:s + 100] @ store_vectors.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.take_along_axis(sims, top, 1).argsort(axis=1)[:, ::-1]
        out.append(np.take_along_axis(top, order, 1))
    return np.concatenate(out)


def bench(name: str, store, rows, n: int, queries, truth, batch: int, with_text: bool = True,
          stop_at_target: bool = False) -> dict:
    t0 = time.perf_counter()
    for start, v, texts in rows:
        for s in range(0, len(v), batch):
            ids = [str(start + s + i) for i in range(len(v[s:s + batch]))]
            store.add(texts[s:s + batch] if with_text else None, ids=ids, vectors=v[s:s + batch],
                      metadata=[{"row": start + s + i} for i in range(len(ids))])
        print(f"  {name}: {start + len(v)} rows in {time.perf_counter() - t0:.0f} s", flush=True)
    ingest = time.perf_counter() - t0
    t1 = time.perf_counter()
    store.build_index()
    store.search(queries[0], k=10)  # an index built lazily is built here
    index_s = time.perf_counter() - t1
    sweep = []
    for ef in EFS:
        found = []
        t = time.perf_counter()
        for q in queries:
            found.append([int(h.id) for h in store.search(q, k=10, expansion=ef)])
        secs = time.perf_counter() - t
        rec = float(np.mean([len(set(f) & set(tr)) / 10 for f, tr in zip(found, truth)]))
        sweep.append({"ef": ef, "recall@10": round(rec, 4), "qps": round(len(queries) / secs, 1)})
        print(f"  {name}: ef={ef} recall@10={rec:.4f} qps={len(queries) / secs:.0f}", flush=True)
        if stop_at_target and rec >= 0.95:
            break  # a larger ef only searches more: the lowest ef at the target is the figure
    ok = [s for s in sweep if s["recall@10"] >= 0.95]
    best = max(ok, key=lambda s: s["qps"]) if ok else None
    return {"system": name, "n": n, "ingest_s": round(ingest, 2), "ingest_rows_per_s": round(n / ingest, 1),
            "index_s_after_ingest": round(index_s, 2), "sweep": sweep,
            "at_recall_0.95": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[100_000])
    ap.add_argument("--real", type=int, default=20_000, help="real vectors the store's rows are made from")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--noise", type=float, default=0.03)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--systems", default="sqlite,milvus-lite")
    ap.add_argument("--no-text", action="store_true",
                    help="store vectors and metadata only (no text, so no keyword analysis at ingest)")
    ap.add_argument("--stop-at-target", action="store_true",
                    help="end each sweep at the first ef reaching recall@10 >= 0.95 (for slow systems at 1M)")
    ap.add_argument("--nsmc", default=None, help="NSMC xz TSV (default ../shared/data/nsmc/nsmc_dev.tsv.xz)")
    ap.add_argument("--milvus-queries", type=int, default=None,
                    help="search with only the first N queries on Milvus Lite (it answers a few a second)")
    ap.add_argument("--out", default=str(RESULTS / "store_backends.json"))
    args = ap.parse_args()

    from embedkit import VectorStore, __version__

    load_start = os.getloadavg()[0]
    allv = minilm_vectors(args.real + args.queries, args.nsmc)
    texts = nsmc_texts(args.real + args.queries, args.nsmc)
    real, queries = allv[:args.real], allv[args.real:]
    real_texts = texts[:args.real]
    results = []

    def write() -> None:  # after every row, so that a cut run keeps what it measured
        import pymilvus

        out = {"benchmark": "store_backends", "date": time.strftime("%Y-%m-%d"), "real_vectors": args.real,
               "queries": args.queries, "noise": args.noise, "dim": int(allv.shape[1]), "k": 10,
               "hnsw": {"M": 16, "ef_construction": 128}, "batch": args.batch, "with_text": not args.no_text,
               "data": "NSMC reviews, all-MiniLM-L6-v2 vectors + Gaussian noise; queries: other reviews",
               "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                           "load_average_1min_at_start": load_start,
                           "load_average_1min_at_end": os.getloadavg()[0]},
               "versions": {"embedkit": __version__, "pymilvus": pymilvus.__version__,
                            "milvus_lite": __import__("importlib.metadata").metadata.version("milvus-lite")},
               "results": results,
               "command": "flock /tmp/embedkit-heavy.lock python benchmarks/store_backends.py " + " ".join(sys.argv[1:])}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")

    for n in args.n:
        vectors = np.concatenate([v for _, v, _ in make_rows(real, real_texts, n, args.noise)])
        truth = exact_truth(vectors, queries)
        del vectors
        for system in args.systems.split(","):
            work = Path(tempfile.mkdtemp(prefix="embedkit-bench-", dir=os.environ.get("BENCH_TMP")))
            try:
                if system == "sqlite":
                    store = VectorStore(work / "s.db", dim=allv.shape[1])
                else:
                    store = VectorStore(f"milvus-lite://{work}/m.db", dim=allv.shape[1],
                                        timeout=600.0)  # a bulk insert can wait on a flush
                print(f"{system} at {n} rows", flush=True)
                q = args.milvus_queries if system != "sqlite" and args.milvus_queries else len(queries)
                row = bench(system, store, make_rows(real, real_texts, n, args.noise), n, queries[:q],
                            truth[:q], args.batch, with_text=not args.no_text,
                            stop_at_target=args.stop_at_target)
                row["queries"] = q
                store.close()
                row["disk_bytes"] = sum(f.stat().st_size for f in work.rglob("*") if f.is_file())
                results.append(row)
                write()
            finally:
                shutil.rmtree(work, ignore_errors=True)
    write()
    print(json.dumps([{k: r[k] for k in ("system", "n", "ingest_rows_per_s", "at_recall_0.95")} for r in results],
                     indent=1))


if __name__ == "__main__":
    main()
