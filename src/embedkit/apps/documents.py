"""Reading files into documents: text files, JSON lines, CSV / TSV rows, images and audio; chunking.

These are the reading steps of the indexing pipeline (:mod:`.indexing`); each takes a file's bytes
and returns what is embedded, or raises :class:`SkipFile` with the reason. They know nothing of
stores.

CSV / TSV values are text as read, except that a column whose every non-empty value is a number
(``12``, ``-3``, ``4.5``, ``1e3``; not ``007`` or ``+1``, which keep their text) becomes numbers, and
a column whose every non-empty value is ``true`` or ``false`` (any case) becomes booleans; empty
cells of such a column become null. So ``--where stars:=5`` matches a CSV ``stars`` column as it
matches a JSON lines number. The id and text columns stay text.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import EmbedkitError

__all__ = ["Document", "SkipFile", "read_documents", "read_media", "chunk_text", "type_columns",
           "media_kind", "suffixes_for", "TEXT_SUFFIXES", "ROW_SUFFIXES", "IMAGE_SUFFIXES",
           "AUDIO_SUFFIXES"]

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
ROW_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv")
TEXT_COLUMNS = ("text", "content", "body", "document", "sentence", "review", "passage")
ID_COLUMNS = ("id", "doc_id", "_id")
# Kept in step with embedkit.vision.io / embedkit.audio.io (not imported: they need Pillow/librosa).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")
_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?|-?(0|[1-9][0-9]*)?\.[0-9]+")


class SkipFile(Exception):
    """This file cannot be indexed; the message says why."""


@dataclass(frozen=True)
class Document:
    """One text from a file: the whole of a txt/md file, or one row of a jsonl/csv file."""

    key: str | None  # the row's id (None for a whole file)
    text: str
    fields: dict


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
        return type_columns(docs)
    raise SkipFile(f"unsupported file type {suffix or '(none)'}; supported: "
                   f"{', '.join(TEXT_SUFFIXES + ROW_SUFFIXES)}")


def chunk_text(encoder, text: str, max_tokens: int, overlap: int) -> list[tuple[int, int, str]]:
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


def suffixes_for(modality: str) -> tuple[str, ...]:
    if modality == "image":
        return IMAGE_SUFFIXES
    if modality == "audio":
        return AUDIO_SUFFIXES
    return TEXT_SUFFIXES + ROW_SUFFIXES


def media_kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "audio" if suffix in AUDIO_SUFFIXES else None


def read_media(encoder, path: Path, data: bytes) -> tuple[object, dict]:
    """Decode an image or audio file for ``encoder``; raise :class:`SkipFile` when it cannot be used."""
    kind = media_kind(path)
    modality = getattr(encoder, "modality", "text")
    if kind is None or kind != modality:
        what = f"{kind} file" if kind else f"{path.suffix or 'extensionless'} file"
        raise SkipFile(f"{what}, but the store's model {encoder.name!r} embeds {modality}; supported "
                       f"here: {', '.join(suffixes_for(modality))}")
    try:
        if kind == "image":
            from ..vision.io import load_image

            img = load_image(data, max_pixels=getattr(encoder, "max_pixels", None))
            return img, {"type": "image", "width": img.size[0], "height": img.size[1]}
        from ..audio.io import is_silent, load_audio, pad_to

        sr = int(getattr(encoder, "sample_rate", 16000))
        y = load_audio(data, sample_rate=sr, min_seconds=0)
        meta = {"type": "audio", "seconds": round(len(y) / sr, 3)}  # as recorded, before padding
        y = pad_to(y, int(round(float(getattr(encoder, "min_seconds", 0.1)) * sr)))
        if is_silent(y):
            meta["silent"] = True
        return (y, sr), meta
    except EmbedkitError as exc:
        message = str(exc).removeprefix("<image bytes>: ").removeprefix("<audio bytes>: ")
        raise SkipFile(message) from exc


def _column_type(values: list[str]) -> str:
    """'int', 'float', 'bool' or 'str': the type every non-empty value of a column parses as."""
    filled = [v.strip() for v in values if v is not None and v.strip()]
    if not filled:
        return "str"
    if all(_INT.fullmatch(v) for v in filled):
        return "int"
    if all(_FLOAT.fullmatch(v) for v in filled) and all(math.isfinite(float(v)) for v in filled):
        return "float"
    if all(v.lower() in ("true", "false") for v in filled):
        return "bool"
    return "str"


def _convert(value, kind: str):
    if value is None or not str(value).strip():
        return None
    value = value.strip()
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return value.lower() == "true"


def type_columns(docs: list[Document]) -> list[Document]:
    """Give CSV / TSV columns their types: numbers and booleans where every value parses (see above)."""
    columns = dict.fromkeys(k for d in docs for k in d.fields)
    kinds = {c: _column_type([d.fields.get(c) for d in docs]) for c in columns}
    typed = {c: k for c, k in kinds.items() if k != "str" and c.lower() not in ID_COLUMNS}
    if not typed:
        return docs
    return [replace(d, fields={k: (_convert(v, typed[k]) if k in typed else v)
                               for k, v in d.fields.items()}) for d in docs]
