"""Word-vector commands: ``train word2vec``, ``neighbors``, ``analogy``, ``evaluate words``.

::

    embedkit train word2vec corpus.txt.xz -o model/ --epochs 5 --workers 4
    embedkit neighbors king --model model/ -k 5
    embedkit analogy man king woman --model model/
    embedkit evaluate words --model model/ --similarity ws353.tsv --analogy questions-words.txt --json

``--model`` is a saved folder or a word2vec / fastText ``.vec`` / GloVe / ``.bin`` file.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

from ..errors import InvalidInput
from .app import command, echo_json, evaluate, train

log = logging.getLogger(__name__)


def _load_model(spec: str):
    path = Path(spec)
    if path.is_file():
        from ..text.formats import read_vectors

        return read_vectors(path)
    if path.is_dir():
        from ..text.word_vectors import WordVectors

        if not (path / "embedkit.json").is_file():
            raise InvalidInput(f"{path} is not a saved word-vectors model (no embedkit.json)")
        return WordVectors.load(path)
    raise InvalidInput(f"No model at {spec}: pass a folder saved by 'embedkit train word2vec' or a "
                       "word2vec/fastText/GloVe vectors file")


def _words_model(spec: str):
    from ..text.word_vectors import WordVectors

    model = _load_model(spec)
    if not isinstance(model, WordVectors):
        raise InvalidInput(f"{spec} is not a word-vectors model")
    return model


class _Progress:
    """A tqdm bar with the last epoch's loss and words/s, fed by the trainer's progress callback.

    It shows one speed, the trainer's: tqdm's own rate is left out of the bar format.
    """

    def __init__(self, enabled: bool | None):
        self.enabled = enabled
        self.bar = None

    def __call__(self, done, total, loss, wps):
        from ..text.word2vec import BAR_FORMAT, progress_text

        if self.bar is None:
            from ..progress import progress

            self.bar = progress(total, "train", "words", enabled=self.enabled, unit_scale=True,
                                bar_format=BAR_FORMAT, rate_in_postfix=True)
        self.bar.set_postfix_str(progress_text(loss, wps if done else None), refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


@train.command("word2vec")
@click.argument("corpus", type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(), help="Folder to save the model to.")
@click.option("--cbow", is_flag=True, help="CBOW instead of skip-gram.")
@click.option("--subword", is_flag=True,
              help="fastText subwords (vectors for unseen words); with --cbow, fastText CBOW.")
@click.option("--korean", is_flag=True,
              help="Korean: kiwipiepy morphemes; with --subword, n-grams over jamo (unless --pieces).")
@click.option("--tokenizer", type=click.Choice(["english", "whitespace", "korean"]), default=None,
              help="Tokenizer for the corpus text (default english; korean with --korean).")
@click.option("--dim", default=100, show_default=True, type=int)
@click.option("--window", default=5, show_default=True, type=int)
@click.option("--negative", default=5, show_default=True, type=int)
@click.option("--min-count", default=5, show_default=True, type=int)
@click.option("--sample", default=1e-3, show_default=True, type=float)
@click.option("--epochs", default=5, show_default=True, type=int)
@click.option("--learning-rate", default=None, type=float,
              help="Starting learning rate (default: 0.025 skip-gram, 0.05 CBOW).")
@click.option("--workers", default=None, type=int, help="Threads (default: all CPUs).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--min-n", default=3, show_default=True, type=int, help="Shortest n-gram (--subword).")
@click.option("--max-n", default=6, show_default=True, type=int, help="Longest n-gram (--subword).")
@click.option("--buckets", default=2_000_000, show_default=True, type=int,
              help="Hashed n-gram rows (--subword).")
@click.option("--pieces", default=None, metavar="TOKENIZER",
              help="--subword: a tokenizer's BPE / WordPiece / Unigram pieces as the subword units "
                   "instead of character n-grams (a tokenizer.json, a folder from `embedkit train "
                   "tokenizer`, or a model name).")
@click.option("--shared-negatives", is_flag=True,
              help="--subword: share negatives within a window (much faster, slightly less accurate).")
@click.option("--format", "fmt", type=click.Choice(["safetensors", "npy"]), default="safetensors",
              show_default=True)
@click.option("--token-cache", "token_cache", type=click.Path(file_okay=False), default=None,
              help="Folder for the tokenised corpus (default: the embedkit cache); reused by "
                   "later runs on the same files and tokenizer.")
@click.option("--no-token-cache", is_flag=True,
              help="Re-read and re-tokenise the corpus every epoch instead of caching token ids.")
@click.option("--drop-token-cache", is_flag=True, help="Delete the token cache after training.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: on a terminal; log lines every 30 s elsewhere).")
def train_word2vec(corpus, output, cbow, subword, korean, tokenizer, dim, window, negative, min_count,
                   sample, epochs, learning_rate, workers, seed, min_n, max_n, buckets,
                   pieces, shared_negatives, fmt, token_cache, no_token_cache, drop_token_cache,
                   progress):
    """Train word vectors on CORPUS (a text file, .gz/.xz, or a folder of them)."""
    from ..text.word2vec import FastText, Word2Vec

    if pieces is not None and not subword:
        raise InvalidInput("--pieces sets the subword units: it needs --subword")
    if cbow and shared_negatives:
        raise InvalidInput("--shared-negatives is for subword skip-gram; a CBOW window has one "
                           "input already")
    tok = tokenizer or ("korean" if korean else "english")
    bar = _Progress(progress)
    common = dict(architecture="cbow" if cbow else "skipgram", vector_size=dim, window=window,
                  negative=negative, min_count=min_count, sample=sample, epochs=epochs,
                  learning_rate=learning_rate, workers=workers, seed=seed, tokenizer=tok,
                  progress=bar, token_cache=False if no_token_cache else (token_cache or "auto"),
                  keep_token_cache=not drop_token_cache)
    if subword:
        trainer = FastText(**common, min_n=min_n, max_n=max_n, buckets=buckets,
                           korean_jamo=korean and pieces is None, shared_negatives=shared_negatives,
                           pieces=pieces)
    else:
        trainer = Word2Vec(**common)
    t0 = time.perf_counter()
    try:
        trainer.fit(corpus)
    finally:
        bar.close()
    wv = trainer.wv_
    wv.name = Path(output).name
    wv.save(output, format=fmt)
    losses = ", ".join(f"{x:.4f}" for x in trainer.loss_history_)
    epochs_s = ", ".join(f"{x:.1f}" for x in trainer.epoch_times_)
    if trainer.tokenize_time_ is None:
        phases = f"vocabulary {trainer.vocabulary_time_:.1f}s"
    elif trainer.token_cache_reused_:
        phases = f"tokenised corpus reused from the cache, vocabulary {trainer.vocabulary_time_:.1f}s"
    else:
        phases = (f"tokenise {trainer.tokenize_time_:.1f}s, vocabulary "
                  f"{trainer.vocabulary_time_:.1f}s")
    click.echo(f"trained {len(wv)} words x {wv.dim} dims on {trainer.corpus_words_} tokens/epoch in "
               f"{time.perf_counter() - t0:.1f}s ({phases}; epochs {epochs_s}s; "
               f"{trainer.words_per_second_:,.0f} words/s); loss per epoch: {losses}; "
               f"saved to {output}")


@command("neighbors", family="Word vectors")
@click.argument("word")
@click.option("--model", "-m", required=True, help="Saved model folder or vectors file.")
@click.option("-k", "--topn", default=10, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def neighbors(word, model, topn, as_json):
    """Print the nearest words to WORD."""
    wv = _words_model(model)
    result = wv.most_similar(word, topn=topn)
    if as_json:
        echo_json([{"word": w, "score": s} for w, s in result])
        return
    for w, s in result:
        click.echo(f"{w}\t{s:.4f}")


@command("analogy", family="Word vectors")
@click.argument("a")
@click.argument("b")
@click.argument("c")
@click.option("--model", "-m", required=True, help="Saved model folder or vectors file.")
@click.option("-k", "--topn", default=5, show_default=True, type=int)
@click.option("--method", type=click.Choice(["3cosadd", "3cosmul"]), default="3cosadd",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def analogy(a, b, c, model, topn, method, as_json):
    """A is to B as C is to what: `embedkit analogy man king woman` gives queen."""
    wv = _words_model(model)
    result = wv.analogy(a, b, c, method=method, topn=topn)
    if as_json:
        echo_json([{"word": w, "score": s} for w, s in result])
        return
    for w, s in result:
        click.echo(f"{w}\t{s:.4f}")


@evaluate.command("words")
@click.option("--model", "-m", required=True, help="Saved model folder or vectors file.")
@click.option("--similarity", "similarity_files", multiple=True, type=click.Path(),
              help="Word-similarity TSV (word1 word2 score); repeatable.")
@click.option("--analogy", "analogy_files", multiple=True, type=click.Path(),
              help="Analogy file in questions-words.txt layout; repeatable.")
@click.option("--restrict-vocab", default=30000, show_default=True, type=int,
              help="Answer analogies among the N most frequent words (0: all).")
@click.option("--method", type=click.Choice(["3cosadd", "3cosmul"]), default="3cosadd",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_words(model, similarity_files, analogy_files, restrict_vocab, method, as_json):
    """Word similarity (Spearman) and analogy accuracy of a word-vectors model."""
    from ..evaluate.words import evaluate_analogies, evaluate_similarity

    if not similarity_files and not analogy_files:
        raise InvalidInput("give at least one --similarity or --analogy file")
    wv = _words_model(model)
    sims = [evaluate_similarity(wv, f) for f in similarity_files]
    anas = [evaluate_analogies(wv, f, restrict_vocab=restrict_vocab or None, method=method)
            for f in analogy_files]
    if as_json:
        echo_json({"model": wv.name, "similarity": [s.to_dict() for s in sims],
                   "analogy": [a.to_dict() for a in anas]})
        return
    for s in sims:
        rho = "n/a" if s.spearman is None else f"{s.spearman:.4f}"
        click.echo(f"{s.dataset}: Spearman {rho} on {s.found_pairs}/{s.pairs} pairs "
                   f"({s.oov_pairs} out of vocabulary)")
    for a in anas:
        d = a.to_dict()
        click.echo(f"{a.dataset} ({method}, restrict_vocab={a.restrict_vocab}):")
        for sec in d["sections"]:
            click.echo(f"  {sec['name']:<32} {sec['accuracy']:.4f}  ({sec['correct']}/{sec['attempted']}"
                       f" of {sec['total']})")
        for key in ("semantic", "syntactic", "total"):
            g = d[key]
            click.echo(f"  {key:<32} {g['accuracy']:.4f}  ({g['correct']}/{g['attempted']}, "
                       f"coverage {g['coverage']:.3f})")
