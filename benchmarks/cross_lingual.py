"""Cross-lingual search in one store of Korean and English documents: plain cosine against
language-neutral search (each script's mean vector taken out; embedkit.store.language).

    python benchmarks/cross_lingual.py            # writes benchmarks/results/cross_lingual.json

1. **Choosing the strength** (dev): the 1,713 dev pairs of ``../shared/data/ko_en_parallel``
   (news-dev + jhe-dev) as one pool of 3,426 documents, both languages. Each Korean sentence
   searches the pool (its own entry left out) and should find its English translation first
   (ko->en R@1), and each English sentence its Korean one (en->ko). The share of the top 8 in the
   other language shows the pull of the query's own language. Strengths 0 (plain) to 1.
2. **Held-out**: ``benchmarks/heldout/ko_en_pairs.tsv`` (40 pairs written for this project,
   never in ../shared) added to that pool; the same two figures for the 40 held-out queries only,
   through the store's own search (``VectorStore.search(..., language_neutral=True|False)``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("EMBEDKIT_DATA", HERE.parent.parent / "shared" / "data"))
RESULTS = HERE / "results" / "cross_lingual.json"
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _tsv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def pool_figures(kd, ed, kq, eq, strength: float) -> dict:
    """R@1 and other-language share of the top 8, both directions, in the mixed pool."""
    from embedkit.store.language import LanguageCentering

    n = len(kd)
    keys = np.arange(2 * n)
    centring = LanguageCentering(keys, np.vstack([kd, ed]), ["hangul"] * n + ["latin"] * n,
                                 strength=strength)
    out = {}
    for name, queries, offset, script in (("ko->en", kq, n, "가"), ("en->ko", eq, 0, "a")):
        q = np.stack([centring.query(v, script) for v in queries])
        scores = q @ centring.matrix.T
        own = np.arange(n) + (0 if offset == n else n)
        scores[np.arange(n), own] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :8]
        out[f"{name} R@1"] = float((top[:, 0] == np.arange(n) + offset).mean())
        other = top >= n if offset == n else top < n
        out[f"{name} other-language share of top 8"] = float(other.mean())
    return out


def heldout_figures(store, pairs: list[dict], language_neutral: bool) -> dict:
    out = {}
    for name, src, dst in (("ko->en", "ko", "en"), ("en->ko", "en", "ko")):
        hits_at_1 = 0
        for i, row in enumerate(pairs):
            hits = store.search(row[src], k=2, language_neutral=language_neutral)
            hits = [h for h in hits if h.id != f"held-{src}-{i}"]
            hits_at_1 += hits[0].id == f"held-{dst}-{i}"
        out[f"{name} R@1"] = hits_at_1 / len(pairs)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model spec (default: embedkit's default)")
    ap.add_argument("--pairs", type=int, default=1713)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    src = DATA / "ko_en_parallel" / "train.tsv"
    if not src.exists():
        sys.exit(f"missing dataset: {src}")
    import embedkit
    from embedkit.store.language import STRENGTH

    dev = [r for r in _tsv(src) if r["source"] in ("news-dev", "jhe-dev")][:args.pairs]
    held = _tsv(HERE / "heldout" / "ko_en_pairs.tsv")
    enc = embedkit.load(args.model)
    t0 = time.perf_counter()
    kd = enc.encode_documents([r["ko"] for r in dev])
    ed = enc.encode_documents([r["en"] for r in dev])
    kq = enc.encode_queries([r["ko"] for r in dev])
    eq = enc.encode_queries([r["en"] for r in dev])
    results = {"model": enc.name, "dev_pairs": len(dev), "heldout_pairs": len(held),
               "strength_in_the_library": STRENGTH,
               "dev_mixed_pool": {str(a): pool_figures(kd, ed, kq, eq, a) for a in STRENGTHS}}
    for a, row in results["dev_mixed_pool"].items():
        print(f"dev, strength {a}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    with tempfile.TemporaryDirectory() as tmp, embedkit.VectorStore(Path(tmp) / "s.db",
                                                                   encoder=enc) as store:
        store.add([r["ko"] for r in dev] + [r["en"] for r in dev],
                  ids=[f"dev-ko-{i}" for i in range(len(dev))] + [f"dev-en-{i}" for i in range(len(dev))],
                  vectors=np.vstack([kd, ed]))
        store.add([r["ko"] for r in held] + [r["en"] for r in held],
                  ids=[f"held-ko-{i}" for i in range(len(held))]
                  + [f"held-en-{i}" for i in range(len(held))])
        results["heldout"] = {"plain": heldout_figures(store, held, False),
                              "language_neutral": heldout_figures(store, held, True)}
    results["seconds"] = time.perf_counter() - t0
    for mode, row in results["heldout"].items():
        print(f"held-out, {mode}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
