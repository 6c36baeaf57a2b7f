"""Few-shot classification: 8, 16 and 64 labelled examples per class on SST-2 and NSMC.

    flock /tmp/embedkit-heavy.lock python benchmarks/train_fewshot.py --dataset sst2
    flock /tmp/embedkit-heavy.lock python benchmarks/train_fewshot.py --dataset nsmc

Three methods on the same examples (same seeds, 5 draws each), the base model multilingual-e5-small
(every text with its "query: " prompt):

- ``frozen``: logistic regression on the frozen encoder's vectors (FewShotClassifier(finetune=False));
- ``embedkit``: FewShotClassifier (SetFit-style: contrastive fine-tuning on generated pairs with
  the cosine loss, then logistic regression);
- ``setfit``: the setfit library (SetFitModel + Trainer) with the same pairs budget
  (num_iterations), batch size, epochs, body learning rate and max length, side by side.

The number of pair rounds is capped so that every run sees at most ``--pairs`` pairs
(num_iterations = max(1, min(5, pairs // (4k)))): the 2-core budget. Accuracy is measured on
examples never drawn for training: SST-2 dev (``--test`` of its 872 sentences), and NSMC reviews
of movies not used for training draws (rating 1-4 negative, 9-10 positive, as the original NSMC);
and again on the repo's own held-out reviews in the dataset's language
(``benchmarks/heldout/sentiment_en.tsv`` / ``sentiment_ko.tsv``, 50 + 50, not in ../shared).
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
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

DATA = (ROOT / ".." / "shared" / "data").resolve()
RESULTS = ROOT / "benchmarks" / "results"


def sst2(n_test: int, seed: int):
    def read(name):
        lines = (DATA / "sst2" / name).read_text(encoding="utf-8").splitlines()[1:]
        rows = [line.split("\t", 1) for line in lines if "\t" in line]
        return [t for _, t in rows], ["positive" if y == "1" else "negative" for y, _ in rows]
    train, dev = read("train.tsv"), read("dev.tsv")
    idx = np.random.default_rng(seed).permutation(len(dev[0]))[:n_test]
    return train, ([dev[0][i] for i in idx], [dev[1][i] for i in idx])


def nsmc(n_test: int, seed: int):
    texts, labels, movies = [], [], []
    with lzma.open(DATA / "nsmc" / "nsmc_dev.tsv.xz", "rt", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        ci, cr, cm = header.index("text"), header.index("rating"), header.index("movie_id")
        for i, line in enumerate(fh):
            if i >= 120_000:
                break
            f = line.rstrip("\n").split("\t")
            r = int(f[cr])
            if 5 <= r <= 8 or not f[ci].strip() or len(f[ci]) > 200:
                continue
            texts.append(f[ci]), labels.append("positive" if r >= 9 else "negative")
            movies.append(f[cm])
    uniq = sorted(set(movies))
    test_movies = set(np.random.default_rng(seed).permutation(uniq)[:len(uniq) // 5])
    tr = [i for i, m in enumerate(movies) if m not in test_movies]
    te = [i for i, m in enumerate(movies) if m in test_movies]
    rng = np.random.default_rng(seed + 1)
    # a balanced test set
    pos = [i for i in te if labels[i] == "positive"]
    neg = [i for i in te if labels[i] == "negative"]
    te = list(rng.permutation(pos)[:n_test // 2]) + list(rng.permutation(neg)[:n_test // 2])
    return ([texts[i] for i in tr], [labels[i] for i in tr]), (
        [texts[i] for i in te], [labels[i] for i in te])


def draw(train, k: int, seed: int):
    texts, labels = train
    rng = np.random.default_rng(seed)
    idx = []
    for c in sorted(set(labels)):
        pool = [i for i, y in enumerate(labels) if y == c]
        idx += list(rng.choice(pool, size=k, replace=False))
    idx = list(rng.permutation(idx))
    return [texts[i] for i in idx], [labels[i] for i in idx]


def heldout(dataset: str):
    """The repo's own 50 + 50 reviews in the dataset's language (not in ../shared)."""
    lang = "en" if dataset == "sst2" else "ko"
    lines = (ROOT / "benchmarks" / "heldout" / f"sentiment_{lang}.tsv").read_text(
        encoding="utf-8").splitlines()[1:]
    rows = [line.split("\t", 1) for line in lines if line.strip()]
    return [t for _, t in rows], [y for y, _ in rows]


def run_setfit(folder, texts, labels, tests, *, iterations, seed, batch_size, lr, max_length,
               prompt):
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(str(folder), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(output_dir=tmp, batch_size=batch_size, num_epochs=1,
                                 num_iterations=iterations, body_learning_rate=lr,
                                 max_length=max_length, seed=seed, show_progress_bar=False,
                                 report_to="none", save_strategy="no")
        ds = Dataset.from_dict({"text": [prompt + t for t in texts], "label": labels})
        trainer = Trainer(model=model, args=args, train_dataset=ds)
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    accs = []
    for test in tests:
        pred = [str(p) for p in model.predict([prompt + t for t in test[0]], batch_size=64)]
        accs.append(float(np.mean([p == y for p, y in zip(pred, test[1])])))
    return accs, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["sst2", "nsmc"], required=True)
    ap.add_argument("--shots", default="8,16,64")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--test", type=int, default=300)
    ap.add_argument("--pairs", type=int, default=128, help="cap on generated pairs per run")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--max-seq-length", type=int, default=64)
    ap.add_argument("--methods", default="frozen,embedkit,setfit")
    ap.add_argument("--model", default="multilingual-e5-small",
                    help="base model (all-MiniLM-L6-v2 is ~3x faster, English only)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: auto)")
    args = ap.parse_args()
    out = args.out or RESULTS / f"train_fewshot_{args.dataset}.json"

    import embedkit
    from embedkit.train import FewShotClassifier

    t_start = time.perf_counter()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from train_korean import set_threads

    threads = set_threads(args.threads)
    train, test = (sst2 if args.dataset == "sst2" else nsmc)(args.test, 0)
    from embedkit.train._model import resolve_folder

    folder = resolve_folder(args.model)
    methods = args.methods.split(",")
    base = embedkit.load(str(folder))
    prompt = base.prompt_for("query") or ""
    frozen_test = base.encode_queries(test[0], batch_size=64)
    held = heldout(args.dataset)
    frozen_held = base.encode_queries(held[0], batch_size=64)
    result = {"benchmark": "train_fewshot", "dataset": args.dataset, "date": time.strftime("%Y-%m-%d"),
              "command": " ".join(["python"] + sys.argv), "cpus": os.cpu_count(), "torch_threads": threads,
              "load_average_start": os.getloadavg()[0], "model": args.model,
              "test_examples": len(test[0]), "train_pool": len(train[0]),
              "heldout_examples": len(held[0]),
              "settings": {k: getattr(args, k) for k in ("draws", "pairs", "batch_size", "lr",
                                                          "max_seq_length")},
              "runs": [], "summary": {}}
    for k in [int(x) for x in args.shots.split(",")]:
        iterations = max(1, min(5, args.pairs // (4 * k)))
        for seed in range(args.draws):
            texts, labels = draw(train, k, 1000 * k + seed)
            row = {"shots": k, "seed": seed, "num_iterations": iterations}
            if "frozen" in methods:
                from sklearn.linear_model import LogisticRegression

                head = LogisticRegression(C=1.0, max_iter=2000).fit(
                    base.encode_queries(texts, batch_size=64), labels)
                row["frozen"] = float(np.mean(head.predict(frozen_test) == np.asarray(test[1])))
                row["frozen_heldout"] = float(np.mean(head.predict(frozen_held)
                                                      == np.asarray(held[1])))
            if "embedkit" in methods:
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    clf = FewShotClassifier(model=str(folder), num_iterations=iterations,
                                            batch_size=args.batch_size, learning_rate=args.lr,
                                            max_seq_length=args.max_seq_length, seed=seed,
                                            output_dir=Path(tmp) / "m", progress=False)
                    clf.fit(texts, labels)
                    row["embedkit_train_seconds"] = round(time.perf_counter() - t0, 1)
                    row["embedkit_pairs_per_second"] = clf.examples_per_second_
                    row["embedkit"] = clf.score(*test)
                    row["embedkit_heldout"] = clf.score(*held)
            if "setfit" in methods:
                (acc, acc_held), sec = run_setfit(
                    folder, texts, labels, [test, held], iterations=iterations, seed=seed,
                    batch_size=args.batch_size, lr=args.lr, max_length=args.max_seq_length,
                    prompt=prompt)
                row["setfit"], row["setfit_heldout"] = acc, acc_held
                row["setfit_train_seconds"] = round(sec, 1)
            print(json.dumps(row), file=sys.stderr, flush=True)
            result["runs"].append(row)
        summ = {}
        for m in methods:
            for key in (m, f"{m}_heldout"):
                vals = [r[key] for r in result["runs"] if r["shots"] == k and key in r]
                summ[key] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)),
                             "n": len(vals)}
        result["summary"][str(k)] = summ
        RESULTS.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    result["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    result["load_average_end"] = os.getloadavg()[0]
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
