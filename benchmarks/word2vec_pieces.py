"""Subword units for the word-vector engine: fastText character n-grams against tokenizer pieces.

    flock /tmp/embedkit-heavy.lock python benchmarks/word2vec_pieces.py

Writes benchmarks/results/word2vec_pieces.json.

The English corpus of ``benchmarks/word2vec.py`` (enwiki_sample, text8-style, ~12M words). Three
subword models are trained by the same engine with the same settings (skip-gram, dim 100,
window 5, negative 5, min_count 5, sample 1e-3, ``--epochs``, both cores):

* character n-grams (3-6, 2M hashed buckets): fastText's units, embedkit's default;
* BPE pieces: a 16k huggingface BPE tokenizer trained on the first ``--tokenizer-lines`` lines;
* Unigram pieces: a 16k SentencePiece-style Unigram tokenizer on the same lines.

Each is scored on WordSim-353, the Google analogies (3CosAdd, 30k words) and misspellings: every
WordSim-353 word of 5+ letters gets one unseen typo (two letters swapped, one dropped or one
doubled), whose vector comes from its subword units only; reported are its cosine to the correct
word and the share of 1,000 random vocabulary words it is closer to the correct word than.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from word2vec import (CACHE, english_corpus, misspelling_words, misspellings,  # noqa: E402
                      quality_en)

OUT = HERE / "results" / "word2vec_pieces.json"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--vocab-size", type=int, default=16000)
    ap.add_argument("--tokenizer-lines", type=int, default=60000)
    ap.add_argument("--quick", action="store_true", help="the 2M-word slice, for iteration")
    args = ap.parse_args(argv)
    from embedkit.text.tokenizers import train_tokenizer
    from embedkit.text.word2vec import FastText

    corpus = english_corpus(args.quick)
    doc = {"command": "python benchmarks/word2vec_pieces.py " + " ".join(argv or sys.argv[1:]),
           "corpus": str(corpus.relative_to(HERE.parent)), "load_before": os.getloadavg()[0],
           "settings": {"dim": 100, "window": 5, "negative": 5, "min_count": 5, "sample": 1e-3,
                        "epochs": args.epochs, "workers": 2}, "tokenizers": {}, "runs": {}}
    units = {"character n-grams (3-6)": {}}
    for kind in ("bpe", "unigram"):
        folder = CACHE / f"pieces-{kind}-{args.vocab_size}-{args.tokenizer_lines}"
        t0 = time.perf_counter()
        if not (folder / "tokenizer.json").is_file():
            train_tokenizer(corpus, type=kind, vocab_size=args.vocab_size, output=folder,
                            max_lines=args.tokenizer_lines)
        doc["tokenizers"][kind] = {"folder": str(folder.relative_to(HERE.parent)),
                                   "seconds": round(time.perf_counter() - t0, 1)}
        units[f"{kind} pieces ({args.vocab_size // 1000}k)"] = {"pieces": folder}
    words = misspelling_words()
    for name, extra in units.items():
        print(f"{name} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
        model = FastText(vector_size=100, window=5, negative=5, min_count=5, sample=1e-3,
                         epochs=args.epochs, workers=2, seed=1, tokenizer="whitespace",
                         progress=False, **extra)
        t0 = time.perf_counter()
        model.fit(str(corpus))
        wv = model.wv_
        row = {"train_seconds": round(model.training_time_, 1),
               "words_per_second": round(model.words_per_second_), "vocab_size": model.vocab_size_,
               "subword_rows": int(wv.ngram_vectors.shape[0]),
               "wall_seconds": round(time.perf_counter() - t0, 1)}
        row.update(quality_en(wv))
        row["misspellings"] = misspellings(wv, wv.get_vector, words, np.random.default_rng(0))
        row["load_after"] = os.getloadavg()[0]
        doc["runs"][name] = row
        print("   ", json.dumps(row), flush=True)
        OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
