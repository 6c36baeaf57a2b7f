"""embedkit: turn words, sentences, documents, images and audio into vectors, and put them to work.

>>> import embedkit
>>> enc = embedkit.load()                                   # doctest: +SKIP
>>> store = embedkit.VectorStore("docs.db", encoder=enc)    # doctest: +SKIP

The public surface is small and pinned by a test; everything else lives in submodules.
``import embedkit`` imports neither torch nor transformers.
"""

from __future__ import annotations

from .encoder import Encoder
from .errors import EmbedkitError
from .models import load

__version__ = "0.1.0"

__all__ = ["Encoder", "EmbedkitError", "VectorStore", "WordVectors", "load", "__version__"]

_LAZY = {
    "VectorStore": "embedkit.store.sqlite:VectorStore",
    "WordVectors": "embedkit.text.word_vectors:WordVectors",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, _, attr = _LAZY[name].partition(":")
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'embedkit' has no attribute {name!r}")
