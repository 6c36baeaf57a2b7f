"""embedkit: turn words, sentences, documents, images and audio into vectors, and put them to work.

>>> import embedkit
>>> enc = embedkit.load()                                   # doctest: +SKIP
>>> store = embedkit.VectorStore("docs.db", encoder=enc)    # doctest: +SKIP
>>> store = embedkit.open("docs.db")        # an existing store, with the model it recorded  # doctest: +SKIP

The public surface is small and pinned by a test; everything else lives in submodules.
``import embedkit`` imports neither torch nor transformers.
"""

from __future__ import annotations

from .encoder import Encoder
from .errors import EmbedkitError
from .models import load

__version__ = "0.2.0"

__all__ = ["Encoder", "EmbedkitError", "VectorStore", "WordVectors", "load", "open", "__version__"]

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


def open(path, *, encoder=None, create: bool = False, **options):  # noqa: A001 - like gzip.open
    """Open an existing store; it loads the model it recorded the first time it needs one.

    The short form of ``VectorStore(path, create=False)``; pass ``encoder=`` to give the model
    yourself (it is checked against the record) and ``create=True`` to make a new store.
    """
    from .store.sqlite import VectorStore

    return VectorStore(path, encoder=encoder, create=create, **options)
