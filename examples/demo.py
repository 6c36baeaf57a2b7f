"""The main job: index the bilingual sample collection and compare keyword, vector and hybrid search.

    python examples/demo.py [--store demo_store/sample.db] [--data examples/sample]

Prints, for each query, what each search mode returns side by side, and counts how many of the
top results are about the query's topic: a keyword search for "car" finds only documents with the
word "car"; vector search also finds SUVs, sedans and hatchbacks that never say "car". The Korean
queries do the same in Korean ("자동차" finds 차량, 승용차 and SUV; "빠른 운송 수단" finds 항공기 and
고속 열차), and two queries cross languages: a Korean question whose only answers are English
documents, and an English question whose only answers are Korean ones.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import unicodedata
from pathlib import Path

import embedkit
from embedkit.apps.indexing import index_paths

HERE = Path(__file__).resolve().parent
QUERIES = [  # (query, the topic that counts as relevant)
    ("car", "vehicles"),
    ("자동차", "vehicles"),
    ("빠른 운송 수단", "transport"),
    ("fresh fruit", "fruit"),
    ("stormy weather", "weather"),
    ("고양이", "animals"),
    ("우주 정거장에서 사람들은 어떻게 생활하나요?", "space"),  # answered only by English documents
    ("how is kimchi made?", "kimchi"),  # answered only by Korean documents
]
#: The cross-lingual queries, and the language of the documents that answer them.
CROSS_LINGUAL = {"우주 정거장에서 사람들은 어떻게 생활하나요?": "en", "how is kimchi made?": "ko"}
MODES = ("keyword", "vector", "hybrid")


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def fit(text: str, width: int) -> str:
    """Cut and pad text to a display width (Hangul takes two columns)."""
    text, out, used = " ".join(text.split()), [], 0
    for ch in text:
        if used + _width(ch) > width - 1 and len(out) < len(text):
            out.append("…")
            used += 1
            break
        out.append(ch)
        used += _width(ch)
    return "".join(out) + " " * max(width - used, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("demo_store/sample.db"))
    parser.add_argument("--data", type=Path, default=HERE / "sample")
    parser.add_argument("-k", type=int, default=8)
    parser.add_argument("--model", default=None, help="model spec (default: embedkit's default model)")
    parser.add_argument("--json", type=Path, default=None, help="also write the on-topic counts here")
    args = parser.parse_args()

    topics = {}
    for line in (args.data / "documents.jsonl").read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        topics[doc["id"]] = doc["topic"]

    t0 = time.perf_counter()
    encoder = embedkit.load(args.model)  # the default model unless --model names another
    with embedkit.VectorStore(args.store, encoder=encoder) as store:
        report = index_paths(store, [args.data])
        print(f"Indexed {args.data} into {args.store}: {len(report.added) + len(report.updated)} files "
              f"(re)indexed, {len(report.unchanged)} unchanged, {store.count()} documents "
              f"({time.perf_counter() - t0:.1f} s including model load)\n")
        width = max(shutil.get_terminal_size((150, 20)).columns, 120)
        col = (width - 4) // 3
        summary = []
        for query, topic in QUERIES:
            results = {m: store.search(query, k=args.k, mode=m) for m in MODES}
            print(f"Query: {query!r}   (relevant topic: {topic})")
            print(" | ".join(fit(m, col - 2) for m in MODES))
            print("-+-".join("-" * (col - 2) for _ in MODES))
            for rank in range(args.k):
                cells = []
                for m in MODES:
                    hits = results[m]
                    if rank < len(hits):
                        h = hits[rank]
                        row = h.metadata.get("row", h.id)
                        mark = "*" if topics.get(row) == topic else " "
                        cells.append(fit(f"{mark}{row}: {h.text}", col - 2))
                    else:
                        cells.append(fit("", col - 2))
                print(" | ".join(cells))
            counts = {m: sum(topics.get(h.metadata.get("row")) == topic for h in results[m]) for m in MODES}
            print("on-topic in the top {}: ".format(args.k)
                  + ", ".join(f"{m} {counts[m]}/{len(results[m])}" for m in MODES) + "\n")
            row = {"query": query, "topic": topic, **{m: counts[m] for m in MODES}}
            if query in CROSS_LINGUAL:  # the same search among the other language's documents only
                lang = CROSS_LINGUAL[query]
                hits = store.search(query, k=args.k, mode="vector", where={"lang": lang})
                row[f"vector, lang={lang} only"] = sum(topics.get(h.metadata.get("row")) == topic for h in hits)
                print(f"vector search with --where lang={lang} (documents in the answer's language only): "
                      f"{row[f'vector, lang={lang} only']}/{len(hits)} on topic\n")
            summary.append(row)
        print("(* = a document about the query's topic)\n")
        print(f"On-topic in the top {args.k} ({encoder.name}):")
        print(f"  {'query':<34} " + " ".join(f"{m:>8}" for m in MODES) + "   vector, answer's language only")
        for row in summary:
            other = [v for key, v in row.items() if key.startswith("vector, lang=")]
            print(f"  {fit(row['query'], 34)} " + " ".join(f"{row[m]:>6}/{args.k}" for m in MODES)
                  + (f"   {other[0]:>6}/{args.k}" if other else ""))
        if args.json:
            args.json.write_text(json.dumps({"model": encoder.name, "k": args.k, "queries": summary},
                                            ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
