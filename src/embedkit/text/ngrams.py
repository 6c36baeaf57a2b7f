"""Subword units of a word and their rows: fastText's hashed character n-grams, or the pieces of
a BPE / WordPiece / Unigram tokenizer.

Both the training engine (:mod:`.word2vec`) and :class:`~.word_vectors.WordVectors` (vectors for
unseen words) use these, so they live below both. A model's ``subword`` settings say which:
``{"min_n", "max_n", "buckets", "korean_jamo"}`` for n-grams, ``{"pieces": <tokenizer.json
text>, "buckets": <its vocabulary size>}`` for pieces (row = piece id).

>>> ngrams("cat", 3, 4)
['<ca', 'cat', 'at>', '<cat', 'cat>']
"""

from __future__ import annotations

import functools
import zlib

__all__ = ["ngrams", "ngram_buckets", "piece_ids", "subword_rows"]


def ngrams(word: str, min_n: int, max_n: int, *, korean_jamo: bool = False) -> list[str]:
    """The character n-grams of ``<word>`` (fastText), over jamo when ``korean_jamo``.

    >>> ngrams("cat", 3, 4)
    ['<ca', 'cat', 'at>', '<cat', 'cat>']
    """
    if korean_jamo:
        from .korean import to_jamo

        word = to_jamo(word)
    w = f"<{word}>"
    out = []
    for n in range(min_n, max_n + 1):
        if n > len(w):
            break
        out.extend(w[i:i + n] for i in range(len(w) - n + 1))
    return out


def ngram_buckets(word: str, min_n: int, max_n: int, buckets: int, *,
                  korean_jamo: bool = False) -> list[int]:
    """Hash the n-grams of ``word`` into ``buckets`` rows (CRC-32 of the UTF-8 bytes)."""
    return [zlib.crc32(g.encode("utf-8")) % buckets
            for g in ngrams(word, min_n, max_n, korean_jamo=korean_jamo)]


@functools.lru_cache(maxsize=4)
def _piece_tokenizer(tokenizer_json: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_str(tokenizer_json)


def piece_ids(words: list[str], tokenizer_json: str) -> list[list[int]]:
    """The ids of the pieces a tokenizer (its ``tokenizer.json`` text) cuts each word into.

    Special tokens ([CLS], <s>, ...) are not added; an unknown-token id is kept like any piece."""
    encs = _piece_tokenizer(tokenizer_json).encode_batch(list(words), add_special_tokens=False)
    return [e.ids for e in encs]


def subword_rows(word: str, subword: dict) -> list[int]:
    """The rows of ``word``'s subword units in a model's subword table (see the module doc)."""
    if subword.get("pieces"):
        return piece_ids([word], subword["pieces"])[0]
    return ngram_buckets(word, subword["min_n"], subword["max_n"], subword["buckets"],
                         korean_jamo=subword.get("korean_jamo", False))
