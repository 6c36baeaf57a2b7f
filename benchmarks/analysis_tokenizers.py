"""Out-of-vocabulary report: all-MiniLM-L6-v2 (WordPiece, English vocabulary) against
multilingual-e5-small (SentencePiece Unigram, 250k multilingual pieces) against Korean-trained
subword tokenizers, on Korean and English text.

The Korean tokenizers are trained with ``embedkit train tokenizer`` on the first ``--train-lines``
lines of kowiki (``../shared/data/kowiki``); the report runs on the next ``--eval-lines`` Korean
lines (not trained on) and as many lines of enwiki_sample, per language.

    python benchmarks/analysis_tokenizers.py

Writes benchmarks/results/analysis_tokenizers.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import lzma
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
DATA = (ROOT / ".." / "shared" / "data").resolve()
OUT = ROOT / "benchmarks" / "results" / "analysis_tokenizers.json"

from embedkit.text.tokenizers import oov_report, train_tokenizer  # noqa: E402


def lines(path: Path, start: int, count: int) -> list[str]:
    with lzma.open(path, "rt", encoding="utf-8") as f:
        return [x.strip() for x in itertools.islice(f, start, start + count) if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kowiki", default=str(DATA / "kowiki" / "kowiki_20m.txt.xz"))
    ap.add_argument("--enwiki", default=str(DATA / "enwiki_sample" / "enwiki_sample.txt.xz"))
    ap.add_argument("--train-lines", type=int, default=40000)
    ap.add_argument("--eval-lines", type=int, default=3000)
    ap.add_argument("--vocab-size", type=int, default=16000)
    ap.add_argument("--reuse", action="store_true", help="Reuse tokenizers trained by an earlier run.")
    args = ap.parse_args()
    ko_train = lines(Path(args.kowiki), 0, args.train_lines)
    ko_eval = lines(Path(args.kowiki), args.train_lines, args.eval_lines)
    en_eval = lines(Path(args.enwiki), 0, args.eval_lines)
    tmp = ROOT / "benchmarks" / ".cache" / "analysis_tokenizers"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "ko_train.txt").write_text("\n".join(ko_train) + "\n", encoding="utf-8")
    tokenizers = {"all-MiniLM-L6-v2": "all-MiniLM-L6-v2", "multilingual-e5-small": "multilingual-e5-small"}
    trained = {}
    for kind, backend in (("bpe", "hf"), ("unigram", "sentencepiece"), ("wordpiece", "hf")):
        name = f"ko-{kind}-{args.vocab_size // 1000}k ({backend})"
        folder = tmp / name.split()[0]
        t0 = time.perf_counter()
        if args.reuse and (folder / "tokenizer.json").is_file():
            from embedkit.text.tokenizers import load_tokenizer

            tok, seconds = load_tokenizer(folder), json.loads((folder / "seconds.json").read_text())
        else:
            tok = train_tokenizer(tmp / "ko_train.txt", kind, args.vocab_size, backend=backend,
                                  output=folder)
            seconds = time.perf_counter() - t0
            (folder / "seconds.json").write_text(json.dumps(seconds))
        trained[name] = {"seconds": seconds, "vocab_size": tok.get_vocab_size()}
        tokenizers[name] = tok
        print(f"trained {name} in {trained[name]['seconds']:.1f}s", flush=True)
    report = {}
    for name, tok in tokenizers.items():
        report[name] = {"ko": oov_report(tok, ko_eval, max_lines=None)["languages"].get("ko"),
                        "en": oov_report(tok, en_eval, max_lines=None)["languages"].get("en")}
        print(name, json.dumps(report[name]), flush=True)
    doc = {"train": {"corpus": "kowiki_20m.txt.xz", "lines": len(ko_train), "tokenizers": trained},
           "eval": {"ko": f"kowiki lines {args.train_lines}..{args.train_lines + args.eval_lines}",
                    "en": f"enwiki_sample lines 0..{args.eval_lines}"},
           "report": report, "load": os.getloadavg()[0]}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
