"""Choosing the word2vec defaults: a few settings on a dev corpus, then the defaults at full size.

    python benchmarks/word2vec_defaults.py --stage dev      # settings on enwiki_sample (12M words)
    python benchmarks/word2vec_defaults.py --stage full     # embedkit's defaults on enwiki (50M words)

Writes benchmarks/results/word2vec_defaults.json (each stage merges into it).

Both stages train embedkit's skip-gram engine on the raw text exactly as ``embedkit train
word2vec CORPUS`` reads it (its default English tokenizer), 5 epochs, both cores. For each
setting: the Google analogy accuracy (3CosAdd among the 30,000 most frequent words) and
WordSim-353 Spearman -- the dev figures the choice is made on -- and the ranks of the classic
answers (king - man + woman = queen, paris - france + italy = rome, among all words). The full
stage adds the held-out analogies of ``benchmarks/heldout/analogies_en.txt`` (written for the
project, not in ``../shared``: gender titles, animal young, instrument players, place workers),
which no choice looked at.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from word2vec import CACHE, CLASSIC_ANALOGIES, DATA, classic_ranks, quality_en  # noqa: E402

OUT = HERE / "results" / "word2vec_defaults.json"
HELD_OUT = HERE / "heldout" / "analogies_en.txt"
CLASSIC = CLASSIC_ANALOGIES + (("man", "actor", "woman", "actress"),)

#: The settings compared on the dev corpus (everything else at the engine's defaults).
DEV_GRID = {
    "dim100 sample1e-3 (old defaults)": dict(vector_size=100, sample=1e-3),
    "dim100 sample1e-4": dict(vector_size=100, sample=1e-4),
    "dim100 sample1e-5": dict(vector_size=100, sample=1e-5),
    "dim300 sample1e-4": dict(vector_size=300, sample=1e-4),
    "dim100 sample1e-3 window8": dict(vector_size=100, sample=1e-3, window=8),
    "dim100 sample1e-3 window10": dict(vector_size=100, sample=1e-3, window=10),
}


def measure(corpus: Path, params: dict, *, held_out: bool) -> dict:
    from embedkit.evaluate.words import evaluate_analogies
    from embedkit.text.word2vec import Word2Vec

    model = Word2Vec(epochs=5, seed=1, token_cache=CACHE / f"tokens-{corpus.stem}", **params)
    t0 = time.perf_counter()
    model.fit(str(corpus))
    res = {"params": params, "wall_seconds": round(time.perf_counter() - t0, 1),
           "train_seconds": round(model.training_time_, 1),
           "words_per_second": round(model.words_per_second_), "corpus_tokens": model.corpus_words_,
           "vocab_size": model.vocab_size_, "load_after": round(os.getloadavg()[0], 2)}
    res.update(quality_en(model.wv_))
    res["classic"] = classic_ranks(model.wv_, CLASSIC, topn=50)
    if held_out:
        ana = evaluate_analogies(model.wv_, HELD_OUT, restrict_vocab=100_000).to_dict()
        res["held_out_analogies"] = ana
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", choices=("dev", "full"), required=True)
    ap.add_argument("--only", default=None, help="dev: comma-separated setting names (default: all)")
    args = ap.parse_args(argv)
    doc = json.loads(OUT.read_text()) if OUT.is_file() else {}
    if args.stage == "dev":
        corpus = DATA / "enwiki_sample" / "enwiki_sample.txt.xz"
        names = list(DEV_GRID) if not args.only else args.only.split(",")
        dev = doc.setdefault("dev", {"corpus": "shared/data/enwiki_sample/enwiki_sample.txt.xz",
                                     "runs": {}})
        for name in names:
            print(f"{name} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
            dev["runs"][name] = r = measure(corpus, DEV_GRID[name], held_out=False)
            print("   ", json.dumps({k: r[k] for k in ("analogy_total", "ws353_spearman", "classic",
                                                      "train_seconds")}), flush=True)
            OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    else:
        corpus = DATA / "enwiki" / "enwiki_50m.txt.xz"
        print(f"defaults on {corpus} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
        doc["full"] = r = measure(corpus, {}, held_out=True)
        r["corpus"] = "shared/data/enwiki/enwiki_50m.txt.xz"
        print(json.dumps(r, indent=1), flush=True)
        OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
