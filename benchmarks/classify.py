"""Sentiment classification on NSMC (Korean) and SST-2 (English): embedkit's TextClassifier against
TF-IDF + logistic regression and fastText supervised, side by side on the same splits.

    flock /tmp/embedkit-heavy.lock python benchmarks/classify.py --datasets sst2         # ~20 min
    flock /tmp/embedkit-heavy.lock python benchmarks/classify.py --datasets nsmc \
        --methods tfidf_lr,fasttext,frozen_lr,hybrid                                     # ~75 min
    flock /tmp/embedkit-heavy.lock python benchmarks/classify.py --datasets nsmc \
        --nsmc-tasks binary --methods finetune --finetune-eval-every 500                 # ~40 min
    python benchmarks/classify.py --quick --datasets sst2 --methods tfidf_lr,frozen_lr   # a slice

(each run updates its own entries of the JSON; the NSMC fine-tuning run reuses the vectors the
run before it cached). Defaults: NSMC 200,000 / 10,000 / 20,000 reviews drawn for train / dev /
test; fine-tuning at most 1,000 steps of 32 (SST-2's 3 epochs are 585 steps).

Splits (no choice is made on a test split):

- NSMC (``../shared/data/nsmc/nsmc_dev.tsv.xz``, 568k reviews of 11.8k movies): split BY MOVIE,
  SHA-256("embedkit-classify" + movie_id) mod 100: < 80 train, 80-89 dev, >= 90 test, so no movie
  is in two splits. Each split is shuffled (seed 0) and cut to ``--train-limit`` / ``--dev-limit``
  / ``--test-limit`` reviews; the graded task (1-10 stars) uses those reviews, the binary task the
  ones rated 1-4 (negative) or 9-10 (positive), 5-8 left out, as the original NSMC.
- SST-2 (``../shared/data/sst2``): ``dev.tsv`` (872 sentences) is the test set; a dev split of
  10% is carved from ``train.tsv`` (seed 0) for the choices, the rest is the training set.

Methods (each trained on the train split, every setting chosen on the dev split):

- ``tfidf_lr``: scikit-learn TfidfVectorizer (word 1-2-grams + char_wb 1-4-grams, sublinear tf) and
  LogisticRegression, C from {1, 4, 16} on dev (graded: Ridge);
- ``fasttext``: the fastText library's supervised classifier (``fasttext-wheel``; word bigrams),
  epochs / learning rate / subword n-grams from a small grid on dev; graded: the expected star
  from its class probabilities;
- ``frozen_lr``: TextClassifier(head="linear"): logistic regression (graded: the expected star
  of calibrated star classes, as every TextClassifier head does for 1-10 stars) on frozen
  multilingual-e5-small vectors ("query: " prompt; ONNX int8 by default);
- ``hybrid``: TextClassifier(head="auto"): the encoder and TF-IDF views mixed with a weight (and a
  temperature) chosen on dev;
- ``finetune``: TextClassifier(head="finetune"): the encoder + a linear head trained end to end
  (cross-entropy, LP-FT start: the head starts from the frozen logistic regression), at most
  ``--finetune-steps`` steps, the best dev state kept; TF-IDF (fitted on the whole training
  split) joins when it helps on dev.

Encoded vectors are cached per text under ``benchmarks/.cache/classify-vectors`` (npy chunks keyed
by model fingerprint, backend and prompt; row key = SHA-1 of the text), so reruns are cheap; the
encoding time of a method's texts is still counted in its train time, at the rate measured when
they were encoded. Every binary model is also scored on the repo's own held-out reviews
(``benchmarks/heldout/sentiment_ko.tsv`` and ``sentiment_en.tsv``: 50 positive + 50 negative each,
written for this project, none of them in ../shared): in its training language and across to the
other one. Writes ``benchmarks/results/classify.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

DATA = (ROOT / ".." / "shared" / "data").resolve()
RESULTS = ROOT / "benchmarks" / "results"
HELDOUT = ROOT / "benchmarks" / "heldout"
CACHE = ROOT / "benchmarks" / ".cache" / "classify-vectors"

MIXED = {
    "ko": [
        "연기는 정말 좋았는데 스토리가 너무 지루했다",
        "기대를 많이 했는데 생각보다 별로였어요. 그래도 음악은 좋았음",
        "처음 30분은 최고였지만 결말이 다 망쳤다",
        "배우들 연기 덕분에 끝까지 봤다. 내용은 뻔함",
        "나쁘지 않았다. 한 번쯤 볼 만은 함",
        "최고의 영화. 두 번 봐도 재밌다",
        "시간 아까운 최악의 영화",
    ],
    "en": [
        "the acting is wonderful , but the story drags and the ending falls flat .",
        "not a great film , but it has its moments .",
        "i expected to hate it , and i ended up liking it more than i should .",
        "beautifully shot yet emotionally empty .",
        "it 's fine , i guess . nothing special .",
        "a masterpiece , funny and moving from start to finish .",
        "a tedious , joyless waste of two hours .",
    ],
}


# ----------------------------------------------------------------------------------- the data
def _bucket(movie_id: str) -> int:
    return int(hashlib.sha256(f"embedkit-classify{movie_id}".encode()).hexdigest(), 16) % 100


def nsmc_splits(limits: dict[str, int | None], seed: int = 0):
    """{split: (texts, ratings, movie_ids)} split by movie; each shuffled and cut to its limit."""
    rows = {"train": [], "dev": [], "test": []}
    path = DATA / "nsmc" / "nsmc_dev.tsv.xz"
    if not path.is_file():
        raise SystemExit(f"NSMC not found at {path}")
    cache: dict[str, int] = {}
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        cm, cr, ct = header.index("movie_id"), header.index("rating"), header.index("text")
        for line in fh:
            p = line.rstrip("\n").split("\t")
            text = p[ct].strip()
            if not text:
                continue
            b = cache.get(p[cm])
            if b is None:
                b = cache[p[cm]] = _bucket(p[cm])
            split = "train" if b < 80 else ("dev" if b < 90 else "test")
            rows[split].append((text, int(p[cr]), p[cm]))
    out = {}
    for split, items in rows.items():
        order = np.random.default_rng([seed, len(split)]).permutation(len(items))
        lim = limits.get(split)
        if lim is not None:
            order = order[:lim]
        sel = [items[i] for i in order]
        out[split] = ([t for t, _, _ in sel], [r for _, r, _ in sel], [m for _, _, m in sel])
    movies = [set(out[s][2]) for s in out]
    assert not (movies[0] & movies[1] or movies[0] & movies[2] or movies[1] & movies[2])
    return out


def binary_view(texts, ratings):
    idx = [i for i, r in enumerate(ratings) if r <= 4 or r >= 9]
    return [texts[i] for i in idx], [1 if ratings[i] >= 9 else 0 for i in idx]


def sst2_splits(limits, seed: int = 0):
    def read(name):
        lines = (DATA / "sst2" / name).read_text(encoding="utf-8").splitlines()[1:]
        rows = [line.split("\t", 1) for line in lines if "\t" in line]
        return [t.strip() for _, t in rows], [int(y) for y, _ in rows]

    tr_t, tr_y = read("train.tsv")
    te_t, te_y = read("dev.tsv")
    perm = np.random.default_rng([seed, 2]).permutation(len(tr_t))
    n_dev = int(round(0.1 * len(tr_t)))
    dev_i, train_i = perm[:n_dev], perm[n_dev:]
    out = {"train": ([tr_t[i] for i in train_i], [tr_y[i] for i in train_i]),
           "dev": ([tr_t[i] for i in dev_i], [tr_y[i] for i in dev_i]),
           "test": (te_t, te_y)}
    for split, (t, y) in list(out.items()):
        lim = limits.get(split)
        if lim is not None:
            out[split] = (t[:lim], y[:lim])
    return out


# ------------------------------------------------------------------------- cached vectors
class CachedEncoder:
    """Wraps an encoder; vectors (unit length, with the role's prompt) cached per text on disk."""

    def __init__(self, encoder, spec: str, backend: str):
        self.inner, self.spec, self.backend = encoder, spec, backend
        self.dim, self.name = encoder.dim, encoder.name
        self.fingerprint = getattr(encoder, "fingerprint", None)
        self.prompts = getattr(encoder, "prompts", {})
        self._mem: dict[str, dict[str, np.ndarray]] = {}
        self._cost: dict[str, float] = {}  # text key -> seconds its chunk took per text
        self.encoded = 0
        self.seconds = 0.0

    def prompt_for(self, role):
        return self.inner.prompt_for(role)

    def _dir(self, role) -> Path:
        key = hashlib.sha1(f"{self.fingerprint}|{self.backend}|{role}".encode()).hexdigest()[:16]
        return CACHE / key

    def _load(self, role) -> dict:
        if role in self._mem:
            return self._mem[role]
        table: dict[str, np.ndarray] = {}
        d = self._dir(role)
        if d.is_dir():
            for f in sorted(d.glob("*.npy")):
                if f.name.endswith(".tmp.npy"):
                    continue
                keys = f.with_suffix(".keys").read_text(encoding="ascii").split()
                meta = json.loads(f.with_suffix(".json").read_text(encoding="utf-8"))
                vecs = np.load(f, allow_pickle=False)
                for k, v in zip(keys, vecs):
                    table[k] = v
                    self._cost[k] = meta["seconds"] / max(meta["texts"], 1)
        self._mem[role] = table
        return table

    def cost(self, texts) -> float:
        """Seconds it took to encode these texts (at their chunks' measured rates)."""
        return float(sum(self._cost.get(hashlib.sha1(t.encode("utf-8")).hexdigest(), 0.0)
                         for t in set(texts)))

    def rate(self) -> float:
        """Texts per second over every cached chunk of this session's texts."""
        return len(self._cost) / max(sum(self._cost.values()), 1e-9)

    def _encode(self, texts, role, **options):
        table = self._load(role)
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in table}.items())
        if missing:
            t0 = time.perf_counter()
            new = []
            step = 20_000
            for start in range(0, len(missing), step):
                part = missing[start:start + step]
                fn = self.inner.encode_queries if role == "query" else self.inner.encode
                vecs = fn([t for _, t in part], batch_size=64, normalize=True,
                          progress=options.get("progress"))
                seconds = time.perf_counter() - t0
                t0 = time.perf_counter()
                d = self._dir(role)
                d.mkdir(parents=True, exist_ok=True)
                name = f"{int(time.time() * 1000)}-{os.getpid()}-{start}"
                np.save(d / f"{name}.tmp.npy", vecs.astype(np.float32), allow_pickle=False)
                (d / f"{name}.keys").write_text("\n".join(k for k, _ in part), encoding="ascii")
                (d / f"{name}.json").write_text(json.dumps(
                    {"texts": len(part), "seconds": seconds, "load": os.getloadavg()[0]}))
                os.replace(d / f"{name}.tmp.npy", d / f"{name}.npy")
                for (k, _), v in zip(part, vecs):
                    table[k] = v
                    self._cost[k] = seconds / len(part)
                self.encoded += len(part)
                self.seconds += seconds
                new.append(len(part))
        return np.stack([table[k] for k in keys]).astype(np.float32) if keys else \
            np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts, **options):
        return self._encode(list(texts), "query", **options)

    def encode(self, texts, **options):
        return self._encode(list(texts), "none", **options)


# ---------------------------------------------------------------------------------- methods
def metrics_of(task, y_true, pred=None, proba=None, classes=(0, 1)):
    from embedkit.apps.classify import (
        classification_metrics,
        expected_calibration_error,
        graded_metrics,
    )

    if task == "graded":
        return graded_metrics(y_true, pred)
    out = classification_metrics(list(y_true), list(pred), list(classes))
    if proba is not None:
        y = np.asarray(y_true)
        out["log_loss"] = round(float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y],
                                                              1e-12, 1)))), 5)
        out["ece"] = expected_calibration_error(proba, y)
    return out


def run_tfidf(task, data):
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge

    t0 = time.perf_counter()
    (tr, ytr), (dv, ydv) = data["train"], data["dev"]
    vecs = [TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b",
                            sublinear_tf=True, min_df=2, max_features=300_000, dtype=np.float32),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2,
                            max_features=300_000, dtype=np.float32)]

    def feats(texts, fit=False):
        return sp.hstack([v.fit_transform(texts) if fit else v.transform(texts) for v in vecs],
                         format="csr")

    Xtr, Xdv = feats(tr, fit=True), feats(dv)
    best, dev = None, {}
    for C in (1.0, 4.0, 16.0):
        if task == "graded":
            m = Ridge(alpha=1 / C).fit(Xtr, ytr)
            loss = float(np.abs(np.clip(m.predict(Xdv), 1, 10) - ydv).mean())
        else:
            m = LogisticRegression(C=C, max_iter=3000).fit(Xtr, ytr)
            loss = float(-np.mean(np.log(np.clip(m.predict_proba(Xdv)[np.arange(len(ydv)), ydv],
                                                 1e-12, 1))))
        dev[f"C{C:g}"] = round(loss, 5)
        if best is None or loss < best[0]:
            best = (loss, C, m)
    train_seconds = time.perf_counter() - t0
    m = best[2]
    Xte = feats(data["test"][0])
    if task == "graded":
        return {"test": metrics_of(task, data["test"][1], np.clip(m.predict(Xte), 1, 10)),
                "train_seconds": round(train_seconds, 1), "chosen": {"C": best[1]}, "dev": dev}
    proba = m.predict_proba(Xte)
    return {"test": metrics_of(task, data["test"][1], proba.argmax(1), proba),
            "train_seconds": round(train_seconds, 1), "chosen": {"C": best[1]}, "dev": dev,
            "_proba": lambda texts: m.predict_proba(feats(texts))}


def run_fasttext(task, data, tmp: Path):
    try:
        import fasttext
    except ImportError:
        return {"skipped": "fasttext is not installed (pip install fasttext-wheel)"}
    t0 = time.perf_counter()
    (tr, ytr), (dv, ydv) = data["train"], data["dev"]
    path = tmp / "ft-train.txt"
    path.write_text("".join(f"__label__{y} {t.replace(chr(10), ' ')}\n" for t, y in zip(tr, ytr)),
                    encoding="utf-8")
    labels = sorted(set(ytr))

    def proba_of(model, texts):
        out = np.zeros((len(texts), len(labels)))
        col = {f"__label__{c}": i for i, c in enumerate(labels)}
        # one text at a time through the C++ binding: with NumPy 2, fasttext 0.9.2's list
        # predict() repeats the first probability of each row, and predict(str) raises
        for r, t in enumerate(texts):
            for p, lab in model.f.predict(t.replace("\n", " ") + "\n", -1, 0.0, "strict"):
                out[r, col[lab]] = p
        return out / np.clip(out.sum(1, keepdims=True), 1e-12, None)

    def loss_of(p, y):
        if task == "graded":
            return float(np.abs(p @ np.asarray(labels, float) - np.asarray(y)).mean())
        idx = np.searchsorted(labels, y)
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), idx], 1e-12, 1))))

    best, dev = None, {}
    for epoch, lr in ((5, 0.5), (10, 0.25), (25, 0.1)):
        for minn, maxn in ((0, 0), (2, 4)):
            model = fasttext.train_supervised(str(path), epoch=epoch, lr=lr, wordNgrams=2,
                                              minn=minn, maxn=maxn, dim=100, loss="softmax",
                                              thread=2, seed=0, verbose=0)
            loss = loss_of(proba_of(model, dv), ydv)
            key = f"epoch{epoch}_lr{lr:g}_char{minn}-{maxn}"
            dev[key] = round(loss, 5)
            if best is None or loss < best[0]:
                best = (loss, key, model)
    train_seconds = time.perf_counter() - t0
    p = proba_of(best[2], data["test"][0])
    if task == "graded":
        pred = p @ np.asarray(labels, float)
        test = metrics_of(task, data["test"][1], pred)
    else:
        test = metrics_of(task, data["test"][1], np.asarray(labels)[p.argmax(1)], p)
    return {"test": test, "train_seconds": round(train_seconds, 1), "chosen": best[1], "dev": dev,
            "library": f"fasttext {getattr(fasttext, '__version__', '0.9.2')}",
            "_proba": lambda texts: proba_of(best[2], texts)}


def run_embedkit(task, data, enc: CachedEncoder, head: str, args, tmp: Path):
    from embedkit.apps.classify import TextClassifier

    (tr, ytr), (dv, ydv), (te, yte) = data["train"], data["dev"], data["test"]
    kw = {}
    if head == "finetune":
        if args.finetune_limit:
            tr, ytr = tr[:args.finetune_limit], ytr[:args.finetune_limit]
        kw = dict(epochs=args.finetune_epochs, max_seq_length=args.max_seq_length,
                  max_steps=args.finetune_steps, train_layers=args.finetune_layers,
                  eval_every=args.finetune_eval_every,
                  train_batch_size=args.finetune_batch_size, learning_rate=args.finetune_lr,
                  output_dir=tmp / f"ft-{task}", checkpoint_dir=tmp / f"ft-{task}.ckpt",
                  backend=args.backend)
    clf = TextClassifier(model=enc, task="graded" if task == "graded" else "auto", head=head,
                         progress=args.progress, **kw)
    t0, spent = time.perf_counter(), enc.seconds
    clf.fit(tr, ytr, dev=(dv, ydv))
    # the base encoder's work is counted at the rate measured when each text was encoded, whether
    # the cache served it now or not
    fit_seconds = time.perf_counter() - t0 - (enc.seconds - spent)
    enc_seconds = enc.cost(tr + dv)
    t1 = time.perf_counter()
    if task == "graded":
        test = metrics_of(task, yte, clf.predict(te))
    else:
        proba = clf.predict_proba(te)
        test = metrics_of(task, yte, np.asarray(clf.classes_)[proba.argmax(1)], proba)
    predict_seconds = time.perf_counter() - t1
    out = {"test": test, "train_seconds": round(fit_seconds + enc_seconds, 1),
           "encode_seconds": round(enc_seconds, 1), "fit_seconds": round(fit_seconds, 1),
           "predict_seconds": round(predict_seconds, 1),
           "chosen": {"tfidf_weight": clf.tfidf_weight_, "temperature": round(clf.temperature_, 4),
                      "C": clf.C_}, "train_examples": len(tr), "dev_examples": len(dv),
           "dev": clf.dev_scores_}
    if head == "finetune":
        out["finetune_seconds"] = round(getattr(clf, "train_seconds_", 0.0), 1)
        out["finetune_dev"] = getattr(clf, "finetune_history_", None)
    if task != "graded":
        assert list(clf.classes_) == [0, 1], clf.classes_
        out["_proba"] = clf.predict_proba
    return out, clf


def read_heldout() -> dict[str, tuple[list[str], list[int]]]:
    """The repo's own held-out reviews (not in ../shared): 50 positive + 50 negative per language."""
    out = {}
    for lang in ("ko", "en"):
        lines = (HELDOUT / f"sentiment_{lang}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        rows = [line.split("\t", 1) for line in lines if line.strip()]
        out[lang] = ([t for _, t in rows], [1 if y == "positive" else 0 for y, _ in rows])
    return out


def heldout_scores(proba_of, heldout) -> dict:
    out = {}
    for lang, (texts, y) in heldout.items():
        p = np.asarray(proba_of(texts), dtype=float)
        out[lang] = metrics_of("binary", y, p.argmax(1), p)
    return out


def mixed_feelings(models: dict) -> dict:
    out = {}
    for name, clf in models.items():
        rows = []
        for lang, texts in MIXED.items():
            if clf.task_ == "graded":
                preds = clf.predict(texts)
                rows += [{"lang": lang, "text": t, "stars": round(float(p), 2)}
                         for t, p in zip(texts, preds)]
            else:
                proba = clf.predict_proba(texts)
                pos = list(clf.classes_).index(1)
                rows += [{"lang": lang, "text": t, "p_positive": round(float(p[pos]), 3)}
                         for t, p in zip(texts, proba)]
        out[name] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="nsmc,sst2")
    ap.add_argument("--methods", default="tfidf_lr,fasttext,frozen_lr,hybrid,finetune")
    ap.add_argument("--nsmc-tasks", default="binary,graded")
    ap.add_argument("--train-limit", type=int, default=200_000,
                    help="NSMC reviews drawn for training (all ratings; binary uses 1-4 / 9-10; "
                         "0: all 454k)")
    ap.add_argument("--dev-limit", type=int, default=10_000)
    ap.add_argument("--test-limit", type=int, default=20_000)
    ap.add_argument("--finetune-limit", type=int, default=None,
                    help="train the finetune method on the first N training examples only")
    ap.add_argument("--finetune-steps", type=int, default=1000,
                    help="cap the fine-tuning steps (TF-IDF and the probe still use all the data)")
    ap.add_argument("--finetune-layers", type=int, default=None,
                    help="fine-tune only the top N transformer layers")
    ap.add_argument("--finetune-eval-every", type=int, default=None,
                    help="evaluate the dev split every N steps (default: after each epoch)")
    ap.add_argument("--finetune-epochs", type=int, default=3)
    ap.add_argument("--finetune-batch-size", type=int, default=32)
    ap.add_argument("--finetune-lr", type=float, default=5e-5)
    ap.add_argument("--finetune-graded", action="store_true",
                    help="also fine-tune on the 1-10 stars (mean squared error)")
    ap.add_argument("--max-seq-length", type=int, default=64)
    ap.add_argument("--model", default="multilingual-e5-small")
    ap.add_argument("--backend", default="onnx-int8", choices=("torch", "onnx", "onnx-int8"))
    ap.add_argument("--quick", action="store_true", help="2,000 train / 1,000 dev / 1,000 test")
    ap.add_argument("--progress", action="store_true", default=None)
    ap.add_argument("--out", default=str(RESULTS / "classify.json"))
    ap.add_argument("--fresh", action="store_true", help="start the JSON afresh (default: update "
                                                         "the entries this run measures)")
    args = ap.parse_args()
    if args.quick:
        args.train_limit, args.dev_limit, args.test_limit = 2000, 1000, 1000
        args.finetune_steps = args.finetune_steps or 10
        args.finetune_epochs = 1
    methods = args.methods.split(",")
    limits = {"train": args.train_limit or None, "dev": args.dev_limit or None,
              "test": args.test_limit or None}

    import embedkit

    base = embedkit.load(args.model, **({} if args.backend == "torch" else {
        "backend": "onnx", "quantize": "int8" if args.backend == "onnx-int8" else None}))
    enc = CachedEncoder(base, args.model, args.backend)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # one file for every dataset: a run updates the entries it measures, keeps the others
    old = json.loads(out.read_text(encoding="utf-8")) if out.is_file() and not args.fresh else {}
    result = {"settings": old.get("settings", {}), "load_average_start": os.getloadavg()[0],
              "cpu_count": os.cpu_count(), "results": old.get("results", {}),
              "mixed_feelings": old.get("mixed_feelings", {})}
    keep, heldout = {}, read_heldout()
    with tempfile.TemporaryDirectory(prefix="embedkit-bench-classify-") as tmpd:
        tmp = Path(tmpd)
        jobs = []
        if "nsmc" in args.datasets:
            nsmc = nsmc_splits(limits)
            for task in args.nsmc_tasks.split(","):
                if task == "binary":
                    data = {s: binary_view(nsmc[s][0], nsmc[s][1]) for s in nsmc}
                else:
                    data = {s: (nsmc[s][0], nsmc[s][1]) for s in nsmc}
                jobs.append((f"nsmc_{task}", task, data))
        if "sst2" in args.datasets:
            jobs.append(("sst2_binary", "binary", sst2_splits(limits)))
        for name, task, data in jobs:
            sizes = {s: len(data[s][0]) for s in data}
            if task == "binary":
                sizes["positive_share_test"] = round(float(np.mean(data["test"][1])), 4)
            result["settings"][name] = vars(args)
            entry = result["results"].setdefault(name, {"sizes": sizes, "methods": {}})
            if entry.get("sizes") != sizes:  # other splits: the old figures do not compare
                entry = result["results"][name] = {"sizes": sizes, "methods": {}}
            for method in methods:
                print(f"[{name}] {method} ...", file=sys.stderr, flush=True)
                t0 = time.perf_counter()
                if method == "tfidf_lr":
                    row = run_tfidf(task, data)
                elif method == "fasttext":
                    row = run_fasttext(task, data, tmp)
                elif method in ("frozen_lr", "hybrid", "finetune"):
                    if method == "finetune" and task == "graded" and not args.finetune_graded:
                        continue
                    head = {"frozen_lr": "linear", "hybrid": "auto", "finetune": "finetune"}[method]
                    row, clf = run_embedkit(task, data, enc, head, args, tmp)
                    keep[f"{name}/{method}"] = clf
                else:
                    raise SystemExit(f"unknown method {method}")
                row["wall_seconds"] = round(time.perf_counter() - t0, 1)
                proba_of = row.pop("_proba", None)
                if proba_of is not None:  # binary: the repo's held-out reviews, both languages
                    row["heldout"] = heldout_scores(proba_of, heldout)
                entry["methods"][method] = row
                print(json.dumps({name: {method: row.get("test"),
                                         "train_seconds": row.get("train_seconds")}}),
                      file=sys.stderr, flush=True)
                out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n",
                               encoding="utf-8")
        result["mixed_feelings"].update(mixed_feelings(keep))
    result["encode_rate_texts_per_second"] = round(enc.rate(), 1)
    result["load_average_end"] = os.getloadavg()[0]
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = {n: {m: {k: v for k, v in (r.get("test") or {}).items() if k != "n"}
                   | {"train_s": r.get("train_seconds")} for m, r in e["methods"].items()}
               for n, e in result["results"].items()}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
