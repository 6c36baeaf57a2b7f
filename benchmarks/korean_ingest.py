"""What Korean-aware keyword indexing costs at write time, side by side in one run.

    python benchmarks/korean_ingest.py [--n 20000] [--out benchmarks/results/korean_ingest.json]

The first n NSMC reviews (Korean) and as many English sentences (STS-B train and dev), each with a
random 384-dimension vector, are added in batches of 10,000 to

- an embedkit store (schema 3: the keyword index holds kiwipiepy morphemes for Hangul text,
  analysed a batch at a time), and
- the reference: one SQLite file with the same items / vectors tables and a plain FTS5 index with
  the unicode61 tokenizer over the raw text (what embedkit's schema 2 did), in one transaction a
  batch, WAL and synchronous=FULL like the store.

Also times kiwipiepy alone on the same texts (one at a time, and a list at once).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
DATA = (HERE.parent / ".." / "shared" / "data").resolve()


def english(n: int) -> list[str]:
    out = []
    for name in ("sts-train.tsv", "sts-dev.tsv"):
        lines = (DATA / "stsb" / name).read_text(encoding="utf-8").splitlines()
        header = lines[0].split("\t")
        for line in lines[1:]:
            row = dict(zip(header, line.split("\t")))
            for key in ("sentence1", "sentence2"):
                if row.get(key):
                    out.append(row[key])
    out = list(dict.fromkeys(out))
    return (out * (n // len(out) + 1))[:n]


def reference(path: str, texts: list[str], vectors: np.ndarray, batch: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript("""
        CREATE TABLE items (key INTEGER PRIMARY KEY, id TEXT UNIQUE, text TEXT, metadata TEXT);
        CREATE TABLE vectors (key INTEGER PRIMARY KEY, vector BLOB);
        CREATE VIRTUAL TABLE items_fts USING fts5(text, content='items', content_rowid='key',
            tokenize='porter unicode61 remove_diacritics 2');
        CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
            INSERT INTO items_fts (rowid, text) VALUES (new.key, new.text); END;""")
    started = time.perf_counter()
    for s in range(0, len(texts), batch):
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO items VALUES (?, ?, ?, '{}')",
                       [(s + i + 1, f"r{s + i}", t) for i, t in enumerate(texts[s:s + batch])])
        db.executemany("INSERT INTO vectors VALUES (?, ?)",
                       [(s + i + 1, v.tobytes()) for i, v in enumerate(vectors[s:s + batch])])
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return len(texts) / seconds


def embedkit_store(path: str, texts: list[str], vectors: np.ndarray, batch: int) -> float:
    from embedkit import VectorStore

    store = VectorStore(path, dim=vectors.shape[1])
    started = time.perf_counter()
    for s in range(0, len(texts), batch):
        store.add(texts[s:s + batch], ids=[f"r{i}" for i in range(s, s + len(texts[s:s + batch]))],
                  vectors=vectors[s:s + batch])
    seconds = time.perf_counter() - started
    store.close()
    return len(texts) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "korean_ingest.json")
    args = ap.parse_args()
    from _data import nsmc_texts

    from embedkit.text.korean import _shared_kiwi, keyword_terms, keyword_terms_many

    korean, eng = nsmc_texts(args.n), english(args.n)
    vectors = np.random.default_rng(0).standard_normal((args.n, 384)).astype(np.float32)
    _shared_kiwi().tokenize("워밍업")  # load the model outside the timings
    result = {"command": " ".join(["python"] + sys.argv), "n": args.n, "batch": args.batch,
              "load_average_start": os.getloadavg()[0], "rows_per_s": {}}
    sample = korean[:2000]
    t = time.perf_counter()
    for x in sample:
        keyword_terms(x)
    result["kiwipiepy_texts_per_s_one_at_a_time"] = len(sample) / (time.perf_counter() - t)
    t = time.perf_counter()
    keyword_terms_many(sample)
    result["kiwipiepy_texts_per_s_batched"] = len(sample) / (time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as d:
        for lang, texts in (("korean", korean), ("english", eng)):
            ref = reference(os.path.join(d, f"ref-{lang}.db"), texts, vectors, args.batch)
            ours = embedkit_store(os.path.join(d, f"ek-{lang}.db"), texts, vectors, args.batch)
            result["rows_per_s"][lang] = {"sqlite_fts5_unicode61": ref, "embedkit_store": ours,
                                          "ratio": ours / ref}
            print(f"{lang}: embedkit {ours:,.0f} rows/s, plain FTS5 {ref:,.0f} rows/s "
                  f"({ours / ref:.2f}x)")
    result["load_average_end"] = os.getloadavg()[0]
    print(f"kiwipiepy: {result['kiwipiepy_texts_per_s_one_at_a_time']:,.0f} texts/s one at a time, "
          f"{result['kiwipiepy_texts_per_s_batched']:,.0f} batched")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
