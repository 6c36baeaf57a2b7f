"""Vector stores: the contract (:mod:`.base`) and its backends.

- :mod:`.sqlite` -- :class:`VectorStore`, the embedded default: one SQLite file (WAL) as the source
  of truth, FTS5 for keyword search, an HNSW index file beside it as a rebuildable cache;
- :mod:`.schema` -- the SQLite schema and its migrations;
- :mod:`.filters` -- metadata filters as parameterised SQL, keyword queries for FTS5;
- :mod:`.vector_index` -- exact and HNSW search and the index's catch-up from the change log;
- :mod:`.ann` -- the HNSW index file itself (hnswlib);
- :mod:`.results` -- hits, records, indexed-file states.
"""
