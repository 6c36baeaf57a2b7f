"""The store contract: what every backend offers (SQLite today; Milvus for scale-out).

Apps, the CLI, the service and the indexing pipeline talk to a store only through this interface,
so a second backend plugs in without changing them. The SQLite backend
(:class:`~embedkit.store.sqlite.VectorStore`) is the reference implementation; the contract tests in
``tests/store/`` run over every backend.

Ids are strings chosen by the caller (or random); vectors are float32 rows of the store's dimension;
metadata is a JSON object per item; ``where`` filters are metadata equality (``{"lang": "ko"}``,
JSON types kept apart). Search returns :class:`~.results.Hit` objects, best first, scores "higher is
closer" for every mode.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from .results import Hit, Record, SourceState

__all__ = ["StoreBackend"]


@runtime_checkable
class StoreBackend(Protocol):
    """A durable collection of (id, text, metadata, vector) with vector, keyword and hybrid search.

    Backends: :class:`~.sqlite.VectorStore` (a file path) and :class:`~.milvus.MilvusStore`
    (``milvus://host:port/collection`` or ``milvus-lite://path.db``); ``VectorStore(path)`` and
    ``embedkit.open(path)`` pick the backend from the path.
    """

    path: str
    metric: str
    encoder: object | None

    @property
    def dim(self) -> int | None:
        """The vector dimension (None until the first vector is stored)."""
        ...

    @property
    def model(self) -> str | None:
        """The name of the model that made the vectors, if recorded."""
        ...

    @property
    def model_spec(self) -> str | None:
        """The spec that loads that model again."""
        ...

    def add(self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
            metadata: Sequence[Mapping] | None = None, vectors=None, batch_size: int = 32,
            progress: bool | None = None) -> list[str]:
        """Add items in one transaction; an id already stored is an error."""
        ...

    def upsert(self, texts: Sequence[str] | None = None, *, ids: Sequence[str],
               metadata: Sequence[Mapping] | None = None, vectors=None, batch_size: int = 32,
               progress: bool | None = None) -> list[str]:
        """Add items, replacing stored items with the same ids."""
        ...

    def delete(self, ids: Sequence[str] | None = None, *, where: Mapping | None = None) -> int:
        """Delete by ids or by filter; return how many were deleted."""
        ...

    def get(self, ids: Sequence[str]) -> list[Record | None]:
        """The stored items, in order; None where an id is not stored."""
        ...

    def count(self, where: Mapping | None = None) -> int:
        """How many items (matching ``where``)."""
        ...

    def search(self, query, *, k: int = 10, mode: str = "vector", where: Mapping | None = None,
               expansion: int | None = None, language_neutral: bool = True) -> list[Hit]:
        """Vector, keyword or hybrid search by a text or a vector (``language_neutral``: see
        :mod:`embedkit.store.language`; a backend may ignore it and say so)."""
        ...

    # Incremental indexing of files (see embedkit.apps.indexing).
    def source_state(self, source: str) -> SourceState | None:
        """What the store remembers of an indexed file."""
        ...

    def sources(self) -> list[str]:
        """Every indexed source, sorted."""
        ...

    def replace_source(self, state: SourceState, texts, *, ids, metadata, vectors) -> None:
        """Replace all items of a source and its state in one transaction."""
        ...

    def touch_source(self, state: SourceState) -> None:
        """Record a new size/mtime for an unchanged source."""
        ...

    def remove_source(self, source: str) -> int:
        """Delete a source's items and its state."""
        ...

    def records(self, *, where: Mapping | None = None, batch_size: int = 1000) -> Iterator[list[Record]]:
        """Every stored item (matching ``where``), a batch at a time (for copying a store)."""
        ...

    def model_record(self) -> dict:
        """The recorded model: name, spec, fingerprint, modality, prompts (those recorded)."""
        ...

    def record_model(self, record: Mapping, dim: int) -> None:
        """Record another store's model and the dimension before the first vectors (for copying)."""
        ...

    def put_source_state(self, state: SourceState) -> None:
        """Record an indexed file's state as it is (for copying)."""
        ...

    def info(self) -> dict:
        """A summary: count, dimension, metric, model, index state."""
        ...

    def close(self) -> None:
        """Flush and close."""
        ...
