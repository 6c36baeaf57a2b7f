"""Index files into a store: txt, md, jsonl, csv/tsv, folders recursively, incrementally.

Each file is one *source*. Long texts are split into overlapping chunks of tokens (the encoder's
``chunk``), stored with their character offsets. Re-indexing skips unchanged files (same size and
mtime, or same SHA-256), replaces changed ones and removes files that were deleted under the
indexed folders. A file's items and its state are written in one transaction, so a run killed at
any point leaves every finished file in the store and no file half indexed. A file that cannot be
read (binary, not UTF-8, empty, malformed) is reported and skipped; it never stops the run.

Images and audio: with an image encoder (``encoder.modality == "image"``: CLIP, ResNet, ConvNeXt,
...) the image files (jpg, png, gif, bmp, webp, tiff) are indexed, one item per file; with an audio
encoder, the audio files (wav, flac, ogg, mp3). The stored text of a media item is its file name
(so keyword search matches names) and its metadata holds ``type``, the size or duration and
``source``. Files of the other kinds are skipped with the reason; corrupt, truncated, empty and
oversized media files are reported and skipped like unreadable text files.

The run is a pipeline whose steps read top to bottom and do not reach back into each other:

1. :func:`discover` -- the files under the given paths that the encoder's modality can read;
2. :func:`changed` -- of those, the ones whose content differs from what the store recorded;
3. :func:`to_items` -- a changed file's bytes as the items to store (documents, chunked; or one
   decoded image / clip), via :mod:`.documents`;
4. :func:`embed` -- vectors for a batch of items (several files at once);
5. :func:`commit` -- each file's items and state in one transaction;
6. :func:`remove_missing` -- sources deleted from disk under the indexed folders.

:func:`index_paths` runs them; the service and the batch (Ray) path reuse the same steps.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..encoder import encode_as, progress_bar
from ..errors import EmbedkitError, InvalidInput
from ..store.results import SourceState
from .documents import (
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    ROW_SUFFIXES,
    TEXT_SUFFIXES,
    SkipFile,
    chunk_text,
    media_kind,
    read_documents,
    read_media,
    suffixes_for,
)

__all__ = ["index_paths", "IndexReport", "FileItems", "discover", "changed", "to_items", "embed",
           "commit", "remove_missing", "read_documents", "TEXT_SUFFIXES", "ROW_SUFFIXES",
           "IMAGE_SUFFIXES", "AUDIO_SUFFIXES"]

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024 * 1024
#: Decoded media items held before they are encoded and written (bounds memory).
MEDIA_BATCH = 16


@dataclass
class IndexReport:
    """What an indexing run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    items: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "removed": self.removed, "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
                "warnings": self.warnings, "items": self.items, "seconds": round(self.seconds, 3)}


@dataclass
class FileItems:
    """One changed file ready to store: its new state and its items (``inputs`` are what is embedded)."""

    state: SourceState
    existed: bool
    texts: list[str]
    ids: list[str]
    metadata: list[dict]
    inputs: list  # the texts, or the decoded image / waveform of a media file
    vectors: np.ndarray | None = None


@dataclass(frozen=True)
class ChangedFile:
    """A file whose content differs from what the store recorded (or that it never saw)."""

    path: Path
    data: bytes
    state: SourceState
    existed: bool


# ----------------------------------------------------------------------------------- 1. discover
def discover(roots: Iterable[Path], suffixes: tuple[str, ...], report: IndexReport) -> list[Path]:
    """The files to look at: given files as they are, folders walked (hidden entries skipped)."""
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    p = Path(dirpath) / name
                    if not name.startswith(".") and p.suffix.lower() in suffixes:
                        found.append(p)
        else:
            report.skipped.append((str(root), "no such file or folder"))
    return list(dict.fromkeys(found))


# ------------------------------------------------------------------------------------ 2. changed
def changed(store, files: Iterable[Path], report: IndexReport, bar=None) -> Iterator[ChangedFile]:
    """The files whose content the store does not have; unchanged ones go to the report.

    A file with the recorded size and mtime is unchanged without being read; one with the recorded
    SHA-256 is unchanged too (its new size/mtime are recorded).
    """
    for path in files:
        source = str(path)
        if bar is not None:
            bar.update(1)
        try:
            st = path.stat()
            old = store.source_state(source)
            if old and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
                report.unchanged.append(source)
                continue
            if st.st_size > MAX_FILE_BYTES:
                raise SkipFile(f"file is larger than {MAX_FILE_BYTES >> 20} MiB")
            data = path.read_bytes()
        except SkipFile as exc:
            _skip(report, source, str(exc))
            continue
        except OSError as exc:
            _skip(report, source, f"cannot read: {exc.strerror or exc}")
            continue
        state = SourceState(source, st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest(), 0)
        if old and old.sha256 == state.sha256:
            store.touch_source(state)
            report.unchanged.append(source)
            continue
        yield ChangedFile(path, data, state, old is not None)


# ----------------------------------------------------------------------------------- 3. to_items
def to_items(file: ChangedFile, encoder, *, chunk_tokens: int, overlap: int,
             text_field: str | None, warnings: list[str], modality: str | None = None) -> FileItems:
    """The items of one changed file; raises :class:`SkipFile` when it cannot be indexed.

    ``encoder`` is the encoder, or a function that returns it: it is called only once the file
    has been read, so a file that cannot be read costs no model load.
    """
    source, path = file.state.source, file.path
    get = encoder if callable(encoder) and not hasattr(encoder, "encode") else (lambda: encoder)
    modality = modality or getattr(get(), "modality", "text")
    if modality in ("image", "audio") or media_kind(path):
        if modality not in ("image", "audio"):
            kind = media_kind(path)
            raise SkipFile(f"{kind} file; index it into a store with an {kind} model (e.g. --model "
                           "a CLIP folder for images, --model mfcc for audio)")
        item, meta = read_media(get(), path, file.data)
        meta["source"] = source
        return FileItems(file.state, file.existed, [path.name], [source], [meta], [item])
    texts, ids, metas = [], [], []
    docs = read_documents(path, file.data, text_field=text_field, warnings=warnings)
    encoder = get()
    for doc in docs:
        pieces = [c for c in chunk_text(encoder, doc.text, chunk_tokens, overlap) if c[2].strip()]
        base = f"{source}#{doc.key}" if doc.key is not None else source
        for i, (a, b, piece) in enumerate(pieces):
            ids.append(f"{base}#{i}" if doc.key is None else (base if len(pieces) == 1 else f"{base}.{i}"))
            texts.append(piece)
            meta = {k: v for k, v in doc.fields.items() if k not in ("source", "start", "end")}
            meta.update({"source": source, "start": a, "end": b, "chunk": i, "n_chunks": len(pieces)})
            if doc.key is not None:
                meta["row"] = doc.key
            metas.append(meta)
    if len(set(ids)) != len(ids):
        raise SkipFile("duplicate row ids")
    return FileItems(file.state, file.existed, texts, ids, metas, list(texts))


# -------------------------------------------------------------------------------------- 4. embed
def embed(encoder, batch: list[FileItems], report: IndexReport) -> list[FileItems]:
    """Set the vectors of every file in ``batch`` with one ``encode`` call; return those embedded.

    Media batches fall back to one item at a time when the model fails on one, and that file is
    skipped, not the batch.
    """
    inputs = [x for f in batch for x in f.inputs]
    if not inputs:
        return batch
    try:
        vectors = encode_as(encoder, inputs, "document", progress=False)
    except EmbedkitError:
        if getattr(encoder, "modality", "text") not in ("image", "audio"):
            raise
        kept = []
        for f in batch:
            try:
                f.vectors = encode_as(encoder, f.inputs, "document", progress=False)
                kept.append(f)
            except EmbedkitError as exc:
                _skip(report, f.state.source, str(exc))
        return kept
    offset = 0
    for f in batch:
        f.vectors = vectors[offset:offset + len(f.inputs)] if f.inputs else None
        offset += len(f.inputs)
    return batch


# ------------------------------------------------------------------------------------- 5. commit
def commit(store, files: list[FileItems], report: IndexReport, on_file=None) -> None:
    """Write each file's items and state in its own transaction."""
    for f in files:
        store.replace_source(f.state, f.texts, ids=f.ids, metadata=f.metadata, vectors=f.vectors)
        status = "updated" if f.existed else "added"
        (report.updated if f.existed else report.added).append(f.state.source)
        report.items += len(f.texts)
        if on_file:
            on_file(f.state.source, status)


# ----------------------------------------------------------------------------- 6. remove_missing
def remove_missing(store, seen: set[str], roots: Sequence[Path], report: IndexReport) -> None:
    """Remove the sources under ``roots`` that were not seen and no longer exist on disk."""
    for source in store.sources():
        if source not in seen and _under(source, roots) and not Path(source).exists():
            store.remove_source(source)
            report.removed.append(source)


def _under(source: str, roots: Sequence[Path]) -> bool:
    for root in roots:
        r = str(root)
        if source == r or source.startswith(r.rstrip(os.sep) + os.sep):
            return True
    return False


def _skip(report: IndexReport, source: str, reason: str, on_file=None) -> None:
    report.skipped.append((source, reason))
    log.info("skipped %s: %s", source, reason)  # reported in the IndexReport
    if on_file:
        on_file(source, f"skipped: {reason}")


# ---------------------------------------------------------------------------------- the pipeline
def index_paths(store, paths: Sequence[str | os.PathLike], *, chunk_tokens: int = 128,
                overlap: int = 16, text_field: str | None = None, batch_chunks: int = 256,
                progress: bool | None = None, on_file=None) -> IndexReport:
    """Index files and folders into ``store`` (which must have an encoder); see the module docs.

    Args:
        store: the target store, opened with an encoder (or with the model it recorded).
        paths: files and folders (folders are walked recursively; hidden entries are skipped).
        chunk_tokens: tokens per chunk; longer texts are split with ``overlap`` tokens shared.
        text_field: the text column/field of jsonl/csv/tsv files (default: text, content, ...).
        batch_chunks: chunks encoded together (across files) before they are written.
        on_file: optional callback ``(path, status)`` after each file, for progress reporting.
    """
    # The model is loaded only when a file has changed: an unchanged folder is checked without it.
    modality = store.modality
    if modality is None:
        if store.encoder is None:
            raise InvalidInput("indexing needs a store opened with an encoder")
        modality = getattr(store.encoder, "modality", "text")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise InvalidInput("give at least one file or folder to index")
    if chunk_tokens < 8 or not 0 <= overlap < chunk_tokens:
        raise InvalidInput(f"chunk_tokens must be >= 8 and 0 <= overlap < chunk_tokens; got "
                           f"{chunk_tokens} and {overlap}")
    started = time.perf_counter()
    report = IndexReport()
    roots = [Path(p).expanduser().resolve() for p in paths]
    files = discover(roots, suffixes_for(modality), report)
    if not files and not report.skipped and not store.sources():
        name = store.model or getattr(store.encoder, "name", "?")
        raise InvalidInput(
            f"found no files to index under {', '.join(map(str, roots))}: the store's model "
            f"{name!r} embeds {modality}, from {', '.join(suffixes_for(modality))} files")
    limit = MEDIA_BATCH if modality in ("image", "audio") else batch_chunks

    def encoder():
        """The store's encoder, loaded (from the recorded spec) the first time a file needs it."""
        if store.encoder is None:
            raise InvalidInput("indexing needs a store opened with an encoder")
        return store.encoder
    batch: list[FileItems] = []

    def flush() -> None:
        if batch:
            commit(store, embed(store.encoder, batch, report), report, on_file)
        batch.clear()

    with progress_bar(len(files), "index", progress) as bar:
        for file in changed(store, files, report, bar):
            try:
                batch.append(to_items(file, encoder, chunk_tokens=chunk_tokens, overlap=overlap,
                                      text_field=text_field, warnings=report.warnings,
                                      modality=modality))
            except SkipFile as exc:
                _skip(report, file.state.source, str(exc), on_file)
                continue
            if sum(len(f.inputs) for f in batch) >= limit:
                flush()
        flush()
    remove_missing(store, {str(p) for p in files}, roots, report)
    store.build_index()
    report.seconds = time.perf_counter() - started
    return report
