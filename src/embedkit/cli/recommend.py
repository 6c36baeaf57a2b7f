"""Recommendation commands: ``recommend fit``, ``recommend user``, ``recommend similar``,
``recommend new``.

::

    embedkit recommend fit ml-100k/u.data --items ml-100k/u.item -o movie-rec
    embedkit recommend user 196 --model movie-rec -k 10
    embedkit recommend similar 50 --model movie-rec
    embedkit recommend new --like 50 --like 181 --text "space adventure" --model movie-rec

RATINGS is a MovieLens-style file (``user item rating [timestamp]``, tab, ``::`` or comma
separated, with or without a header); ITEMS a MovieLens ``u.item``, a CSV with an id column, or
JSON lines. See :mod:`embedkit.apps.recommend`.
"""

from __future__ import annotations

import click

from ..errors import InvalidInput
from .app import echo_json, group

recommend = group("recommend", family="Applications",
                  help="Recommend items: collaborative, content-based and hybrid (cold start).")


def _load(model: str):
    from ..apps.recommend import Recommender

    return Recommender.load(model)


def _print(rec_model, results, as_json: bool) -> None:
    texts = dict(zip(rec_model.item_ids_, rec_model.item_texts_))
    if as_json:
        echo_json([{"item": r.item, "score": round(r.score, 6), "text": texts.get(r.item, "")}
                   for r in results])
        return
    for n, r in enumerate(results, start=1):
        text = texts.get(r.item, "")
        click.echo(f"{n}\t{r.item}\t{r.score:.4f}" + (f"\t{text}" if text else ""))


@recommend.command("fit")
@click.argument("ratings", type=click.Path(exists=True, dir_okay=False))
@click.option("--items", type=click.Path(exists=True, dir_okay=False),
              help="Item descriptions (MovieLens u.item, CSV with an id column, JSON lines).")
@click.option("--users", type=click.Path(exists=True, dir_okay=False),
              help="The known users (MovieLens u.user or a CSV with an id column).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder to save the model to.")
@click.option("--cf", type=click.Choice(["als", "bpr", "none"]), default="als", show_default=True,
              help="Collaborative model (none: content and popularity only).")
@click.option("--encoder", default="multilingual-e5-small", show_default=True,
              help="Encoder for item texts (a model name or folder).")
@click.option("--no-content", is_flag=True, help="No content vectors (collaborative only).")
@click.option("--field-features/--no-field-features", default=True, show_default=True,
              help="Categorical item fields (genres, decade, ...) help place never-rated items.")
@click.option("--factors", default=32, show_default=True, type=int)
@click.option("--regularization", type=float, default=None,
              help="L2 penalty (default 30 for ALS, 0.01 for BPR).")
@click.option("--alpha", default=1.0, show_default=True, type=float,
              help="ALS confidence: 1 + alpha * rating.")
@click.option("--iterations", type=int, default=None, help="Default 15 (ALS) or 300 (BPR).")
@click.option("--duplicates", type=click.Choice(["error", "last", "first", "sum", "mean", "max"]),
              default="error", show_default=True, help="What to do with a repeated (user, item).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--threads", default=0, show_default=True, type=int, help="0: all cores.")
@click.option("--progress/--no-progress", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def recommend_fit(ratings, items, users, output, cf, encoder, no_content, field_features, factors,
                  regularization, alpha, iterations, duplicates, seed, threads, progress, as_json):
    """Fit a recommender on RATINGS and save it to a folder."""
    from ..apps.recommend import Recommender

    if not no_content and items is None and cf != "none":
        no_content = True  # nothing to embed without item texts
    if cf == "none" and (no_content or items is None):
        raise InvalidInput("--cf none needs --items (and content): there would be nothing to learn")
    rec = Recommender(cf=None if cf == "none" else cf, encoder=None if no_content else encoder,
                      field_features=field_features, factors=factors,
                      regularization=regularization, alpha=alpha, iterations=iterations,
                      duplicates=duplicates, seed=seed, num_threads=threads, progress=progress)
    rec.fit(ratings, items=items, users=users)
    rec.save(output)
    summary = {"output": output, "users": len(rec.user_ids_), "items": len(rec.item_ids_),
               "interactions": int(rec.interactions_.nnz), "cold_items": int(rec.cold_items_.sum()),
               "cf": rec.cf, "content": rec.item_vectors_ is not None, "weights": rec.weights_,
               "seconds": rec.fit_time_}
    if as_json:
        echo_json(summary)
        return
    click.echo(f"fitted on {summary['interactions']} interactions ({summary['users']} users, "
               f"{summary['items']} items, {summary['cold_items']} never rated) in "
               f"{rec.fit_time_:.1f}s; saved to {output}")
    for bucket, w in rec.weights_.items():
        mix = ", ".join(f"{k} {v:.2f}" for k, v in w.items())
        click.echo(f"  weights for {bucket:>10}: {mix}")


@recommend.command("user")
@click.argument("user_id")
@click.option("--model", "-m", required=True, type=click.Path(), help="Saved recommender folder.")
@click.option("-k", "--top", "k", default=10, show_default=True, type=int)
@click.option("--method", type=click.Choice(["hybrid", "cf", "content", "popularity"]),
              default="hybrid", show_default=True)
@click.option("--include-seen", is_flag=True, help="Also rank the items the user has rated.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def recommend_user(user_id, model, k, method, include_seen, as_json):
    """Print the top items for the known user USER_ID."""
    rec = _load(model)
    _print(rec, rec.recommend(user_id, k=k, exclude_seen=not include_seen, method=method), as_json)


@recommend.command("similar")
@click.argument("item_id")
@click.option("--model", "-m", required=True, type=click.Path(), help="Saved recommender folder.")
@click.option("-k", "--top", "k", default=10, show_default=True, type=int)
@click.option("--space", type=click.Choice(["auto", "factors", "content"]), default="auto",
              show_default=True, help="Collaborative item factors or content vectors.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def recommend_similar(item_id, model, k, space, as_json):
    """Print the items most similar to ITEM_ID."""
    rec = _load(model)
    _print(rec, rec.similar_items(item_id, k=k, space=space), as_json)


@recommend.command("new")
@click.option("--model", "-m", required=True, type=click.Path(), help="Saved recommender folder.")
@click.option("--like", "liked", multiple=True, help="An item the new user likes; repeatable.")
@click.option("--text", default=None, help="What they are looking for, in words.")
@click.option("-k", "--top", "k", default=10, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def recommend_new(model, liked, text, k, as_json):
    """Recommend for someone not in the data, from items they like and/or a text."""
    rec = _load(model)
    _print(rec, rec.recommend_for_new_user(liked_items=list(liked), text=text, k=k), as_json)
