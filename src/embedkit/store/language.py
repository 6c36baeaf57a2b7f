"""Language-neutral vector search: each script's mean vector taken out before comparing.

Multilingual encoders put a language component into every vector: two Korean sentences share it
whatever they say, so in a store that holds Korean and English documents a Korean query ranks
unrelated Korean documents above the English ones that answer it. With multilingual-e5-small, in
a pool of the 1,713 Korean and 1,713 English dev sentences of ``ko_en_parallel``, a Korean
sentence found its own English translation first only 18% of the time (the other Korean
sentences crowd it out), against 89% when the pool holds English sentences only.

Libovický et al. (2020, "On the language neutrality of pre-trained multilingual representations")
show that subtracting each language's mean vector removes most of that component. Here the
language of a text is its main script (:func:`script_of`: Hangul, Latin, Han, kana, Cyrillic, ...;
cheap, needs no model, and separates the languages this project serves), each document becomes
``unit(d - a * mean(documents of its script))`` and the query ``unit(q - a * mean(documents of the
query's script))``, and the score is their cosine. ``a`` = :data:`STRENGTH` (0.75) was chosen on
the ``ko_en_parallel`` dev rows in one mixed pool (benchmarks/cross_lingual.py): ko->en R@1
0.18 -> 0.64 and en->ko 0.48 -> 0.76; the demo's collection and the 40 held-out pairs of
benchmarks/heldout were measured after the choice.

It is applied where it can matter: cosine stores, text queries, and at least two scripts with
:data:`MIN_GROUP` documents each. It is an exact search over a centred copy of the vectors (a
matrix product: ~15 ms at 200,000 x 384), so above :data:`MAX_ITEMS` items the store falls back to
the plain (HNSW) search.
"""

from __future__ import annotations

import numpy as np

__all__ = ["script_of", "STRENGTH", "MIN_GROUP", "MAX_ITEMS", "LanguageCentering"]

#: How much of each script's mean vector is taken out (chosen on the dev rows; see the module doc).
STRENGTH = 0.75
#: A script counts as a language of the store from this many documents on.
MIN_GROUP = 8
#: Above this many items the store does not centre (the exact search would be too slow).
MAX_ITEMS = 200_000

_RANGES = (  # (first, last code point, script)
    (0x0041, 0x024F, "latin"), (0x1E00, 0x1EFF, "latin"),
    (0x0370, 0x03FF, "greek"), (0x0400, 0x052F, "cyrillic"),
    (0x0590, 0x05FF, "hebrew"), (0x0600, 0x06FF, "arabic"), (0x0900, 0x097F, "devanagari"),
    (0x0E00, 0x0E7F, "thai"),
    (0x1100, 0x11FF, "hangul"), (0x3130, 0x318F, "hangul"), (0xAC00, 0xD7A3, "hangul"),
    (0x3040, 0x30FF, "kana"), (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"),
)


def _script_of_char(ch: str) -> str | None:
    cp = ord(ch)
    for lo, hi, name in _RANGES:
        if lo <= cp <= hi:
            return name
    return None


def script_of(text: str) -> str:
    """The script most of the letters of ``text`` are written in (``"other"`` if none).

    >>> script_of("전기 SUV 차량"), script_of("An electric SUV"), script_of("1234")
    ('hangul', 'latin', 'other')
    """
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            name = _script_of_char(ch)
            if name is not None:
                counts[name] = counts.get(name, 0) + 1
    if not counts:
        return "other"
    # Hangul syllables hold two or three letters each: weigh them so that "SUV 차량" is Korean
    if "hangul" in counts:
        counts["hangul"] *= 2
    return max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]


class LanguageCentering:
    """A store's vectors with each script's mean taken out, for one snapshot of the store.

    Args:
        keys: the items' keys (int64), in the order of ``matrix``'s rows.
        matrix: their unit vectors (float32, n x d).
        scripts: each item's script (:func:`script_of` of its text).
        strength: the share of each mean taken out.
    """

    def __init__(self, keys: np.ndarray, matrix: np.ndarray, scripts: list[str],
                 strength: float = STRENGTH):
        self.keys = keys
        self.strength = float(strength)
        groups = np.asarray(scripts, dtype=object)
        self.means: dict[str, np.ndarray] = {}
        for name in sorted(set(scripts)):
            rows = groups == name
            if int(rows.sum()) >= MIN_GROUP and name != "other":
                self.means[name] = matrix[rows].mean(axis=0).astype(np.float32)
        self.active = len(self.means) >= 2
        if not self.active:
            self.matrix = matrix
            return
        centred = matrix.copy()
        for name, mean in self.means.items():
            centred[groups == name] -= np.float32(self.strength) * mean
        norms = np.linalg.norm(centred, axis=1, keepdims=True)
        centred /= np.maximum(norms, np.float32(1e-12))
        self.matrix = centred

    def query(self, q: np.ndarray, text: str) -> np.ndarray:
        """The query vector with the mean of its script's documents taken out, unit length."""
        mean = self.means.get(script_of(text))
        if mean is None:
            return q
        qc = q - np.float32(self.strength) * mean
        return (qc / max(float(np.linalg.norm(qc)), 1e-12)).astype(np.float32)
