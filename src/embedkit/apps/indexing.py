"""Index files into a VectorStore: txt, md, jsonl, csv/tsv, folders recursively, incrementally.

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
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..encoder import progress_bar
from ..errors import InvalidInput
from ..store.sqlite import SourceState, VectorStore

__all__ = ["index_paths", "IndexReport", "TEXT_SUFFIXES", "ROW_SUFFIXES", "IMAGE_SUFFIXES",
           "AUDIO_SUFFIXES", "read_documents"]

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
ROW_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv")
TEXT_COLUMNS = ("text", "content", "body", "document", "sentence", "review", "passage")
ID_COLUMNS = ("id", "doc_id", "_id")
MAX_FILE_BYTES = 512 * 1024 * 1024
# Kept in step with embedkit.vision.io / embedkit.audio.io (not imported: they need Pillow/librosa).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")
#: Decoded media items held before they are encoded and written (bounds memory).
MEDIA_BATCH = 16


class SkipFile(Exception):
    """This file cannot be indexed; the message says why."""


@dataclass(frozen=True)
class Document:
    """One text from a file: the whole of a txt/md file, or one row of a jsonl/csv file."""

    key: str | None  # the row's id (None for a whole file)
    text: str
    fields: dict


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


def _decode(data: bytes, path: Path) -> str:
    if not data.strip():
        raise SkipFile("empty file")
    if b"\x00" in data[:8192]:
        raise SkipFile("binary file (contains NUL bytes), expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not UTF-8 text (invalid byte at offset {exc.start})") from exc


def _pick(columns: Sequence[str], wanted: str | None, choices: Sequence[str], what: str) -> str | None:
    if wanted:
        if wanted not in columns:
            raise SkipFile(f"no {what} column {wanted!r}; columns are {', '.join(columns)}")
        return wanted
    lower = {c.lower(): c for c in columns}
    return next((lower[c] for c in choices if c in lower), None)


def read_documents(path: Path, data: bytes, *, text_field: str | None = None,
                   warnings: list[str] | None = None) -> list[Document]:
    """Parse a file's bytes into documents; raise :class:`SkipFile` when it cannot be read."""
    text = _decode(data, path)
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return [Document(None, text, {})]
    docs: list[Document] = []
    if suffix in (".jsonl", ".ndjson"):
        bad = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                bad.append(n)
                continue
            if not isinstance(obj, dict):
                bad.append(n)
                continue
            col = _pick(list(obj), text_field, TEXT_COLUMNS, "text")
            idc = _pick(list(obj), None, ID_COLUMNS, "id")
            if col is None or not isinstance(obj.get(col), str) or not obj[col].strip():
                bad.append(n)
                continue
            key = str(obj[idc]) if idc is not None and obj.get(idc) is not None else str(n)
            docs.append(Document(key, obj[col], {k: v for k, v in obj.items() if k not in (col,)}))
        if bad and warnings is not None:
            warnings.append(f"{path}: skipped {len(bad)} line(s) that are not JSON objects with a "
                            f"text field (first: line {bad[0]})")
        if not docs:
            raise SkipFile("no JSON line has a text field" + (f" {text_field!r}" if text_field else
                                                              f" (looked for {', '.join(TEXT_COLUMNS)})"))
        return docs
    if suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        quoting = csv.QUOTE_NONE if suffix == ".tsv" else csv.QUOTE_MINIMAL
        try:
            reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, quoting=quoting)
            columns = reader.fieldnames or []
            col = _pick(columns, text_field, TEXT_COLUMNS, "text")
            if col is None:
                raise SkipFile(f"no text column (looked for {', '.join(TEXT_COLUMNS)}; columns are "
                               f"{', '.join(columns)}); pass --text-field")
            idc = _pick(columns, None, ID_COLUMNS, "id")
            for n, row in enumerate(reader, 2):
                value = row.get(col)
                if not isinstance(value, str) or not value.strip():
                    continue
                key = row[idc] if idc and row.get(idc) else str(n)
                docs.append(Document(key, value, {k: v for k, v in row.items()
                                                  if k != col and k is not None}))
        except csv.Error as exc:
            raise SkipFile(f"malformed {suffix[1:].upper()}: {exc}") from exc
        if not docs:
            raise SkipFile(f"no rows with text in column {col!r}")
        return docs
    raise SkipFile(f"unsupported file type {suffix or '(none)'}; supported: "
                   f"{', '.join(TEXT_SUFFIXES + ROW_SUFFIXES)}")


def _chunks(encoder, text: str, max_tokens: int, overlap: int) -> list[tuple[int, int, str]]:
    if hasattr(encoder, "chunk"):
        return [(c.start, c.end, c.text) for c in encoder.chunk(text, max_tokens=max_tokens,
                                                                overlap=overlap)]
    # Encoders without a tokenizer: windows of words.
    words = [m.span() for m in re.finditer(r"\S+", text)]
    if not words:
        return []
    out, step = [], max(max_tokens - overlap, 1)
    for a in range(0, len(words), step):
        b = min(a + max_tokens, len(words))
        out.append((words[a][0], words[b - 1][1], text[words[a][0]:words[b - 1][1]]))
        if b == len(words):
            break
    return out


def _suffixes(modality: str) -> tuple[str, ...]:
    if modality == "image":
        return IMAGE_SUFFIXES
    if modality == "audio":
        return AUDIO_SUFFIXES
    return TEXT_SUFFIXES + ROW_SUFFIXES


def _media_kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "audio" if suffix in AUDIO_SUFFIXES else None


def read_media(encoder, path: Path, data: bytes) -> tuple[object, dict]:
    """Decode an image or audio file for ``encoder``; raise :class:`SkipFile` when it cannot be used."""
    from ..errors import EmbedkitError

    kind = _media_kind(path)
    modality = getattr(encoder, "modality", "text")
    if kind is None or kind != modality:
        what = f"{kind} file" if kind else f"{path.suffix or 'extensionless'} file"
        raise SkipFile(f"{what}, but the store's model {encoder.name!r} embeds {modality}; supported "
                       f"here: {', '.join(_suffixes(modality))}")
    try:
        if kind == "image":
            from ..vision.io import load_image

            img = load_image(data, max_pixels=getattr(encoder, "max_pixels", None))
            return img, {"type": "image", "width": img.size[0], "height": img.size[1]}
        from ..audio.io import is_silent, load_audio

        sr = int(getattr(encoder, "sample_rate", 16000))
        y = load_audio(data, sample_rate=sr, min_seconds=float(getattr(encoder, "min_seconds", 0.1)))
        meta = {"type": "audio", "seconds": round(len(y) / sr, 3)}
        if is_silent(y):
            meta["silent"] = True
        return (y, sr), meta
    except EmbedkitError as exc:
        message = str(exc).removeprefix("<image bytes>: ").removeprefix("<audio bytes>: ")
        raise SkipFile(message) from exc


def _walk(paths: Iterable[Path], report: IndexReport, suffixes: tuple[str, ...] = TEXT_SUFFIXES + ROW_SUFFIXES
          ) -> Iterator[Path]:
    for root in paths:
        if root.is_file():
            yield root
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    p = Path(dirpath) / name
                    if not name.startswith(".") and p.suffix.lower() in suffixes:
                        yield p
        else:
            report.skipped.append((str(root), "no such file or folder"))


def _under(source: str, roots: Sequence[Path]) -> bool:
    for root in roots:
        r = str(root)
        if source == r or source.startswith(r.rstrip(os.sep) + os.sep):
            return True
    return False


def index_paths(store: VectorStore, paths: Sequence[str | os.PathLike], *, chunk_tokens: int = 128,
                overlap: int = 16, text_field: str | None = None, batch_chunks: int = 256,
                progress: bool | None = None, on_file=None) -> IndexReport:
    """Index files and folders into ``store`` (which must have an encoder); see the module docs.

    Args:
        store: the target store, opened with an encoder.
        paths: files and folders (folders are walked recursively; hidden entries are skipped).
        chunk_tokens: tokens per chunk; longer texts are split with ``overlap`` tokens shared.
        text_field: the text column/field of jsonl/csv/tsv files (default: text, content, ...).
        batch_chunks: chunks encoded together (across files) before they are written.
        on_file: optional callback ``(path, status)`` after each file, for progress reporting.
    """
    if store.encoder is None:
        raise InvalidInput("indexing needs a store opened with an encoder")
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
    modality = getattr(store.encoder, "modality", "text")
    media_store = modality in ("image", "audio")
    files = list(dict.fromkeys(_walk(roots, report, _suffixes(modality))))
    if not files and not report.skipped and not store.sources():
        raise InvalidInput(
            f"found no files to index under {', '.join(map(str, roots))}: the store's model "
            f"{store.encoder.name!r} embeds {modality}, from {', '.join(_suffixes(modality))} files")
    seen: set[str] = set()
    pending: list[tuple[SourceState, bool, list[str], list[str], list[dict]]] = []
    inputs: list = []  # what is encoded: the texts, or the decoded images / waveforms

    def encode_media() -> list:
        """Media batches: a file the model fails on (after it decoded) is skipped, not fatal."""
        from ..errors import EmbedkitError

        try:
            return list(store.encoder.encode(inputs, progress=False))
        except EmbedkitError:
            rows = []
            for (state, *_), item in zip(pending, inputs):
                try:
                    rows.append(store.encoder.encode([item], progress=False)[0])
                except EmbedkitError as exc:
                    rows.append(None)
                    report.skipped.append((state.source, str(exc)))
                    log.info("skipped %s: %s", state.source, exc)  # reported in the IndexReport
            return rows

    def flush() -> None:
        if media_store:
            rows = encode_media() if inputs else []
            keep = [i for i, row in enumerate(rows) if row is not None]
            pending[:] = [pending[i] for i in keep]
            vectors = np.stack([rows[i] for i in keep]) if keep else None
        else:
            vectors = store.encoder.encode(inputs, progress=False) if inputs else None
        inputs.clear()
        offset = 0
        for state, existed, ts, ids, metas in pending:
            vecs = vectors[offset:offset + len(ts)] if ts else None
            offset += len(ts)
            store.replace_source(state, ts, ids=ids, metadata=metas, vectors=vecs)
            (report.updated if existed else report.added).append(state.source)
            report.items += len(ts)
            if on_file:
                on_file(state.source, "updated" if existed else "added")
        pending.clear()

    with progress_bar(len(files), "index", progress) as bar:
        for path in files:
            source = str(path)
            seen.add(source)
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
                digest = hashlib.sha256(data).hexdigest()
                state = SourceState(source, st.st_size, st.st_mtime_ns, digest, 0)
                if old and old.sha256 == digest:
                    store.touch_source(state)
                    report.unchanged.append(source)
                    continue
                if media_store or _media_kind(path):
                    if not media_store:
                        raise SkipFile(f"{_media_kind(path)} file; index it into a store with an "
                                       f"{_media_kind(path)} model (e.g. --model a CLIP folder for "
                                       "images, --model mfcc for audio)")
                    item, meta = read_media(store.encoder, path, data)
                    meta["source"] = source
                    pending.append((state, old is not None, [path.name], [source], [meta]))
                    inputs.append(item)
                    if len(inputs) >= MEDIA_BATCH:
                        flush()
                    continue
                docs = read_documents(path, data, text_field=text_field, warnings=report.warnings)
            except SkipFile as exc:
                report.skipped.append((source, str(exc)))
                log.info("skipped %s: %s", source, exc)  # reported in the IndexReport
                if on_file:
                    on_file(source, f"skipped: {exc}")
                continue
            except OSError as exc:
                report.skipped.append((source, f"cannot read: {exc.strerror or exc}"))
                continue
            texts, ids, metas = [], [], []
            for doc in docs:
                pieces = [c for c in _chunks(store.encoder, doc.text, chunk_tokens, overlap) if c[2].strip()]
                for i, (a, b, piece) in enumerate(pieces):
                    base = f"{source}#{doc.key}" if doc.key is not None else source
                    ids.append(f"{base}#{i}" if doc.key is None else (base if len(pieces) == 1 else f"{base}.{i}"))
                    texts.append(piece)
                    meta = {k: v for k, v in doc.fields.items() if k not in ("source", "start", "end")}
                    meta.update({"source": source, "start": a, "end": b, "chunk": i, "n_chunks": len(pieces)})
                    if doc.key is not None:
                        meta["row"] = doc.key
                    metas.append(meta)
            if len(set(ids)) != len(ids):
                report.skipped.append((source, "duplicate row ids"))
                continue
            pending.append((state, old is not None, texts, ids, metas))
            inputs.extend(texts)
            if sum(len(p[2]) for p in pending) >= batch_chunks:
                flush()
        if pending:
            flush()
    for source in store.sources():
        if source not in seen and _under(source, roots) and not Path(source).exists():
            store.remove_source(source)
            report.removed.append(source)
    store.build_index()
    report.seconds = time.perf_counter() - started
    return report
