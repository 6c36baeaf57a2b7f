"""Korean word vectors at Wikipedia scale (issue 16): wall time per phase, and gensim side by side.

    python benchmarks/korean_word2vec.py                  # all runs (about 45 min on 2 cores)
    python benchmarks/korean_word2vec.py --only morphemes,gensim
    python benchmarks/korean_word2vec.py --lines 50000    # a slice, for iteration

Corpus: ``../shared/data/kowiki/kowiki_20m.txt.xz`` (Korean Wikipedia, 20M whitespace words =
eojeol). Every run uses embedkit's defaults (skip-gram, dim 100, window 5, negative 5,
min_count 5, sample 1e-3, 5 epochs, all cores) and the library API exactly as
``embedkit train word2vec`` calls it:

* ``eojeol``: the default tokenizer (lower-cased letter/digit runs: whole eojeol);
* ``morphemes``: ``--korean`` (kiwipiepy morphemes). The token cache is built from nothing (a
  fresh folder), so the tokenising phase is measured in full;
* ``jamo``: ``--korean --subword`` (fastText over morphemes, n-grams over jamo; Park et al. 2018),
  which reuses the morpheme cache of the previous run (as a second run of the CLI would);
* ``gensim``: gensim 4 skip-gram with the same settings and threads on the same morphemes,
  written out of the cache as one pre-tokenised sentence per line (``corpus_file`` mode, gensim's
  fastest).

Phases: tokenise (corpus -> token-id cache), vocabulary, each epoch; words/s is corpus tokens x
epochs / training time (vocabulary and tokenising excluded), for both libraries. Quality: the
Korean analogy and WS-353 sets of ``../shared/data/ko_word_eval`` with coverage, and the
neighbourhood / analogy examples of issue 12. Results: ``benchmarks/results/korean_word2vec.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import lzma
import os
import platform
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from word2vec import from_gensim, quality_ko, warm_up  # noqa: E402  (the shared benchmark code)

ROOT = HERE.parent
DATA = Path(os.environ.get("EMBEDKIT_DATA", ROOT.parent / "shared" / "data"))
CACHE = HERE / ".cache"
RESULTS = HERE / "results" / "korean_word2vec.json"
RUNS = ("eojeol", "morphemes", "jamo", "gensim")
log = logging.getLogger("bench.korean_word2vec")

GROUPS = [["강아지", "고양이", "토끼"], ["사과", "바나나", "오렌지"]]
ANALOGIES = [("남자", "왕", "여자", "여왕")]  # 남자 : 왕 = 여자 : ?


def corpus_path(lines: int | None) -> Path:
    src = DATA / "kowiki" / "kowiki_20m.txt.xz"
    if not src.exists():
        sys.exit(f"missing dataset: {src}")
    if lines is None:
        return src
    part = CACHE / f"kowiki_{lines}.txt"
    if not part.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with lzma.open(src, "rt", encoding="utf-8") as fh, open(part, "w", encoding="utf-8") as out:
            for i, line in enumerate(fh):
                if i >= lines:
                    break
                out.write(line)
    return part


def examples(wv) -> dict:
    """Neighbours of the issue's example words and the 왕 - 남자 + 여자 analogy."""
    out: dict = {"neighbours": {}, "analogies": {}}
    for group in GROUPS:
        for w in group:
            if w in wv.key_to_index:
                out["neighbours"][w] = [x for x, _ in wv.most_similar(w, topn=10)]
        present = [w for w in group if w in wv.key_to_index]
        out["neighbours"][f"{'/'.join(group)} pairwise min cosine"] = (
            min(wv.similarity(a, b) for a in present for b in present if a != b)
            if len(present) > 1 else None)
    for a, b, c, want in ANALOGIES:
        if all(w in wv.key_to_index for w in (a, b, c)):
            got = [x for x, _ in wv.analogy(a, b, c, topn=10)]
            out["analogies"][f"{b} - {a} + {c}"] = {
                "top5": got[:5], "rank_of_" + want: got.index(want) + 1 if want in got else None}
    return out


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_ours(kind: str, corpus: Path, cache_root: Path, epochs: int) -> dict:
    from embedkit.text.word2vec import FastText, Word2Vec

    common = dict(epochs=epochs, seed=1, progress=None, token_cache=cache_root)
    if kind == "eojeol":
        model = Word2Vec(tokenizer="english", **common)
    elif kind == "morphemes":
        model = Word2Vec(tokenizer="korean", **common)
    else:
        model = FastText(tokenizer="korean", korean_jamo=True, **common)
    load_before = load_now()
    t0 = time.perf_counter()
    model.fit(str(corpus))
    wall = time.perf_counter() - t0
    info = {"library": "embedkit", "run": kind, "wall_seconds": wall,
            "tokenise_seconds": model.tokenize_time_, "token_cache_reused": model.token_cache_reused_,
            "vocabulary_seconds": model.vocabulary_time_, "epoch_seconds": model.epoch_times_,
            "train_seconds": model.training_time_, "words_per_second": model.words_per_second_,
            "corpus_tokens": model.corpus_words_, "vocab_size": model.vocab_size_,
            "loss_per_epoch": model.loss_history_, "load_before": load_before,
            "load_after": load_now()}
    info.update(quality_ko(model.wv_, use_subwords=kind == "jamo"))
    info["examples"] = examples(model.wv_)
    return info, model


def export_tokens(cache_folder: Path, out: Path) -> int:
    """Write a token cache as text, one sentence per line (what gensim reads)."""
    import numpy as np

    from embedkit.text.corpus import _open_cache

    cache = _open_cache(Path(cache_folder), reused=True)
    words = np.array(cache.words, dtype=object)
    starts = cache.sentence_starts()
    with open(out, "w", encoding="utf-8") as fh:
        for s in range(cache.n_sentences):
            ids = cache.ids[starts[s]:starts[s + 1]]
            if len(ids):
                fh.write(" ".join(words[ids]) + "\n")
    return cache.n_tokens


def run_gensim(text: Path, n_tokens: int, epochs: int) -> dict:
    import gensim

    workers = os.cpu_count() or 1
    model = gensim.models.Word2Vec(vector_size=100, window=5, negative=5, min_count=5,
                                   sample=1e-3, epochs=epochs, workers=workers, seed=1, sg=1, hs=0)
    load_before = load_now()
    t0 = time.perf_counter()
    model.build_vocab(corpus_file=str(text))
    t1 = time.perf_counter()
    model.train(corpus_file=str(text), total_words=model.corpus_total_words,
                total_examples=model.corpus_count, epochs=epochs)
    t2 = time.perf_counter()
    info = {"library": f"gensim {gensim.__version__}", "run": "gensim (morphemes, pre-tokenised)",
            "wall_seconds": t2 - t0, "vocabulary_seconds": t1 - t0, "train_seconds": t2 - t1,
            "words_per_second": n_tokens * epochs / (t2 - t1), "corpus_tokens": n_tokens,
            "vocab_size": len(model.wv), "load_before": load_before, "load_after": load_now()}
    wv = from_gensim(model.wv, "gensim-kowiki")
    info.update(quality_ko(wv, use_subwords=False))
    info["examples"] = examples(wv)
    return info


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(RUNS), help=f"comma-separated subset of {RUNS}")
    ap.add_argument("--lines", type=int, default=None, help="use the first N lines only")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--save", type=Path, default=None,
                    help="save each run's word vectors in this folder (RUN/ under it), e.g. for "
                         "the cross-lingual word mapping benchmark")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runs = [r for r in args.only.split(",") if r]
    corpus = corpus_path(args.lines)
    cache_root = CACHE / ("kowiki-tokens" if args.lines is None else f"kowiki-tokens-{args.lines}")
    if "morphemes" in runs and cache_root.exists():
        shutil.rmtree(cache_root)  # measure the tokenising phase from nothing
    warm_up()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.update({"corpus": str(corpus.relative_to(DATA.parent)) if corpus.is_relative_to(DATA.parent)
                    else str(corpus), "epochs": args.epochs, "machine": platform.platform(),
                    "cpus": os.cpu_count(), "python": platform.python_version()})
    rows = results.setdefault("rows", {})
    morph_folder = None
    for kind in ("eojeol", "morphemes", "jamo"):
        if kind not in runs:
            continue
        info, model = run_ours(kind, corpus, cache_root, args.epochs)
        if kind == "morphemes":
            morph_folder = model.token_cache_
        rows[kind] = info
        if args.save is not None:
            model.wv_.save(args.save / kind)
        log.info("%s: %s", kind, {k: info[k] for k in ("wall_seconds", "tokenise_seconds",
                                                     "words_per_second", "ko_analogy_total",
                                                     "ko_ws353_spearman")})
        del model
        _save(args.out, results)
    if "gensim" in runs:
        if morph_folder is None:  # the cache of an earlier morphemes run
            from embedkit.text.corpus import token_cache
            from embedkit.text.korean import KoreanTokenizer

            morph_folder = token_cache(corpus, KoreanTokenizer(), root=cache_root).folder
        text = CACHE / "kowiki_morphemes.txt"
        n_tokens = export_tokens(Path(morph_folder), text)
        rows["gensim"] = run_gensim(text, n_tokens, args.epochs)
        text.unlink()
        _save(args.out, results)
    if "morphemes" in rows and "gensim" in rows:
        results["speedup_morphemes_vs_gensim"] = (rows["morphemes"]["words_per_second"]
                                                  / rows["gensim"]["words_per_second"])
    _save(args.out, results)
    print(json.dumps(results, ensure_ascii=False, indent=1))


def _save(path: Path, results) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
