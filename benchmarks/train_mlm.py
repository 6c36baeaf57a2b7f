"""Masked-LM domain adaptation: multilingual-e5-small continued on NSMC film reviews, before and after.

    flock /tmp/embedkit-heavy.lock python benchmarks/train_mlm.py [--lines 20000] [--max-steps 300]

Training: MaskedLMTrainer on ``--lines`` NSMC reviews (streamed from the xz file) of the movies in
the training split. Evaluation on reviews of other movies (split by movie, never trained on), with
the sentiment as NSMC defines it (rating 1-4 negative, 9-10 positive):

- retrieval: for each of ``--test`` held-out reviews, the share of its 10 nearest held-out reviews
  with the same sentiment (precision@10);
- a linear probe: logistic regression on 1,000 held-out reviews' vectors, accuracy on the other
  held-out ones;
- KorSTS dev Spearman, to show what masked-LM alone does to general sentence
  similarity (it is meant to be followed by contrastive fine-tuning).

``--then-simcse N``: the recipe masked-LM is meant for. Unsupervised SimCSE (dropout views) for N
steps on the same reviews, once from the base model and once from the masked-LM model, measured
the same way: does masked-LM first help the contrastive step that follows it?

Every text is encoded with E5's "query: " prompt.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from train_korean import DATA, RESULTS, set_threads, sts, sts_rows  # noqa: E402


def split_reviews(n_train: int, n_test: int, seed: int):
    rows = []
    with lzma.open(DATA / "nsmc" / "nsmc_dev.tsv.xz", "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        ci, cr, cm = header.index("text"), header.index("rating"), header.index("movie_id")
        for i, line in enumerate(fh):
            if i >= 200_000:
                break
            f = line.rstrip("\n").split("\t")
            if f[ci].strip():
                rows.append((f[ci].strip(), int(f[cr]), f[cm]))
    movies = sorted({m for _, _, m in rows})
    test_movies = set(np.random.default_rng(seed).permutation(movies)[:len(movies) // 5])
    train = [t for t, _, m in rows if m not in test_movies]
    test = [(t, "pos" if r >= 9 else "neg") for t, r, m in rows
            if m in test_movies and not 5 <= r <= 8 and len(t) <= 300]
    rng = np.random.default_rng(seed + 1)
    train = [train[i] for i in rng.permutation(len(train))[:n_train]]
    pos = [x for x in test if x[1] == "pos"]
    neg = [x for x in test if x[1] == "neg"]
    test = [pos[i] for i in rng.permutation(len(pos))[:n_test // 2]] + \
        [neg[i] for i in rng.permutation(len(neg))[:n_test // 2]]
    return train, test


def measure(enc, test) -> dict:
    from sklearn.linear_model import LogisticRegression

    texts, labels = [t for t, _ in test], np.asarray([y for _, y in test])
    v = enc.encode_queries(texts, batch_size=64)
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :10]
    p10 = float((labels[top] == labels[:, None]).mean())
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(texts))
    a, b = idx[:1000], idx[1000:]
    probe = LogisticRegression(C=1.0, max_iter=2000).fit(v[a], labels[a])
    return {"same_sentiment_precision@10": p10,
            "linear_probe_accuracy": float((probe.predict(v[b]) == labels[b]).mean()),
            "korsts_dev_spearman": sts(enc, sts_rows(DATA / "korsts" / "sts-dev.tsv"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--test", type=int, default=1600)
    ap.add_argument("--max-steps", type=int, default=120)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--max-seq-length", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="multilingual-e5-small")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: auto)")
    ap.add_argument("--then-simcse", type=int, default=0, metavar="STEPS",
                    help="also SimCSE for STEPS steps from the base and from the MLM model")
    ap.add_argument("--out", type=Path, default=RESULTS / "train_mlm.json")
    ap.add_argument("--model-out", type=Path, default=ROOT / "benchmarks" / ".cache" / "e5-nsmc-mlm")
    args = ap.parse_args()

    import embedkit
    from embedkit.train import MaskedLMTrainer

    t_start = time.perf_counter()
    threads = set_threads(args.threads)
    train, test = split_reviews(args.lines, args.test, args.seed)
    result = {"benchmark": "train_mlm", "date": time.strftime("%Y-%m-%d"),
              "command": " ".join(["python"] + sys.argv), "cpus": os.cpu_count(), "torch_threads": threads,
              "load_average_start": os.getloadavg()[0], "model": args.model,
              "train_reviews": len(train), "test_reviews": len(test)}
    result["before"] = measure(embedkit.load(args.model), test)
    print(json.dumps(result["before"]), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "reviews.txt.xz"
        with lzma.open(corpus, "wt", encoding="utf-8") as fh:
            fh.write("\n".join(train) + "\n")
        trainer = MaskedLMTrainer(model=args.model, max_steps=args.max_steps,
                                  batch_size=args.batch_size, learning_rate=args.lr,
                                  max_seq_length=args.max_seq_length, seed=args.seed,
                                  output_dir=args.model_out,
                                  checkpoint_dir=args.model_out.with_name(args.model_out.name + ".ckpt"))
        t0 = time.perf_counter()
        trainer.fit(corpus)
    losses = [h["loss"] for h in trainer.history_ if "loss" in h]
    result["recipe"] = trainer._recipe()
    result["training"] = {"wall_seconds": round(time.perf_counter() - t0, 1),
                          "steps": trainer.steps_, "train_seconds": trainer.train_seconds_,
                          "texts_per_second": trainer.examples_per_second_,
                          "mlm_loss_first_10": float(np.mean(losses[:10])),
                          "mlm_loss_last_10": float(np.mean(losses[-10:]))}
    result["after"] = measure(embedkit.load(str(args.model_out)), test)
    print(json.dumps(result["after"]), file=sys.stderr, flush=True)
    if args.then_simcse:
        from embedkit.train import Examples, SentenceTrainer

        texts = Examples.from_columns("texts", text=train)
        result["then_simcse"] = {"steps": args.then_simcse}
        for name, start in (("base_then_simcse", args.model),
                            ("mlm_then_simcse", str(args.model_out))):
            out = args.model_out.with_name(args.model_out.name + "-" + name)
            simcse = SentenceTrainer(model=start, loss="simcse", max_steps=args.then_simcse,
                                     batch_size=32, learning_rate=args.lr,
                                     max_seq_length=args.max_seq_length, seed=args.seed,
                                     output_dir=out, checkpoint_dir=None)
            t1 = time.perf_counter()
            simcse.fit(texts)
            result["then_simcse"][name] = {
                **measure(embedkit.load(str(out)), test),
                "train_seconds": simcse.train_seconds_, "wall_seconds": round(
                    time.perf_counter() - t1, 1)}
            print(name, json.dumps(result["then_simcse"][name]), file=sys.stderr, flush=True)
    result["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    result["load_average_end"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("before", "after", "training", "wall_seconds")}, indent=1))


if __name__ == "__main__":
    main()
