"""Padded tokens per forward pass (``batch_tokens``) on the CPU, against sentence-transformers.

embedkit's transformer encoders sort a call's windows by length and cut them into forward passes of
at most ``batch_size`` rows and, on the CPU, at most ``batch_tokens`` padded tokens (rows x the
longest row). This measures encoding speed for several budgets (``none`` = 32 rows per pass, as
before) beside sentence-transformers (batch 32, its own length sort) on the same model
(multilingual-e5-small, "query: " prompt), the same threads and the same texts, in calls of 32 texts
(the way a service or a store's ``add`` calls ``encode``), with the variants taking turns in rounds
so that all see the same machine load:

* short: ``ko_en_parallel`` sentences, Korean and English mixed (the service benchmark's short texts);
* long: Wikipedia paragraphs cut to 1,200 characters, half English, half Korean (the Korean ones are
  longer than a 512-token window: embedkit encodes every window, sentence-transformers truncates, so
  its long-text figure does less work and is given for scale only).

    flock /tmp/embedkit-heavy.lock python benchmarks/batch_tokens.py   # ~6 minutes

Writes benchmarks/results/batch_tokens.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from serve import DATA, RESULTS, load_avg, long_texts, short_texts, write_result  # noqa: E402


def rate(fn, texts: list[str], seconds: float, per_call: int = 32) -> float:
    """Texts per second of ``fn`` over consecutive calls of ``per_call`` texts for ``seconds``."""
    fn(texts[:per_call])  # warm-up
    done, i, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn([texts[(i + j) % len(texts)] for j in range(per_call)])
        done += per_call
        i += per_call
    return done / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", default="none,512,1024,2048")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per variant per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=RESULTS / "batch_tokens.json")
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    import embedkit
    from embedkit.text.transformer import CPU_BATCH_TOKENS

    enc = embedkit.load("default")
    st = SentenceTransformer(str(enc.path), device="cpu")
    prompt = enc.prompts.get("query", "query: ")
    budgets = [None if b == "none" else int(b) for b in args.budgets.split(",")]

    def ours(budget):
        def run(batch):
            enc.batch_tokens = budget
            enc.encode_queries(batch, batch_size=32, progress=False)
        return run

    variants = {f"embedkit batch_tokens={b or 'none'}": ours(b) for b in budgets}
    variants["sentence-transformers"] = lambda batch: st.encode(
        batch, batch_size=32, prompt=prompt, show_progress_bar=False)
    sets = {"short": short_texts(4000, args.data), "long": long_texts(400, args.data)}
    result = {"benchmark": "batch_tokens", "command": " ".join(["python", *sys.argv]),
              "model": "multilingual-e5-small (the default), 'query: ' prompt",
              "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "load_before": load_avg(),
              "default_batch_tokens": CPU_BATCH_TOKENS, "texts_per_call": 32,
              "seconds_per_round": args.seconds, "rounds": args.rounds, "results": {}}
    for name, texts in sets.items():
        runs = {v: [] for v in variants}
        for _ in range(args.rounds):
            for v, fn in variants.items():
                runs[v].append(rate(fn, texts, args.seconds))
        st_rate = sum(runs["sentence-transformers"]) / args.rounds
        result["results"][name] = {
            v: {"texts_per_s": round(sum(r) / len(r), 2), "rounds": [round(x, 2) for x in r],
                "ratio_to_sentence_transformers": round(sum(r) / len(r) / st_rate, 3)}
            for v, r in runs.items()}
        for v, r in result["results"][name].items():
            print(f"{name:5s} {v:32s} {r['texts_per_s']:7.2f} texts/s  "
                  f"{r['ratio_to_sentence_transformers']:.2f}x ST  rounds {r['rounds']}", flush=True)
    write_result(args.out, result)


if __name__ == "__main__":
    main()
