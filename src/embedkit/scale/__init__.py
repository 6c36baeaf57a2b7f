"""Scale-out on existing engines: Ray Data for batch embedding (the Milvus store backend lives in
:mod:`embedkit.store`, behind the :class:`~embedkit.store.base.StoreBackend` contract)."""
