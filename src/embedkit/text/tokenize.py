"""Word tokenizers for word-vector training and lookup.

The default English tokenizer lower-cases and keeps runs of letters and digits (``[^\\W_]+`` in
Unicode, so it also keeps Hangul and other scripts whole); punctuation and underscores separate
words. ``"whitespace"`` splits on whitespace only (for corpora that are already tokenised), and
``"korean"`` splits Korean text into kiwipiepy morphemes (see :mod:`embedkit.text.korean`).

>>> tokenize("Hello, World! It's 2024.")
['hello', 'world', 'it', 's', '2024']
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import InvalidInput

__all__ = ["tokenize", "whitespace_tokenize", "get_tokenizer", "TOKENIZERS"]

_WORD = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and return its runs of letters and digits."""
    return _WORD.findall(text.lower())


def whitespace_tokenize(text: str) -> list[str]:
    """Split on whitespace, keeping tokens as they are."""
    return text.split()


tokenize.cache_key = "english:lower:[^\\W_]+"  # type: ignore[attr-defined]
whitespace_tokenize.cache_key = "whitespace:split"  # type: ignore[attr-defined]


def _korean(text: str) -> list[str]:  # pragma: no cover - replaced by get_tokenizer
    from .korean import morphemes

    return morphemes(text)


TOKENIZERS = ("english", "whitespace", "korean")


def get_tokenizer(spec: str | Callable[[str], list[str]] | None) -> Callable[[str], list[str]]:
    """Resolve a tokenizer name (``"english"``, ``"whitespace"``, ``"korean"``) or a callable."""
    if spec is None or spec == "english":
        return tokenize
    if callable(spec):
        return spec
    if spec == "whitespace":
        return whitespace_tokenize
    if spec == "korean":
        from .korean import KoreanTokenizer

        return KoreanTokenizer()
    raise InvalidInput(
        f"The 'tokenizer' parameter must be one of {', '.join(map(repr, TOKENIZERS))} or a callable "
        f"taking a str and returning a list of str. Got {spec!r} instead."
    )
