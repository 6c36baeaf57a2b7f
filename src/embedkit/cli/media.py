"""CLI commands for images and audio: zero-shot image classification and SimCLR / SupCon audio training.

(Indexing and searching images and audio are ``embedkit index`` / ``embedkit search --image/--audio``.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from ..errors import InvalidInput
from .app import command, echo_json, train


def _files(paths, suffixes) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                          and not any(part.startswith(".") for part in f.relative_to(p).parts))
        else:
            out.append(p)
    return out


@command("zero-shot", family="Images and audio")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--model", "-m", required=True, help="A CLIP folder or Hugging Face id.")
@click.option("--label", "-l", "labels", multiple=True, required=True, help="A class name (repeat, >= 2).")
@click.option("--template", default="a photo of a {}.", show_default=True, help="Prompt; {} is the label.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def zero_shot(images, model, labels, template, as_json):
    """Classify images by the label prompts CLIP finds most similar (no training)."""
    from ..models import load
    from ..vision.io import IMAGE_SUFFIXES

    enc = load(model)
    if not hasattr(enc, "classify"):
        raise InvalidInput(f"zero-shot classification needs a CLIP model; {model!r} is a "
                           f"{type(enc).__name__}")
    files = _files(images, IMAGE_SUFFIXES)
    if not files:
        raise InvalidInput("no image files found")
    result = enc.classify(files, labels, template=template)
    rows = [{"file": str(f), "label": lbl, "probabilities": {c: round(float(p), 4) for c, p in
                                                            zip(result.classes, probs)}}
            for f, lbl, probs in zip(files, result.labels, result.probabilities)]
    if as_json:
        echo_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['label']}\t{r['probabilities'][r['label']]:.3f}\t{r['file']}")


@train.command("audio-simclr")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Model folder to write.")
@click.option("--sample-rate", default=16000, show_default=True)
@click.option("--epochs", default=40, show_default=True)
@click.option("--max-seconds", default=None, type=float, help="Stop after this long (whole epochs).")
@click.option("--seed", default=0, show_default=True)
@click.option("--floor-db", default=None, type=float,
              help="Soft noise floor this many dB below each clip's loudest bin (50 is a good value).")
@click.option("--label-from", type=click.Choice(["none", "clusters", "folder", "prefix"]), default="none",
              show_default=True,
              help="'none': SimCLR, no labels. 'clusters': SupCon on k-means pseudo-labels of "
                   "mfcc-warped-segments features, no labels. With labels (SupCon): each file's parent "
                   "folder name ('folder'), or its name up to the first '_' ('prefix', as in 7_george_3.wav).")
@click.option("--clusters", default=40, show_default=True, help="k of --label-from clusters.")
@click.option("--with-features", is_flag=True,
              help="Vectors hold the mfcc-warped-segments features beside the CNN's, each standardised "
                   "on the training clips (the best speaker-independent setting on spoken digits).")
def train_audio_simclr(paths, out, sample_rate, epochs, max_seconds, seed, floor_db, label_from, clusters,
                       with_features):
    """Train a spectrogram encoder on audio files: SimCLR or SupCon on cluster pseudo-labels (no labels),
    or SupCon with labels (--label-from folder/prefix); load it with embedkit.load(OUT)."""
    from ..audio.io import AUDIO_SUFFIXES
    from ..audio.ssl import SpectrogramSimCLR
    from ..errors import EmbedkitError

    source = click.get_current_context().get_parameter_source("clusters")
    if label_from != "clusters" and source == click.core.ParameterSource.COMMANDLINE:
        raise InvalidInput("--clusters only applies with --label-from clusters")
    files = _files(paths, AUDIO_SUFFIXES)
    supervised = label_from != "none"
    trainer = SpectrogramSimCLR(sample_rate=sample_rate, epochs=epochs, max_seconds=max_seconds, seed=seed,
                                widths=(16, 32, 64) if supervised else (8, 16, 32), temperature=0.1,
                                lifter=13, floor_db=floor_db)
    shell = trainer._shell()
    good, specs = [], []
    for f in files:
        try:
            specs.append(shell.spectrograms([f])[0])
            good.append(f)
        except EmbedkitError as exc:
            click.echo(f"  skipped {f}: {exc}", err=True)
    if len(good) < 2:
        raise InvalidInput(f"need at least 2 readable audio files, found {len(good)}")
    labels, extra = None, {}
    if with_features:
        extra = {"with_features": True, "items": good}
    if label_from == "clusters":
        if not 2 <= clusters <= len(good):
            raise InvalidInput(f"--clusters {clusters} needs between 2 and the number of readable clips "
                               f"({len(good)}); pass a smaller --clusters")
        extra.update(clusters=clusters, items=good)
    elif label_from == "folder":
        labels = [f.parent.name for f in good]
    elif label_from == "prefix":
        labels = [f.stem.split("_", 1)[0] for f in good]
    import numpy as np

    started = time.perf_counter()
    trainer.fit(spectrograms=np.stack(specs), labels=labels,
                progress=lambda e, n: click.echo(f"epoch {e}/{n}", err=True), **extra)
    trainer.encoder_.save(out)
    how = (f"SupCon, {len(set(labels))} labels" if labels is not None else
           f"no labels, SupCon on {clusters} k-means clusters" if "clusters" in extra else "no labels, SimCLR")
    if with_features:
        how += "; vectors also hold mfcc-warped-segments features"
    click.echo(f"trained on {len(good)} clips ({how}) in {time.perf_counter() - started:.1f} s "
               f"({trainer.simclr_.epochs_run_} epochs); saved to {os.fspath(out)}")
