"""Batch embedding on Ray Data: read files, embed them over a pool of encoder actors, write Parquet.

>>> report = embed_dataset(["docs.jsonl"], "vectors.parquet", num_actors=2)   # doctest: +SKIP

Each actor loads the model once (ONNX int8 by default) and embeds the batches Ray Data gives it
(``map_batches`` over an actor pool). The result is written as one Parquet file with the columns
``id``, ``text``, ``vector`` (fixed-size float32 lists) and ``metadata`` (JSON text of the other
columns), the model's name in the file's schema metadata; or added to a store
(``store="docs.db"`` or ``"milvus://host:19530/docs"``). Rows keep the input order, so ids
without an ``id_field`` are the row numbers 0, 1, 2, ... as ``embedkit embed`` writes them.

Without ``address`` a local Ray runtime is started (and stopped) for the call, unless one is
already running in this process; ``address="HOST:6379"`` (or ``"ray://HOST:10001"``, ``"auto"``)
joins a cluster, which must have embedkit and the model available on every node.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import BackendUnavailable, EmbedkitError, InvalidInput, require

__all__ = ["embed_dataset", "read_dataset", "check_address", "SUFFIXES"]

log = logging.getLogger(__name__)

SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "text",
            ".md": "text"}


def check_address(address: str, timeout: float = 3.0) -> None:
    """Fail within ``timeout`` seconds when nothing listens at a Ray address (ray.init would retry)."""
    if address in ("auto", "local"):
        return
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InvalidInput(f"a Ray address is HOST:PORT (e.g. 10.0.0.5:6379), ray://HOST:10001 or 'auto'; "
                           f"got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise BackendUnavailable(f"cannot reach a Ray cluster at {address} within {timeout:g} s ({exc}); "
                                 "check the address and that the cluster is running") from exc


def _files(inputs) -> list[Path]:
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
        elif p.is_file():
            if p.suffix.lower() not in SUFFIXES:
                raise InvalidInput(f"{p}: unsupported input; Ray embedding reads "
                                   f"{', '.join(sorted(SUFFIXES))} files")
            files.append(p)
        else:
            raise InvalidInput(f"no such file or folder: {p}")
    if not files:
        raise InvalidInput(f"no input files in {', '.join(map(str, inputs))}")
    return files


def read_dataset(inputs, *, text_field: str | None = None, id_field: str | None = None):
    """A Ray Dataset of ``text``, ``id`` (the ``id_field``'s, else "") and ``metadata`` (JSON of the
    other columns) from jsonl / csv / parquet / text files, in input order."""
    ray_data = require("ray.data", "scale", "Ray batch embedding")
    parts = []
    for kind in ("json", "csv", "parquet", "text"):
        paths = [str(f) for f in _files(inputs) if SUFFIXES[f.suffix.lower()] == kind]
        if not paths:
            continue
        # Reading takes no CPU reservation: the encoder actors may hold every CPU of a small
        # machine, and reads that wait for a CPU would then never feed them.
        light = {"num_cpus": 0}
        if kind == "text":
            ds = ray_data.read_text(paths, drop_empty_lines=True, **light)
        elif kind == "json":
            ds = ray_data.read_json(paths, lines=True, **light)
        else:
            ds = getattr(ray_data, f"read_{kind}")(paths, **light)
        columns = ["text"] if kind == "text" else _columns(paths, kind)
        field = "text" if kind == "text" else (text_field or "text")
        if field not in columns:
            raise InvalidInput(f"{', '.join(paths)}: no {field!r} column (columns: {', '.join(columns)}); "
                               "name the text column with text_field= / --text-field")
        if id_field is not None and id_field not in columns:
            raise InvalidInput(f"{', '.join(paths)}: no id column {id_field!r} (columns: {', '.join(columns)})")
        parts.append(ds.map_batches(_Normalise(field, id_field), batch_format="numpy", num_cpus=0,
                                    batch_size=4096))
    return parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])


def _columns(paths: list[str], kind: str) -> list[str]:
    """The columns of the first file (read from its header, without running a Ray job)."""
    first = paths[0]
    if kind == "parquet":
        pq = require("pyarrow.parquet", "parquet", "reading Parquet")
        return list(pq.read_schema(first).names)
    with open(first, encoding="utf-8-sig") as fh:
        line = next((ln for ln in fh if ln.strip()), "")
    if kind == "csv":
        import csv

        return next(csv.reader([line]), [])
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise InvalidInput(f"{first}: the first line is not JSON ({exc})") from exc
    if not isinstance(row, dict):
        raise InvalidInput(f"{first}: each line must be a JSON object")
    return list(row)


class _Normalise:
    """One schema for every input kind: text, id, metadata (JSON of the other columns)."""

    def __init__(self, field: str, id_field: str | None):
        self.field, self.id_field = field, id_field

    def __call__(self, batch: dict) -> dict:
        texts = batch[self.field]
        n = len(texts)
        extra = [c for c in batch if c not in (self.field, self.id_field)]
        ids = batch[self.id_field] if self.id_field else [""] * n
        return {
            "text": np.array([str(t) for t in texts], dtype=object),
            "id": np.array([str(_plain(i)) for i in ids], dtype=object),
            "metadata": np.array([json.dumps({c: _plain(batch[c][i]) for c in extra}, ensure_ascii=False)
                                  for i in range(n)], dtype=object),
        }


class _EmbedActor:
    """One encoder per actor, loaded once; embeds a batch (a dict of NumPy columns)."""

    def __init__(self, model, backend: str, options: dict, role: str | None, normalize: bool,
                 batch_size: int):
        if isinstance(model, (str, Path)) or model is None:
            from ..models import load

            self.encoder = load(model, backend=backend, **options)
        else:
            self.encoder = model  # an Encoder object, shipped to the actor by Ray
        self.role, self.normalize, self.batch_size = role, normalize, batch_size

    def __call__(self, batch: dict) -> dict:
        from ..encoder import encode_as

        texts = [str(t) for t in batch["text"]]
        options = {"batch_size": self.batch_size, "normalize": self.normalize, "progress": False}
        if self.role:
            vectors = encode_as(self.encoder, texts, self.role, **options)
        else:
            vectors = self.encoder.encode(texts, **options)
        batch["vector"] = np.asarray(vectors, dtype=np.float32)
        return batch


def embed_dataset(inputs, output=None, *, store=None, model=None, backend: str = "onnx",
                  quantize: str | None = "int8", text_field: str | None = None,
                  id_field: str | None = None, num_actors: int = 1, batch_size: int = 256,
                  threads_per_actor: int = 1, address: str | None = None, role: str | None = None,
                  normalize: bool = True, progress: bool | None = None) -> dict:
    """Embed files with Ray Data over ``num_actors`` encoder actors; write Parquet and/or add to a store.

    Args:
        inputs: files or folders: ``.jsonl`` / ``.csv`` / ``.parquet`` (a ``text`` column, or
            ``text_field``) and ``.txt`` / ``.md`` (one text per line).
        output: the Parquet file to write (id, text, vector, metadata).
        store: a store to add the items to (a path or a ``milvus://`` / ``milvus-lite://`` URL).
        model: a model spec (default: the default model), or an Encoder object.
        backend, quantize: how each actor loads the model (default ONNX int8).
        id_field: the column holding ids (default: row numbers).
        num_actors: encoder actors (each loads the model once).
        batch_size: texts per Ray batch (and per encoder call).
        threads_per_actor: CPUs each actor reserves and ONNX Runtime threads it uses.
        address: a Ray cluster to join (default: a local Ray runtime).
        role: "query" / "document" to embed with the model's prompt for that role.

    Returns:
        A report: rows, dim, model, seconds, rows_per_s, num_actors, output, store.
    """
    if output is None and store is None:
        raise InvalidInput("embed_dataset() needs output= (a .parquet file), store=, or both")
    if output is not None and Path(output).suffix.lower() != ".parquet":
        raise InvalidInput(f"Ray embedding writes Parquet: give an output ending in .parquet, got {output}")
    for name, value in (("num_actors", num_actors), ("batch_size", batch_size),
                        ("threads_per_actor", threads_per_actor)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidInput(f"{name} must be a positive integer, got {value!r}")
    if backend not in ("torch", "onnx"):
        raise InvalidInput(f"backend must be 'torch' or 'onnx', got {backend!r}")
    files = _files(inputs)
    ray = require("ray", "scale", "Ray batch embedding")
    if address is not None:
        check_address(address)
    started = False
    if not ray.is_initialized():
        try:
            if address is None:
                # Workers import embedkit from where this process did (a checkout, not only site-packages).
                here = str(Path(__file__).resolve().parents[2])
                path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
                ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                         runtime_env={"env_vars": {"PYTHONPATH": path}})
            else:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, TimeoutError) as exc:
            raise BackendUnavailable(f"cannot start or join Ray at {address or 'local'}: {exc}") from exc
        started = True
    try:
        return _run(ray, files, output, store, model, backend, quantize, text_field, id_field, num_actors,
                    batch_size, threads_per_actor, role, normalize, progress)
    finally:
        if started:
            ray.shutdown()


def _options(model, backend, quantize, threads):
    options: dict = {}
    if isinstance(model, (str, Path)) or model is None:
        if backend == "onnx":
            options["threads"] = threads
            if quantize:
                options["quantize"] = quantize
        elif quantize not in (None, "int8"):
            raise InvalidInput("quantize= needs backend='onnx'")
    return options


def _run(ray, files, output, store, model, backend, quantize, text_field, id_field, num_actors,
         batch_size, threads, role, normalize, progress):
    from ..progress import progress as progress_bar

    ray_data = require("ray.data", "scale", "Ray batch embedding")
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # one line per run, not per stage
    ctx = ray_data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # ids by row number stay the input order
    ctx.enable_progress_bars = bool(progress)
    if backend == "torch" and quantize == "int8":
        quantize = None  # int8 is the ONNX default; torch models run as they are
    options = _options(model, backend, quantize, threads)
    if isinstance(model, (str, Path)) or model is None:
        from ..models import load

        probe = load(model, backend=backend, **options)  # fails here, not in an actor, on a bad spec
    else:
        probe = model
    name, dim = probe.name, probe.dim
    ds = read_dataset(files, text_field=text_field, id_field=id_field)
    t0 = time.perf_counter()
    embedded = ds.map_batches(
        _EmbedActor, batch_size=batch_size, batch_format="numpy",
        compute=ray_data.ActorPoolStrategy(size=num_actors), num_cpus=threads,
        max_restarts=2,  # an actor that cannot start fails the run instead of being retried forever
        fn_constructor_kwargs={"model": model, "backend": backend, "options": options, "role": role,
                               "normalize": normalize, "batch_size": min(batch_size, 64)})
    writer = _ParquetOut(output, name, dim) if output is not None else None
    target = None
    if store is not None:
        from ..store.sqlite import VectorStore

        target = VectorStore(str(store), dim=dim) if not hasattr(store, "add") else store
        target.encoder = probe  # checked against the store's record; recorded with the first vectors
    n, done = 0, False
    bar = progress_bar(None, desc="embedding (ray)", unit="texts", enabled=progress)
    try:
        for batch in embedded.iter_batches(batch_size=batch_size, batch_format="numpy"):
            texts = [str(t) for t in batch["text"]]
            vectors = np.asarray(batch["vector"], dtype=np.float32).reshape(len(texts), -1)
            ids = ([str(i) for i in batch["id"]] if id_field else [str(n + i) for i in range(len(texts))])
            metadata = [json.loads(m) for m in batch["metadata"]]
            if writer is not None:
                writer.write(ids, texts, vectors, metadata, numeric_ids=id_field is None)
            if target is not None:
                target.add(texts, ids=ids, metadata=metadata, vectors=vectors)
            n += len(texts)
            bar.update(len(texts))
        done = True
    except EmbedkitError:
        raise
    except Exception as exc:  # a failure inside an actor comes back as a Ray error
        cause = getattr(exc, "cause", None)
        if isinstance(cause, EmbedkitError):
            raise cause from exc
        raise
    finally:
        bar.close()
        if writer is not None:
            writer.close(keep=done)
        if target is not None and not hasattr(store, "add"):
            target.close()
    seconds = time.perf_counter() - t0
    return {"rows": n, "dim": dim, "model": name, "seconds": round(seconds, 3),
            "rows_per_s": round(n / seconds, 1) if seconds else None, "num_actors": num_actors,
            "threads_per_actor": threads, "batch_size": batch_size,
            "output": str(output) if output is not None else None,
            "store": str(getattr(store, "path", store)) if store is not None else None}


def _plain(value):
    """A NumPy scalar or array from a batch as plain JSON data."""
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None  # missing values in csv/parquet columns
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (bytes, str)):
        return [_plain(v) for v in value]
    return str(value)


class _ParquetOut:
    """One Parquet file written a batch at a time: id, text, vector, metadata (JSON)."""

    def __init__(self, path, model: str, dim: int):
        self.pa = require("pyarrow", "parquet", "writing Parquet")
        self.pq = require("pyarrow.parquet", "parquet", "writing Parquet")
        self.path, self.model, self.dim = Path(path), model, dim
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.name + ".part")
        self.writer = None

    def write(self, ids, texts, vectors, metadata, *, numeric_ids: bool) -> None:
        pa = self.pa
        table = pa.table({
            "id": pa.array([int(i) for i in ids], type=pa.int64()) if numeric_ids else pa.array(ids),
            "text": pa.array(texts, type=pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), type=pa.float32()),
                                                        self.dim),
            "metadata": pa.array([json.dumps(m, ensure_ascii=False) for m in metadata], type=pa.string()),
        })
        table = table.replace_schema_metadata({"model": self.model})
        if self.writer is None:
            self.writer = self.pq.ParquetWriter(self.tmp, table.schema)
        self.writer.write_table(table)

    def close(self, *, keep: bool) -> None:
        if self.writer is not None:
            self.writer.close()
        if keep and self.writer is not None:
            self.tmp.replace(self.path)  # a failed run leaves no half-written file under the name
        else:
            self.tmp.unlink(missing_ok=True)
