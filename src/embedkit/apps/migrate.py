"""Copy a store between backends (SQLite file <-> Milvus / Milvus Lite), then verify the copy.

>>> migrate("docs.db", "milvus-lite://docs-milvus.db")          # doctest: +SKIP
{'copied': 1200, 'sources': 14, 'sampled': 100, ...}

Everything a store holds is copied: ids, texts, metadata, vectors (as stored, no re-embedding), the
recorded model (name, spec, fingerprint, prompts) and the states of indexed files, so that
``embedkit index`` continues incrementally on the copy. The destination must be new or empty. The
copy is verified: the item counts (in all and per indexed file) must be equal and a random sample
of items must have the same text, metadata and vector (to float32 rounding); a failed check is an
error that names what differs.
"""

from __future__ import annotations

import random
import time

import numpy as np

from ..errors import InvalidInput, StoreError

__all__ = ["migrate"]


def _open(spec, *, create: bool):
    from ..store.sqlite import VectorStore

    return VectorStore(str(spec), create=create)


def migrate(src, dst, *, batch_size: int = 1000, sample: int = 100, seed: int = 0) -> dict:
    """Copy the store ``src`` into the new or empty store ``dst`` and verify it; return a report."""
    if str(src) == str(dst):
        raise InvalidInput("SRC and DST are the same store")
    t0 = time.perf_counter()
    with _open(src, create=False) as a:
        if a.dim is None:
            raise InvalidInput(f"{src} holds no vectors; there is nothing to migrate")
        from ..store.sqlite import VectorStore

        options = {"dim": a.dim, "metric": a.metric}
        with VectorStore(str(dst), create=True, **options) as b:
            if b.count() or b.sources():
                raise InvalidInput(f"{dst} already holds {b.count()} items; migrate into a new or empty store")
            if b.metric != a.metric:
                raise InvalidInput(f"{dst} uses the {b.metric} metric, {src} the {a.metric} metric")
            b.record_model(a.model_record(), a.dim)
            sources = a.sources()
            copied, ids = 0, []
            for batch in a.records(batch_size=batch_size):
                b.add([r.text for r in batch], ids=[r.id for r in batch],
                      metadata=[r.metadata for r in batch], vectors=np.stack([r.vector for r in batch]))
                copied += len(batch)
                ids += [r.id for r in batch]
            for source in sources:
                b.put_source_state(a.source_state(source))
            b.build_index()
            report = _verify(a, b, sources, ids, sample, seed)
    return {"src": str(src), "dst": str(dst), "copied": copied, "sources": len(sources), **report,
            "seconds": round(time.perf_counter() - t0, 3)}


def _verify(a, b, sources, ids, sample: int, seed: int) -> dict:
    na, nb = a.count(), b.count()
    if na != nb:
        raise StoreError(f"the copy holds {nb} items, the source {na}")
    if b.sources() != sources:
        raise StoreError("the copy's indexed files differ from the source's")
    for source in sources:
        if a.count(where={"source": source}) != b.count(where={"source": source}):
            raise StoreError(f"the copy holds a different number of items of {source}")
    if a.model_record() != b.model_record():
        raise StoreError(f"the copy records the model {b.model_record()} instead of {a.model_record()}")
    picked = random.Random(seed).sample(ids, min(sample, len(ids)))
    for x, y in zip(a.get(picked), b.get(picked)):
        if y is None or (x.text, x.metadata) != (y.text, y.metadata) or \
                not np.allclose(x.vector, y.vector, atol=1e-6):
            raise StoreError(f"the item {x.id!r} differs in the copy")
    return {"count": nb, "sampled": len(picked)}
