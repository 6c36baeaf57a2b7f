"""Image and audio embeddings, measured.

1. SimCLR on scikit-learn's 8x8 digits: a small CNN trained without labels on 70 % of the digits;
   k-NN (k=5) and linear-probe (logistic regression) accuracy on the held-out 30 %, against the raw
   pixels (both standardised).
2. Spoken digits (FSDD, ../shared/data/fsdd): speaker-independent retrieval. For each speaker in turn
   (leave one speaker out), the other speakers' clips are indexed and the held-out speaker's clips are
   the queries: 1-NN digit accuracy (cosine), and the mean cosine of pairs that share the digit but
   not the speaker against pairs that share the speaker but not the digit. Label-free encoders: MFCC
   and log-mel statistics, MFCC segments, MFCC warped segments (soft noise floor, deltas, five mel-axis
   warps side by side), the SimCLR spectrogram CNN (trained per fold on the indexed speakers' audio
   only, no labels), the same CNN trained with SupCon on k-means pseudo-labels (clusters of the indexed
   clips' warped segments; no labels), and each CNN + warped segments concatenated. Apart, because it uses labels: the
   same CNN trained with SupCon on the indexed speakers' clips *and their digit labels* (the held-out
   speaker is never seen), alone and concatenated with the warped segments. Vectors are
   standardised with the indexed clips' mean and standard deviation before cosine. A second
   accuracy, "speaker_normalised", first z-scores each speaker's vectors with that speaker's own
   statistics (needs the speaker id of every clip and a batch of the query speaker's clips; no
   digit labels). "product_path" is what a store holds: each model's own vectors, plain cosine, no
   statistics of the index; the Cluster-SupCon model is trained with ``with_features=True``, so one
   saved model gives the CNN + warped segments combination (checked once more on the first fold by
   saving, loading, encoding every clip from its file and searching a VectorStore).

    python benchmarks/media.py                       # both, writes benchmarks/results/media.json
    python benchmarks/media.py --only digits
    OMP_NUM_THREADS=1 python benchmarks/media.py --only audio --threads 1   # as in the README
    python benchmarks/media.py --only audio --fsdd /path/to/fsdd --max-seconds 120
    OMP_NUM_THREADS=1 python benchmarks/media.py --only audio --threads 1 --seed 1 --out /tmp/s1.json
    python benchmarks/media.py --merge-repeat /tmp/s1.json   # kept as repeat_with_seed_1
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FSDD = ROOT.parent / "shared" / "data" / "fsdd"
log = logging.getLogger("benchmarks.media")
WARPED = "MFCC warped segments (1440)"
PRODUCT_SIDE = "Cluster-SupCon + mfcc-warped-segments, one saved model (1568)"
WARPED_ARGS = dict(features="mfcc", pooling="segments", n_mfcc=10, drop_c0=True, n_mels=64, segments=16,
                   floor_db=50.0, deltas=True, warps=(0.8, 0.9, 1.0, 1.1, 1.2))


def _standardise(train: np.ndarray, *others: np.ndarray):
    mu, sd = train.mean(0), train.std(0) + 1e-6
    return [(x - mu) / sd for x in (train, *others)]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def digits(args) -> dict:
    import torch
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from embedkit.vision.digits import ImageSimCLR
    from embedkit.vision.simclr import embed

    torch.set_num_threads(max(os.cpu_count() or 1, 1))
    X, y = load_digits(return_X_y=True)
    pixels = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    train, test = train_test_split(np.arange(len(X)), test_size=0.3, random_state=0, stratify=y)
    started = time.perf_counter()
    model = ImageSimCLR(size=(8, 8), widths=(32, 64), dim=128, epochs=args.digit_epochs, batch_size=256,
                        temperature=0.2, seed=0).fit(pixels=pixels[train])
    seconds = time.perf_counter() - started
    feats = {"raw pixels (64)": X, "SimCLR CNN (128)": embed(model.encoder_.backbone, pixels)}
    out = {"data": "sklearn load_digits (1797 8x8 images), stratified 70/30 split, random_state=0",
           "training": {"images": int(len(train)), "labels_used": False, "epochs": model.simclr_.epochs_run_,
                        "seconds": round(seconds, 1), "final_loss": round(model.history_[-1], 4)},
           "results": {}}
    for name, F in feats.items():
        knn = make_pipeline(StandardScaler(), KNeighborsClassifier(5)).fit(F[train], y[train])
        lin = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(F[train], y[train])
        out["results"][name] = {"knn5_accuracy": round(float(knn.score(F[test], y[test])), 4),
                                "linear_probe_accuracy": round(float(lin.score(F[test], y[test])), 4)}
        log.info("digits %s: %s", name, out["results"][name])
    return out


def _read_fsdd(folder: Path):
    tar_path = folder / "recordings.tar.xz"
    if not tar_path.is_file():
        raise SystemExit(f"FSDD not found at {tar_path}; pass --fsdd /path/to/fsdd")
    clips, digit, speaker = [], [], []
    with tarfile.open(tar_path, "r:xz") as tar:
        for m in sorted(tar.getmembers(), key=lambda m: m.name):
            if not m.isfile() or not m.name.endswith(".wav"):
                continue
            d, s, _ = Path(m.name).stem.split("_")
            clips.append(tar.extractfile(m).read())
            digit.append(int(d))
            speaker.append(s)
    return clips, np.array(digit), np.array(speaker)


def _pair_split(Z: np.ndarray, digit: np.ndarray, speaker: np.ndarray) -> dict:
    S = _unit(Z) @ _unit(Z).T
    same_d = digit[:, None] == digit[None, :]
    same_s = speaker[:, None] == speaker[None, :]
    off = ~np.eye(len(Z), dtype=bool)
    mean = lambda m: round(float(S[m & off].mean()), 4)  # noqa: E731
    return {"same_digit_other_speaker": mean(same_d & ~same_s),
            "same_speaker_other_digit": mean(~same_d & same_s),
            "other_digit_other_speaker": mean(~same_d & ~same_s)}


def _speaker_normalise(F: np.ndarray, speaker: np.ndarray) -> np.ndarray:
    """Z-score every speaker's vectors with that speaker's own mean and std (uses speaker ids, never
    digit labels; the held-out speaker is normalised with statistics of its own clips)."""
    out = np.array(F, dtype=np.float64)
    for s in np.unique(speaker):
        m = speaker == s
        out[m] = (out[m] - out[m].mean(0)) / (out[m].std(0) + 1e-6)
    return out


def _combine(a: np.ndarray, b: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Two encoders side by side: each standardised on the indexed clips ``r``, unit length."""
    return np.hstack([_unit(_standardise(a[r], a)[1]), _unit(_standardise(b[r], b)[1])])


def _nn1_plain(V: np.ndarray, r: np.ndarray, q: np.ndarray, digit: np.ndarray) -> float:
    """1-NN accuracy by plain cosine of the vectors as an encoder gives them (what a store searches)."""
    U = _unit(V)
    nn = (U[q] @ U[r].T).argmax(1)
    return round(float((digit[r][nn] == digit[q]).mean()), 4)


def _nn1(F: np.ndarray, r: np.ndarray, q: np.ndarray, digit: np.ndarray) -> float:
    A, B = _standardise(F[r], F[q])
    nn = (_unit(B) @ _unit(A).T).argmax(1)
    return round(float((digit[r][nn] == digit[q]).mean()), 4)


def audio(args) -> dict:
    import torch

    import embedkit
    from embedkit.audio.features import FeatureEncoder
    from embedkit.audio.ssl import SpectrogramSimCLR
    from embedkit.store.sqlite import VectorStore

    torch.set_num_threads(args.threads or max(os.cpu_count() or 1, 1))
    clips, digit, speaker = _read_fsdd(Path(args.fsdd))
    speakers = sorted(set(speaker))
    log.info("FSDD: %d clips, speakers %s", len(clips), speakers)
    features = {}
    t0 = time.perf_counter()
    for key, enc in (("MFCC mean+std (40)", FeatureEncoder(features="mfcc", sample_rate=8000)),
                     ("log-mel mean+std (80)", FeatureEncoder(features="log-mel", sample_rate=8000)),
                     ("MFCC segments (240)", FeatureEncoder(features="mfcc", pooling="segments",
                                                            sample_rate=8000)),
                     ("MFCC segments, 13 without c0 (144)", FeatureEncoder(
                         features="mfcc", pooling="segments", n_mfcc=13, drop_c0=True, sample_rate=8000)),
                     (WARPED, FeatureEncoder(**WARPED_ARGS, sample_rate=8000))):
        features[key] = enc.encode(clips, batch_size=256)
        log.info("%s in %.0f s", key, time.perf_counter() - t0)
    trainer_args = dict(sample_rate=8000, n_mels=40, frames=32, widths=(8, 16, 32), dim=128,
                        temperature=0.1, epochs=args.epochs, batch_size=256, max_seconds=args.max_seconds,
                        lifter=args.lifter, floor_db=args.floor_db)
    supcon_args = dict(trainer_args, widths=tuple(args.supcon_widths), epochs=args.supcon_epochs)
    specs = SpectrogramSimCLR(**trainer_args)._shell().spectrograms(clips)
    folds, ssl_runs, sup_runs, pseudo_runs = [], [], [], []
    for fold, held in enumerate(speakers):
        q = speaker == held
        r = ~q
        started = time.perf_counter()
        trainer = SpectrogramSimCLR(seed=fold + 100 * args.seed, **trainer_args).fit(spectrograms=specs[r])
        seconds = time.perf_counter() - started
        ssl = trainer.encoder_.embed_spectrograms(specs)
        ssl_runs.append({"held_out": held, "train_clips": int(r.sum()), "epochs": trainer.simclr_.epochs_run_,
                         "seconds": round(seconds, 1), "final_loss": round(trainer.history_[-1], 4)})
        fold_feats = dict(features)
        fold_feats["SimCLR spectrogram CNN (128)"] = ssl
        row = {"held_out_speaker": held, "encoders": {}, "with_labels_of_indexed_speakers": {},
               # What a store holds: the model's own vectors, plain cosine, no statistics of the index.
               "product_path": {"mfcc-segments, as indexed (144)": _nn1_plain(
                                    features["MFCC segments, 13 without c0 (144)"], r, q, digit),
                                "mfcc-warped-segments, as indexed (1440)": _nn1_plain(features[WARPED], r, q, digit)}}
        # The combination: standardised SimCLR and warped MFCC segments, each unit length, side by side.
        F2 = features[WARPED]
        fold_feats["SimCLR + MFCC warped segments (1568)"] = _combine(ssl, F2, r)
        if args.clusters:
            # No labels: SupCon on k-means clusters of the indexed clips' warped segments.
            started = time.perf_counter()
            # with_features=True: the saved model also holds the warped segments and both blocks'
            # statistics over the indexed clips, so one embedkit model gives the combination.
            pl = SpectrogramSimCLR(seed=fold + 100 * args.seed, **supcon_args).fit(
                spectrograms=specs[r], clusters=args.clusters, features=F2[r], with_features=True)
            seconds = time.perf_counter() - started
            pseudo_runs.append({"held_out": held, "train_clips": int(r.sum()), "epochs": pl.simclr_.epochs_run_,
                                "seconds": round(seconds, 1), "final_loss": round(pl.history_[-1], 4)})
            pv = pl.encoder_.embed_spectrograms(specs)
            fold_feats["Cluster-SupCon CNN (128)"] = pv
            fold_feats["Cluster-SupCon + MFCC warped segments (1568)"] = _combine(pv, F2, r)
            row["product_path"][PRODUCT_SIDE] = _nn1_plain(pl.encoder_.side_by_side(pv, F2), r, q, digit)
        sup_feats = {}
        if args.supcon_epochs:
            started = time.perf_counter()
            sup = SpectrogramSimCLR(seed=fold + 100 * args.seed, **supcon_args).fit(spectrograms=specs[r], labels=digit[r])
            seconds = time.perf_counter() - started
            sup_runs.append({"held_out": held, "train_clips": int(r.sum()), "epochs": sup.simclr_.epochs_run_,
                             "seconds": round(seconds, 1), "final_loss": round(sup.history_[-1], 4)})
            sv = sup.encoder_.embed_spectrograms(specs)
            sup_feats["SupCon spectrogram CNN (128)"] = sv
            sup_feats["SupCon + MFCC warped segments (1568)"] = _combine(sv, F2, r)
        for group, feats in (("encoders", fold_feats), ("with_labels_of_indexed_speakers", sup_feats)):
            for key, F in feats.items():
                Z = _standardise(F[r], F)[1]
                row[group][key] = {"nn1_accuracy": _nn1(F, r, q, digit),
                                   "nn1_accuracy_speaker_normalised": _nn1(
                                       _speaker_normalise(F, speaker), r, q, digit),
                                   **_pair_split(Z, digit, speaker)}
        if fold == 0:
            # The cluster-SupCon model (SimCLR with --clusters 0) through the product path: saved,
            # embedkit.load, VectorStore search.
            checked = pl if args.clusters else trainer
            with tempfile.TemporaryDirectory() as tmp:
                checked.encoder_.save(Path(tmp) / "audio-simclr")
                enc = embedkit.load(Path(tmp) / "audio-simclr")
                idx = np.flatnonzero(r)
                qi = np.flatnonzero(q)
                with VectorStore(":memory:", encoder=enc) as vs:
                    vs.add([f"{i}" for i in idx], ids=[str(i) for i in idx],
                           vectors=enc.encode([clips[i] for i in idx], batch_size=256))
                    vecs = enc.encode([clips[i] for i in qi])
                    hits = [int(vs.search(v, k=1)[0].id) for v in vecs]
                row["store_check"] = {"model": checked.encoder_.training["method"],
                                      "side_by_side": checked.encoder_.training.get("side_by_side"),
                                      "queries": len(qi), "nn1_accuracy_via_load_and_store": round(float(
                                          np.mean(digit[hits] == digit[qi])), 4),
                                      "note": "saved, embedkit.load, encoded from the files, VectorStore "
                                              "search; every query clip of the fold"}
        folds.append(row)
        log.info("fold %s: %s", held, {k: v["nn1_accuracy"] for g in ("encoders", "with_labels_of_indexed_speakers")
                                        for k, v in row[g].items()})

    def mean(group):
        return {k: {m: round(float(np.mean([f[group][k][m] for f in folds])), 4)
                    for m in folds[0][group][k]} for k in folds[0][group]}

    return {"data": f"{args.fsdd}: {len(clips)} clips, speakers {', '.join(speakers)}; leave one speaker out",
            "warped_segments_settings": WARPED_ARGS,
            "simclr_training": {"settings": {k: v for k, v in trainer_args.items()}, "runs": ssl_runs,
                                "labels_used": False, "trained_on": "indexed speakers' audio only"},
            "cluster_supcon_training": {"settings": {**supcon_args, "clusters": args.clusters,
                                                     "clustered_features": WARPED},
                                        "runs": pseudo_runs, "labels_used": False,
                                        "trained_on": "indexed speakers' audio only; pseudo-labels are k-means "
                                                      "clusters of their warped segments"},
            "supcon_training": {"settings": {k: v for k, v in supcon_args.items()}, "runs": sup_runs,
                                "labels_used": True,
                                "trained_on": "indexed speakers' audio and digit labels only; the held-out "
                                              "speaker is never seen"},
            "mean_over_folds": mean("encoders"),
            "mean_over_folds_with_labels_of_indexed_speakers": mean("with_labels_of_indexed_speakers"),
            "mean_over_folds_product_path": {k: round(float(np.mean([f["product_path"][k] for f in folds])), 4)
                                             for k in folds[0]["product_path"]},
            "selection_note": "the warped-segment settings and the soft floor were chosen by looking at these "
                              "same four folds (there is no separate development speaker), so the best "
                              "figures are somewhat optimistic",
            "folds": folds,
            "not_measured": "Wav2Vec2: no pretrained weights are available offline here; a random "
                            "Wav2Vec2 is only tested for correctness, not quality."}


def _merge_repeat(src: Path, out: Path) -> None:
    """Summarise another seed's audio run (per-encoder 1-NN, product path, store check) into ``out``."""
    other = json.loads(src.read_text())["fsdd_speaker_independent"]
    seed = other["command"].split("--seed", 1)[1].split()[0] if "--seed" in other["command"] else "?"
    folds = other["folds"]
    summary = {"command": other["command"].replace(str(src), "<file>"),
               "note": "the same run with other CNN seeds (fold + 100 * seed); features are deterministic",
               "nn1_accuracy": {}, "product_path": {}}
    for group in ("encoders", "with_labels_of_indexed_speakers"):
        for key in folds[0][group]:
            per = {f["held_out_speaker"]: f[group][key]["nn1_accuracy"] for f in folds}
            summary["nn1_accuracy"][key] = {"mean": round(float(np.mean(list(per.values()))), 4), "per_fold": per}
    for key in folds[0].get("product_path", {}):
        per = {f["held_out_speaker"]: f["product_path"][key] for f in folds}
        summary["product_path"][key] = {"mean": round(float(np.mean(list(per.values()))), 4), "per_fold": per}
    summary["store_check"] = folds[0].get("store_check")
    result = json.loads(out.read_text())
    result["fsdd_speaker_independent"][f"repeat_with_seed_{seed}"] = summary
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2)[:3000])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["digits", "audio"], default=None)
    p.add_argument("--fsdd", default=str(DEFAULT_FSDD))
    p.add_argument("--epochs", type=int, default=60, help="SimCLR epochs per audio fold")
    p.add_argument("--max-seconds", type=float, default=150.0, help="SimCLR time cap per audio fold")
    p.add_argument("--digit-epochs", type=int, default=30)
    p.add_argument("--lifter", type=int, default=13, help="SimCLR audio front end: cepstral lifter (0: off)")
    p.add_argument("--floor-db", type=float, default=50.0, help="CNN audio front end: soft noise floor (dB)")
    p.add_argument("--supcon-epochs", type=int, default=60, help="SupCon epochs per audio fold (0: skip)")
    p.add_argument("--supcon-widths", type=int, nargs="+", default=[16, 32, 64])
    p.add_argument("--clusters", type=int, default=40, help="k-means pseudo-labels per fold (0: skip)")
    p.add_argument("--seed", type=int, default=0, help="CNN seeds are fold + 100 * seed")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "media.json"))
    p.add_argument("--merge-repeat", metavar="FILE", default=None,
                   help="only add FILE's audio run (made with --seed N --out FILE) to --out as repeat_with_seed_N")
    args = p.parse_args()
    if args.merge_repeat:
        _merge_repeat(Path(args.merge_repeat), Path(args.out))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("embedkit").setLevel(logging.WARNING)
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {}
    result["machine"] = {"python": sys.version.split()[0], "platform": platform.platform(),
                         "cpus": os.cpu_count()}
    result.pop("command", None)
    if args.only in (None, "digits"):
        result["digits_simclr"] = {"command": "python benchmarks/media.py --only digits", **digits(args)}
    if args.only in (None, "audio"):
        result["fsdd_speaker_independent"] = {"command": " ".join(["python", "benchmarks/media.py", *sys.argv[1:]]),
                                              **audio(args)}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine",)}, indent=2)[:4000])


if __name__ == "__main__":
    main()
