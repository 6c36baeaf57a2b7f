"""Training commands: ``train sentence|mlm|distill|fewshot`` and ``classify train|predict``.

::

    embedkit train sentence sts-train.tsv --model default --loss cosent --dev sts-dev.tsv -o ko-sts/
    embedkit train sentence pairs.jsonl --loss mnrl --matryoshka 384,256,128 -o retriever/
    embedkit train sentence reviews.txt --loss simcse -o film-simcse/
    embedkit train mlm reviews.txt.xz --model default --max-steps 500 -o film-mlm/
    embedkit train distill parallel.tsv --teacher all-MiniLM-L6-v2 --student all-MiniLM-L6-v2 -o minilm-ko/
    embedkit train fewshot labelled.tsv --model default -o sentiment/
    embedkit classify train reviews.tsv --model default -o sentiment/ --head auto
    embedkit classify train nsmc.tsv --label-column rating --task graded -o stars/
    embedkit classify predict texts.txt --model sentiment/ --json

Each run checkpoints into ``OUT.checkpoints/`` (``--checkpoint-dir``) and a run killed part-way
resumes from there when started again with the same settings (``--no-resume`` starts over). The
result is a sentence-transformers folder with the recipe and data hashes in ``embedkit.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import InvalidInput
from .app import classify, echo_json, train

MODEL_HELP = ("Model to start from: 'default' (multilingual-e5-small), 'all-MiniLM-L6-v2', a "
              "local folder, or a Hugging Face id.")


def _columns(spec: str | None) -> dict[str, str] | None:
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        role, sep, name = part.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise InvalidInput(f"--columns takes ROLE=NAME pairs separated by commas (e.g. "
                               f"anchor=question,positive=answer); got {spec!r}")
        out[role.strip()] = name.strip()
    return out


def _range(spec: str | None) -> tuple[float, float] | None:
    if not spec:
        return None
    try:
        lo, hi = (float(x) for x in spec.split(","))
    except ValueError:
        raise InvalidInput(f"--score-range takes LOW,HIGH (e.g. 0,5); got {spec!r}") from None
    if not lo < hi:
        raise InvalidInput(f"--score-range: LOW must be below HIGH; got {spec!r}")
    return lo, hi


def _dims(spec: str | None) -> tuple[int, ...] | None:
    if not spec:
        return None
    try:
        return tuple(int(x) for x in spec.split(","))
    except ValueError:
        raise InvalidInput(f"--matryoshka takes dimensions separated by commas (e.g. 384,256,128)"
                           f"; got {spec!r}") from None


_COMMON = [
    click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
                 help="Folder to write the trained model to."),
    click.option("--epochs", default=1, show_default=True, type=int),
    click.option("--batch-size", default=None, type=int, help="Examples per batch."),
    click.option("--grad-accum", default=1, show_default=True, type=int,
                 help="Batches per optimiser step (effective batch = batch size x this)."),
    click.option("--lr", "learning_rate", default=None, type=float, help="Peak learning rate."),
    click.option("--max-steps", default=None, type=int, help="Stop after this many steps."),
    click.option("--max-seq-length", default=None, type=int, help="Tokens per text in training."),
    click.option("--unfreeze-embeddings", is_flag=True,
                 help="Train the word-embedding matrix too (frozen by default)."),
    click.option("--eval-every", default=None, type=int,
                 help="Evaluate the dev set every N steps (default: after each epoch)."),
    click.option("--checkpoint-dir", default=None, type=click.Path(file_okay=False),
                 help="Checkpoints (default: OUTPUT.checkpoints)."),
    click.option("--checkpoint-every", default=100, show_default=True, type=int),
    click.option("--resume/--no-resume", default=True, show_default=True,
                 help="Continue from the checkpoint of an interrupted run with the same settings."),
    click.option("--seed", default=0, show_default=True, type=int),
    click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."),
]


def _common(fn):
    for option in reversed(_COMMON):
        fn = option(fn)
    return fn


def _kwargs(output, epochs, batch_size, grad_accum, learning_rate, max_steps, max_seq_length,
            unfreeze_embeddings, eval_every, checkpoint_dir, checkpoint_every, resume, seed,
            progress) -> dict:
    kw = dict(output_dir=Path(output), epochs=epochs, grad_accum=grad_accum, max_steps=max_steps,
              freeze_embeddings=not unfreeze_embeddings, eval_every=eval_every,
              checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir else
              Path(output).with_name(Path(output).name + ".checkpoints"),
              checkpoint_every=checkpoint_every, resume=resume, seed=seed, progress=progress)
    for name, value in (("batch_size", batch_size), ("learning_rate", learning_rate),
                        ("max_seq_length", max_seq_length)):
        if value is not None:
            kw[name] = value
    return kw


def _report(trainer, what: str) -> None:
    summary = {"output": str(trainer.output_dir_), "trained": what, "steps": trainer.steps_,
               "train_seconds": trainer.train_seconds_,
               f"{trainer._unit}_per_second": trainer.examples_per_second_}
    if getattr(trainer, "dev_before_", None) is not None:
        summary["dev_before"] = trainer.dev_before_
    if getattr(trainer, "dev_scores_", None):
        summary["dev_best"] = trainer.best_score_
    echo_json(summary)


@train.command("sentence")
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "-m", default="default", show_default=True, help=MODEL_HELP)
@click.option("--loss", type=click.Choice(["mnrl", "mnrl-symmetric", "cosent", "angle", "cosine",
                                           "simcse"]), default="mnrl", show_default=True,
              help="mnrl: pairs/triplets; cosent, angle, cosine: scored pairs; simcse: texts only.")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Dev set: scored pairs (STS Spearman) or pairs (recall@1); the best state is kept.")
@click.option("--columns", default=None, help="Column names, e.g. anchor=question,positive=answer.")
@click.option("--score-range", default=None, help="Scale of the scores, LOW,HIGH (default 0,5).")
@click.option("--matryoshka", default=None, help="Also train vector prefixes, e.g. 384,256,128,64.")
@click.option("--prompt", default="auto", show_default=True,
              help="Prompt name put before every text ('auto': 'query' where the model has it; "
                   "'none': no prompt).")
@_common
def train_sentence(data, model, loss, dev, columns, score_range, matryoshka, prompt, **common):
    """Fine-tune a sentence encoder on DATA (TSV, CSV, JSONL; a .txt of texts for simcse)."""
    from ..train import SentenceTrainer

    trainer = SentenceTrainer(model=model, loss=loss, matryoshka_dims=_dims(matryoshka),
                              prompt=None if prompt == "none" else prompt, **_kwargs(**common))
    trainer.fit(data, dev=dev, columns=_columns(columns), score_range=_range(score_range))
    _report(trainer, f"{loss} on {data}")


@train.command("mlm")
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "-m", default="default", show_default=True, help=MODEL_HELP)
@click.option("--mask-probability", default=0.15, show_default=True, type=float)
@click.option("--max-lines", default=None, type=int, help="Read at most this many corpus lines.")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Dev set: scored pairs or pairs, evaluated with the encoder's pooling.")
@_common
def train_mlm(corpus, model, mask_probability, max_lines, dev, **common):
    """Continue masked-LM pre-training on CORPUS (one text per line; .gz/.xz streamed)."""
    from ..train import MaskedLMTrainer

    trainer = MaskedLMTrainer(model=model, mask_probability=mask_probability, max_lines=max_lines,
                              **_kwargs(**common))
    trainer.fit(corpus, dev=dev)
    _report(trainer, f"masked-LM on {corpus}")


@train.command("distill")
@click.argument("parallel", type=click.Path(exists=True, dir_okay=False))
@click.option("--teacher", default="all-MiniLM-L6-v2", show_default=True, help="Teacher model.")
@click.option("--student", default="all-MiniLM-L6-v2", show_default=True, help="Student model.")
@click.option("--columns", default=None, help="Column names, e.g. source=english,target=korean.")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Parallel dev set (target -> source recall@1).")
@_common
def train_distill(parallel, teacher, student, columns, dev, **common):
    """Teach the student a language from PARALLEL sentences (source = the teacher's language)."""
    from ..train import DistillationTrainer

    trainer = DistillationTrainer(teacher=teacher, student=student, **_kwargs(**common))
    trainer.fit(parallel, dev=dev, columns=_columns(columns))
    _report(trainer, f"distillation on {parallel}")


@train.command("fewshot")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "-m", default="default", show_default=True, help=MODEL_HELP)
@click.option("--columns", default=None, help="Column names, e.g. text=review,label=sentiment.")
@click.option("--num-iterations", default=5, show_default=True, type=int,
              help="Rounds of pair generation (2 pairs per example per round).")
@click.option("--no-finetune", is_flag=True, help="Only fit the head on the frozen encoder.")
@_common
def train_fewshot(labelled, model, columns, num_iterations, no_finetune, **common):
    """Few-shot classifier from LABELLED texts (columns text, label): SetFit-style."""
    from ..train import FewShotClassifier

    clf = FewShotClassifier(model=model, num_iterations=num_iterations,
                            finetune=not no_finetune, **_kwargs(**common))
    clf.fit(labelled, columns=_columns(columns))
    echo_json({"output": str(clf.output_dir_), "classes": clf.classes_, "pairs": clf.pairs_,
               "train_seconds": clf.train_seconds_})


def _read_texts(path: str) -> list[str]:
    if path == "-":
        return [line.strip() for line in sys.stdin if line.strip()]
    from ..train.data import read_examples

    return read_examples(path, "texts").columns["text"]


@classify.command("train")
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "-m", default="default", show_default=True, help=MODEL_HELP)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder to write the classifier to.")
@click.option("--task", type=click.Choice(["auto", "binary", "multiclass", "graded"]),
              default="auto", show_default=True,
              help="auto: binary for 2 labels, multiclass for more; graded: numeric scores "
                   "(e.g. 1-10 stars), a regression.")
@click.option("--head", type=click.Choice(["auto", "linear", "hybrid", "tfidf", "finetune",
                                           "setfit"]), default="auto", show_default=True,
              help="linear: logistic regression on frozen vectors; tfidf: TF-IDF only; hybrid: "
                   "both mixed; auto: the dev split picks; finetune: encoder + head end to end; "
                   "setfit: few-shot contrastive fine-tuning.")
@click.option("--text-column", default=None, help="Column of the texts (default: text, "
                                                  "sentence, document or review).")
@click.option("--label-column", default=None, help="Column of the labels (default: label, class, "
                                                   "category, sentiment, rating or stars).")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Labelled dev file for the choices (default: 10% of DATA, held out).")
@click.option("--backend", type=click.Choice(["torch", "onnx", "onnx-int8"]), default="torch",
              show_default=True, help="How the encoder runs (onnx-int8: fastest on a CPU).")
@click.option("--score-range", default=None, help="Graded: LOW,HIGH of the scores (default: the "
                                                  "range in DATA).")
@click.option("--C", "C", default=None, type=float, help="Regularisation (default: chosen on dev).")
@click.option("--epochs", default=2, show_default=True, type=int, help="Fine-tuning epochs.")
@click.option("--batch-size", default=32, show_default=True, type=int,
              help="Fine-tuning batch size.")
@click.option("--lr", "learning_rate", default=5e-5, show_default=True, type=float,
              help="Fine-tuning learning rate.")
@click.option("--max-seq-length", default=128, show_default=True, type=int,
              help="Tokens per text in fine-tuning.")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Fine-tuning: continue an interrupted run (checkpoints in OUTPUT.checkpoints).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: on a terminal).")
def classify_train(data, model, output, task, head, text_column, label_column, dev, backend,
                   score_range, C, epochs, batch_size, learning_rate, max_seq_length, resume,
                   seed, progress):
    """Train a text classifier on DATA (TSV, CSV or JSONL with a text and a label column)."""
    from ..apps.classify import TextClassifier

    out = Path(output)
    clf = TextClassifier(model=model, task=task, head=head, backend=backend, C=C,
                         score_range=_range(score_range) if score_range else None,
                         epochs=epochs, train_batch_size=batch_size, learning_rate=learning_rate,
                         max_seq_length=max_seq_length, resume=resume, output_dir=out,
                         checkpoint_dir=out.with_name(out.name + ".checkpoints"), seed=seed,
                         progress=progress)
    columns = {k: v for k, v in (("text", text_column), ("label", label_column)) if v}
    clf.fit(data, dev=dev, columns=columns or None)
    summary = {"output": str(out), "task": clf.task_, "head": head,
               "views": sorted(clf._views), "tfidf_weight": clf.tfidf_weight_,
               "temperature": round(clf.temperature_, 4), "C": clf.C_,
               "fit_seconds": clf.fit_seconds_.get("total")}
    if clf.task_ == "graded":
        summary["score_range"] = list(clf.score_range_)
    else:
        summary["classes"] = clf.classes_
    echo_json(summary)


def _load_any_classifier(folder: str):
    """A TextClassifier folder, or a FewShotClassifier one (told apart by embedkit.json)."""
    from ..apps.classify import TextClassifier, is_text_classifier

    if is_text_classifier(folder):
        return TextClassifier.load(folder)
    from ..train import FewShotClassifier

    return FewShotClassifier.load(folder)


@classify.command("predict")
@click.argument("texts", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--model", "-m", required=True, type=click.Path(exists=True, file_okay=False),
              help="A classifier folder (from 'embedkit classify train' or 'embedkit train "
                   "fewshot').")
@click.option("--proba", is_flag=True, help="Print each class's probability.")
@click.option("--json", "as_json", is_flag=True,
              help="JSON lines: text, label (and proba); graded: text, score.")
def classify_predict(texts, model, proba, as_json):
    """Predict the class (or graded score) of each text in TEXTS (one per line, a TSV/CSV/JSONL
    with a text column, or - for stdin).
    """
    if texts != "-" and not Path(texts).is_file():
        raise InvalidInput(f"No such file: {texts}")
    clf = _load_any_classifier(model)
    items = _read_texts(texts)
    if not items:
        raise InvalidInput(f"{texts} holds no texts")
    if getattr(clf, "task_", None) == "graded":
        for text, score in zip(items, clf.predict(items)):
            if as_json:
                click.echo(json.dumps({"text": text, "score": round(float(score), 4)},
                                      ensure_ascii=False))
            else:
                click.echo(f"{float(score):.3f}\t{text}")
        return
    probs = clf.predict_proba(items)
    for text, row in zip(items, probs):
        label = clf.classes_[int(row.argmax())]
        if as_json:
            obj = {"text": text, "label": label}
            if proba:
                obj["proba"] = {str(c): round(float(p), 6) for c, p in zip(clf.classes_, row)}
            click.echo(json.dumps(obj, ensure_ascii=False))
        elif proba:
            click.echo("\t".join([str(label), *(f"{p:.4f}" for p in row), text]))
        else:
            click.echo(f"{label}\t{text}")
