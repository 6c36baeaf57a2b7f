"""The README's analysis figures: a projection of Korean and English words, their clusters, and
the curse-of-dimensionality probe.

1. multilingual-e5-small embeds the 80 words of benchmarks/heldout/analysis_words.tsv (animals,
   fruit, vehicles, colours; 10 Korean + 10 English each); UMAP and PCA maps coloured by group.
2. k-means (k = 4) and HDBSCAN on the same embeddings: cluster purity against the groups,
   silhouette, typical members.
3. Dimensions: e5 embeddings of ``--sentences`` STS-B train sentences, reduced by PCA and
   truncated (e5-small is not a Matryoshka model: truncation shows what that costs), the English
   word vectors given by ``--en-model`` (PCA), and Gaussian data of the same size.

    flock /tmp/embedkit-heavy.lock python benchmarks/analysis_figures.py --en-model models/en-w2v

Writes benchmarks/results/analysis_figures.json and the PNGs under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
DATA = (ROOT / ".." / "shared" / "data").resolve()
RES = ROOT / "benchmarks" / "results"

import numpy as np  # noqa: E402


def read_words():
    rows = [r.split("\t") for r in (ROOT / "benchmarks" / "heldout" / "analysis_words.tsv")
            .read_text(encoding="utf-8").splitlines() if r and not r.startswith("#")]
    return [r[0] for r in rows], [{"group": r[1], "language": r[2]} for r in rows]


def purity(labels, groups) -> float:
    total = 0
    for lab in set(labels):
        members = [g for lab2, g in zip(labels, groups) if lab2 == lab and lab2 >= 0]
        if members:
            total += Counter(members).most_common(1)[0][1]
    return total / len(groups)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--en-model", default=None, help="English word vectors for the dimensions probe.")
    ap.add_argument("--sentences", type=int, default=3000)
    ap.add_argument("--only", choices=["clusters"], default=None)
    args = ap.parse_args()
    import embedkit
    from embedkit.analysis.clusters import cluster
    from embedkit.analysis.dimensions import dimension_probe, gaussian_probe, plot_dimensions
    from embedkit.analysis.plots import scatter
    from embedkit.analysis.projection import project

    doc = {"load_before": os.getloadavg()[0]}
    enc = embedkit.load("multilingual-e5-small")
    words, metas = read_words()
    X = enc.encode(words)
    for method, opts in (("umap", {"n_neighbors": 10}), ("pca", {})):
        p = project(X, method, 2, 0, labels=words, metadata=metas, **opts)
        scatter(p, RES / f"analysis_words_{method}.png", color_by="group", annotate=28,
                title=f"multilingual-e5-small, {method.upper()}: 80 Korean and English words")
    groups = [m["group"] for m in metas]
    doc["clusters"] = {}
    ko = [i for i, m in enumerate(metas) if m["language"] == "ko"]
    en = [i for i, m in enumerate(metas) if m["language"] == "en"]
    sets = {"e5-small, all 80 words": (X, list(range(len(words)))),
            "e5-small, 40 Korean words": (X[ko], ko)}
    if args.en_model:
        from embedkit.text.word_vectors import WordVectors

        wv = WordVectors.load(args.en_model)
        found = [i for i in en if words[i] in wv]
        sets["word2vec enwiki, English words in vocabulary"] = (
            np.vstack([wv.get_vector(words[i]) for i in found]), found)
    for name, (V, idx) in sets.items():
        for method, kw in (("kmeans", {"k": 4}), ("hdbscan", {"min_cluster_size": 5})):
            r = cluster(V, method, texts=[words[i] for i in idx], **kw)
            key = f"{name} / {method}"
            doc["clusters"][key] = {"points": len(idx),
                                    "purity": purity(r.labels.tolist(), [groups[i] for i in idx]),
                                    "silhouette": r.silhouette, "n_clusters": r.n_clusters,
                                    "noise": r.noise,
                                    "clusters": [{"size": c.size, "typical": c.member_texts,
                                                  "terms": c.terms[:3]} for c in r.clusters]}
            print(key, json.dumps(doc["clusters"][key], ensure_ascii=False), flush=True)
    if args.only == "clusters":
        old = json.loads((RES / "analysis_figures.json").read_text()) if (RES / "analysis_figures.json").is_file() else {}
        old["clusters"] = doc["clusters"]
        (RES / "analysis_figures.json").write_text(json.dumps(old, indent=2, ensure_ascii=False))
        return
    # dimensions
    with open(DATA / "stsb" / "sts-train.tsv", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        sents = []
        for row in reader:
            for k in ("sentence1", "sentence2"):
                if row.get(k) and row[k] not in sents:
                    sents.append(row[k])
            if len(sents) >= args.sentences:
                break
    t0 = time.perf_counter()
    S = enc.encode(sents[: args.sentences], batch_size=64)
    doc["encode_seconds"] = time.perf_counter() - t0
    results = {}
    results["e5-small, PCA"] = dimension_probe(S, reduce="pca", n_queries=500)
    results["e5-small, truncated"] = dimension_probe(S, reduce="truncate", n_queries=500)
    if args.en_model:
        from embedkit.text.word_vectors import WordVectors

        wv = WordVectors.load(args.en_model)
        results["word2vec enwiki (10k words), PCA"] = dimension_probe(np.asarray(wv.vectors[:10000]),
                                                                      reduce="pca", n_queries=500)
    results["Gaussian"] = gaussian_probe(len(S), [r["dim"] for r in results["e5-small, PCA"]],
                                         n_queries=500)
    plot_dimensions(results, RES / "analysis_dimensions.png",
                    title=f"{len(S):,} STS-B sentences (e5-small), 10k word vectors, Gaussian")
    doc["dimensions"] = results
    doc["load_after"] = os.getloadavg()[0]
    (RES / "analysis_figures.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print(json.dumps(results, indent=1)[:4000])


if __name__ == "__main__":
    main()
