"""The ``embedkit`` command: the group from :mod:`.app`, with each family's commands registered.

Importing a family module registers its commands; the import order is the order of ``--help``.
"""

from . import (  # noqa: F401  (register)
    analysis,
    crosslingual,
    media,
    recommend,
    sentences,
    serve,
    store,
    training,
    words,
)
from .app import main

__all__ = ["main"]
