"""Read and write word vectors in the standard exchange formats.

* ``word2vec``: text; a header line ``<count> <dim>``, then ``word v1 ... vd`` per line.
  fastText's ``.vec`` files are the same format (``format="fasttext"`` is an alias).
* ``word2vec-binary``: the header line, then per word ``word<space>`` + dim little-endian
  float32 (+ an optional newline), as word2vec.c's ``-binary 1``.
* ``glove``: text like word2vec but without the header.

``format="auto"`` looks at the content, not the name (:func:`detect_format`): a first line of
two integers is a header, followed by either text rows (word2vec) or ``word<space>`` + float32
bytes (word2vec-binary); without a header the file is GloVe text. gzip, xz and bzip2 files are
decompressed on the fly, recognised by their magic bytes whatever their suffix (when writing, the
suffix ``.gz``/``.xz``/``.bz2`` picks the compression).
A truncated or malformed file raises :class:`~embedkit.errors.InvalidInput` naming the file and
the line (or vector) at fault.

>>> from embedkit.text.formats import read_vectors, write_vectors     # doctest: +SKIP
>>> wv = read_vectors("glove.6B.100d.txt")                             # doctest: +SKIP
>>> write_vectors(wv, "vectors.bin", format="word2vec-binary")         # doctest: +SKIP
"""

from __future__ import annotations

import io
import logging
import lzma
import os
from pathlib import Path

import numpy as np

from ..errors import InvalidInput

__all__ = ["read_vectors", "write_vectors", "detect_format", "FORMATS"]

log = logging.getLogger(__name__)

FORMATS = ("auto", "word2vec", "fasttext", "word2vec-binary", "glove")


_MAGIC = ((b"\x1f\x8b", "gz"), (b"\xfd7zXZ\x00", "xz"), (b"BZh", "bz2"))
_SUFFIX_COMPRESSION = {".gz": "gz", ".xz": "xz", ".bz2": "bz2"}
#: fastText's own binary model files (``.bin`` from ``fasttext skipgram``) start with this int32
_FASTTEXT_MAGIC = (793712314).to_bytes(4, "little")


def _compression(path: Path) -> str | None:
    """Detect the compression of ``path`` from its first bytes (the suffix is not trusted)."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def _open(path: Path, mode: str, *, like: Path | None = None, compression: str | None = "suffix"):
    """Open ``path``, decompressing as ``compression`` says.

    ``compression`` is ``"gz"``, ``"xz"``, ``"bz2"`` or None, or ``"suffix"`` to pick it by the
    suffix of ``like`` (default: ``path``), as when writing.
    """
    import bz2
    import gzip
    import lzma

    if compression == "suffix":
        compression = _SUFFIX_COMPRESSION.get((like or path).suffix.lower())
    opener = {"gz": gzip.open, "xz": lzma.open, "bz2": bz2.open}.get(compression, open)
    return opener(path, mode)


def _is_text(data: bytes) -> bool:
    """UTF-8 without control bytes other than tab / CR / LF (a cut multi-byte tail is allowed)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 3:
            return False
        text = data[:exc.start].decode("utf-8")
    return not any(ord(c) < 32 and c not in "\t\r\n" for c in text) and "\x7f" not in text


def _text_row(line: bytes, dim: int | None) -> bool:
    """Tell whether ``line`` reads as ``word v1 ... vdim`` (any dim >= 1 when ``dim`` is None)."""
    parts = line.rstrip(b"\r\n").rstrip().split(b" ")
    if dim is None:
        dim = len(parts) - 1
    return dim >= 1 and len(parts) >= dim + 1 and all(_is_float(p) for p in parts[-dim:])


def _binary_row(data: bytes, dim: int) -> bool:
    """Tell whether ``data`` starts with ``word<space>`` + ``dim`` float32 (as word2vec.c writes).

    The float bytes must not all be printable text, so that a malformed text file is not taken
    for binary.
    """
    data = data.lstrip(b"\n")
    space = data.find(b" ")
    if space < 1 or b"\n" in data[:space] or not _is_text(data[:space]):
        return False
    floats = data[space + 1:space + 1 + 4 * dim]
    return len(floats) == 4 * dim and not _is_text(floats)


def detect_format(path: str | os.PathLike) -> str:
    """Detect the format of a vectors file from its content, not its name.

    Returns ``"word2vec"`` (text with a header), ``"word2vec-binary"`` or ``"glove"`` (text
    without one). Compression (gzip, xz, bzip2) is recognised by its magic bytes.
    """
    path = Path(path)
    with _open(path, "rb", compression=_compression(path)) as fh:
        first = fh.readline(100_000)
        if first.startswith(_FASTTEXT_MAGIC):
            raise InvalidInput(f"{path} is a fastText binary model (fasttext's .bin), not a "
                               "vectors file: read the .vec file written next to it, or load the "
                               "model with gensim.models.fasttext.load_facebook_vectors")
        hd = _header(first)
        if hd is None:
            if _is_text(first):
                return "glove"
            # not text and no header: report it as a (damaged) binary file
            return "word2vec-binary"
        dim = hd[1]
        sample = fh.read(16 * dim + 10_016)
    nl = sample.find(b"\n")
    if _text_row(sample if nl < 0 else sample[:nl], dim):
        return "word2vec"
    if _binary_row(sample, dim):
        return "word2vec-binary"
    # neither parses (a truncated or malformed file): the readers report where; text goes to the
    # text reader (line numbers), anything else to the binary one
    if _is_text(sample):
        return "word2vec"
    return "word2vec-binary"


def _check_format(fmt: str, allowed) -> str:
    if fmt not in allowed:
        raise InvalidInput(f"Invalid vectors format: {fmt!r}. Valid formats are: {', '.join(allowed)}")
    return fmt


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".xz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.rsplit(".", 1)[0] if "." in name else name


def _header(line: bytes) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def read_vectors(path: str | os.PathLike, *, format: str = "auto", limit: int | None = None,
                 name: str | None = None):
    """Read a word2vec (text or binary), fastText ``.vec`` or GloVe file into WordVectors.

    Args:
        path: the file.
        format: ``"auto"``, ``"word2vec"``, ``"fasttext"``, ``"word2vec-binary"`` or ``"glove"``.
        limit: read only the first ``limit`` vectors.
        name: the model name (default: the file name without its extension).
    """
    from .word_vectors import WordVectors

    _check_format(format, FORMATS)
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"No such vectors file: {path}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInput(f"limit must be a positive int or None, got {limit!r}")
    try:
        if format == "auto":
            format = detect_format(path)
        with _open(path, "rb", compression=_compression(path)) as fh:
            first = fh.readline()
            if format == "word2vec-binary":
                words, vectors = _read_binary(path, fh, first, limit)
            else:
                words, vectors = _read_text(path, fh, first, limit, header=format != "glove")
    except (OSError, EOFError, lzma.LZMAError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise InvalidInput(f"No such vectors file: {path}") from exc
        raise InvalidInput(f"Cannot read the vectors file {path}: {exc}") from exc
    log.info("read %d vectors of dimension %d from %s (%s)", len(words), vectors.shape[1], path, format)
    return WordVectors(words, vectors, name=name or _stem(path), config={"source": str(path),
                                                                         "source_format": format})


def _decode(path: Path, raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}, {where}: the word is not valid UTF-8 ({exc.reason}); is this "
                           "the right format?") from exc


def _read_text(path: Path, fh, first: bytes, limit, *, header: bool):
    lines = iter(fh)
    count = dim = None
    lineno = 1
    pending: bytes | None = first
    if header:
        hd = _header(first)
        if hd is None:
            raise InvalidInput(f"{path}, line 1: expected a word2vec header '<count> <dim>', got "
                               f"{first[:80]!r}; for GloVe files (no header) use format='glove'")
        count, dim = hd
        if dim < 1:
            raise InvalidInput(f"{path}, line 1: the dimension must be positive, got {dim}")
        pending = None
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    want = count if limit is None else (limit if count is None else min(count, limit))
    while want is None or len(words) < want:
        if pending is not None:
            raw, pending = pending, None
        else:
            raw = next(lines, None)
            lineno += 1
            if raw is None:
                break
        stripped = raw.rstrip(b"\r\n")
        if not stripped.strip():
            if count is not None:
                raise InvalidInput(f"{path}, line {lineno}: empty line where vector {len(words) + 1} "
                                   f"of {count} was expected")
            continue
        parts = stripped.rstrip().split(b" ")
        if dim is None:
            dim = len(parts) - 1
            if dim < 1:
                raise InvalidInput(f"{path}, line {lineno}: expected a word and its numbers, got "
                                   f"{stripped[:80]!r}")
        if len(parts) != dim + 1:
            # words with spaces (rare) are joined; anything else is malformed
            if len(parts) > dim + 1:
                parts = [b" ".join(parts[: len(parts) - dim])] + parts[len(parts) - dim:]
            else:
                raise InvalidInput(f"{path}, line {lineno}: expected a word and {dim} numbers, found "
                                   f"{len(parts) - 1} numbers (truncated or malformed file?)")
        word = _decode(path, parts[0], f"line {lineno}")
        try:
            vec = np.array(parts[1:], dtype=np.float32)
        except ValueError:
            bad = next(p for p in parts[1:] if not _is_float(p))
            raise InvalidInput(f"{path}, line {lineno}: {bad[:40].decode('utf-8', 'replace')!r} is not "
                               "a number (is this the right format?)") from None
        if word in seen:
            raise InvalidInput(f"{path}, line {lineno}: the word {word!r} appears twice")
        seen.add(word)
        words.append(word)
        rows.append(vec)
    if count is not None and len(words) < want:
        raise InvalidInput(f"{path} is truncated: the header announces {count} vectors but the file "
                           f"ends after {len(words)} (line {lineno})")
    if not words:
        raise InvalidInput(f"{path} contains no vectors")
    return words, np.vstack(rows).astype(np.float32, copy=False)


def _is_float(b: bytes) -> bool:
    try:
        float(b)
        return True
    except ValueError:
        return False


def _read_binary(path: Path, fh, first: bytes, limit):
    hd = _header(first)
    if hd is None:
        raise InvalidInput(f"{path}, line 1: expected a word2vec binary header '<count> <dim>', got "
                           f"{first[:80]!r}")
    count, dim = hd
    want = count if limit is None else min(count, limit)
    words: list[str] = []
    vectors = np.empty((want, dim), dtype=np.float32)
    nbytes = 4 * dim
    reader = fh
    for i in range(want):
        raw = bytearray()
        while True:
            ch = reader.read(1)
            if not ch:
                raise InvalidInput(f"{path} is truncated: the header announces {count} vectors but "
                                   f"the file ends inside vector {i + 1}")
            if ch == b" ":
                break
            if ch != b"\n" or raw:
                raw += ch
            if len(raw) > 10_000:
                raise InvalidInput(f"{path}, vector {i + 1}: no space after the word within 10000 "
                                   "bytes; is this a word2vec binary file?")
        data = reader.read(nbytes)
        if len(data) < nbytes:
            raise InvalidInput(f"{path} is truncated: vector {i + 1} of {count} has {len(data)} of "
                               f"{nbytes} bytes")
        words.append(_decode(path, bytes(raw), f"vector {i + 1}"))
        vectors[i] = np.frombuffer(data, dtype="<f4")
    if len(set(words)) != len(words):
        raise InvalidInput(f"{path}: a word appears twice")
    return words, vectors


def write_vectors(wv, path: str | os.PathLike, *, format: str = "word2vec") -> Path:
    """Write ``wv`` as ``word2vec`` / ``fasttext`` text, ``word2vec-binary`` or ``glove`` text."""
    _check_format(format, FORMATS[1:])
    path = Path(path)
    if any(any(c.isspace() for c in w) for w in wv.index_to_key):
        bad = next(w for w in wv.index_to_key if any(c.isspace() for c in w))
        raise InvalidInput(f"the word {bad!r} contains whitespace, which these formats cannot store")
    if "" in wv.index_to_key:
        raise InvalidInput("an empty word cannot be stored in these formats")
    if not path.parent.is_dir():
        raise InvalidInput(f"Cannot write {path}: the folder {path.parent} does not exist")
    vectors = np.asarray(wv.vectors, dtype=np.float32)
    n, dim = vectors.shape
    tmp = path.with_name(path.name + ".tmp")
    try:
        with _open(tmp, "wb", like=path) as fh:
            if format != "glove":
                fh.write(f"{n} {dim}\n".encode())
            if format == "word2vec-binary":
                for w, v in zip(wv.index_to_key, vectors):
                    fh.write(w.encode("utf-8") + b" " + v.astype("<f4").tobytes() + b"\n")
            else:
                buf = io.StringIO()
                for i, w in enumerate(wv.index_to_key):
                    buf.write(w)
                    buf.write(" ")
                    buf.write(" ".join(f"{x:.6g}" for x in vectors[i].tolist()))
                    buf.write("\n")
                    if i % 10_000 == 9_999:
                        fh.write(buf.getvalue().encode("utf-8"))
                        buf = io.StringIO()
                fh.write(buf.getvalue().encode("utf-8"))
    except BaseException:
        tmp.unlink(missing_ok=True)  # no half-written .tmp left next to the target
        raise
    os.replace(tmp, path)
    return path
