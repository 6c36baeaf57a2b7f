"""What a store returns: search hits (text read lazily), stored records, indexed-file states."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput, StaleResult

__all__ = ["Hit", "Record", "SourceState", "MAX_K", "check_k"]

MAX_K = 10_000


class LazyRows:
    """The text and metadata of one search's hits, read from SQLite in one query when first needed.

    Vector search resolves ids and scores from memory; most callers then read the text of a few
    hits, some never do (an id is all a caller with its own document store needs). Reading the rows
    on first access keeps the SQLite read off the search path and still costs one query per search.
    A store that is closed first reads its pending rows on ``close()``.
    """

    __slots__ = ("_store", "_keys", "_rows", "__weakref__")

    def __init__(self, store, keys: list[int], rows: dict | None = None):
        self._store, self._keys, self._rows = store, keys, rows

    def load(self) -> dict[int, tuple[str, str]]:
        if self._rows is None:
            self._rows = self._store._texts(self._keys)
            self._store = None
        return self._rows

    def get(self, key: int, id_: str) -> tuple[str, str]:
        row = (self._rows if self._rows is not None else self.load()).get(key)
        if row is None:
            raise StaleResult(f"the item {id_!r} was deleted or replaced after this search; "
                              "search again")
        return row


class Hit:
    """One search result: the item's id, its score (higher is better), text and metadata.

    ``id`` and ``score`` come with the search; ``text`` and ``metadata`` are read from the store on
    first access (for all hits of the search at once) and ``metadata`` is decoded from its stored
    JSON then, so searches that only need ids and scores do not pay for either.
    """

    __slots__ = ("id", "score", "_key", "_rows", "_metadata")

    def __init__(self, id: str, score: float, key: int, rows: LazyRows):
        self.id, self.score, self._key, self._rows, self._metadata = id, score, key, rows, None

    @property
    def text(self) -> str:
        """The item's text."""
        return self._rows.get(self._key, self.id)[0]

    @property
    def metadata_json(self) -> str:
        """The item's metadata as stored (a JSON object)."""
        return self._rows.get(self._key, self.id)[1]

    @property
    def metadata(self) -> dict:
        """The item's metadata."""
        if self._metadata is None:
            self._metadata = json.loads(self.metadata_json)
        return self._metadata

    def __eq__(self, other) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        return (self.id, self.score, self.text, self.metadata_json) == \
            (other.id, other.score, other.text, other.metadata_json)

    __hash__ = None

    def __repr__(self) -> str:
        return f"Hit(id={self.id!r}, score={self.score!r}, text={self.text!r})"


@dataclass(frozen=True)
class Record:
    """A stored item as returned by :meth:`VectorStore.get`."""

    id: str
    text: str
    metadata: dict
    vector: np.ndarray


@dataclass(frozen=True)
class SourceState:
    """What the store remembers of an indexed file, to skip it when unchanged."""

    source: str
    size: int
    mtime_ns: int
    sha256: str
    n_items: int


def check_k(k) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 < k <= MAX_K:
        raise InvalidInput(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
    return int(k)
