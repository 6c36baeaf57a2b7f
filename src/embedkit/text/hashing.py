"""A feature-hashing bag-of-words encoder: no model, no training, instant.

Each lower-cased word (and each character n-gram, optionally) adds a signed one to a hashed
dimension, like scikit-learn's ``HashingVectorizer``. Texts that share words get similar vectors;
synonyms do not. Useful as a lexical baseline and for fast tests of anything that takes an Encoder.

>>> enc = HashingEncoder(dim=64)
>>> v = enc.encode(["red car", "red car", "blue sky"])
>>> bool((v[0] == v[1]).all()), v.shape
(True, (3, 64))
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from ..encoder import BaseEncoder
from ..errors import InvalidInput

__all__ = ["HashingEncoder"]

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEncoder(BaseEncoder):
    """Signed feature hashing of words into ``dim`` dimensions (L2-normalised by default)."""

    modality = "text"

    def __init__(self, *, dim: int = 256, char_ngrams: int = 0, name: str | None = None):
        if not isinstance(dim, int) or dim < 2:
            raise InvalidInput(f"dim must be an integer >= 2, got {dim!r}")
        self.dim = dim
        self.char_ngrams = char_ngrams
        self.name = name or f"hashing-{dim}" + (f"-c{char_ngrams}" if char_ngrams else "")
        self.spec = self.name

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        feats = list(words)
        if self.char_ngrams:
            n = self.char_ngrams
            for w in words:
                padded = f"<{w}>"
                feats.extend(padded[i:i + n] for i in range(max(len(padded) - n + 1, 1)))
        return feats

    def _encode_batch(self, items) -> np.ndarray:
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, text in enumerate(items):
            for feat in self._features(text):
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return out
