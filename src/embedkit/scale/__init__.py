"""Scale-out on existing engines: Ray Data for batch embedding (the Milvus store backend lives in
:mod:`embedkit.store.milvus`, behind the :class:`~embedkit.store.base.StoreBackend` contract).

- :func:`embed_dataset` -- embed jsonl / csv / parquet / text files over a pool of Ray actors and
  write Parquet or add to a store (:mod:`.ray_embed`). Ray is imported only when it is called.
"""

from __future__ import annotations

__all__ = ["embed_dataset"]


def embed_dataset(*args, **kwargs):
    """Embed files with Ray Data; see :func:`embedkit.scale.ray_embed.embed_dataset`."""
    from .ray_embed import embed_dataset as run

    return run(*args, **kwargs)


embed_dataset.__doc__ = "Embed files with Ray Data over a pool of encoder actors (see :mod:`.ray_embed`)."
