"""Analysis commands: ``project``, ``cluster``, ``analyze dimensions``, ``analyze tokens``,
``bias weat``, ``bias direct``, ``bias debias``, and ``train tokenizer``.

::

    embedkit project --model multilingual-e5-small --words words.tsv --method umap --color-by group -o map.png
    embedkit project --store notes.db --method tsne --out coords.parquet -o map.svg
    embedkit cluster --store notes.db --method hdbscan --json
    embedkit analyze dimensions --model multilingual-e5-small --texts sentences.txt -o dims.png
    embedkit analyze tokens --tokenizer all-MiniLM-L6-v2 --tokenizer ko-bpe/ --corpus ko.txt
    embedkit bias weat --model vectors/ --test career-family
    embedkit bias debias --model vectors/ -o debiased/
    embedkit train tokenizer corpus.txt --type bpe --vocab-size 16000 -o tok/

``--model`` is a word-vectors model (a folder saved by ``train word2vec`` or a .vec/.bin file) or
any sentence encoder ``embedkit.load`` resolves. ``--words`` / ``--texts`` files hold one item a
line, optionally followed by a tab and a group name (the ``group`` metadata field).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from ..errors import InvalidInput
from .app import command, echo_json, main, train

log = logging.getLogger(__name__)

FAMILY = "Analysis"


@main.group(cls=type(main))
def analyze():
    """Analyse a vector space (dimensions) or a tokenizer (out-of-vocabulary words)."""


@main.group(cls=type(main))
def bias():
    """Measure (WEAT, SEAT, direct bias) and remove (hard debias) social bias in vectors."""


analyze.family = bias.family = FAMILY


# ------------------------------------------------------------------------------------- helpers
def _load_any(spec: str):
    """A WordVectors model (folder or vectors file) or any encoder ``embedkit.load`` resolves."""
    path = Path(spec)
    if path.is_file():
        from ..text.formats import read_vectors

        return read_vectors(path)
    from ..models import load

    return load(spec)


def _is_words(model) -> bool:
    from ..text.word_vectors import WordVectors

    return isinstance(model, WordVectors)


def _read_items(path: str) -> tuple[list[str], list[dict]]:
    """Items (one a line) and metadata: tab-separated ``group`` and ``language`` columns after it."""
    items, metas = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, *rest = line.split("\t")
        items.append(text.strip())
        metas.append({k: v.strip() for k, v in zip(("group", "language"), rest) if v.strip()})
    if not items:
        raise InvalidInput(f"{path} has no items (one a line, optionally TAB group)")
    if not any(metas):
        metas = [{} for _ in items]
    return items, metas


def _gather(store, model, words, texts, limit, batch_size=64):
    """(vectors, labels, metadata, ids, model) from a store, or a model with --words/--texts."""
    import numpy as np

    if store:
        from ..analysis.projection import store_arrays
        from .store import _open_store

        with _open_store(store) as vs:
            ids, txt, metas, X = store_arrays(vs)
        if limit:
            ids, txt, metas, X = ids[:limit], txt[:limit], metas[:limit], X[:limit]
        return X, txt, metas, ids, None
    if not model:
        raise InvalidInput("give --store S, or --model M (with --words FILE or --texts FILE for a "
                           "sentence encoder)")
    enc = _load_any(model)
    source = words or texts
    if _is_words(enc):
        if source:
            items, metas = _read_items(source)
            known = [i for i, w in enumerate(items) if w in enc or enc.has_subwords]
            missing = [items[i] for i in range(len(items)) if i not in set(known)]
            if missing:
                click.echo(f"skipped {len(missing)} words not in the model: "
                           f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}", err=True)
            items, metas = [items[i] for i in known], [metas[i] for i in known]
            X = np.vstack([enc.get_vector(w) for w in items]) if items else np.zeros((0, enc.dim))
        else:
            n = min(limit or 5000, len(enc))
            items, X = list(enc.index_to_key[:n]), np.asarray(enc.vectors[:n])
            metas = [{"count": int(c)} for c in enc.counts[:n]] if enc.counts is not None else None
        return X, items, metas, None, enc
    if not source:
        raise InvalidInput(f"{model} is a sentence encoder: give --texts FILE (or --words FILE) with "
                           "the items to embed, one a line")
    items, metas = _read_items(source)
    if limit:
        items, metas = items[:limit], metas[:limit]
    X = enc.encode(items, batch_size=batch_size)
    return X, items, metas, None, enc


def _item_options(fn):
    for opt in reversed([
        click.option("--store", "-s", default=None, help="A vector store: every item in it."),
        click.option("--model", "-m", default=None,
                     help="Word vectors (folder or file) or a sentence encoder (name or folder)."),
        click.option("--words", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="File of words (one a line, optional TAB group)."),
        click.option("--texts", default=None, type=click.Path(exists=True, dir_okay=False),
                     help="File of texts to embed (one a line, optional TAB group)."),
        click.option("--limit", default=None, type=click.IntRange(min=1),
                     help="At most this many items (word models: the most frequent; default 5000)."),
    ]):
        fn = opt(fn)
    return fn


# ------------------------------------------------------------------------------------- project
@command("project", family=FAMILY)
@_item_options
@click.option("--method", type=click.Choice(["pca", "tsne", "umap"]), default="pca", show_default=True)
@click.option("--dim", type=click.Choice(["2", "3"]), default="2", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--color-by", default=None,
              help="Metadata field to colour by (e.g. group), or 'cluster' (k-means, see --k).")
@click.option("--k", default=None, type=click.IntRange(min=2), help="Clusters for --color-by cluster.")
@click.option("--perplexity", default=None, type=float, help="t-SNE perplexity (30).")
@click.option("--neighbors", default=None, type=int, help="UMAP n_neighbors (15).")
@click.option("--min-dist", default=None, type=float, help="UMAP min_dist (0.1).")
@click.option("--pca-dims", default=None, type=int, help="PCA pre-reduction for t-SNE/UMAP (50; 0: none).")
@click.option("--normalize", is_flag=True, help="L2-normalise first (distances follow cosine).")
@click.option("--annotate", default=20, show_default=True, type=int, help="Points to label.")
@click.option("--title", default=None)
@click.option("-o", "--output", "plot", default=None, type=click.Path(dir_okay=False),
              help="Plot file (.png or .svg).")
@click.option("--out", "coords", default=None, type=click.Path(dir_okay=False),
              help="Coordinates file (.parquet, .csv, .json or .npy).")
def project_cmd(store, model, words, texts, limit, method, dim, seed, color_by, k, perplexity,
                neighbors, min_dist, pca_dims, normalize, annotate, title, plot, coords):
    """Project vectors to 2-D/3-D (PCA, t-SNE, UMAP); plot them and/or write the coordinates."""
    from ..analysis.plots import scatter
    from ..analysis.projection import project

    if not plot and not coords:
        raise InvalidInput("give -o map.png (a plot) and/or --out coords.parquet (the coordinates)")
    X, labels, metas, ids, _ = _gather(store, model, words, texts, limit)
    options = {"normalize": normalize}
    if method == "tsne" and perplexity is not None:
        options["perplexity"] = perplexity
    if method == "umap":
        if neighbors is not None:
            options["n_neighbors"] = neighbors
        if min_dist is not None:
            options["min_dist"] = min_dist
    if method != "pca" and pca_dims is not None:
        options["pca_dims"] = pca_dims
    p = project(X, method, int(dim), seed, labels=labels, metadata=metas, ids=ids, **options)
    colors = None
    if color_by == "cluster":
        from ..analysis.clusters import cluster

        result = cluster(X, "kmeans", k, seed=seed)
        colors = result.labels.tolist()
        for m, c in zip(p.metadata or [{} for _ in labels], colors):
            m["cluster"] = c
        if p.metadata is None:
            p.metadata = [{"cluster": c} for c in colors]
        color_by = None
    if coords:
        p.save(coords)
        click.echo(f"wrote {len(p):,} points to {coords}")
    if plot:
        scatter(p, plot, color_by=color_by, colors=colors, annotate=annotate, title=title, seed=seed)
        click.echo(f"wrote {plot} ({method}, {len(p):,} points, {p.seconds:.1f}s)")


# ------------------------------------------------------------------------------------- cluster
@command("cluster", family=FAMILY)
@_item_options
@click.option("--method", type=click.Choice(["kmeans", "hdbscan"]), default="kmeans", show_default=True)
@click.option("--k", default=None, type=click.IntRange(min=2),
              help="k-means clusters (default: best silhouette in 2..10).")
@click.option("--min-cluster-size", default=5, show_default=True, type=int, help="HDBSCAN's.")
@click.option("--reduce", default=None, type=int, help="PCA to this many dimensions first.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--top", default=5, show_default=True, type=int, help="Typical members shown per cluster.")
@click.option("-o", "--output", "plot", default=None, type=click.Path(dir_okay=False),
              help="Plot the clusters on a projection (.png or .svg).")
@click.option("--plot-method", type=click.Choice(["pca", "tsne", "umap"]), default="pca",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cluster_cmd(store, model, words, texts, limit, method, k, min_cluster_size, reduce, seed, top, plot,
                plot_method, as_json):
    """Cluster vectors (k-means or HDBSCAN): typical members, distinctive terms, silhouette."""
    from ..analysis.clusters import cluster

    X, labels, metas, ids, _ = _gather(store, model, words, texts, limit)
    result = cluster(X, method, k, texts=labels, seed=seed, min_cluster_size=min_cluster_size,
                     reduce=reduce, top_members=top)
    if plot:
        from ..analysis.plots import scatter
        from ..analysis.projection import project

        p = project(X, plot_method, 2, seed, labels=labels, metadata=metas, ids=ids)
        scatter(p, plot, colors=result.labels.tolist(), title=f"{method} clusters on {plot_method.upper()}",
                seed=seed)
    if as_json:
        echo_json(result.as_dict())
        return
    sil = "n/a" if result.silhouette is None else f"{result.silhouette:.3f}"
    click.echo(f"{result.n_clusters} clusters, {result.noise} noise points, silhouette {sil}")
    for c in result.clusters:
        name = "noise" if c.id < 0 else f"cluster {c.id}"
        terms = ", ".join(t for t, _ in c.terms[:8])
        click.echo(f"{name} ({c.size}): {terms}")
        for t in c.member_texts:
            click.echo(f"    {t[:100]}")
    if plot:
        click.echo(f"wrote {plot}")


# ------------------------------------------------------------------------------------- analyze
@analyze.command("dimensions")
@_item_options
@click.option("--reduce", type=click.Choice(["pca", "truncate"]), default="pca", show_default=True,
              help="How to lower the dimension (truncate: Matryoshka models).")
@click.option("--dims", default=None, help="Comma-separated dimensions (default: 2, 4, 8, ... full).")
@click.option("--k", default=10, show_default=True, type=int, help="Neighbours for recall@k.")
@click.option("--queries", default=500, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("-o", "--output", "plot", default=None, type=click.Path(dir_okay=False),
              help="Plot file (.png or .svg).")
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
              help="Write the numbers as JSON to this file ('-' prints them).")
def dimensions_cmd(store, model, words, texts, limit, reduce, dims, k, queries, seed, plot, json_path):
    """Distance concentration and recall@k against dimension, next to random Gaussian data."""
    from ..analysis.dimensions import dimension_probe, gaussian_probe, plot_dimensions

    X, *_ = _gather(store, model, words, texts, limit)
    try:
        dim_list = [int(d) for d in dims.split(",")] if dims else None
    except ValueError:
        raise InvalidInput(f"--dims must be comma-separated integers, got {dims!r}") from None
    real = dimension_probe(X, dim_list, reduce=reduce, k=k, n_queries=queries, seed=seed)
    gauss = gaussian_probe(len(X), [r["dim"] for r in real], k=k, n_queries=queries, seed=seed)
    name = model or store or "vectors"
    results = {f"{Path(name).name} ({reduce})": real, "Gaussian": gauss}
    if plot:
        plot_dimensions(results, plot, title=f"{len(X):,} vectors of {Path(name).name}")
    doc = {"source": name, "n": len(X), "reduce": reduce, "k": k, "real": real, "gaussian": gauss}
    if json_path == "-":
        echo_json(doc)
    else:
        if json_path:
            Path(json_path).write_text(json.dumps(doc, indent=2), encoding="utf-8")
        click.echo(f"{'dim':>5} {'rel.contrast':>12} {'cos std':>8} {f'recall@{k}':>9} | "
                   f"{'gauss contrast':>14} {'gauss cos std':>13}")
        for r, g in zip(real, gauss):
            click.echo(f"{r['dim']:>5} {r['relative_contrast']:>12.3f} {r['cosine_std']:>8.3f} "
                       f"{r['recall_at_k']:>9.3f} | {g['relative_contrast']:>14.3f} {g['cosine_std']:>13.3f}")
    if plot:
        click.echo(f"wrote {plot}")


@analyze.command("tokens")
@click.option("--tokenizer", "-t", "tokenizers", multiple=True, required=True,
              help="tokenizer.json, a folder with one, or a model name (repeatable).")
@click.option("--corpus", "-c", required=True, type=click.Path(exists=True))
@click.option("--max-lines", default=20000, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_cmd(tokenizers, corpus, max_lines, as_json):
    """Out-of-vocabulary report: unknown share, single-character splits, fertility, per language."""
    from ..text.tokenizers import oov_report

    reports = {t: oov_report(t, corpus, max_lines=max_lines) for t in tokenizers}
    if as_json:
        echo_json(reports)
        return
    click.echo(f"{'tokenizer':<34} {'lang':<5} {'words':>8} {'fertility':>9} {'unk tok':>8} "
               f"{'unk word':>8} {'1-char':>7} {'whole':>7}")
    for t, rep in reports.items():
        for lang, r in list(rep["languages"].items()) + [("all", rep["all"])]:
            click.echo(f"{Path(t).name[:34]:<34} {lang:<5} {r['words']:>8} {r['fertility']:>9.2f} "
                       f"{r['unknown_share']:>8.2%} {r['unknown_word_share']:>8.2%} "
                       f"{r['single_char_share']:>7.2%} {r['unsplit_share']:>7.2%}")


# ------------------------------------------------------------------------------------- bias
@bias.command("weat")
@click.option("--model", "-m", default=None, help="Word vectors (WEAT) or a sentence encoder (SEAT).")
@click.option("--test", "tests", multiple=True, default=("career-family",), show_default=True,
              help="A shipped test (see --list), 'all', or a .json file (repeatable).")
@click.option("--permutations", default=10000, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--list", "list_tests", is_flag=True, help="List the shipped tests and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def weat_cmd(model, tests, permutations, seed, list_tests, as_json):
    """WEAT effect size and permutation p-value (SEAT for sentence encoders)."""
    from ..analysis.bias import run_weat, seat, weat_tests

    if list_tests:
        for t in weat_tests():
            click.echo(t)
        return
    if not model:
        raise click.UsageError("Missing option '--model' / '-m'.")
    names = weat_tests() if "all" in tests else list(tests)
    enc = _load_any(model)
    words = _is_words(enc)
    results = []
    for t in names:
        try:
            results.append(run_weat(enc, t, permutations=permutations, seed=seed) if words
                           else seat(enc, t, permutations=permutations, seed=seed))
        except InvalidInput as exc:
            if "all" not in tests:
                raise
            click.echo(f"skipped {t}: {exc}", err=True)
    if not results:
        raise InvalidInput(f"no WEAT test could run on {model}")
    if as_json:
        echo_json([r.as_dict() for r in results])
        return
    for r in results:
        miss = sum(len(v) for v in r.missing.values())
        click.echo(f"{r.test:<28} effect size {r.effect_size:+.3f}  p = {r.p_value:.4g}  "
                   f"({r.names[0]} vs {r.names[1]} / {r.names[2]} vs {r.names[3]}"
                   f"{f'; {miss} words not in the vocabulary' if miss else ''})")


@bias.command("direct")
@click.option("--model", "-m", required=True, help="Word vectors.")
@click.option("--language", type=click.Choice(["en", "ko"]), default="en", show_default=True)
@click.argument("words", nargs=-1)
def direct_cmd(model, language, words):
    """Direct bias over professions, and each word's projection on the gender direction."""
    from ..analysis.bias import direct_bias

    wv = _load_any(model)
    if not _is_words(wv):
        raise InvalidInput("bias direct needs word vectors")
    r = direct_bias(wv, list(words) or None, language=language)
    click.echo(f"direct bias {r['direct_bias']:.4f} over {r['words']} words "
               "(projection on the gender direction: + female, - male)")
    for w, p in sorted(r["projections"].items(), key=lambda x: x[1]):
        click.echo(f"  {w:<20} {p:+.3f}")


@bias.command("debias")
@click.option("--model", "-m", required=True, help="Word vectors (hard debias) or a sentence encoder.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False))
@click.option("--language", type=click.Choice(["en", "ko"]), default="en", show_default=True)
@click.option("--neutral-limit", default=None, type=int,
              help="Neutralise only the N most frequent words (default: all but gender-specific).")
@click.option("--test", "tests", multiple=True, default=None, help="WEAT tests to report before/after.")
def debias_cmd(model, output, language, neutral_limit, tests):
    """Remove the gender direction: hard debias (word vectors) or a linear projection (sentences)."""
    import numpy as np

    from ..analysis.bias import (
        direct_bias,
        gender_direction,
        hard_debias,
        run_weat,
        sentence_gender_subspace,
    )

    enc = _load_any(model)
    out = Path(output)
    if not _is_words(enc):
        B = sentence_gender_subspace(enc, language=language)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "gender_subspace.npy", B)
        (out / "debias.json").write_text(json.dumps({"model": model, "method": "linear projection",
                                                     "language": language, "subspace_dim": len(B)}),
                                         encoding="utf-8")
        click.echo(f"wrote the gender subspace of {model} to {out}/gender_subspace.npy; use it with "
                   "embedkit.analysis.bias.DebiasedEncoder(embedkit.load(MODEL), np.load(...))")
        return
    g = gender_direction(enc, language=language)
    new, info = hard_debias(enc, language=language, neutral_limit=neutral_limit)
    new.save(out)
    before, after = direct_bias(enc, direction=g, language=language), direct_bias(new, direction=g,
                                                                                language=language)
    click.echo(f"hard-debiased {info['neutralised']:,} words, equalised {info['equalised_pairs']} "
               f"pairs; direct bias {before['direct_bias']:.4f} -> {after['direct_bias']:.4f}; "
               f"saved to {out}")
    default = ("ko-career-family", "ko-math-arts") if language == "ko" else ("career-family", "math-arts")
    for t in tests or default:
        b, a = run_weat(enc, t, permutations=0), run_weat(new, t, permutations=0)
        click.echo(f"  WEAT {t}: effect size {b.effect_size:+.3f} -> {a.effect_size:+.3f}")


# ------------------------------------------------------------------------------------- tokenizer
@train.command("tokenizer")
@click.argument("corpus", type=click.Path(exists=True))
@click.option("--type", "kind", type=click.Choice(["bpe", "wordpiece", "unigram"]), default="bpe",
              show_default=True)
@click.option("--vocab-size", default=8000, show_default=True, type=int)
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder for tokenizer.json.")
@click.option("--backend", type=click.Choice(["hf", "sentencepiece"]), default="hf", show_default=True,
              help="huggingface tokenizers, or sentencepiece (bpe, unigram).")
@click.option("--min-frequency", default=2, show_default=True, type=int)
@click.option("--lowercase", is_flag=True)
@click.option("--max-lines", default=None, type=int, help="Train on the first N lines only.")
def train_tokenizer_cmd(corpus, kind, vocab_size, output, backend, min_frequency, lowercase, max_lines):
    """Train a BPE, WordPiece or Unigram tokenizer on CORPUS; writes OUTPUT/tokenizer.json."""
    import time

    from ..text.tokenizers import train_tokenizer

    t0 = time.perf_counter()
    tok = train_tokenizer(corpus, kind, vocab_size, output=output, backend=backend,
                          min_frequency=min_frequency, lowercase=lowercase, max_lines=max_lines)
    click.echo(f"trained a {kind} tokenizer ({backend}) of {tok.get_vocab_size():,} tokens in "
               f"{time.perf_counter() - t0:.1f}s; saved to {output}/tokenizer.json")
