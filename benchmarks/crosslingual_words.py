"""Cross-lingual word translation (issue 11, point 3): Korean and English word vectors trained by
embedkit's engine on Wikipedia, mapped onto each other, scored on pairs the mapping never saw.

    python benchmarks/korean_word2vec.py --only eojeol,morphemes --save benchmarks/.cache/kowiki-vectors
    python benchmarks/crosslingual_words.py          # trains the English vectors first if missing

Vectors:

* Korean: ``../shared/data/kowiki`` (20M eojeol), embedkit defaults (skip-gram, dim 100, 5 epochs),
  whole eojeol (default tokenizer) and kiwipiepy morphemes (``--korean``), as saved by
  ``benchmarks/korean_word2vec.py --save``;
* English: ``../shared/data/enwiki`` (50M words), the same defaults and the default tokenizer
  (trained here once into ``benchmarks/.cache/enwiki-vectors/skipgram``).

Dictionaries: ``../shared/data/en_ko_dictionary`` (MUSE train pairs) is split by source word, 80%
to fit and 20% (dev) to choose the settings (refinement rounds); the map is then fitted on all of
it and scored on ``benchmarks/heldout/ko_en_words.tsv``, 134 pairs for 102 Korean words written
for this project, none of which is in the shared dictionary (either direction). Precision@1/@5 by
nearest neighbour and by CSLS over the 100,000 most frequent target words (MUSE: 200,000);
both directions (en -> ko uses the en-ko dictionary and the held-out pairs reversed), and the
unsupervised start with no dictionary at all. Results: ``benchmarks/results/crosslingual_words.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = Path(os.environ.get("EMBEDKIT_DATA", ROOT.parent / "shared" / "data"))
CACHE = HERE / ".cache"
RESULTS = HERE / "results" / "crosslingual_words.json"
HELD_OUT = HERE / "heldout" / "ko_en_words.tsv"
EXAMPLES_KO = ["자동차", "고양이", "왕", "대통령", "음악", "컴퓨터", "바다", "겨울", "잠수함", "딸기"]
EXAMPLES_EN = ["car", "cat", "king", "president", "music", "computer", "sea", "winter"]
log = logging.getLogger("bench.crosslingual_words")


def english_vectors(folder: Path, epochs: int) -> tuple[Path, dict]:
    """Train (once) English skip-gram vectors on enwiki 50M with embedkit's defaults."""
    if (folder / "embedkit.json").exists():
        return folder, json.loads((folder.parent / "training.json").read_text())
    from embedkit.text.word2vec import Word2Vec

    corpus = DATA / "enwiki" / "enwiki_50m.txt.xz"
    if not corpus.exists():
        sys.exit(f"missing dataset: {corpus}")
    model = Word2Vec(epochs=epochs, seed=1, token_cache=CACHE / "enwiki-tokens")
    t0 = time.perf_counter()
    model.fit(str(corpus))
    info = {"corpus": "shared/data/enwiki/enwiki_50m.txt.xz", "wall_seconds": time.perf_counter() - t0,
            "tokenise_seconds": model.tokenize_time_, "train_seconds": model.training_time_,
            "words_per_second": model.words_per_second_, "corpus_tokens": model.corpus_words_,
            "vocab_size": model.vocab_size_}
    sys.path.insert(0, str(HERE))
    from word2vec import classic_ranks, quality_en  # noqa: E402  (the shared benchmark code)

    info.update(quality_en(model.wv_))
    info["analogies"] = classic_ranks(model.wv_)
    model.wv_.save(folder)
    (folder.parent / "training.json").write_text(json.dumps(info, indent=1))
    return folder, info


def run(src, tgt, train_pairs, dev_pairs, full_pairs, held_pairs, *, unsupervised: bool,
        refine_grid, max_vocab: int, reverse_held: bool) -> dict:
    from embedkit.apps.crosslingual import WordMapping

    out: dict = {"dev": {}}
    if unsupervised:
        t0 = time.perf_counter()
        m = WordMapping(refine=1, max_vocab=max_vocab).fit(src, tgt, unsupervised=True)
        out["fit_seconds"] = time.perf_counter() - t0
        out["chosen_refine"] = 1
        out["dev"]["unsupervised"] = m.evaluate(dev_pairs)
    else:
        best = None
        for refine in refine_grid:
            t0 = time.perf_counter()
            m = WordMapping(refine=refine, max_vocab=max_vocab).fit(src, tgt, train_pairs)
            res = m.evaluate(dev_pairs)
            res["fit_seconds"] = time.perf_counter() - t0
            out["dev"][f"refine={refine}"] = res
            log.info("dev refine=%d: %s", refine, res)
            if best is None or res["csls_p@1"] > best[1]:
                best = (refine, res["csls_p@1"])
        out["chosen_refine"] = best[0]
        t0 = time.perf_counter()
        m = WordMapping(refine=best[0], max_vocab=max_vocab).fit(src, tgt, full_pairs)
        out["fit_seconds"] = time.perf_counter() - t0
        out["dictionary_pairs_used"] = m.dictionary_size_
        out["dictionary_coverage"] = m.dictionary_coverage_
    held = [(t, s) for s, t in held_pairs] if reverse_held else held_pairs
    out["held_out"] = m.evaluate(held)
    log.info("held out: %s", out["held_out"])
    return out, m


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ko", default=",".join(["eojeol", "morphemes"]),
                    help="Korean vector runs under benchmarks/.cache/kowiki-vectors/")
    ap.add_argument("--en", type=Path, default=CACHE / "enwiki-vectors" / "skipgram")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-vocab", type=int, default=100_000)
    ap.add_argument("--refine", default="0,1", help="refinement rounds to choose from on dev")
    ap.add_argument("--no-unsupervised", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from embedkit.apps.crosslingual import read_dictionary, split_dictionary
    from embedkit.text.word_vectors import WordVectors

    en_folder, en_info = english_vectors(args.en, args.epochs)
    en = WordVectors.load(en_folder, mmap=False)
    ko_en = read_dictionary(DATA / "en_ko_dictionary" / "muse_ko-en_train.tsv")
    en_ko = read_dictionary(DATA / "en_ko_dictionary" / "muse_en-ko_train.tsv")
    held = read_dictionary(HELD_OUT)
    refine_grid = [int(x) for x in args.refine.split(",")]
    results = {"machine": platform.platform(), "cpus": os.cpu_count(),
               "load_before": [round(x, 2) for x in os.getloadavg()],
               "english_vectors": {"folder": str(en_folder.relative_to(ROOT)), **en_info,
                                   "vocab": len(en)},
               "max_vocab": args.max_vocab, "held_out_pairs": len(held),
               "held_out_source_words": len({s for s, _ in held}), "runs": {}, "examples": {}}
    for kind in [k for k in args.ko.split(",") if k]:
        folder = CACHE / "kowiki-vectors" / kind
        if not (folder / "embedkit.json").exists():
            sys.exit(f"missing Korean vectors {folder}: run benchmarks/korean_word2vec.py "
                     f"--only {kind} --save benchmarks/.cache/kowiki-vectors")
        ko = WordVectors.load(folder, mmap=False)
        rows = {"vocab": len(ko)}
        tr, dev = split_dictionary(ko_en, 0.2, seed=0)
        rows["ko->en"], m = run(ko, en, tr, dev, ko_en, held, unsupervised=False,
                                refine_grid=refine_grid, max_vocab=args.max_vocab,
                                reverse_held=False)
        results["examples"][f"{kind} ko->en"] = {
            w: [t for t, _ in m.translate(w, 5)] for w in EXAMPLES_KO if w in ko.key_to_index}
        tr, dev = split_dictionary(en_ko, 0.2, seed=0)
        rows["en->ko"], m = run(en, ko, tr, dev, en_ko, held, unsupervised=False,
                                refine_grid=refine_grid, max_vocab=args.max_vocab,
                                reverse_held=True)
        results["examples"][f"{kind} en->ko"] = {
            w: [t for t, _ in m.translate(w, 5)] for w in EXAMPLES_EN if w in en.key_to_index}
        if not args.no_unsupervised:
            _, dev = split_dictionary(ko_en, 0.2, seed=0)
            rows["ko->en unsupervised"], _ = run(ko, en, None, dev, None, held, unsupervised=True,
                                                 refine_grid=None, max_vocab=args.max_vocab,
                                                 reverse_held=False)
        results["runs"][kind] = rows
        _save(args.out, results)
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    _save(args.out, results)
    print(json.dumps(results, ensure_ascii=False, indent=1))


def _save(path: Path, results) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
