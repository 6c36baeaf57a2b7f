"""Wall time and peak memory of embedkit's projections at 10k / 100k / 300k points.

Data: a mixture of 100 Gaussian clusters in 384 dimensions (the size of MiniLM / e5-small
sentence embeddings), unit-normalised, seed 0 -- synthetic, because embedding 300k texts on this
CPU would take longer than the projections. Each (method, n) runs in a fresh subprocess, so its
peak RSS (ru_maxrss of the child) is its own; a run that passes --timeout is recorded as
unfinished. scikit-learn's Barnes-Hut TSNE is run at 10k (and 100k with --sklearn-100k) as the
reference for choosing openTSNE. Quality: the share of points whose nearest neighbour in the
projection is from the same cluster (1.0 = clusters kept apart).

    flock /tmp/embedkit-heavy.lock python benchmarks/analysis_projection.py --methods pca,tsne,umap \
        --sizes 10000,100000,300000

Writes benchmarks/results/analysis_projection.json (merging with earlier runs of other methods).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "analysis_projection.json"

CHILD = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, {src!r})
method, n, seed, impl = {method!r}, {n}, {seed}, {impl!r}
rng = np.random.default_rng(0)
centres = rng.normal(0, 1, (100, 384)).astype(np.float32)
y = rng.integers(0, 100, n)
X = centres[y] + rng.normal(0, 0.6, (n, 384)).astype(np.float32)
X /= np.linalg.norm(X, axis=1, keepdims=True)
import sklearn.decomposition, sklearn.manifold  # imports are not timed; JIT compiling is
if method == "umap":
    import umap
if method == "tsne" and impl != "sklearn":
    import openTSNE
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
if impl == "sklearn":
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    Z = PCA(50, random_state=0).fit_transform(X)
    Y = TSNE(2, perplexity=30, init="pca", random_state=0, max_iter=750).fit_transform(Z)
else:
    from embedkit.analysis.projection import project_array
    Y = project_array(X, method, 2, seed)
sec = time.perf_counter() - t0
# nearest-neighbour agreement on a sample of 5000 points
from sklearn.neighbors import NearestNeighbors
idx = rng.choice(n, size=min(n, 5000), replace=False)
nn = NearestNeighbors(n_neighbors=2).fit(Y)
_, nb = nn.kneighbors(Y[idx])
agree = float(np.mean(y[nb[:, 1]] == y[idx]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": sec, "peak_rss_mib": peak / 1024, "data_rss_mib": base / 1024,
                  "nn_same_cluster": agree}}))
"""


def run_one(method: str, n: int, seed, impl: str, timeout: float) -> dict:
    code = CHILD.format(src=str(ROOT / "src"), method=method, n=n, seed=seed, impl=impl)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return {"finished": False, "seconds": None, "note": f"stopped after {timeout:.0f}s"}
    if proc.returncode != 0:
        return {"finished": False, "error": proc.stderr.strip().splitlines()[-1:],
                "wall_s": time.perf_counter() - t0}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["finished"] = True
    res["process_wall_s"] = time.perf_counter() - t0
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="pca,tsne,umap")
    ap.add_argument("--sizes", default="10000,100000,300000")
    ap.add_argument("--timeout", type=float, default=900.0, help="Per run, seconds.")
    ap.add_argument("--unseeded", action="store_true",
                    help="Also run seed=None (every core, not reproducible) for t-SNE and UMAP.")
    ap.add_argument("--no-seeded", action="store_true",
                    help="With --unseeded: skip the seeded (one-thread) t-SNE and UMAP runs.")
    ap.add_argument("--sklearn-sizes", default="10000", help="Sizes for scikit-learn's TSNE ('' none).")
    args = ap.parse_args()
    doc = json.loads(OUT.read_text()) if OUT.is_file() else {"runs": []}
    doc["data"] = "100-cluster Gaussian mixture, 384 dims, unit-normalised (synthetic)"
    doc["machine"] = {"cpus": os.cpu_count()}
    runs = [r for r in doc.get("runs", [])]
    plan = []
    for method in args.methods.split(","):
        for n in map(int, args.sizes.split(",")):
            if not (args.no_seeded and args.unseeded and method in ("tsne", "umap")):
                plan.append((method, n, 0, "embedkit"))
            if args.unseeded and method in ("tsne", "umap"):
                plan.append((method, n, None, "embedkit"))
    for n in [int(s) for s in args.sklearn_sizes.split(",") if s]:
        if "tsne" in args.methods:
            plan.append(("tsne", n, 0, "sklearn"))
    for method, n, seed, impl in plan:
        load = os.getloadavg()
        print(f"{impl} {method} n={n} seed={seed} (load {load[0]:.1f}) ...", flush=True)
        res = run_one(method, n, seed, impl, args.timeout)
        res.update({"method": method, "n": n, "seed": seed, "impl": impl,
                    "load_before": round(load[0], 2), "load_after": round(os.getloadavg()[0], 2)})
        print("   ", json.dumps(res), flush=True)
        runs = [r for r in runs if (r["method"], r["n"], r["seed"], r["impl"]) != (method, n, seed, impl)]
        runs.append(res)
        doc["runs"] = runs
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
