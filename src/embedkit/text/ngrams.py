"""Subword n-grams (fastText): the character n-grams of a word and their hashed rows.

Both the training engine (:mod:`.word2vec`) and :class:`~.word_vectors.WordVectors` (vectors for
unseen words) use these, so they live below both.

>>> ngrams("cat", 3, 4)
['<ca', 'cat', 'at>', '<cat', 'cat>']
"""

from __future__ import annotations

import zlib

__all__ = ["ngrams", "ngram_buckets"]


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
