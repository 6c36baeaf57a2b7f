"""Side-by-side benchmark: embedkit's word2vec / fastText engine against gensim 4.

    python benchmarks/word2vec.py                 # full run (writes benchmarks/results/word2vec.json)
    python benchmarks/word2vec.py --quick         # 2M words, 1 epoch: for iteration
    python benchmarks/word2vec.py --only skipgram,cbow
    python benchmarks/word2vec.py --corpus enwiki --epochs 1 --only skipgram,cbow,subword   # 50M words

Corpora (preprocessed once into benchmarks/.cache/, git-ignored):

* English: ../shared/data/enwiki_sample/enwiki_sample.txt.xz, text8-style (lower-case, keep [a-z]
  runs), one paragraph per line (~12M words).
* Korean: ../shared/data/nsmc/nsmc_dev.tsv.xz, the ``text`` column, tokenised with embedkit's
  default tokenizer (lower-case letter/digit runs: eojeol-level words), one review per line.

Every model gets the same hyperparameters (dim 100, window 5, negative 5, min_count 5,
sample 1e-3, learning rate 0.025 for skip-gram / subword and 0.05 for CBOW (word2vec.c's defaults,
and embedkit's; gensim's default is 0.025 for both), the same epochs, the same threads). Speed is
words/s = corpus tokens x epochs / training wall time (vocabulary building excluded for both
libraries; reported separately).
Quality: Google analogies (3CosAdd, restrict_vocab=30000) and WordSim-353 Spearman, computed by
the same embedkit evaluation code for both libraries.
"""

from __future__ import annotations

import argparse
import json
import logging
import lzma
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = Path(os.environ.get("EMBEDKIT_DATA", ROOT.parent / "shared" / "data"))
CACHE = HERE / ".cache"
RESULTS = HERE / "results" / "word2vec.json"

log = logging.getLogger("bench.word2vec")
RUNS = ("skipgram", "cbow", "korean", "subword")


# ------------------------------------------------------------------------------------ corpora
#: The English corpora (--corpus): the 12M-word sample, or the 50M-word enwiki.
ENGLISH = {"enwiki_sample": ("enwiki_sample/enwiki_sample.txt.xz", "enwiki_text8.txt"),
           "enwiki": ("enwiki/enwiki_50m.txt.xz", "enwiki50m_text8.txt")}


def english_corpus(quick: bool, name: str = "enwiki_sample") -> Path:
    src_rel, cached = ENGLISH[name]
    src = DATA / src_rel
    full = CACHE / cached
    if not full.exists():
        if not src.exists():
            sys.exit(f"missing dataset: {src}")
        CACHE.mkdir(parents=True, exist_ok=True)
        word = re.compile(r"[a-z]+")
        tmp = full.with_suffix(".tmp")
        with lzma.open(src, "rt", encoding="utf-8") as fh, open(tmp, "w", encoding="utf-8") as out:
            for line in fh:
                tokens = word.findall(line.lower())
                if tokens:
                    out.write(" ".join(tokens) + "\n")
        tmp.replace(full)
    if not quick:
        return full
    small = CACHE / f"{full.stem}_quick.txt"
    if not small.exists():
        n = 0
        with open(full, encoding="utf-8") as fh, open(small, "w", encoding="utf-8") as out:
            for line in fh:
                out.write(line)
                n += line.count(" ") + 1
                if n >= 2_000_000:
                    break
    return small


def korean_corpus(quick: bool) -> Path:
    from embedkit.text.tokenize import tokenize

    src = DATA / "nsmc" / "nsmc_dev.tsv.xz"
    full = CACHE / "nsmc_words.txt"
    if not full.exists():
        if not src.exists():
            sys.exit(f"missing dataset: {src}")
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = full.with_suffix(".tmp")
        with lzma.open(src, "rt", encoding="utf-8") as fh, open(tmp, "w", encoding="utf-8") as out:
            header = fh.readline().rstrip("\n").split("\t")
            col = header.index("text")
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) > col:
                    tokens = tokenize(parts[col])
                    if tokens:
                        out.write(" ".join(tokens) + "\n")
        tmp.replace(full)
    if not quick:
        return full
    small = CACHE / "nsmc_words_quick.txt"
    if not small.exists():
        with open(full, encoding="utf-8") as fh, open(small, "w", encoding="utf-8") as out:
            for i, line in enumerate(fh):
                if i >= 150_000:
                    break
                out.write(line)
    return small


# ---------------------------------------------------------------------------------- helpers
def count_words(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            n += len(line.split())
    return n


def from_gensim(kv, name):
    from embedkit.text.word_vectors import WordVectors

    counts = [kv.get_vecattr(w, "count") for w in kv.index_to_key]
    return WordVectors(kv.index_to_key, np.asarray(kv.vectors, dtype=np.float32), counts=counts,
                       name=name)


def quality_en(wv) -> dict:
    from embedkit.evaluate.words import evaluate_analogies, evaluate_similarity

    ana = evaluate_analogies(wv, DATA / "analogy" / "questions-words.txt", restrict_vocab=30000)
    d = ana.to_dict()
    sim = evaluate_similarity(wv, DATA / "word_similarity" / "wordsim353.tsv")
    return {"analogy_total": d["total"]["accuracy"], "analogy_semantic": d["semantic"]["accuracy"],
            "analogy_syntactic": d["syntactic"]["accuracy"], "analogy_coverage": d["total"]["coverage"],
            "ws353_spearman": sim.spearman, "ws353_oov_pairs": sim.oov_pairs}


#: The classic analogies (a, b, c, expected answer of b - a + c).
CLASSIC_ANALOGIES = (("man", "king", "woman", "queen"), ("france", "paris", "italy", "rome"))


def classic_ranks(wv, questions=CLASSIC_ANALOGIES, topn: int = 10) -> dict:
    """Each classic analogy's top 5 answers and the rank of the expected one (None past topn)."""
    out = {}
    for a, b, c, want in questions:
        if not all(w in wv.key_to_index for w in (a, b, c, want)):
            out[f"{b} - {a} + {c}"] = {"missing": True}
            continue
        got = [w for w, _ in wv.analogy(a, b, c, topn=topn)]
        out[f"{b} - {a} + {c}"] = {"top5": got[:5], f"rank_of_{want}":
                                  got.index(want) + 1 if want in got else None}
    return out


def quality_ko(wv, *, use_subwords: bool) -> dict:
    from embedkit.evaluate.words import evaluate_analogies, evaluate_similarity

    folder = DATA / "ko_word_eval"
    ana = evaluate_analogies(wv, folder / "ko_analogy.txt", restrict_vocab=None).to_dict()
    sim = evaluate_similarity(wv, folder / "ko_ws353.tsv")
    out = {"ko_ws353_spearman": sim.spearman, "ko_ws353_pairs": sim.found_pairs,
           "ko_ws353_oov_pairs": sim.oov_pairs,
           "ko_analogy_total": ana["total"]["accuracy"], "ko_analogy_semantic": ana["semantic"]["accuracy"],
           "ko_analogy_syntactic": ana["syntactic"]["accuracy"],
           "ko_analogy_coverage": ana["total"]["coverage"]}
    if use_subwords:
        s2 = evaluate_similarity(wv, folder / "ko_ws353.tsv", use_subwords=True)
        out["ko_ws353_spearman_with_subword_oov"] = s2.spearman
        out["ko_ws353_pairs_with_subword_oov"] = s2.found_pairs
    return out


def misspellings(wv, vectors_for, words: list[str], rng) -> dict:
    """Cosine of unseen misspellings to their in-vocabulary word, against random pairs."""
    made = []
    for w in words:
        if len(w) < 5 or w not in wv.key_to_index:
            continue
        i = int(rng.integers(1, len(w) - 2))
        variants = [w[:i] + w[i + 1] + w[i] + w[i + 2:], w[:i] + w[i + 1:], w[:i] + w[i] + w[i:]]
        for m in variants:
            if m != w and m not in wv.key_to_index:
                made.append((w, m))
                break
    if not made:
        return {}
    unit = wv.unit_vectors()
    sims, ranks = [], []
    vocab_sample = rng.choice(min(len(wv), 30000), size=1000, replace=False)
    for w, m in made:
        v = vectors_for(m)
        v = v / max(np.linalg.norm(v), 1e-12)
        s_true = float(unit[wv.key_to_index[w]] @ v)
        s_rand = unit[vocab_sample] @ v
        sims.append(s_true)
        ranks.append(float((s_rand < s_true).mean()))
    return {"pairs": len(made), "mean_cos_to_correct": float(np.mean(sims)),
            "mean_cos_to_random_word": float(np.mean(unit[vocab_sample[:200]] @ unit[vocab_sample[200:400]].T)),
            "fraction_of_random_words_farther": float(np.mean(ranks)),
            "examples": [f"{m}->{w}" for w, m in made[:5]]}


def misspelling_words() -> list[str]:
    words = []
    for line in (DATA / "word_similarity" / "wordsim353.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        words.extend(line.lower().split("\t")[:2])
    return sorted(set(words))


# -------------------------------------------------------------------------------------- runs
def run_ours(kind, corpus, cfg, **extra):
    from embedkit.text.word2vec import FastText, Word2Vec

    cls = FastText if kind == "subword" else Word2Vec
    arch = "cbow" if kind == "cbow" else "skipgram"
    model = cls(architecture=arch, vector_size=cfg["dim"], window=cfg["window"], negative=cfg["negative"],
                min_count=cfg["min_count"], sample=cfg["sample"], epochs=cfg["epochs"],
                workers=cfg["workers"], seed=1, tokenizer="whitespace", progress=False, **extra)
    t0 = time.perf_counter()
    model.fit(str(corpus))
    total = time.perf_counter() - t0
    return model, {"library": "embedkit", "mode": "file (streamed)", "train_seconds": model.training_time_,
                   "vocab_seconds": model.vocabulary_time_, "total_seconds": total,
                   "words_per_second": model.words_per_second_, "vocab_size": model.vocab_size_,
                   "loss_per_epoch": model.loss_history_}


def run_gensim(kind, corpus, cfg, mode, n_words):
    import gensim
    from gensim.models.word2vec import LineSentence

    common = dict(vector_size=cfg["dim"], window=cfg["window"], negative=cfg["negative"],
                  min_count=cfg["min_count"], sample=cfg["sample"], epochs=cfg["epochs"],
                  workers=cfg["workers"], seed=1, sg=0 if kind == "cbow" else 1, hs=0,
                  alpha=0.05 if kind == "cbow" else 0.025)  # our defaults (word2vec.c's)
    if kind == "subword":
        model = gensim.models.FastText(min_n=3, max_n=6, bucket=cfg["buckets"], **common)
    else:
        model = gensim.models.Word2Vec(**common)
    t0 = time.perf_counter()
    if mode == "corpus_file":
        model.build_vocab(corpus_file=str(corpus))
        t1 = time.perf_counter()
        model.train(corpus_file=str(corpus), total_words=model.corpus_total_words,
                    total_examples=model.corpus_count, epochs=cfg["epochs"])
    else:
        sentences = LineSentence(str(corpus))
        model.build_vocab(sentences)
        t1 = time.perf_counter()
        model.train(sentences, total_examples=model.corpus_count, epochs=cfg["epochs"])
    t2 = time.perf_counter()
    return model, {"library": f"gensim {gensim.__version__}", "mode": mode, "train_seconds": t2 - t1,
                   "vocab_seconds": t1 - t0, "total_seconds": t2 - t0,
                   "words_per_second": n_words * cfg["epochs"] / (t2 - t1),
                   "vocab_size": len(model.wv)}


def warm_up():
    """Compile (or load from numba's cache) every kernel before timing anything."""
    from embedkit.text.word2vec import FastText, Word2Vec

    tiny = [["a", "b", "c", "d"]] * 50
    for model in (Word2Vec(architecture="skipgram", min_count=1, epochs=1, workers=2, progress=False),
                  Word2Vec(architecture="cbow", min_count=1, epochs=1, workers=2, progress=False),
                  FastText(min_count=1, epochs=1, workers=2, buckets=100, progress=False)):
        model.fit(tiny)


def bench_english(kind, corpus, cfg, n_words, out):
    rows = []
    ours, info = run_ours(kind, corpus, cfg, **({"buckets": cfg["buckets"]} if kind == "subword" else {}))
    info.update(quality_en(ours.wv_))
    rng = np.random.default_rng(0)
    if kind == "subword":
        info["misspellings"] = misspellings(ours.wv_, ours.wv_.get_vector, misspelling_words(), rng)
    rows.append(info)
    log.info("%s embedkit: %s", kind, _short(info))
    del ours
    if kind == "subword":  # the faster option, side by side
        ours, info = run_ours(kind, corpus, cfg, buckets=cfg["buckets"], shared_negatives=True)
        info["mode"] = "file, shared_negatives=True"
        info.update(quality_en(ours.wv_))
        info["misspellings"] = misspellings(ours.wv_, ours.wv_.get_vector, misspelling_words(),
                                            np.random.default_rng(0))
        rows.append(info)
        log.info("%s embedkit shared negatives: %s", kind, _short(info))
        del ours
    n_ours = len(rows)
    for mode in cfg["gensim_modes"]:
        g, ginfo = run_gensim(kind, corpus, cfg, mode, n_words)
        wv = from_gensim(g.wv, f"gensim-{kind}-{mode}")
        ginfo.update(quality_en(wv))
        if kind == "subword":
            ginfo["misspellings"] = misspellings(wv, g.wv.get_vector, misspelling_words(),
                                                 np.random.default_rng(0))
        rows.append(ginfo)
        log.info("%s gensim %s: %s", kind, mode, _short(ginfo))
        del g, wv
    best = max((r["words_per_second"] for r in rows[n_ours:]), default=None)
    out[kind] = {"rows": rows, "speedup_vs_fastest_gensim": rows[0]["words_per_second"] / best if best else None}


def bench_korean(corpus, cfg, out):
    rows = []
    for label, kind, extra in (("skip-gram (words)", "skipgram", {}),
                               ("subword skip-gram, jamo n-grams (Park et al.)", "subword",
                                {"buckets": cfg["buckets"], "korean_jamo": True, "min_n": 3, "max_n": 6}),
                               ("subword skip-gram, character n-grams", "subword",
                                {"buckets": cfg["buckets"], "korean_jamo": False, "min_n": 1, "max_n": 4})):
        model, info = run_ours(kind, corpus, cfg, **extra)
        info["model"] = label
        info.update(quality_ko(model.wv_, use_subwords=kind == "subword"))
        rows.append(info)
        log.info("korean %s: %s", label, _short(info))
        del model
    out["korean"] = {"rows": rows}


def _short(info):
    keys = ("words_per_second", "train_seconds", "analogy_total", "ws353_spearman", "ko_ws353_spearman",
            "ko_analogy_total")
    return {k: round(info[k], 4) for k in keys if info.get(k) is not None}


# ------------------------------------------------------------------------------------- table
def table(results) -> str:
    lines = ["| run | library (mode) | words/s | vs fastest gensim | analogy total / sem / syn | "
             "WS353 rho | train s |", "|---|---|---:|---:|---|---:|---:|"]
    for kind in ("skipgram", "cbow", "subword"):
        if kind not in results["runs"]:
            continue
        runs = results["runs"][kind]
        rows = runs["rows"]
        best = max((r["words_per_second"] for r in rows if r["library"].startswith("gensim")),
                   default=None)
        for r in rows:
            ratio = f"{r['words_per_second'] / best:.2f}x" if best else ""
            lines.append(
                f"| {kind} | {r['library']} ({r['mode']}) | {r['words_per_second']:,.0f} | {ratio} | "
                f"{r['analogy_total']:.3f} / {r['analogy_semantic']:.3f} / {r['analogy_syntactic']:.3f} | "
                f"{r['ws353_spearman']:.3f} | {r['train_seconds']:.1f} |")
        for r in rows:
            if "misspellings" in r and r["misspellings"]:
                m = r["misspellings"]
                lines.append(f"|  | misspellings, {r['library']} ({r['mode']}): {m['pairs']} unseen | | | "
                             f"cos to correct word {m['mean_cos_to_correct']:.3f} vs random pairs "
                             f"{m['mean_cos_to_random_word']:.3f}; closer than "
                             f"{100 * m['fraction_of_random_words_farther']:.1f}% of random words | | |")
    if "korean" in results["runs"]:
        lines += ["", "| Korean (NSMC) model | words/s | ko-WS353 rho (pairs) | with subword OOV (pairs) | "
                      "ko-analogy total / sem / syn (coverage) |", "|---|---:|---|---|---|"]
        for r in results["runs"]["korean"]["rows"]:
            rho = "n/a" if r["ko_ws353_spearman"] is None else f"{r['ko_ws353_spearman']:.3f}"
            sub = r.get("ko_ws353_spearman_with_subword_oov")
            subs = f"{sub:.3f} ({r['ko_ws353_pairs_with_subword_oov']})" if sub is not None else "-"
            lines.append(f"| {r['model']} | {r['words_per_second']:,.0f} | {rho} ({r['ko_ws353_pairs']}) | "
                         f"{subs} | {r['ko_analogy_total']:.3f} / {r['ko_analogy_semantic']:.3f} / "
                         f"{r['ko_analogy_syntactic']:.3f} ({r['ko_analogy_coverage']:.3f}) |")
    return "\n".join(lines)


def wait_for_quiet(max_load: float, max_wait: float) -> tuple[float, float]:
    start = time.time()
    load = os.getloadavg()[0]
    while load >= max_load and time.time() - start < max_wait:
        log.info("1-minute load average %.2f >= %.2f; waiting", load, max_load)
        time.sleep(30)
        load = os.getloadavg()[0]
    return load, time.time() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="2M English words, 150k reviews, 1 epoch")
    p.add_argument("--corpus", choices=sorted(ENGLISH), default="enwiki_sample",
                   help="the English corpus (enwiki: the 50M-word one; text8-style either way)")
    p.add_argument("--only", default=",".join(RUNS), help=f"comma-separated subset of {','.join(RUNS)}")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 3, or 1 with --quick)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--buckets", type=int, default=2_000_000)
    p.add_argument("--gensim-modes", default="iterable,corpus_file")
    p.add_argument("--max-load", type=float, default=1.5)
    p.add_argument("--max-wait", type=float, default=600)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("gensim").setLevel(logging.WARNING)
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in only if x not in RUNS]
    only = [x for x in RUNS if x in only]
    if bad:
        p.error(f"unknown runs {bad}; choose from {RUNS}")
    cfg = {"dim": 100, "window": 5, "negative": 5, "min_count": 5, "sample": 1e-3,
           "epochs": args.epochs or (1 if args.quick else 3), "workers": args.workers,
           "buckets": args.buckets, "gensim_modes": [m for m in args.gensim_modes.split(",") if m]}
    load_before, waited = wait_for_quiet(args.max_load, args.max_wait)
    results = {"command": "python benchmarks/word2vec.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "config": cfg, "quick": args.quick, "machine": {
                   "cpus": os.cpu_count(), "platform": platform.platform(),
                   "python": platform.python_version(), "load_average_before": os.getloadavg(),
                   "waited_for_load_seconds": round(waited, 1)}, "runs": {}}
    import gensim
    import numba

    results["machine"]["gensim"] = gensim.__version__
    results["machine"]["numba"] = numba.__version__
    warm_up()
    english = None
    for kind in only:  # in RUNS order; results are saved after each run
        results["machine"][f"load_average_before_{kind}"] = os.getloadavg()
        if kind == "korean":
            corpus = korean_corpus(args.quick)
            results["korean_corpus"] = {"path": str(corpus.relative_to(ROOT)),
                                        "tokens": count_words(corpus)}
            bench_korean(corpus, cfg, results["runs"])
        else:
            if english is None:
                english = english_corpus(args.quick, args.corpus)
                n_words = count_words(english)
                results["english_corpus"] = {"path": str(english.relative_to(ROOT)), "tokens": n_words}
            bench_english(kind, english, cfg, n_words, results["runs"])
        results["machine"]["load_average_after"] = os.getloadavg()
        results["table"] = table(results)
        _save(args.out, results)
    print(results["table"])


def _save(path: Path, results):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=float), encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    main()
