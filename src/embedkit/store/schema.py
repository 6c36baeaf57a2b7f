"""The store's SQLite schema, its creation and its migrations.

Tables: ``meta`` (settings: format, schema version, metric, dimension, model), ``items`` (id, text,
metadata JSON under an integer key), ``vectors`` (float32 blobs under the same keys), the FTS5 index
``items_fts`` kept in step by triggers, the change log ``changes`` that the ANN index catches up
from, and ``sources`` (indexed files, for incremental indexing).
"""

from __future__ import annotations

import logging
import sqlite3

from ..errors import StoreCorrupt, StoreError

__all__ = ["FORMAT", "SCHEMA_VERSION", "connect", "create", "migrate"]

log = logging.getLogger(__name__)

FORMAT = "embedkit-store"
SCHEMA_VERSION = 2  # 2: vectors in their own table (1: a column of items); 1 is migrated on open
MMAP_BYTES = 1 << 30  # memory-map up to 1 GiB of the database file for reads

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    key INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE vectors (key INTEGER PRIMARY KEY, vector BLOB NOT NULL);
CREATE INDEX items_source ON items (json_extract(metadata, '$.source'));
CREATE VIRTUAL TABLE items_fts USING fts5(
    text, content='items', content_rowid='key', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, key INTEGER NOT NULL, op INTEGER NOT NULL);
CREATE TABLE sources (
    source TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, n_items INTEGER NOT NULL, indexed_at REAL NOT NULL
);
CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, text) VALUES (new.key, new.text);
    INSERT INTO changes (key, op) VALUES (new.key, 1);
END;
CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text) VALUES ('delete', old.key, old.text);
    INSERT INTO changes (key, op) VALUES (old.key, 0);
    DELETE FROM vectors WHERE key = old.key;
END;
CREATE TRIGGER items_au AFTER UPDATE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text) VALUES ('delete', old.key, old.text);
    INSERT INTO items_fts (rowid, text) VALUES (new.key, new.text);
    INSERT INTO changes (key, op) VALUES (old.key, 0);
    INSERT INTO changes (key, op) VALUES (new.key, 1);
END;
"""

# Schema 1 kept the vector as the last column of ``items``: 1.5 KB rows (384 dimensions) put two
# items on a page, so reading the text of ten hits touched ten scattered pages and a metadata
# filter scanned every vector. Schema 2 keeps text rows narrow and vectors apart.
_MIGRATE_1_TO_2 = """
CREATE TABLE vectors (key INTEGER PRIMARY KEY, vector BLOB NOT NULL);
INSERT INTO vectors (key, vector) SELECT key, vector FROM items;
ALTER TABLE items DROP COLUMN vector;
DROP TRIGGER items_ad;
CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text) VALUES ('delete', old.key, old.text);
    INSERT INTO changes (key, op) VALUES (old.key, 0);
    DELETE FROM vectors WHERE key = old.key;
END;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""


def connect(path: str) -> tuple[sqlite3.Connection, set[str]]:
    """Open the database (WAL, ``synchronous=FULL``) and return it with its table names."""
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        # Search reads a few random rows per query: map the file instead of read() syscalls,
        # and keep more pages cached (64 MiB; the default is 2 MiB).
        db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        db.execute("PRAGMA cache_size=-65536")
        db.execute("PRAGMA foreign_keys=ON")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path} is not a readable embedkit store: {exc}") from exc
    return db, tables


def create(db: sqlite3.Connection, meta: dict[str, str]) -> None:
    """Create the schema and its meta rows in one transaction (a killed creation leaves nothing)."""
    # executescript commits any open transaction first, so the script opens its own.
    db.executescript("BEGIN IMMEDIATE;" + _SCHEMA)
    try:
        db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def migrate(db: sqlite3.Connection, path: str, version: int) -> bool:
    """Upgrade a store of schema ``version`` to :data:`SCHEMA_VERSION` in one transaction.

    Returns whether anything changed.
    """
    if version >= SCHEMA_VERSION:
        return False
    log.info("upgrading %s to store schema 2 (vectors in their own table)", path)
    try:
        db.executescript("BEGIN IMMEDIATE;" + _MIGRATE_1_TO_2)
        db.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise StoreError(f"cannot upgrade {path} to schema 2: {exc}") from exc
    return True
