"""The store's SQLite schema, its creation and its migrations.

Tables: ``meta`` (settings: format, schema version, metric, dimension, model), ``items`` (id, text,
metadata JSON under an integer key), ``vectors`` (float32 blobs under the same keys), the FTS5 index
``items_fts`` kept in step by triggers, the change log ``changes`` that the ANN index catches up
from, and ``sources`` (indexed files, for incremental indexing).
"""

from __future__ import annotations

import logging
import sqlite3

from ..errors import EmbedkitError, StoreCorrupt, StoreError
from .filters import analyze

__all__ = ["FORMAT", "SCHEMA_VERSION", "connect", "create", "migrate"]

log = logging.getLogger(__name__)

FORMAT = "embedkit-store"
# 3: keyword index over analysed terms (Korean morphemes); 2: vectors in their own table; 1: vectors
# as a column of items. Older stores are migrated on open, one step at a time, each in a transaction.
SCHEMA_VERSION = 3
MMAP_BYTES = 1 << 30  # memory-map up to 1 GiB of the database file for reads

_FTS = """
CREATE VIRTUAL TABLE items_fts USING fts5(terms, tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, terms) VALUES (new.key, embedkit_terms(new.text));
    INSERT INTO changes (key, op) VALUES (new.key, 1);
END;
CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
    DELETE FROM items_fts WHERE rowid = old.key;
    INSERT INTO changes (key, op) VALUES (old.key, 0);
    DELETE FROM vectors WHERE key = old.key;
END;
CREATE TRIGGER items_au AFTER UPDATE ON items BEGIN
    DELETE FROM items_fts WHERE rowid = old.key;
    INSERT INTO items_fts (rowid, terms) VALUES (new.key, embedkit_terms(new.text));
    INSERT INTO changes (key, op) VALUES (old.key, 0);
    INSERT INTO changes (key, op) VALUES (new.key, 1);
END;
"""

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
CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, key INTEGER NOT NULL, op INTEGER NOT NULL);
CREATE TABLE sources (
    source TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, n_items INTEGER NOT NULL, indexed_at REAL NOT NULL
);
""" + _FTS

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

# Schema 2 indexed the raw text with FTS5's unicode61 tokenizer, which cannot split Korean words
# from their particles (자동차를, 자동차가): keyword search matched Hangul words as prefixes, so
# 자동차 found 자동차를 but 자동차를 never found 자동차, and no compound split into its nouns.
# Schema 3 indexes analysed terms (embedkit.store.filters.analyze: kiwipiepy morphemes for Hangul).
_MIGRATE_2_TO_3 = """
DROP TRIGGER items_ai;
DROP TRIGGER items_ad;
DROP TRIGGER items_au;
DROP TABLE items_fts;
""" + _FTS + """
INSERT INTO items_fts (rowid, terms) SELECT key, embedkit_terms(text) FROM items;
UPDATE meta SET value = '3' WHERE key = 'schema_version';
"""

_MIGRATIONS = {1: ("vectors in their own table", _MIGRATE_1_TO_2),
               2: ("keyword index over Korean morphemes", _MIGRATE_2_TO_3)}


def connect(path: str, analysed: dict[str, str] | None = None
            ) -> tuple[sqlite3.Connection, set[str]]:
    """Open the database (WAL, ``synchronous=FULL``) and return it with its table names.

    ``analysed`` maps texts to their keyword terms worked out ahead (a whole batch at once, which
    is faster for Korean); the keyword index's triggers look there before analysing a text alone.
    """
    analysed = {} if analysed is None else analysed

    def terms(text):
        text = text or ""
        done = analysed.get(text)
        if done is not None:
            return done
        try:
            return analyze(text)
        except EmbedkitError as exc:  # e.g. kiwipiepy missing: fail the write with the reason
            raise sqlite3.OperationalError(str(exc)) from exc

    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        # Search reads a few random rows per query: map the file instead of read() syscalls,
        # and keep more pages cached (64 MiB; the default is 2 MiB).
        db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        db.execute("PRAGMA cache_size=-65536")
        db.execute("PRAGMA foreign_keys=ON")
        # The keyword index's triggers call this (Korean morphemes; other text as it is).
        db.create_function("embedkit_terms", 1, terms, deterministic=True)
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
    """Upgrade a store of schema ``version`` to :data:`SCHEMA_VERSION`, one transaction a step.

    Returns whether anything changed.
    """
    changed = False
    while version < SCHEMA_VERSION:
        what, script = _MIGRATIONS[version]
        log.info("upgrading %s to store schema %d (%s)", path, version + 1, what)
        try:
            db.executescript("BEGIN IMMEDIATE;" + script)
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"cannot upgrade {path} to schema {version + 1}: {exc}") from exc
        version += 1
        changed = True
    return changed
