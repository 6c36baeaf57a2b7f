"""Ray Data batch embedding (1 and 2 encoder actors) against single-process embedding, same texts.

The model is the default (multilingual-e5-small) through its ONNX int8 path, in every run. Texts:
``--nsmc`` NSMC reviews (Korean) and ``--sts`` STS-B dev sentences (English) from
../shared/data. Single process: ``embedkit.load(...).encode`` as ``embedkit embed --backend onnx
--int8`` runs it, with 1 and with 2 ONNX threads; model loading is timed apart. Ray: a local Ray
runtime (started once, its start-up timed apart) and ``embed_dataset`` from a jsonl file to Parquet,
which includes starting the actors and loading the model in each; 1 actor x 1 thread, 1 x 2, and
2 actors x 1 thread. The vectors of every run are compared with the single-process ones.

    flock /tmp/embedkit-heavy.lock python benchmarks/scale.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _data import nsmc_texts  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
STS = (Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "stsb" / "sts-dev.tsv").resolve()


def sts_sentences(n: int, path: Path = STS) -> list[str]:
    import csv

    out: list[str] = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            for key in ("sentence1", "sentence2"):
                t = (row.get(key) or "").strip()
                if t and t not in out:
                    out.append(t)
            if len(out) >= n:
                return out[:n]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nsmc", type=int, default=2000)
    ap.add_argument("--sts", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--out", default=str(RESULTS / "scale.json"))
    args = ap.parse_args()

    import embedkit
    from embedkit.scale import embed_dataset

    load_start = os.getloadavg()[0]
    texts = nsmc_texts(args.nsmc) + sts_sentences(args.sts)
    work = Path(tempfile.mkdtemp(prefix="embedkit-scale-"))
    src = work / "texts.jsonl"
    src.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    rows = []
    reference = None
    for threads in (1, 2):
        t0 = time.perf_counter()
        enc = embedkit.load(None, backend="onnx", quantize="int8", threads=threads)
        enc.encode(texts[:8], progress=False)  # warm-up
        load_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        vecs = enc.encode(texts, batch_size=args.batch_size, progress=False)
        secs = time.perf_counter() - t1
        reference = vecs if reference is None else reference
        rows.append({"system": f"single process, {threads} ONNX thread(s)", "actors": 0, "threads": threads,
                     "encode_s": round(secs, 2), "model_load_s": round(load_s, 2),
                     "texts_per_s": round(len(texts) / secs, 1),
                     "texts_per_s_incl_load": round(len(texts) / (secs + load_s), 1)})
        print(rows[-1], flush=True)
        del enc
    import ray

    t0 = time.perf_counter()
    ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}})
    ray_start = time.perf_counter() - t0
    try:
        for actors, threads in ((1, 1), (1, 2), (2, 1)):
            out = work / f"ray_{actors}x{threads}.parquet"
            t0 = time.perf_counter()
            embed_dataset([src], out, num_actors=actors, threads_per_actor=threads,
                                   batch_size=args.batch_size, progress=False)
            wall = time.perf_counter() - t0
            import pyarrow.parquet as pq

            got = np.stack(pq.read_table(out).column("vector").to_numpy(zero_copy_only=False))
            diff = float(np.abs(got - reference).max())
            rows.append({"system": f"Ray Data, {actors} actor(s) x {threads} thread(s)", "actors": actors,
                         "threads": threads, "wall_s": round(wall, 2),
                         "texts_per_s": round(len(texts) / wall, 1),
                         "max_abs_diff_vs_single_process": diff})
            print(rows[-1], flush=True)
    finally:
        ray.shutdown()
    single = {r["threads"]: r for r in rows if r["actors"] == 0}
    for r in rows:
        if r["actors"]:
            base = single[min(r["actors"] * r["threads"], 2)]
            r["overhead_s_vs_single_process_same_cores"] = round(
                r["wall_s"] - base["encode_s"] - base["model_load_s"], 2)
            r["speed_vs_single_process_same_cores_incl_load"] = round(
                r["texts_per_s"] / base["texts_per_s_incl_load"], 2)
    result = {"benchmark": "scale", "date": time.strftime("%Y-%m-%d"), "texts": len(texts),
              "data": f"{args.nsmc} NSMC reviews + {args.sts} STS-B dev sentences",
              "model": "multilingual-e5-small, ONNX int8", "batch_size": args.batch_size,
              "ray_init_s": round(ray_start, 2), "runs": rows,
              "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                          "load_average_1min_at_start": load_start,
                          "load_average_1min_at_end": os.getloadavg()[0]},
              "versions": {"embedkit": embedkit.__version__, "ray": ray.__version__},
              "command": "flock /tmp/embedkit-heavy.lock python benchmarks/scale.py " + " ".join(sys.argv[1:])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
