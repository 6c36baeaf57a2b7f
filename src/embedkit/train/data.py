"""Training data from TSV / CSV / JSONL files (or plain lists): pairs, triplets, scored pairs,
labelled texts, parallel sentences, plain texts.

>>> ex = Examples.from_columns("scored", sentence1=["a cat"], sentence2=["a dog"], score=[2.5])
>>> ex.kind, len(ex)
('scored', 1)

Each kind has named columns (:data:`KINDS`). A file's header names its columns; the reader finds
each role under its own name or a common alias (:data:`ALIASES`: STS files' ``sentence1`` /
``sentence2`` / ``score``, ``query`` / ``document``, ``ko`` / ``en``, ...) or under the name given
in ``columns={"anchor": "question"}``. TSV files are split on tabs with no quoting (a ``"`` is
literal); CSV follows RFC 4180; JSONL has one object per line; ``.txt`` is one text per line
(``texts`` only). ``.gz`` / ``.xz`` / ``.bz2`` are read transparently.

Every problem is an :class:`~embedkit.errors.InvalidInput` that names the file, the line and what
was expected: a missing column, an empty file, an empty text, a score that is not a number or lies
outside ``score_range``.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import lzma
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInput

__all__ = ["KINDS", "ALIASES", "Examples", "read_examples", "iter_lines", "data_hash"]

#: The columns of each kind of example, in order.
KINDS: dict[str, tuple[str, ...]] = {
    "pairs": ("anchor", "positive"),
    "triplets": ("anchor", "positive", "negative"),
    "scored": ("sentence1", "sentence2", "score"),
    "labelled": ("text", "label"),
    "parallel": ("source", "target"),
    "texts": ("text",),
}

#: Header names accepted for each role, first match wins (the role's own name comes first).
ALIASES: dict[str, tuple[str, ...]] = {
    "anchor": ("anchor", "query", "question", "sentence1", "text1", "sentence_a"),
    "positive": ("positive", "document", "passage", "answer", "sentence2", "text2", "sentence_b"),
    "negative": ("negative", "hard_negative", "negative_1"),
    "sentence1": ("sentence1", "text1", "sentence_a", "anchor"),
    "sentence2": ("sentence2", "text2", "sentence_b", "positive"),
    "score": ("score", "similarity", "label"),
    "text": ("text", "sentence", "document", "review"),
    "label": ("label", "class", "category", "sentiment", "rating", "stars"),
    # parallel: the teacher's language (usually English) is the source
    "source": ("src", "en", "english", "source_text", "source"),
    "target": ("tgt", "ko", "korean", "target_text", "translation", "target"),
}

_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".lzma": lzma.open, ".bz2": bz2.open}


def _open_text(path: Path):
    opener = _OPENERS.get(path.suffix.lower())
    if opener is None:
        return open(path, encoding="utf-8", newline="")
    return io.TextIOWrapper(opener(path, "rb"), encoding="utf-8", newline="")


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in _OPENERS]
    last = suffixes[-1] if suffixes else ""
    return {".tsv": "tsv", ".tab": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".json": "jsonl", ".txt": "txt", ".text": "txt"}.get(last, "")


def iter_lines(path) -> iter[str]:
    """Stream the non-empty lines of a text file (``.gz``/``.xz``/``.bz2`` too), stripped."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"No such file: {path}")
    try:
        with _open_text(path) as fh:
            for line in fh:
                line = line.strip()
                if line:
                    yield line
    except (UnicodeDecodeError, lzma.LZMAError, gzip.BadGzipFile, EOFError) as exc:
        raise InvalidInput(f"Cannot read {path} as UTF-8 text: {exc}") from exc


def data_hash(columns: dict[str, list]) -> str:
    """SHA-256 of examples' contents (column names and values, in order)."""
    h = hashlib.sha256()
    for name in sorted(columns):
        h.update(name.encode("utf-8") + b"\0")
        for value in columns[name]:
            h.update(str(value).encode("utf-8") + b"\x1f")
    return h.hexdigest()


@dataclass
class Examples:
    """Examples of one kind as columns of equal length (``columns["anchor"][i]`` ...).

    ``source`` describes where they came from (file path and SHA-256, or ``"memory"``) and goes
    into the saved model's ``embedkit.json``.
    """

    kind: str
    columns: dict[str, list]
    source: dict = field(default_factory=dict)
    score_range: tuple[float, float] | None = None

    @classmethod
    def from_columns(cls, kind: str, *, score_range: tuple[float, float] | None = None,
                     **columns) -> Examples:
        """Build examples from lists, checked like a file's rows."""
        _check_kind(kind)
        missing = [c for c in KINDS[kind] if c not in columns and not (kind == "triplets"
                                                                        and c == "negative")]
        if missing:
            raise InvalidInput(f"{kind} examples need the columns {', '.join(KINDS[kind])}; "
                               f"missing: {', '.join(missing)}")
        cols = {name: list(values) for name, values in columns.items() if name in KINDS[kind]}
        lengths = {name: len(v) for name, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise InvalidInput(f"the columns have different lengths: {lengths}")
        ex = cls(kind, cols, {"path": "memory"}, score_range)
        ex._validate("the examples", [i + 1 for i in range(len(ex))])
        ex.source["rows"] = len(ex)
        ex.source["sha256"] = data_hash(ex.columns)
        return ex

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def subset(self, index) -> Examples:
        """The examples at ``index`` (a list of row numbers), same kind and source."""
        cols = {k: [v[i] for i in index] for k, v in self.columns.items()}
        return Examples(self.kind, cols, {**self.source, "rows": len(index),
                                          "sha256": data_hash(cols)}, self.score_range)

    def texts(self) -> list[str]:
        """Every text of every example (for length bucketing and vocabulary checks)."""
        return [t for name, col in self.columns.items() if name not in ("score", "label")
                for t in col]

    def _validate(self, where: str, lines: list[int]) -> None:
        if len(self) == 0:
            raise InvalidInput(f"{where} has no examples: the file is empty or has only a header")
        for name, col in self.columns.items():
            if name in ("score", "label"):
                continue
            for i, text in enumerate(col):
                if not isinstance(text, str) or not text.strip():
                    raise InvalidInput(f"{where}, line {lines[i]}: the {name!r} text is empty "
                                       f"or not a string (got {text!r})")
        if "score" in self.columns:
            lo, hi = self.score_range if self.score_range is not None else (0.0, 5.0)
            scores = []
            for i, raw in enumerate(self.columns["score"]):
                try:
                    value = float(raw)
                except (TypeError, ValueError):
                    raise InvalidInput(f"{where}, line {lines[i]}: the score {raw!r} is not a "
                                       "number") from None
                if not math.isfinite(value) or value < lo or value > hi:
                    raise InvalidInput(
                        f"{where}, line {lines[i]}: the score {raw!r} is outside the range "
                        f"[{lo:g}, {hi:g}]; pass score_range=(low, high) (CLI: --score-range "
                        "LOW,HIGH) if your scores use another scale")
                scores.append(value)
            self.columns["score"] = scores
            self.score_range = (float(lo), float(hi))
        if "label" in self.columns:
            labels = self.columns["label"]
            for i, raw in enumerate(labels):
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    raise InvalidInput(f"{where}, line {lines[i]}: the label is empty")
            self.columns["label"] = [str(x).strip() if not isinstance(x, (int, bool)) else str(x)
                                     for x in labels]

    def normalised_scores(self) -> list[float]:
        """Scores mapped from ``score_range`` to [0, 1]."""
        lo, hi = self.score_range or (0.0, 5.0)
        return [(s - lo) / (hi - lo) if hi > lo else 0.0 for s in self.columns["score"]]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"Unknown kind of examples {kind!r}. Valid kinds are: "
                           f"{', '.join(KINDS)}")


def _find_column(role: str, header: list[str], columns: dict[str, str], path: Path,
                 required: bool = True) -> str | None:
    if role in columns:
        if columns[role] not in header:
            raise InvalidInput(f"{path}: no column {columns[role]!r} (given for {role!r}); its "
                               f"columns are: {', '.join(header)}")
        return columns[role]
    lower = {h.lower().strip(): h for h in header}
    taken = set(columns.values())
    for alias in ALIASES.get(role, (role,)):
        if alias in lower and lower[alias] not in taken:
            return lower[alias]
    if not required:
        return None
    raise InvalidInput(
        f"{path} has no column for {role!r} (looked for: {', '.join(ALIASES.get(role, (role,)))}); "
        f"its columns are: {', '.join(header) or '(none)'}. Name the column with "
        f"columns={{{role!r}: '...'}} (CLI: --columns {role}=NAME)")


def _rows(path: Path, fmt: str):
    """(line number, dict) for each row of a TSV/CSV/JSONL file, and the header."""
    with _open_text(path) as fh:
        if fmt == "jsonl":
            header: list[str] = []
            rows = []
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise InvalidInput(f"{path}, line {lineno}: not a JSON object ({exc})") from None
                if not isinstance(obj, dict):
                    raise InvalidInput(f"{path}, line {lineno}: expected a JSON object, got "
                                       f"{type(obj).__name__}")
                for key in obj:
                    if key not in header:
                        header.append(key)
                rows.append((lineno, obj))
            return header, rows
        if fmt == "csv":
            reader = csv.reader(fh)
        else:
            reader = (line.rstrip("\r\n").split("\t") for line in fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return [], []
        rows = []
        for lineno, fields in enumerate(reader, 2):
            if not any(f.strip() for f in fields):
                continue
            if len(fields) < len(header):
                fields = fields + [""] * (len(header) - len(fields))
            rows.append((lineno, dict(zip(header, fields))))
        return header, rows


def read_examples(data, kind: str, *, columns: dict[str, str] | None = None,
                  score_range: tuple[float, float] | None = None, limit: int | None = None
                  ) -> Examples:
    """Read examples of ``kind`` from a TSV / CSV / JSONL file (or pass :class:`Examples` through).

    Args:
        data: a path, or :class:`Examples` (returned as they are, after a kind check).
        kind: one of :data:`KINDS`; ``"triplets"`` also accepts a file without negatives (pairs).
        columns: role -> header name, for headers the aliases do not cover.
        score_range: the scale of ``score`` (default 0 to 5, STS's); a score outside is an error.
        limit: read at most this many examples.

    """
    _check_kind(kind)
    if isinstance(data, Examples):
        if data.kind != kind and not (kind == "triplets" and data.kind == "pairs"):
            raise InvalidInput(f"expected {kind} examples, got {data.kind}")
        return data
    if not isinstance(data, (str, os.PathLike)):
        raise InvalidInput(f"training data must be a file path or Examples, got {type(data).__name__}")
    path = Path(data)
    if not path.is_file():
        raise InvalidInput(f"No such data file: {path}")
    columns = dict(columns or {})
    unknown = set(columns) - set(KINDS[kind])
    if unknown:
        raise InvalidInput(f"columns names roles {sorted(unknown)} that {kind} examples do not "
                           f"have; their roles are: {', '.join(KINDS[kind])}")
    fmt = _format_of(path)
    try:
        if fmt == "txt" or (fmt == "" and kind == "texts"):
            if kind != "texts":
                raise InvalidInput(f"{path}: a plain text file holds texts only; {kind} examples "
                                   "need a TSV, CSV or JSONL file with a header")
            texts = []
            for line in iter_lines(path):
                texts.append(line)
                if limit is not None and len(texts) >= limit:
                    break
            ex = Examples("texts", {"text": texts}, {}, None)
            lines = list(range(1, len(texts) + 1))
        else:
            if not fmt:
                raise InvalidInput(f"{path}: unknown format; use a .tsv, .csv, .jsonl (or .txt for "
                                   "plain texts) file")
            header, rows = _rows(path, fmt)
            if not header:
                raise InvalidInput(f"{path} is empty: expected a header line naming the columns "
                                   f"({', '.join(KINDS[kind])}) and at least one row")
            names = {}
            for role in KINDS[kind]:
                col = _find_column(role, header, {**columns, **names}, path,
                                   required=not (kind == "triplets" and role == "negative"))
                if col is not None:
                    names[role] = col
            if limit is not None:
                rows = rows[:limit]
            cols = {role: [row.get(col) for _, row in rows] for role, col in names.items()}
            if kind == "triplets" and "negative" not in cols:
                kind_used = "pairs"
            else:
                kind_used = kind
            ex = Examples(kind_used, cols, {}, score_range)
            lines = [n for n, _ in rows]
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"Cannot read {path} as UTF-8 text: {exc}") from exc
    except csv.Error as exc:
        raise InvalidInput(f"{path}: malformed CSV: {exc}") from exc
    ex.score_range = score_range
    ex._validate(str(path), lines)
    from ..identity import file_sha256

    ex.source = {"path": str(path.resolve()), "sha256": file_sha256(path), "rows": len(ex),
                 "format": fmt or "txt"}
    return ex
