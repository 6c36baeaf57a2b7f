"""Training corpora: reading text files, and tokenising them once into a cache of token ids.

A corpus is a text file (one sentence per line; ``.gz``, ``.xz`` and ``.bz2`` are read
transparently), a folder of such files (read in name order, hidden files skipped), or an iterable
of token lists.

**Tokenise once.** Word-vector training reads its corpus once for the vocabulary and once per
epoch. With a slow tokenizer (kiwipiepy morphemes analyse about 14,000 eojeol/s on two cores here)
re-tokenising every epoch costs hours on Wikipedia-size text. :func:`token_cache` tokenises the
corpus in one pass and writes it as int32 ids (of the distinct tokens in first-seen order) with
the sentence lengths; every epoch then streams the ids from that file, remapped to the vocabulary
with one numpy lookup per chunk.

- The cache is a folder ``<root>/<key>`` (root: ``$EMBEDKIT_CACHE/corpora`` unless given). The key
  is a SHA-256 of the corpus files' contents (:func:`embedkit.identity.file_sha256`), the
  tokenizer's settings and this format's version, so a cache of another corpus or tokenizer is
  never reused: it is rebuilt.
- It is written in a temporary sibling and renamed into place when complete, so a killed run
  leaves nothing a later run would trust (and the next build of the same cache deletes what a
  killed run left, once it has been idle for 15 minutes).
- The files are checked (size and modification time) after the pass: a corpus that changed while
  it was read raises :class:`~embedkit.errors.InvalidInput` and caches nothing.
- Before writing, the free disk space is compared with an estimate of the cache's size; too little
  raises an error before any work, and a disk that fills up anyway raises one too (the partial
  cache is removed).
- Memory stays bounded: the ids are appended to the file block by block and read back through a
  memory map; what grows is the table of distinct tokens, as for any vocabulary.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import json
import logging
import lzma
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInput

__all__ = ["MAX_SENTENCE_LENGTH", "iter_sentences", "corpus_files", "iter_file_lines",
           "TokenCache", "token_cache", "tokenizer_key", "CACHE_FORMAT"]

log = logging.getLogger(__name__)

#: Sentences longer than this are cut into pieces of this many tokens (as gensim and word2vec.c).
MAX_SENTENCE_LENGTH = 10_000
#: Version of the cache layout; part of the key, so a new layout never reads an old cache.
CACHE_FORMAT = 1
_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".lzma": lzma.open, ".bz2": bz2.open}
#: Uncompressed bytes per compressed byte assumed for the disk-space estimate (text compresses
#: 3-5x with xz; the upper end keeps the estimate safe).
_EXPANSION = {".gz": 4.0, ".xz": 5.0, ".lzma": 5.0, ".bz2": 5.0}
#: Bytes of cache per byte of text in the estimate: an int32 id per token, a token per >= 5 bytes
#: of text in English and Korean alike, plus the sentence lengths.
_CACHE_BYTES_PER_TEXT_BYTE = 0.8
_MARKER = "meta.json"


# ------------------------------------------------------------------------------------ reading
def corpus_files(path: Path) -> list[Path]:
    """The files of a corpus path: the file itself, or a folder's files in name order."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise InvalidInput(f"The corpus folder {path} contains no files")
        return files
    if path.is_file():
        return [path]
    raise InvalidInput(f"The corpus {str(path)!r} does not exist: pass a text file, a folder of "
                       "text files, or an iterable of token lists")


def iter_file_lines(path: Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[str]:
    """The lines of a text file (decompressed by suffix), as str.

    ``on_bytes(n)`` is called with the growth of the position in the file on disk (compressed
    bytes for a compressed file) every few thousand lines, for progress.
    """
    warned = False
    opener = _OPENERS.get(path.suffix.lower())
    try:
        with open(path, "rb") as raw:
            fh = opener(raw) if opener is not None else raw
            try:
                last = 0
                for lineno, line in enumerate(fh, 1):
                    if on_bytes is not None and lineno % 256 == 0:
                        pos = raw.tell()
                        on_bytes(pos - last)
                        last = pos
                    try:
                        yield line.decode("utf-8")
                    except UnicodeDecodeError:
                        if not warned:
                            warnings.warn(f"{path}: line {lineno} is not valid UTF-8; undecodable "
                                          "bytes are replaced with U+FFFD (reported once per file)",
                                          UnicodeWarning, stacklevel=2)
                            warned = True
                        yield line.decode("utf-8", errors="replace")
                if on_bytes is not None:
                    on_bytes(raw.tell() - last)
            finally:
                if fh is not raw:
                    fh.close()
    except (lzma.LZMAError, EOFError, gzip.BadGzipFile, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise InvalidInput(f"Cannot read the corpus file {path}: {exc}") from exc


def _split_long(tokens: list[str]) -> Iterator[list[str]]:
    if len(tokens) <= MAX_SENTENCE_LENGTH:
        yield tokens
        return
    for start in range(0, len(tokens), MAX_SENTENCE_LENGTH):
        yield tokens[start:start + MAX_SENTENCE_LENGTH]


def _tokenized_lines(lines: Iterable[str], tokenizer) -> Iterator[list[str]]:
    # A tokenizer with ``stream`` (kiwipiepy's) analyses many lines at once on all its threads,
    # keeping their order; any other is called line by line.
    stream = getattr(tokenizer, "stream", None)
    return stream(lines) if stream is not None else map(tokenizer, lines)


def iter_sentences(corpus, tokenizer: Callable[[str], list[str]],
                   on_bytes: Callable[[int], None] | None = None) -> Iterator[list[str]]:
    """Yield the token lists of a corpus (file, folder, or iterable of token lists)."""
    if isinstance(corpus, (str, os.PathLike)):
        for path in corpus_files(Path(corpus)):
            for tokens in _tokenized_lines(iter_file_lines(path, on_bytes), tokenizer):
                yield from _split_long(tokens)
        return
    if isinstance(corpus, (bytes, dict)) or not isinstance(corpus, Iterable):
        raise InvalidInput(
            "The corpus must be a path to a text file or folder, or an iterable of token lists; "
            f"got {type(corpus).__name__}"
        )
    for i, sentence in enumerate(corpus):
        if isinstance(sentence, str):
            raise InvalidInput(
                f"corpus item {i} is a str; an iterable corpus must yield lists of tokens "
                "(e.g. [['the', 'cat'], ...]). To train on raw text, pass a file path"
            )
        yield from _split_long(list(sentence))


# ------------------------------------------------------------------------------------- identity
def tokenizer_key(tokenizer) -> str:
    """A string that names a tokenizer and its settings, for the cache key.

    Tokenizers may define ``cache_key`` (embedkit's do); a plain function is named by its module
    and qualified name, so changing what a function of the same name does needs a new cache
    (``token_cache=False`` or another folder).
    """
    key = getattr(tokenizer, "cache_key", None)
    if key is not None:
        return str(key() if callable(key) else key)
    module = getattr(tokenizer, "__module__", "?")
    name = getattr(tokenizer, "__qualname__", None) or type(tokenizer).__qualname__
    return f"callable:{module}.{name}"


def _stat(paths: list[Path]) -> list[tuple[int, int]]:
    out = []
    for p in paths:
        st = p.stat()
        out.append((st.st_size, st.st_mtime_ns))
    return out


def _corpus_key(files: list[Path], root: Path, tokenizer) -> tuple[str, dict]:
    from ..identity import file_sha256

    base = root if root.is_dir() else root.parent
    described = [{"file": str(p.relative_to(base)) if p != root else p.name,
                  "sha256": file_sha256(p)} for p in files]
    info = {"format": CACHE_FORMAT, "files": described, "tokenizer": tokenizer_key(tokenizer),
            "max_sentence_length": MAX_SENTENCE_LENGTH}
    digest = hashlib.sha256(json.dumps(info, sort_keys=True).encode("utf-8")).hexdigest()
    return digest, info


def _text_size_estimate(files: list[Path]) -> int:
    total = 0.0
    for p in files:
        total += p.stat().st_size * _EXPANSION.get(p.suffix.lower(), 1.0)
    return int(total)


def default_cache_root() -> Path:
    """``$EMBEDKIT_CACHE/corpora``."""
    from ..folders import cache_root

    return cache_root() / "corpora"


# ------------------------------------------------------------------------------------- the cache
@dataclass
class TokenCache:
    """A corpus tokenised once: token ids with sentence lengths, and the distinct tokens.

    ``words[i]`` is the token of id ``i`` (first-seen order) and ``counts[i]`` its count;
    ``ids`` holds every token of the corpus as an id (memory-mapped), ``lengths`` the number of
    tokens of each sentence (after cutting sentences longer than :data:`MAX_SENTENCE_LENGTH`).
    """

    folder: Path
    words: list[str]
    counts: np.ndarray
    ids: np.ndarray
    lengths: np.ndarray
    info: dict
    reused: bool = False
    seconds: float = 0.0

    @property
    def n_tokens(self) -> int:
        return int(len(self.ids))

    @property
    def n_sentences(self) -> int:
        return int(len(self.lengths))

    def sentence_starts(self) -> np.ndarray:
        starts = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=starts[1:])
        return starts

    def sentences(self, which: Iterable[int], starts: np.ndarray | None = None) -> list[np.ndarray]:
        """The id arrays of the sentences at the given positions."""
        starts = self.sentence_starts() if starts is None else starts
        return [np.asarray(self.ids[starts[i]:starts[i + 1]]) for i in which]

    def chunks(self, chunk_words: int, starts: np.ndarray | None = None
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(ids, sentence_starts)`` per chunk of whole sentences holding >= ``chunk_words`` tokens
        (the last chunk may hold fewer); the starts are relative to the chunk."""
        starts = self.sentence_starts() if starts is None else starts
        n = len(self.lengths)
        s = 0
        while s < n:
            # the first sentence end at or past chunk_words tokens from this chunk's start
            e = int(np.searchsorted(starts, starts[s] + chunk_words, side="left"))
            e = min(max(e, s + 1), n)
            yield np.asarray(self.ids[starts[s]:starts[e]]), starts[s:e + 1] - starts[s]
            s = e

    def remove(self) -> None:
        """Delete the cache folder."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _open_cache(folder: Path, reused: bool, seconds: float = 0.0) -> TokenCache:
    info = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
    words = json.loads((folder / "words.json").read_text(encoding="utf-8"))
    counts = np.load(folder / "counts.npy")
    lengths = np.fromfile(folder / "lengths.i32", dtype=np.int32)
    n = int(info["tokens"])
    ids = (np.memmap(folder / "ids.i32", dtype=np.int32, mode="r", shape=(n,)) if n
           else np.zeros(0, dtype=np.int32))
    if len(words) != len(counts) or int(lengths.sum(dtype=np.int64)) != n:
        raise InvalidInput(f"The token cache {folder} is inconsistent; delete it and train again")
    return TokenCache(folder, words, counts, ids, lengths, info, reused, seconds)


def token_cache(corpus, tokenizer, *, root: str | os.PathLike | None = None,
                progress: bool | None = None) -> TokenCache:
    """The :class:`TokenCache` of a file or folder corpus: reused when its key matches, else built.

    ``progress``: as :func:`embedkit.progress.progress` (``None``: a bar on a terminal, log lines
    every 30 s elsewhere), counting the corpus's bytes on disk.
    """
    path = Path(corpus)
    files = corpus_files(path)
    before = _stat(files)
    key, info = _corpus_key(files, path, tokenizer)
    base = Path(root) if root is not None else default_cache_root()
    folder = base / key[:32]
    if (folder / _MARKER).is_file():
        try:
            cache = _open_cache(folder, reused=True)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("token cache %s unreadable (%s); rebuilding it", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
        else:
            if cache.info.get("key") == key:
                log.info("token cache %s: reused (%d tokens)", folder, cache.n_tokens)
                return cache
            shutil.rmtree(folder, ignore_errors=True)
    base.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(base, folder.name)
    need = int(_text_size_estimate(files) * _CACHE_BYTES_PER_TEXT_BYTE) + (64 << 20)
    free = shutil.disk_usage(base).free
    if free < need:
        raise InvalidInput(
            f"Not enough disk space for the token cache in {base}: about {need / 2**20:,.0f} MiB "
            f"needed for this corpus, {free / 2**20:,.0f} MiB free. Free some space, give another "
            "folder (token_cache=..., --token-cache DIR) or re-tokenise every epoch instead "
            "(token_cache=False, --no-token-cache)")
    t0 = time.perf_counter()
    from ..folders import atomic_folder

    def build(tmp: Path) -> None:
        words, counts, n_tokens, n_sentences = _write_ids(files, tokenizer, tmp, progress)
        if _stat(files) != before:
            raise InvalidInput(
                f"The corpus {path} changed while it was being read (size or modification time); "
                "nothing was cached. Train again once the files no longer change")
        (tmp / "words.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
        np.save(tmp / "counts.npy", counts)
        meta = dict(info, key=key, tokens=n_tokens, sentences=n_sentences,
                    distinct=len(words), seconds=round(time.perf_counter() - t0, 3),
                    corpus=str(path))
        (tmp / _MARKER).write_text(json.dumps(meta, ensure_ascii=False, indent=1),
                                   encoding="utf-8")

    try:
        atomic_folder(folder, build, marker=_MARKER)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise InvalidInput(
                f"The disk filled up while writing the token cache in {base}; the partial cache "
                "was removed. Free some space, give another folder (token_cache=...) or use "
                "token_cache=False") from exc
        raise
    seconds = time.perf_counter() - t0
    cache = _open_cache(folder, reused=False, seconds=seconds)
    log.info("token cache %s: %d tokens, %d distinct, in %.1fs", folder, cache.n_tokens,
             len(cache.words), seconds)
    return cache


#: A temporary build folder untouched for this long belongs to a run that was killed (a live build
#: appends to its ids file several times a second).
STALE_BUILD_SECONDS = 15 * 60


def _remove_stale_builds(base: Path, name: str) -> None:
    """Delete what killed runs left of this cache (``.<name>.tmp-*``, idle for 15 minutes)."""
    now = time.time()
    for tmp in base.glob(f".{name}.tmp-*"):
        try:
            newest = max([tmp.stat().st_mtime] + [f.stat().st_mtime for f in tmp.iterdir()])
        except OSError:
            continue
        if now - newest > STALE_BUILD_SECONDS:
            log.info("removing %s, left by a killed run", tmp)
            shutil.rmtree(tmp, ignore_errors=True)


def _write_ids(files: list[Path], tokenizer, folder: Path, progress_enabled
               ) -> tuple[list[str], np.ndarray, int, int]:
    from ..progress import progress

    index: dict[str, int] = {}
    setdefault = index.setdefault
    counts = np.zeros(1 << 16, dtype=np.int64)
    n_tokens = n_sentences = 0
    total_bytes = sum(p.stat().st_size for p in files)
    block_ids: list[int] = []
    block_lengths: list[int] = []

    with open(folder / "ids.i32", "wb") as ids_out, open(folder / "lengths.i32", "wb") as len_out, \
            progress(total_bytes, "tokenise", "B", enabled=progress_enabled,
                     unit_scale=True) as bar:
        def flush():
            nonlocal counts
            ids = np.fromiter(block_ids, dtype=np.int32, count=len(block_ids))
            if len(index) > len(counts):
                grown = np.zeros(max(len(index), 2 * len(counts)), dtype=np.int64)
                grown[:len(counts)] = counts
                counts = grown
            counts += np.bincount(ids, minlength=len(counts))[:len(counts)]
            ids.tofile(ids_out)
            np.asarray(block_lengths, dtype=np.int32).tofile(len_out)
            block_ids.clear()
            block_lengths.clear()

        for path in files:
            for tokens in _tokenized_lines(iter_file_lines(path, bar.update), tokenizer):
                for piece in _split_long(tokens):
                    block_ids.extend([setdefault(t, len(index)) for t in piece])
                    block_lengths.append(len(piece))
                    n_tokens += len(piece)
                    n_sentences += 1
                if len(block_ids) >= 1 << 20:
                    flush()
                if n_sentences % 256 == 0:
                    bar.set_postfix_str(f"{n_tokens:,} tokens, {len(index):,} distinct",
                                        refresh=False)
        flush()
        bar.set_postfix_str(f"{n_tokens:,} tokens, {len(index):,} distinct", refresh=False)
    if n_tokens == 0:
        raise InvalidInput("The corpus is empty: it has no tokens to learn from")
    return list(index), counts[:len(index)].copy(), n_tokens, n_sentences
