"""CLI commands for embedding, similarity and the vector store: embed, similarity, index, search, info."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click
import numpy as np

from ..encoder import encode_as
from ..errors import EmbedkitError, InvalidInput, StoreCorrupt, StoreNotFound
from .app import command, echo_json

STORE_HELP = ("The store: a file (SQLite), milvus://HOST:PORT/COLLECTION (a Milvus server) or "
              "milvus-lite://PATH.db (Milvus Lite).")
MODEL_HELP = ("Model: 'default' (multilingual-e5-small), 'all-MiniLM-L6-v2', a local folder, or a "
              "Hugging Face id.")


def _load(model: str | None, backend: str = "torch", int8: bool = False):
    from ..models import load

    options = {"quantize": "int8"} if int8 else {}
    if int8 and backend != "onnx":
        raise InvalidInput("--int8 needs --backend onnx")
    return load(model, backend=backend, **options)


def _is_url(path) -> bool:
    from ..store.sqlite import _MILVUS_SCHEMES

    return str(path).startswith(_MILVUS_SCHEMES)


def _drop_if_empty(path: Path) -> None:
    """Delete a store file (and its WAL, shared-memory and index files) that holds no items."""
    from ..store.sqlite import VectorStore

    if _is_url(path):
        return  # a Milvus collection is left as it is

    try:
        with VectorStore(path, create=False) as vs:
            empty = vs.count() == 0 and not vs.sources()
    except EmbedkitError:
        return
    if empty:
        for suffix in ("", "-wal", "-shm", ".ann", ".ann.json"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _open_store(path: str, *, model: str | None = None, create: bool = False):
    """Open a store. It loads the model it recorded when text must be embedded; ``model`` overrides
    that (checked against the record), and a new store gets ``model`` or the default model."""
    from ..store.sqlite import VectorStore

    if _is_url(path):
        vs = VectorStore(str(path), create=create)  # the Milvus backend
    else:
        p = Path(path)
        if not p.exists() and not create:
            raise StoreNotFound(f"no store at {p}; create one with: embedkit index FILES --store {p}")
        vs = VectorStore(p, create=create)
    try:
        if model is not None or (create and vs.model_spec is None):
            vs.encoder = _load(model)
    except BaseException:
        vs.close()
        raise
    return vs


def _snippet(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 1)] + "…"


def _short_id(item_id: str) -> str:
    """An item id as the table shows it: a file path in it relative to the working folder."""
    path, sep, rest = item_id.partition("#")
    try:
        path = str(Path(path).relative_to(Path.cwd())) if Path(path).is_absolute() else path
    except ValueError:
        pass
    return path + sep + rest


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _parse_where(pairs: tuple[str, ...]) -> dict | None:
    """FIELD=TEXT compares with a string; FIELD:=JSON with a number, true, false or null."""
    where = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or key == ":":
            raise InvalidInput(f"--where takes FIELD=TEXT or FIELD:=JSON (a number, true, false, null), "
                               f"got {pair!r}")
        if key.endswith(":"):
            key = key[:-1]
            try:
                value = json.loads(value)
            except ValueError:
                value = [value]  # not JSON: reported below
            if isinstance(value, (dict, list, str)):
                raise InvalidInput(f"--where {key}:= takes a JSON number, true, false or null, got {pair!r}; "
                                   f"use {key}=TEXT for text")
        where[key] = value
    return where or None


@command(family="Store and search")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--store", "-s", required=True, help=STORE_HELP)
@click.option("--model", "-m", default=None, help=MODEL_HELP + " Default: the store's, else 'default'.")
@click.option("--chunk-tokens", default=128, show_default=True, help="Tokens per chunk of long texts.")
@click.option("--overlap", default=16, show_default=True, help="Tokens shared by consecutive chunks.")
@click.option("--text-field", default=None, help="Text column of jsonl/csv/tsv files.")
@click.option("--batch-chunks", default=256, show_default=True,
              help="Chunks embedded together before they are written.")
@click.option("--verbose", "-v", is_flag=True, help="Print each file as it is committed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def index(paths, store, model, chunk_tokens, overlap, text_field, batch_chunks, verbose, as_json):
    """Index files and folders (txt, md, jsonl, csv, tsv) into a store, incrementally.

    With an image model (a CLIP, ResNet or ConvNeXt folder or id) image files are indexed instead
    (jpg, png, gif, bmp, webp, tiff); with an audio model (mfcc, log-mel, a Wav2Vec2 folder, a saved
    audio-simclr folder) audio files (wav, flac, ogg, mp3).
    """
    from ..apps.indexing import index_paths

    def on_file(path, status):
        click.echo(f"{status} {path}")
        sys.stdout.flush()

    if not any(Path(p).exists() for p in paths):
        raise InvalidInput(f"no such file or folder: {', '.join(map(str, paths))}")
    existed = _is_url(store) or Path(store).exists()
    try:
        with _open_store(store, model=model, create=True) as vs:
            report = index_paths(vs, paths, chunk_tokens=chunk_tokens, overlap=overlap,
                                 text_field=text_field, batch_chunks=batch_chunks,
                                 on_file=on_file if verbose else None)
            total = vs.count()
    except EmbedkitError:
        if not existed:
            _drop_if_empty(Path(store))  # a failed first run leaves no empty store behind
        raise
    if as_json:
        echo_json({**report.as_dict(), "store": str(store), "total_items": total})
    else:
        click.echo(f"indexed into {store}: {len(report.added)} added, {len(report.updated)} updated, "
                   f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
                   f"{len(report.skipped)} skipped; {_plural(report.items, 'chunk')} written, {total} in the store "
                   f"({report.seconds:.1f} s)")
        for path, reason in report.skipped:
            click.echo(f"  skipped {path}: {reason}", err=True)
        for warning in report.warnings:
            click.echo(f"  warning: {warning}", err=True)
    if report.skipped and not (report.added or report.updated or report.unchanged):
        sys.exit(1)


@command(family="Store and search")
@click.argument("query", required=False)
@click.option("--store", "-s", required=True, help=STORE_HELP)
@click.option("--image", "image", type=click.Path(path_type=Path), default=None,
              help="Query with an image file (image stores: CLIP, ResNet, ...).")
@click.option("--audio", "audio", type=click.Path(path_type=Path), default=None,
              help="Query with an audio file (audio stores).")
@click.option("--mode", type=click.Choice(["vector", "keyword", "hybrid"]), default=None,
              help="Default: hybrid for text queries, vector for --image / --audio.")
@click.option("-k", "k", default=5, show_default=True, help="How many results.")
@click.option("--where", multiple=True,
              help="Metadata filter (repeatable): FIELD=TEXT, or FIELD:=JSON for numbers and true/false "
                   "(e.g. chunk:=0, silent:=true).")
@click.option("--model", "-m", default=None, help="Override the store's model (must match it).")
@click.option("--language-neutral/--no-language-neutral", default=True, show_default=True,
              help="In a store of several languages, take each script's mean vector out so that a "
                   "query is not drawn to documents of its own language for that alone.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def search(query, store, image, audio, mode, k, where, model, language_neutral, as_json):
    """Search a store by meaning (vector), words (keyword, BM25) or both (hybrid).

    QUERY is a text; or give --image FILE / --audio FILE to search an image or audio store with a
    file. A CLIP image store also takes text queries (text-to-image search).
    """
    media = [(kind, p) for kind, p in (("image", image), ("audio", audio)) if p is not None]
    if len(media) + (query is not None) != 1:
        raise InvalidInput("give exactly one query: a text QUERY, --image FILE or --audio FILE")
    if media:
        kind, path = media[0]
        if mode not in (None, "vector"):
            raise InvalidInput(f"--{kind} queries use vector search; --mode {mode} needs a text QUERY")
        with _open_store(store, model=model) as vs:
            modality = getattr(vs.encoder, "modality", "text")
            if modality != kind:
                raise InvalidInput(f"the store {store} holds {modality} vectors (model {vs.encoder.name!r}); "
                                   f"an --{kind} query cannot be compared with them")
            if not path.is_file():
                raise InvalidInput(f"{path}: no such {kind} file")
            vector = vs.encoder.encode([path], progress=False)
            hits = vs.search(vector, k=k, mode="vector", where=_parse_where(where))
    else:
        if not query.strip():
            raise InvalidInput("the query is empty")
        mode = mode or "hybrid"
        with _open_store(store, model=model) as vs:
            enc = vs.encoder if mode != "keyword" else None  # keyword search loads no model
            if enc is not None and getattr(enc, "modality", "text") in ("image", "audio") \
                    and not getattr(enc, "accepts_text", False):
                raise InvalidInput(f"the store {store} holds {enc.modality} vectors from {enc.name!r}, "
                                   f"which cannot embed text; search it with --{enc.modality} FILE, or "
                                   "with --mode keyword to match file names")
            hits = vs.search(query, k=k, mode=mode, where=_parse_where(where),
                             language_neutral=language_neutral)
    if as_json:
        echo_json([{"id": h.id, "score": h.score, "text": h.text, "metadata": h.metadata} for h in hits])
        return
    if not hits:
        click.echo("no results")
        return
    width = shutil.get_terminal_size((120, 20)).columns
    sources = [_short_id(h.id) for h in hits]
    src_w = min(max(len(s) for s in sources), 40)
    for rank, (h, src) in enumerate(zip(hits, sources), 1):
        src = src if len(src) <= src_w else "…" + src[-(src_w - 1):]
        lead = f"{rank:>2}  {h.score:8.4f}  {src:<{src_w}}  "
        click.echo(lead + _snippet(h.text, max(width - len(lead), 30)))


@command(family="Store and search")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Write .npy, .parquet or .jsonl (default: JSON lines on stdout; --ray: .parquet).")
@click.option("--model", "-m", default=None, help=MODEL_HELP)
@click.option("--backend", type=click.Choice(["torch", "onnx"]), default=None,
              help="Inference backend. Default: torch; onnx (int8) with --ray.")
@click.option("--int8", is_flag=True, help="ONNX int8 quantised model (with --backend onnx; the --ray default).")
@click.option("--batch-size", default=None, type=click.IntRange(min=1),
              help="Texts per batch. Default: 32; 256 with --ray.")
@click.option("--no-normalize", is_flag=True, help="Do not L2-normalise the vectors.")
@click.option("--as", "role", type=click.Choice(["query", "document"]), default=None,
              help="Embed as search queries or as documents, with the model's prompt for that role "
                   "(E5: 'query: ' / 'passage: '). Default: the texts as they are.")
@click.option("--ray", "use_ray", is_flag=True,
              help="Embed with Ray Data over a pool of encoder actors; FILES may be jsonl, csv, parquet or "
                   "text files and folders.")
@click.option("--address", default=None, help="With --ray: the Ray cluster (HOST:PORT, ray://HOST:10001, "
                                               "auto). Default: a local Ray runtime.")
@click.option("--num-actors", default=1, show_default=True, type=click.IntRange(min=1),
              help="With --ray: encoder actors (each loads the model once).")
@click.option("--threads-per-actor", default=1, show_default=True, type=click.IntRange(min=1),
              help="With --ray: CPUs (ONNX threads) per actor.")
@click.option("--text-field", default=None, help="With --ray: the text column of jsonl/csv/parquet files.")
@click.option("--id-field", default=None, help="With --ray: the id column (default: row numbers).")
@click.option("--store", "-s", "store", default=None, help="With --ray: add the vectors to this store. " + STORE_HELP)
def embed(files, output, model, backend, int8, batch_size, no_normalize, role, use_ray, address, num_actors,
          threads_per_actor, text_field, id_field, store):
    """Embed texts, one per line, from FILES or standard input (with --ray: files on a Ray cluster)."""
    if use_ray:
        return _embed_ray(files, output, model, backend, int8, batch_size, no_normalize, role, address,
                          num_actors, threads_per_actor, text_field, id_field, store)
    ray_only = {"--address": address, "--text-field": text_field, "--id-field": id_field, "--store": store,
                "--num-actors": num_actors != 1 or None, "--threads-per-actor": threads_per_actor != 1 or None}
    given = [name for name, value in ray_only.items() if value]
    if given:
        raise InvalidInput(f"{', '.join(given)} need(s) --ray")
    backend = backend or "torch"
    batch_size = batch_size or 32
    texts = []
    for f in files:
        if f.is_dir():
            raise InvalidInput(f"{f} is a folder; embed reads text files (folders need --ray)")
    sources = [(str(f), f.read_bytes()) for f in files] if files else [("<stdin>", sys.stdin.buffer.read())]
    for name, data in sources:
        try:
            lines = data.decode("utf-8-sig").splitlines()
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{name} is not UTF-8 text (invalid byte at offset {exc.start})") from exc
        texts.extend(line for line in lines if line.strip())
    if not texts:
        raise InvalidInput("no text to embed: give FILES or lines on standard input")
    if output is not None and output.suffix.lower() not in (".npy", ".parquet", ".jsonl"):
        raise InvalidInput(f"unsupported output {output.name}: use .npy, .parquet or .jsonl")
    encoder = _load(model, backend, int8)
    options = {"batch_size": batch_size, "normalize": not no_normalize}
    vectors = (encode_as(encoder, texts, role, **options) if role else encoder.encode(texts, **options))
    write_vectors(output, texts, vectors, encoder.name)
    if output is not None:
        click.echo(f"wrote {len(texts)} vectors of dimension {vectors.shape[1]} to {output}", err=True)


def _embed_ray(files, output, model, backend, int8, batch_size, no_normalize, role, address, num_actors,
               threads_per_actor, text_field, id_field, store):
    from ..scale.ray_embed import embed_dataset

    if not files:
        raise InvalidInput("--ray reads FILES (jsonl, csv, parquet, txt or folders), not standard input")
    if output is None and store is None:
        raise InvalidInput("--ray needs -o OUT.parquet, --store STORE, or both")
    backend = backend or "onnx"
    if int8 and backend != "onnx":
        raise InvalidInput("--int8 needs --backend onnx")
    quantize = "int8" if backend == "onnx" else None
    report = embed_dataset(list(files), output, store=store, model=model, backend=backend, quantize=quantize,
                           text_field=text_field, id_field=id_field, num_actors=num_actors,
                           batch_size=batch_size or 256, threads_per_actor=threads_per_actor,
                           address=address, role=role, normalize=not no_normalize)
    where = " and ".join(x for x in (report["output"], report["store"]) if x)
    click.echo(f"embedded {report['rows']} texts (dimension {report['dim']}, {report['model']}) with "
               f"{num_actors} Ray actor(s) in {report['seconds']:.1f} s ({report['rows_per_s']} texts/s) "
               f"into {where}", err=True)


def write_vectors(output: Path | None, texts: list[str], vectors: np.ndarray, model: str) -> None:
    """Write vectors as .npy, Parquet (id, text, vector) or JSON lines (stdout when None)."""
    suffix = output.suffix.lower() if output is not None else ".jsonl"
    if suffix == ".npy":
        np.save(output, vectors, allow_pickle=False)
    elif suffix == ".parquet":
        from ..errors import require

        pa = require("pyarrow", "parquet", "writing Parquet")
        pq = require("pyarrow.parquet", "parquet", "writing Parquet")
        table = pa.table({"id": list(range(len(texts))), "text": texts,
                          "vector": pa.FixedSizeListArray.from_arrays(
                              pa.array(vectors.reshape(-1), type=pa.float32()), vectors.shape[1])})
        pq.write_table(table.replace_schema_metadata({"model": model}), output)
    else:
        out = open(output, "w", encoding="utf-8") if output is not None else sys.stdout
        try:
            for i, (t, v) in enumerate(zip(texts, vectors)):
                out.write(json.dumps({"id": i, "text": t, "vector": [round(float(x), 7) for x in v]},
                                     ensure_ascii=False) + "\n")
        finally:
            if output is not None:
                out.close()


@command(family="Store and search")
@click.argument("text_a")
@click.argument("text_b")
@click.option("--model", "-m", default=None, help=MODEL_HELP)
@click.option("--metric", type=click.Choice(["cosine", "dot", "euclidean"]), default="cosine",
              show_default=True)
def similarity(text_a, text_b, model, metric):
    """Similarity of two texts (cosine, dot or euclidean distance).

    A symmetric comparison: both texts are embedded as queries (with the model's query prompt).
    """
    from .. import similarity as sim

    for name, t in (("TEXT_A", text_a), ("TEXT_B", text_b)):
        if not t.strip():
            raise InvalidInput(f"{name} is empty")
    vectors = encode_as(_load(model), [text_a, text_b], "query", progress=False)
    if metric == "euclidean":
        value = float(sim.euclidean(vectors[:1], vectors[1:])[0, 0])
    else:
        value = float(sim.score(vectors[:1], vectors[1:], metric)[0, 0])
    click.echo(f"{value:.4f}")


@command(family="Store and search")
@click.option("--store", "-s", required=True, help=STORE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def info(store, as_json):
    """Describe a store: items, model, dimension, index."""
    with _open_store(store) as vs:
        data = vs.info()
        problems = vs.integrity_check()
    data["healthy"] = not problems
    if problems:
        data["problems"] = problems
    if as_json:
        echo_json(data)
    else:
        width = max(map(len, data))
        for key, value in data.items():
            click.echo(f"{key:>{width}}: {value}")
    if problems:
        raise StoreCorrupt(f"{store} is damaged: {'; '.join(problems[:5])}")


@command(family="Store and search")
@click.argument("src")
@click.argument("dst")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Items copied per batch.")
@click.option("--sample", default=100, show_default=True, type=click.IntRange(min=0),
              help="Items whose vectors, texts and metadata are compared after the copy.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def migrate(src, dst, batch_size, sample, as_json):
    """Copy a store to another backend (or file): SRC and DST are store files or Milvus URLs.

    Vectors, texts, metadata, the recorded model and the indexed files' states are copied; the copy
    is then checked (counts, and a sample of items compared). DST must be new or empty.

    \b
    Example:
      embedkit migrate docs.db milvus://milvus.internal:19530/docs
    """
    from ..apps.migrate import migrate as run

    report = run(src, dst, batch_size=batch_size, sample=sample)
    if as_json:
        echo_json(report)
    else:
        click.echo(f"copied {report['copied']} items and {report['sources']} indexed files from {src} to {dst} "
                   f"({report['seconds']:.1f} s); verified: counts equal, {report['sampled']} sampled items "
                   "identical")
