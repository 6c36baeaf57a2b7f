"""Search and ingest: embedkit's VectorStore against bare hnswlib and LanceDB, same vectors, one run.

    python benchmarks/search.py [--n 100000] [--queries 1000] [--out benchmarks/results/search.json]
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 python benchmarks/search.py --out benchmarks/results/search_hugepages.json

The second form backs large allocations (the HNSW graphs) with transparent huge pages (glibc >=
2.35, THP mode "madvise" or "always"): fewer TLB misses make every HNSW search faster, and two
copies of one index then run at the same speed instead of up to ~9 % apart.

Data: all-MiniLM-L6-v2 embeddings of the first n NSMC reviews (base) and of the next reviews
(queries), cached by benchmarks/_data.py. Ground truth: exact inner-product top-10.

Measured, one query at a time (the way a user's search arrives), all in alternating rounds:
- bare hnswlib HNSW (M 16, ef_construction 128, ef_search 128: the store's defaults), built here;
- bare hnswlib on the very index object the store searches (its overhead, free of memory layout:
  two identical copies of one index differ by up to ~9 % in speed on this machine, so the same
  file is also loaded a second time into bare hnswlib to show that spread in every run);
- the store's vector search: Hit objects with ids and scores (what the bare library answers:
  labels and distances); the same, reading each hit's text and metadata too (one SQLite query per
  search); and with ``read_consistency_interval=0`` (a look for other processes' commits before
  every search);
- LanceDB: brute force (no index) and with an IVF_HNSW_SQ index;
and ingest (rows per second) of n rows with text, metadata and vectors into each durable store,
in batches of 10,000 rows.
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
from _data import minilm_vectors, nsmc_texts  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
M, EF_CONSTRUCTION, EF_SEARCH, K = 16, 128, 128, 10
PASSES = 3  # the store-vs-bare timing goes over the queries this many times, in 10 rounds each


def _thp_mode() -> str | None:
    """The kernel's transparent huge page mode (the bracketed word), if readable."""
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return None
    return text[text.find("[") + 1:text.find("]")] if "[" in text else text.strip()


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def timed_queries(fn, queries) -> tuple[list, float]:
    """Answers and queries per second of one system."""
    fn(queries[0])  # warm-up
    t = time.perf_counter()
    out = [fn(q) for q in queries]
    return out, len(queries) / (time.perf_counter() - t)


def interleaved(systems: dict, queries, rounds: int = 5) -> dict:
    """Answers and QPS of each system, timed in alternating rounds over the same queries.

    The machine's load drifts; alternating short rounds gives every system the same conditions.
    """
    for fn in systems.values():
        fn(queries[0])  # warm-up
    found = {name: [] for name in systems}
    spent = dict.fromkeys(systems, 0.0)
    for part in np.array_split(np.arange(len(queries)), rounds):
        for name, fn in systems.items():
            t = time.perf_counter()
            found[name].extend(fn(queries[i]) for i in part)
            spent[name] += time.perf_counter() - t
    return {name: (found[name], len(queries) / spent[name]) for name in systems}


def build_hnswlib(base):
    import hnswlib

    index = hnswlib.Index(space="ip", dim=base.shape[1])
    index.init_index(max_elements=len(base), ef_construction=EF_CONSTRUCTION, M=M)
    t = time.perf_counter()
    index.add_items(base, np.arange(len(base)), num_threads=os.cpu_count())
    index.set_ef(EF_SEARCH)
    return index, time.perf_counter() - t


def bench_store(base, queries, truth, texts, workdir):
    from embedkit.store.ann import AnnParams
    from embedkit.store.sqlite import VectorStore

    path = workdir / "store.db"
    params = AnnParams(M=M, ef_construction=EF_CONSTRUCTION, ef_search=EF_SEARCH)
    store = VectorStore(path, dim=base.shape[1], ann_threshold=1, ann_params=params)
    ids = [str(i) for i in range(len(base))]
    metas = [{"source": "nsmc", "row": i} for i in range(len(base))]
    t = time.perf_counter()
    for s in range(0, len(base), 10_000):
        store.add(texts[s:s + 10_000], ids=ids[s:s + 10_000], metadata=metas[s:s + 10_000],
                  vectors=base[s:s + 10_000])
    ingest = time.perf_counter() - t
    t = time.perf_counter()
    store.build_index()
    build = time.perf_counter() - t
    store.close()
    store = VectorStore(path, ann_threshold=1, ann_params=params)  # reopen: the index from its file
    t = time.perf_counter()
    store.search(queries[0], k=K)
    first = time.perf_counter() - t
    index, bare_build = build_hnswlib(base)
    own = store._index._ann._index  # the hnswlib object inside the store, queried through hnswlib's API
    import hnswlib

    copy = hnswlib.Index(space="ip", dim=base.shape[1])
    copy.load_index(str(store.ann_path))
    copy.set_ef(EF_SEARCH)

    def search(q, interval):
        store.read_consistency_interval = interval
        return store.search(q, k=K)

    runs = interleaved({
        "bare": lambda q: index.knn_query(q, k=K, num_threads=1)[0][0].tolist(),
        # The store's hnswlib labels are its SQLite keys, here row number + 1.
        "bare_same": lambda q: [key - 1 for key in own.knn_query(q, k=K, num_threads=1)[0][0].tolist()],
        "bare_copy": lambda q: [key - 1 for key in copy.knn_query(q, k=K, num_threads=1)[0][0].tolist()],
        "store": lambda q: [int(h.id) for h in search(q, 0.1)],
        "store_text": lambda q: [(int(h.id), h.text, h.metadata) for h in search(q, 0.1)],
        "store_strict": lambda q: [int(h.id) for h in search(q, 0.0)],
    }, np.concatenate([queries] * PASSES), rounds=10 * PASSES)
    runs = {name: (found[:len(queries)], qps) for name, (found, qps) in runs.items()}
    size = path.stat().st_size + store.ann_path.stat().st_size
    store.close()
    same = runs["bare_same"][1]

    def row(system, name, **extra):
        found, qps = runs[name]
        ids = [[i if isinstance(i, int) else i[0] for i in f] for f in found]
        return {"system": system, "qps": qps, "recall@10": recall(ids, truth),
                "qps_vs_bare_on_same_index": qps / same, **extra}

    return ([row("hnswlib (bare)", "bare", build_s=bare_build),
             row("hnswlib (bare), queried on the store's own index object", "bare_same"),
             row("hnswlib (bare), the store's index file loaded again (layout spread)", "bare_copy"),
             row("embedkit VectorStore (hnswlib)", "store", build_s=build, open_and_first_query_s=first,
                 disk_bytes=size),
             row("embedkit VectorStore, reading text + metadata of each hit", "store_text"),
             row("embedkit VectorStore, read_consistency_interval=0", "store_strict")],
            {"system": "embedkit VectorStore (SQLite WAL, synchronous=FULL)", "rows": len(base),
             "seconds": ingest, "rows_per_s": len(base) / ingest})


def bench_lancedb(base, queries, truth, texts, workdir):
    import lancedb
    import pyarrow as pa

    db = lancedb.connect(str(workdir / "lance"))
    dim = base.shape[1]
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("source", pa.string()),
                        ("row", pa.int64()), ("vector", pa.list_(pa.float32(), dim))])
    table = db.create_table("docs", schema=schema)
    t = time.perf_counter()
    for s in range(0, len(base), 10_000):
        part = base[s:s + 10_000]
        table.add(pa.table({
            "id": [str(i) for i in range(s, s + len(part))], "text": texts[s:s + len(part)],
            "source": ["nsmc"] * len(part), "row": list(range(s, s + len(part))),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(part.reshape(-1)), dim)}))
    ingest = time.perf_counter() - t
    out = []

    def query(q):
        return [int(r["id"]) for r in table.search(q).metric("dot").limit(K).to_list()]

    found, qps = timed_queries(query, queries[:200])
    out.append({"system": "LanceDB (no index, brute force)", "qps": qps, "recall@10": recall(found, truth[:200])})
    t = time.perf_counter()
    table.create_index(metric="dot", vector_column_name="vector", index_type="IVF_HNSW_SQ")
    build = time.perf_counter() - t
    found, qps = timed_queries(query, queries)
    out.append({"system": "LanceDB (IVF_HNSW_SQ index)", "build_s": build, "qps": qps,
                "recall@10": recall(found, truth)})
    return out, {"system": "LanceDB", "rows": len(base), "seconds": ingest, "rows_per_s": len(base) / ingest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=RESULTS / "search.json")
    args = ap.parse_args()

    vectors = minilm_vectors(args.n + args.queries)
    texts = nsmc_texts(args.n + args.queries)
    base, queries = vectors[:args.n], vectors[args.n:]
    texts = texts[:args.n]
    t = time.perf_counter()
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :K]
    print(f"exact ground truth: {time.perf_counter() - t:.1f} s")
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="embedkit-bench-"))
    try:
        search, store_ingest = bench_store(base, queries, truth, texts, work)
        lance_search, lance_ingest = bench_lancedb(base, queries, truth, texts, work)
        search.extend(lance_search)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bare, same = search[0]["qps"], search[1]["qps"]
    for r in search:
        r["qps_vs_bare_hnswlib"] = r["qps"] / bare
        r["qps_vs_bare_on_same_index"] = r["qps"] / same
    ingest = [store_ingest, lance_ingest]
    for r in ingest:
        r["vs_lancedb"] = r["rows_per_s"] / lance_ingest["rows_per_s"]
    import hnswlib
    import lancedb

    result = {
        "benchmark": "search", "n": args.n, "queries": args.queries, "dim": int(base.shape[1]), "k": K,
        "hnsw": {"M": M, "ef_construction": EF_CONSTRUCTION, "ef_search": EF_SEARCH},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min_at_start": load, "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
                    "transparent_hugepages": _thp_mode()},
        "versions": {"hnswlib": getattr(hnswlib, "__version__", "0.8"), "lancedb": lancedb.__version__},
        "date": time.strftime("%Y-%m-%d"), "search": search, "ingest": ingest,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nsearch, {args.n} vectors, {args.queries} queries, one at a time, k={K}")
    print(f"{'system':<66} {'recall@10':>9} {'QPS':>7} {'vs bare':>8} {'vs same index':>13}")
    for r in search:
        print(f"{r['system']:<66} {r['recall@10']:>9.3f} {r['qps']:>7.0f} {r['qps_vs_bare_hnswlib']:>8.2f} "
              f"{r['qps_vs_bare_on_same_index']:>13.2f}")
    print(f"\ningest, {args.n} rows with text + metadata + vector, batches of 10,000")
    for r in ingest:
        print(f"{r['system']:<52} {r['rows_per_s']:>9.0f} rows/s  ({r['vs_lancedb']:.2f}x LanceDB)")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
