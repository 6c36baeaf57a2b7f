"""How well the default model (all-MiniLM-L6-v2, an English model) does in English and in Korean.

    python benchmarks/default_model.py [--pairs 1000] [--out benchmarks/results/default_model.json]

- STS: Spearman between cosine and gold scores on STS-B dev (English) and KorSTS dev (the same
  1,500 pairs, human-translated into Korean).
- Cross-lingual retrieval on Korean-English parallel sentences (ko_en_parallel, news-dev + jhe-dev):
  for each Korean sentence, is its English translation ranked first (recall@1) or in the top 10
  among all the English sentences? And the other way round.
- The sample collection: for each topic, the share of the top 10 vector hits that are on topic, for
  an English and a Korean query naming the topic.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
DATA = (ROOT / ".." / "shared" / "data").resolve()
RESULTS = Path(__file__).resolve().parent / "results"
TOPIC_QUERIES = {  # topic: (English query, Korean query)
    "vehicles": ("cars and driving", "자동차와 운전"), "fruit": ("fruit", "과일"),
    "animals": ("animals and pets", "동물과 반려동물"), "cooking": ("cooking a meal", "요리"),
    "sport": ("sports and games", "스포츠 경기"), "weather": ("the weather", "날씨"),
    "music": ("music", "음악"), "finance": ("money and banking", "돈과 은행"),
}


def _tsv(path: Path) -> list[dict]:
    if not path.is_file():
        raise SystemExit(f"missing dataset file {path} (expected ../shared/data beside the checkout)")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


def sts(encoder, path: Path) -> float:
    from scipy.stats import spearmanr

    rows = [r for r in _tsv(path) if r.get("sentence1") and r.get("sentence2")]
    a = encoder.encode([r["sentence1"] for r in rows], batch_size=64)
    b = encoder.encode([r["sentence2"] for r in rows], batch_size=64)
    return float(spearmanr((a * b).sum(1), [float(r["score"]) for r in rows]).statistic)


def retrieval(q: np.ndarray, d: np.ndarray) -> dict:
    ranks = np.argsort(-(q @ d.T), axis=1)
    gold = np.arange(len(q))[:, None]
    return {"recall@1": float((ranks[:, :1] == gold).any(1).mean()),
            "recall@10": float((ranks[:, :10] == gold).any(1).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=RESULTS / "default_model.json")
    args = ap.parse_args()

    import embedkit

    enc = embedkit.load()
    t0 = time.perf_counter()
    result: dict = {"model": enc.name, "date": time.strftime("%Y-%m-%d")}
    result["sts_spearman"] = {"stsb_dev_en": sts(enc, DATA / "stsb" / "sts-dev.tsv"),
                              "korsts_dev_ko": sts(enc, DATA / "korsts" / "sts-dev.tsv")}
    pairs = [r for r in _tsv(DATA / "ko_en_parallel" / "train.tsv")
             if r["source"] in ("news-dev", "jhe-dev")][:args.pairs]
    ko = enc.encode([r["ko"] for r in pairs], batch_size=64)
    en = enc.encode([r["en"] for r in pairs], batch_size=64)
    result["translation_retrieval"] = {"pairs": len(pairs), "ko->en": retrieval(ko, en),
                                       "en->ko": retrieval(en, ko)}
    docs = [json.loads(line) for line in
            (ROOT / "examples" / "sample" / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
    dv = enc.encode([d["text"] for d in docs], batch_size=64)
    topic_precision = {}
    for lang in ("en", "ko"):
        mask = np.array([d["lang"] == lang for d in docs])
        topics = np.array([d["topic"] for d in docs])[mask]
        per = {}
        for topic, (q_en, q_ko) in TOPIC_QUERIES.items():
            for qlang, q in (("en", q_en), ("ko", q_ko)):
                top = np.argsort(-(dv[mask] @ enc.encode([q])[0]))[:10]
                per[f"{topic}/{qlang}-query"] = float((topics[top] == topic).mean())
        topic_precision[f"{lang}-documents"] = {
            "en-query": float(np.mean([v for k, v in per.items() if k.endswith("en-query")])),
            "ko-query": float(np.mean([v for k, v in per.items() if k.endswith("ko-query")])),
            "per_topic": per}
    result["sample_topic_precision@10"] = topic_precision
    result["seconds"] = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    s, t = result["sts_spearman"], result["translation_retrieval"]
    print(f"STS-B dev Spearman (en) {s['stsb_dev_en']:.3f}   KorSTS dev Spearman (ko) {s['korsts_dev_ko']:.3f}")
    print(f"translation retrieval over {t['pairs']} pairs: ko->en R@1 {t['ko->en']['recall@1']:.3f} "
          f"R@10 {t['ko->en']['recall@10']:.3f}; en->ko R@1 {t['en->ko']['recall@1']:.3f}")
    for lang, v in topic_precision.items():
        print(f"sample collection, {lang}: topic P@10 with English queries {v['en-query']:.2f}, "
              f"Korean queries {v['ko-query']:.2f}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
