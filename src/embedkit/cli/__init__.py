"""The ``embedkit`` command: the group from :mod:`.app`, with each family's commands registered.

Importing a family module registers its commands; the import order is the order of ``--help``.
"""

from . import (analysis, crosslingual, media, sentences, serve, store,  # noqa: F401  (register)
               training, words)
from .app import main

__all__ = ["main"]
