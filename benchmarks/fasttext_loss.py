"""Issue #17 B: is FastText's rising per-epoch loss a measurement artefact or real drift?

    python benchmarks/fasttext_loss.py [TRAIN.txt HELDOUT.txt] [--gensim] [--epochs 5] [--workers 1]

TRAIN / HELDOUT: whitespace-tokenised text, one sentence per line. Without them, the first 1.5M
tokens of ../shared/data/enwiki_sample (article order kept) are the training text and the next
0.3M the held-out text (written once under benchmarks/.cache/). After every epoch it prints, for embedkit's FastText (and
gensim's with ``--gensim``, same hyperparameters):

* ``reported``: the trainer's ``loss_history_`` entry (embedkit only; gensim reports none), then
  ``online``: the running mean of the pairs' losses while training (what ``loss_history_`` was
  before issue #17), and ``frozen``: the trainer's objective over the *whole* training corpus
  with the weights frozen at the end of the epoch (the kernel run again at learning rate 0);
* ``train_nll`` / ``held_nll``: an independent negative-sampling loss per positive pair, computed
  in numpy from the current weights on a *fixed* sample of (centre, context, 5 negatives) triples
  drawn once from TRAIN / HELDOUT -- the same triples every epoch and for both libraries, with the
  input vector built as each library's training kernel builds it;
* ``ws353``: WordSim-353 Spearman of the composed word vectors (coverage in brackets);
* mean L2 norms of the word rows, of the n-gram rows in use, and of the output rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EMBEDKIT_DATA", ROOT.parent / "shared" / "data"))
PARAMS = dict(vector_size=100, window=5, negative=5, min_count=5, sample=1e-3, min_n=3, max_n=6)


def read(path):
    with open(path, encoding="utf-8") as fh:
        return [line.split() for line in fh if line.strip()]


def triples(sents, index, freq, n=20000, window=5, negative=5, seed=0):
    rng = np.random.default_rng(seed)
    ids = [np.array([index[w] for w in s if w in index], dtype=np.int64) for s in sents]
    ids = [s for s in ids if len(s) > 1]
    lens = np.array([len(s) for s in ids])
    si = rng.choice(len(ids), n, p=lens / lens.sum())
    centre, ctx = np.empty(n, np.int64), np.empty(n, np.int64)
    for k, s in enumerate(si):
        sent = ids[s]
        i = rng.integers(len(sent))
        while True:
            j = i + rng.integers(-window, window + 1)
            if j != i and 0 <= j < len(sent):
                break
        centre[k], ctx[k] = sent[i], sent[j]
    p = freq.astype(np.float64) ** 0.75
    neg = rng.choice(len(freq), (n, negative), p=p / p.sum())
    return centre, ctx, neg


def nll(h, syn1, ctx, neg):
    def logsig(x):
        return -np.logaddexp(0.0, -x)

    pos = (h * syn1[ctx]).sum(1)
    negs = np.einsum("nd,nkd->nk", h, syn1[neg])
    return float(np.mean(-logsig(pos) - logsig(-negs).sum(1)))


def spearman_ws(vectors, index):
    from scipy.stats import spearmanr

    rows = [line.rstrip("\n").split("\t") for line in
            open(DATA / "word_similarity" / "wordsim353.tsv", encoding="utf-8")][1:]
    a, b, gold = [], [], []
    for w1, w2, s in rows:
        w1, w2 = w1.lower(), w2.lower()
        if w1 in index and w2 in index:
            a.append(index[w1])
            b.append(index[w2])
            gold.append(float(s))
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return float(spearmanr((v[a] * v[b]).sum(1), gold).statistic), len(gold) / len(rows)


def line(tag, epoch, reported, tr, he, ws, cov, nw, nn, no, secs):
    rep = "   -   " if reported is None else reported
    print(f"{tag:8s} epoch {epoch}: reported {rep}  train_nll {tr:.4f}  held_nll {he:.4f}  "
          f"ws353 {ws:.3f} ({cov:.0%})  |word| {nw:.3f}  |ngram| {nn:.3f}  |out| {no:.3f}  "
          f"({secs:.0f}s)", flush=True)


def run_embedkit(train, held, epochs, workers, seed, lr=0.025, min_lr=0.0001):
    from embedkit.text import _kernels
    from embedkit.text.word2vec import FastText

    grab = {}
    real = _kernels.train_subword_skipgram

    def spy(syn0, syn1, *args):
        grab["syn0"], grab["syn1"] = syn0, syn1
        grab["offsets"], grab["rows"] = args[-5], args[-4]
        if args[8] > 0:  # not the trainer's own frozen probe (learning rate 0)
            grab.setdefault("chunks", []).append(args)
        return real(syn0, syn1, *args)

    def frozen_loss():
        # the trainer's own loss (subsampling, reduced windows) over the whole training corpus,
        # with the weights frozen at their current values: the kernel with learning rate 0
        loss = pairs = 0.0
        for args in grab["chunks"][: grab["per_epoch"]]:
            a = list(args)
            a[8] = a[9] = 0.0  # alpha0, min_alpha
            a[12] = a[12].copy()  # seeds
            a[-2], a[-1] = np.zeros_like(a[-2]), np.zeros_like(a[-1])
            real(grab["syn0"], grab["syn1"], *a)
            loss += a[-2].sum()
            pairs += a[-1].sum()
        return loss / pairs

    _kernels.train_subword_skipgram = spy
    state = {}
    t0 = time.perf_counter()

    def callback(epoch, loss):
        syn0, syn1, off, rows = grab["syn0"], grab["syn1"], grab["offsets"], grab["rows"]
        grab.setdefault("per_epoch", len(grab["chunks"]))
        frozen = frozen_loss()
        if "tr" not in state:
            index = state["index"] = {w: i for i, w in enumerate(state["words"])}
            state["tr"] = triples(train, index, state["freq"])
            state["he"] = triples(held, index, state["freq"], seed=1)
        V = len(off) - 1
        vec = np.empty((V, syn0.shape[1]), np.float32)
        _kernels.compose(syn0, off, rows, vec)

        def h_of(centre):  # as the kernel: sum of the rows / max(1, rows - 1)
            out = np.empty((len(centre), syn0.shape[1]))
            for k, c in enumerate(centre):
                r = rows[off[c]:off[c + 1]]
                out[k] = syn0[r].sum(0) / max(1, len(r) - 1)
            return out

        res = []
        for key in ("tr", "he"):
            c, x, ng = state[key]
            res.append(nll(h_of(c), syn1, x, ng))
        ws, cov = spearman_ws(vec, state["index"])
        used = np.unique(rows[rows >= V])
        # before the fix, loss itself was the online figure
        online = getattr(state["model"], "online_loss_history_", [loss])[-1]
        line("embedkit", epoch + 1, f"{loss:.4f} online {online:.4f} frozen {frozen:.4f}", *res,
             ws, cov, np.linalg.norm(syn0[:V], axis=1).mean(),
             np.linalg.norm(syn0[used], axis=1).mean(), np.linalg.norm(syn1, axis=1).mean(),
             time.perf_counter() - t0)

    model = state["model"] = FastText(**PARAMS, epochs=epochs, workers=workers, seed=seed,
                                      tokenizer="whitespace", progress=False,
                                      learning_rate=lr, min_learning_rate=min_lr)
    # the vocabulary (order and counts) as fit will build it, for the fixed evaluation triples
    words, freq, _, _ = model._scan(train, model._tokenizer())
    state["words"], state["freq"] = words, freq
    model.fit(train, callback=callback)
    _kernels.train_subword_skipgram = real
    return model


def run_gensim(train, held, epochs, workers, seed):
    from gensim.models import FastText as GFastText
    from gensim.models.callbacks import CallbackAny2Vec

    t0 = time.perf_counter()
    state = {}

    class Cb(CallbackAny2Vec):
        def __init__(self):
            self.epoch = 0

        def on_epoch_end(self, model):
            self.epoch += 1
            wv = model.wv
            if "tr" not in state:
                state["index"] = dict(wv.key_to_index)
                freq = np.array([wv.get_vecattr(w, "count") for w in wv.index_to_key])
                state["tr"] = triples(train, state["index"], freq)
                state["he"] = triples(held, state["index"], freq, seed=1)
            syn1 = model.syn1neg

            def h_of(centre):  # gensim: (word + sum of n-grams) / number of n-grams
                out = np.empty((len(centre), wv.vector_size))
                for k, c in enumerate(centre):
                    b = wv.buckets_word[c]
                    out[k] = (wv.vectors_vocab[c] + wv.vectors_ngrams[b].sum(0)) / max(1, len(b))
                return out

            res = [nll(h_of(state[k][0]), syn1, state[k][1], state[k][2]) for k in ("tr", "he")]
            wv.adjust_vectors()
            ws, cov = spearman_ws(wv.vectors[: len(wv.index_to_key)], state["index"])
            used = np.unique(np.concatenate([b for b in wv.buckets_word if len(b)]))
            line("gensim", self.epoch, None, *res, ws, cov,
                 np.linalg.norm(wv.vectors_vocab, axis=1).mean(),
                 np.linalg.norm(wv.vectors_ngrams[used], axis=1).mean(),
                 np.linalg.norm(syn1, axis=1).mean(), time.perf_counter() - t0)

    p = dict(PARAMS)
    GFastText(sentences=train, vector_size=p["vector_size"], window=p["window"],
              negative=p["negative"], min_count=p["min_count"], sample=p["sample"],
              min_n=p["min_n"], max_n=p["max_n"], sg=1, epochs=epochs, workers=workers, seed=seed,
              callbacks=[Cb()])


def enwiki_slice(train_tokens: int = 1_500_000, held_tokens: int = 300_000) -> tuple[Path, Path]:
    """The default data: the start of enwiki_sample, tokenised, split into train and held-out."""
    import lzma

    from embedkit.text.tokenize import tokenize

    source = Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "enwiki_sample" \
        / "enwiki_sample.txt.xz"
    cache = Path(__file__).resolve().parent / ".cache"
    train_path, held_path = cache / "ft_loss_train.txt", cache / "ft_loss_heldout.txt"
    if train_path.is_file() and held_path.is_file():
        return train_path, held_path
    if not source.is_file():
        raise SystemExit(f"no {source}: pass TRAIN.txt HELDOUT.txt")
    cache.mkdir(exist_ok=True)
    n = 0
    with lzma.open(source, "rt", encoding="utf-8") as f, open(train_path, "w") as tr, \
            open(held_path, "w") as he:
        for line in f:
            t = tokenize(line)
            if not t:
                continue
            n += len(t)
            if n <= train_tokens:
                tr.write(" ".join(t) + "\n")
            elif n <= train_tokens + held_tokens:
                he.write(" ".join(t) + "\n")
            else:
                break
    return train_path, held_path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train", nargs="?")
    ap.add_argument("heldout", nargs="?")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gensim", action="store_true")
    ap.add_argument("--no-embedkit", action="store_true")
    ap.add_argument("--lr", type=float, default=0.025)
    ap.add_argument("--min-lr", type=float, default=0.0001)
    ap.add_argument("--shuffle", action="store_true", help="shuffle the training lines (once)")
    ap.add_argument("--shuffle-block", type=int, default=0, metavar="WORDS",
                    help="shuffle the lines within consecutive blocks of about WORDS tokens (once)")
    a = ap.parse_args()
    if a.train is None or a.heldout is None:
        a.train, a.heldout = enwiki_slice()
    train, held = read(a.train), read(a.heldout)
    if a.shuffle:
        order = np.random.default_rng(0).permutation(len(train))
        train = [train[i] for i in order]
    if a.shuffle_block:
        rng, out, block, n = np.random.default_rng(0), [], [], 0
        for sent in train:
            block.append(sent)
            n += len(sent)
            if n >= a.shuffle_block:
                out += [block[i] for i in rng.permutation(len(block))]
                block, n = [], 0
        train = out + [block[i] for i in rng.permutation(len(block))]
    print(f"{sum(map(len, train))} train tokens, {sum(map(len, held))} held-out tokens",
          file=sys.stderr)
    if not a.no_embedkit:
        run_embedkit(train, held, a.epochs, a.workers, a.seed, a.lr, a.min_lr)
    if a.gensim:
        run_gensim(train, held, a.epochs, a.workers, a.seed)


if __name__ == "__main__":
    main()
