"""CLI: ``embedkit evaluate sts|retrieval|pairs`` for sentence encoders (torch or ONNX)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InvalidInput
from .app import echo_json, evaluate

MODEL_HELP = ("Model: 'default' (multilingual-e5-small), 'all-MiniLM-L6-v2', a local folder, or a "
              "Hugging Face id.")


def _shared_data(relative: str) -> Path | None:
    """``../shared/data/<relative>`` beside the working directory or the checkout, if present."""
    here = Path(__file__).resolve()
    for root in (Path.cwd().parent, Path.cwd(), here.parents[2].parent):
        candidate = root / "shared" / "data" / relative
        if candidate.exists():
            return candidate
    return None


def _resolve(path: Path | None, relative: str, what: str) -> Path:
    if path is not None:
        return path
    found = _shared_data(relative)
    if found is None:
        raise InvalidInput(f"no {what} given and ../shared/data/{relative} is not present; "
                           f"pass the path of a {what}")
    return found


def _encoder(model: str | None, backend: str, int8: bool, truncate: bool):
    from ..models import load

    if int8 and backend != "onnx":
        raise InvalidInput("--int8 needs --backend onnx")
    options = {"quantize": "int8"} if int8 else {}
    if truncate:
        options["truncate"] = True
    return load(model, backend=backend, **options)


_MODEL_OPTIONS = [
    click.option("--model", "-m", default=None, help=MODEL_HELP),
    click.option("--backend", type=click.Choice(["torch", "onnx"]), default="torch",
                 show_default=True, help="Inference backend."),
    click.option("--int8", is_flag=True, help="ONNX int8 quantised model (with --backend onnx)."),
    click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1)),
    click.option("--truncate", is_flag=True,
                 help="Keep only the first window of long texts (default: encode every window)."),
    click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
]


def _model_options(fn):
    for option in reversed(_MODEL_OPTIONS):
        fn = option(fn)
    return fn


def _show(result, as_json: bool) -> None:
    if as_json:
        echo_json(result.to_dict())
    else:
        click.echo(result.table())


@evaluate.command("sts")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@_model_options
@click.option("--plot", type=click.Path(path_type=Path), default=None,
              help="Write a PNG scatter plot of cosine against gold score.")
def sts(path, model, backend, int8, batch_size, truncate, as_json, plot):
    """Spearman correlation of cosine similarity with gold scores.

    PATH is an STS-B / KorSTS TSV (header with score, sentence1, sentence2); default
    ../shared/data/stsb/sts-dev.tsv when present.

    \b
    Example:
      embedkit evaluate sts ../shared/data/stsb/sts-dev.tsv --backend onnx --int8
    """
    from ..evaluate.sentences import evaluate_sts, read_sts

    data = read_sts(_resolve(path, "stsb/sts-dev.tsv", "STS file"))
    result = evaluate_sts(_encoder(model, backend, int8, truncate), data, batch_size=batch_size,
                          plot=plot)
    _show(result, as_json)


@evaluate.command("pairs")
@click.argument("path", type=click.Path(path_type=Path))
@_model_options
def pairs(path, model, backend, int8, batch_size, truncate, as_json):
    """Pair classification from cosine: best-threshold accuracy, F1 and average precision.

    PATH is a TSV with a header naming sentence1, sentence2 and label (0/1).
    """
    from ..evaluate.sentences import evaluate_pairs

    result = evaluate_pairs(_encoder(model, backend, int8, truncate), path, batch_size=batch_size)
    _show(result, as_json)


@evaluate.command("retrieval")
@click.argument("folder", type=click.Path(path_type=Path))
@_model_options
@click.option("--split", default="test", show_default=True, help="qrels/<split>.tsv to use.")
@click.option("-k", "ks", default="1,5,10,100", show_default=True, help="Cut-offs for recall@k.")
def retrieval(folder, model, backend, int8, batch_size, truncate, as_json, split, ks):
    """Dense retrieval: recall@k, MRR@10 and nDCG@10.

    FOLDER is BEIR-style: corpus.jsonl, queries.jsonl and qrels/<split>.tsv (or qrels.tsv).
    """
    from ..evaluate.sentences import evaluate_retrieval

    try:
        cutoffs = tuple(int(k) for k in ks.split(",") if k.strip())
    except ValueError:
        raise InvalidInput(f"-k must be comma-separated positive integers, got {ks!r}") from None
    result = evaluate_retrieval(_encoder(model, backend, int8, truncate), folder, ks=cutoffs,
                                split=split, batch_size=batch_size)
    _show(result, as_json)
