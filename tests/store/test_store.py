"""VectorStore: the SQLite backend's contract, search modes, durability and bad input."""

import sqlite3

import numpy as np
import pytest

from embedkit import VectorStore
from embedkit.errors import (DimensionMismatch, InvalidInput, ModelMismatch, StaleResult, StoreCorrupt,
                             StoreError, StoreNotFound)
from embedkit.store.filters import fts_query
from embedkit.text.hashing import HashingEncoder

DOCS = {
    "a": "The red car is parked in the garage",
    "b": "A new SUV with four wheel drive",
    "c": "Fresh apples and ripe bananas at the market",
    "d": "The cars raced around the track",
    "e": "자동차가 주차장에 있다",
    "f": "Carrot cake with cream cheese",
}


@pytest.fixture
def enc():
    return HashingEncoder(dim=128)


@pytest.fixture
def store(tmp_path, enc):
    s = VectorStore(tmp_path / "s.db", encoder=enc)
    s.add(list(DOCS.values()), ids=list(DOCS), metadata=[{"lang": "ko" if k == "e" else "en", "n": i}
                                                          for i, k in enumerate(DOCS)])
    yield s
    s.close()


def test_add_get_count_delete_upsert(store, enc):
    assert store.count() == 6 and len(store) == 6
    rec_a, missing = store.get(["a", "zzz"])
    assert missing is None and rec_a.text == DOCS["a"] and rec_a.metadata == {"lang": "en", "n": 0}
    np.testing.assert_allclose(rec_a.vector, enc.encode([DOCS["a"]])[0], atol=1e-6)
    with pytest.raises(InvalidInput, match="already in the store"):
        store.add(["again"], ids=["a"])
    assert store.count() == 6  # the failed add changed nothing
    store.upsert(["The blue car"], ids=["a"], metadata=[{"lang": "en"}])
    assert store.get(["a"])[0].text == "The blue car" and store.count() == 6
    assert store.delete(["a", "b", "nope"]) == 2
    assert store.count() == 4 and store.get(["a"]) == [None]
    assert store.delete(where={"lang": "ko"}) == 1
    assert store.count(where={"lang": "en"}) == 3


def test_keyword_search_matches_words_not_substrings(store):
    ids = {h.id for h in store.search("car", mode="keyword")}
    assert ids == {"a", "d"}  # "cars" stems to car; "carrot" does not match
    assert [h.id for h in store.search("자동차", mode="keyword")] == ["e"]  # 자동차가 -> 자동차
    hits = store.search("apples bananas", mode="keyword")
    assert hits[0].id == "c" and hits[0].score > 0


def test_fts_query_quotes_operators():
    assert fts_query('car OR "x" NEAR(y)') == '"car" OR "or" OR "x" OR "near" OR "y"'
    with pytest.raises(InvalidInput, match="no words"):
        fts_query("?!")


def test_vector_and_hybrid_search(store, enc):
    top = store.search("red car parked", k=3)
    assert top[0].id == "a" and top[0].score == pytest.approx(
        float(enc.encode(["red car parked"])[0] @ enc.encode([DOCS["a"]])[0]), abs=1e-5)
    assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)
    hybrid = store.search("car garage", mode="hybrid", k=3)
    assert hybrid[0].id == "a"
    by_vector = store.search(enc.encode(["fresh apples"])[0], k=1)
    assert by_vector[0].id == "c"


def test_metadata_filters(store):
    assert {h.id for h in store.search("car", k=10, where={"lang": "ko"})} == {"e"}
    assert {h.id for h in store.search("car", mode="keyword", where={"lang": "en"})} == {"a", "d"}
    assert [h.id for h in store.search("car", mode="hybrid", where={"n": 3})] == ["d"]
    with pytest.raises(InvalidInput):
        store.search("car", where={"lang": ["en"]})


@pytest.mark.parametrize("kwargs,match", [
    ({"query": "", "mode": "vector"}, "empty"),
    ({"query": "   ", "mode": "keyword"}, "empty"),
    ({"query": "car", "mode": "fuzzy"}, "Valid modes are: vector, keyword, hybrid"),
    ({"query": "car", "k": 0}, "k must be"),
    ({"query": "car", "k": -3}, "k must be"),
    ({"query": "car", "k": 10**9}, "k must be"),
    ({"query": np.ones(7), "mode": "vector"}, "dimension 7, expected 128"),
    ({"query": np.full(128, np.nan), "mode": "vector"}, "NaN"),
])
def test_bad_search_input(store, kwargs, match):
    query = kwargs.pop("query")
    with pytest.raises(InvalidInput, match=match):
        store.search(query, **kwargs)


def test_bad_add_input(tmp_path, enc):
    s = VectorStore(tmp_path / "x.db", encoder=enc)
    with pytest.raises(InvalidInput, match="empty"):
        s.add(["ok", "  "])
    with pytest.raises(InvalidInput, match="must be a str"):
        s.add(["ok", 3])
    with pytest.raises(InvalidInput, match="list of str"):
        s.add("just a string")
    with pytest.raises(DimensionMismatch):
        s.add(["x"], vectors=np.ones((1, 5)))
    with pytest.raises(InvalidInput, match="NaN"):
        s.add(["x"], vectors=np.full((1, 128), np.nan))
    with pytest.raises(InvalidInput, match="more than once"):
        s.add(["x", "y"], ids=["same", "same"])
    with pytest.raises(InvalidInput, match="JSON"):
        s.add(["x"], metadata=[{"f": object()}])
    assert s.count() == 0


def test_store_records_its_model_and_refuses_another(tmp_path, enc):
    path = tmp_path / "m.db"
    VectorStore(path, encoder=enc).add(["hello world"])
    reopened = VectorStore(path, create=False)
    assert reopened.model == "hashing-128" and reopened.dim == 128 and reopened.model_spec == "hashing-128"
    with pytest.raises(ModelMismatch, match="hashing-128"):
        VectorStore(path, encoder=HashingEncoder(dim=128, name="other-model"))
    with pytest.raises(ModelMismatch, match="128-dimensional"):
        VectorStore(path, encoder=HashingEncoder(dim=64, name="hashing-128"))


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(StoreNotFound):
        VectorStore(tmp_path / "none.db", create=False)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorrupt):
        VectorStore(junk)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreCorrupt, match="not an embedkit store"):
        VectorStore(other)


def _random_store(path, n=600, dim=16, threshold=100, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    s = VectorStore(path, dim=dim, ann_threshold=threshold)
    s.add(vectors=x, ids=[f"v{i}" for i in range(n)], metadata=[{"g": i % 3} for i in range(n)])
    return s, x


def test_ann_search_agrees_with_exact(tmp_path):
    s, x = _random_store(tmp_path / "ann.db")
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((30, 16)).astype(np.float32)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    recall = []
    for q in queries:
        exact = {f"v{i}" for i in np.argsort(-(xn @ (q / np.linalg.norm(q))))[:10]}
        recall.append(len(exact & {h.id for h in s.search(q, k=10)}) / 10)
    assert np.mean(recall) >= 0.95
    assert s.ann_path.exists()
    filtered = s.search(queries[0], k=5, where={"g": 1})
    assert len(filtered) == 5 and all(h.metadata["g"] == 1 for h in filtered)
    s.close()


def test_index_file_is_rebuilt_when_corrupt_and_caught_up_when_stale(tmp_path):
    path = tmp_path / "ann.db"
    s, x = _random_store(path)
    s.search(x[0], k=1)
    s.close()
    ann = path.with_name("ann.db.ann")
    # Stale: a write after the index was saved, by a store that never loads the index.
    writer = VectorStore(path, ann_threshold=10**9)
    writer.add(vectors=x[:1] * -1.0, ids=["new"])
    writer.delete(["v0"])
    writer.close()
    s = VectorStore(path, ann_threshold=100)
    assert s.search(-x[0], k=1)[0].id == "new"
    assert "v0" not in {h.id for h in s.search(x[0], k=10)}
    s.close()
    # Corrupt: garbage in the index file is detected and the index rebuilt from SQLite.
    ann.write_bytes(b"\x00garbage" * 1000)
    s = VectorStore(path, ann_threshold=100)
    assert s.search(x[5], k=1)[0].id == "v5"
    s.close()
    assert ann.read_bytes()[:8] != b"\x00garbage"
    # Missing: rebuilt too.
    ann.unlink()
    s = VectorStore(path, ann_threshold=100)
    assert s.search(x[7], k=1)[0].id == "v7"
    s.close()


def test_euclidean_and_dot_metrics(tmp_path):
    x = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]], dtype=np.float32)
    e = VectorStore(tmp_path / "e.db", dim=2, metric="euclidean")
    e.add(vectors=x, ids=["o", "p", "q"])
    hits = e.search(np.array([3.0, 3.0]), k=3)
    assert [h.id for h in hits] == ["p", "o", "q"] and hits[0].score == pytest.approx(-1.0)
    d = VectorStore(tmp_path / "d.db", dim=2, metric="dot")
    d.add(vectors=x, ids=["o", "p", "q"])
    assert d.search(np.array([1.0, 0.0]), k=1)[0].score == pytest.approx(10.0)
    with pytest.raises(InvalidInput, match="Valid metrics"):
        VectorStore(tmp_path / "z.db", metric="hamming")


def test_failed_write_leaves_store_unchanged(tmp_path, enc):
    s = VectorStore(tmp_path / "t.db", encoder=enc)
    s.add(["one"], ids=["1"])
    with pytest.raises(RuntimeError):
        with s.transaction():
            s.add(["two"], ids=["2"])
            raise RuntimeError("boom")
    assert s.count() == 1 and s.get(["2"]) == [None]
    assert s.integrity_check() == []


def _sql_counter(store):
    """Count the SELECTs a store runs on items' text (through SQLite's trace hook)."""
    seen = []
    store._db.set_trace_callback(lambda sql: seen.append(sql) if "text, metadata FROM items" in sql else None)
    return seen


@pytest.mark.parametrize("threshold", [100, 10_000])  # ANN path and exact path
def test_hits_read_text_once_per_search_on_first_access(tmp_path, threshold):
    s, x = _random_store(tmp_path / "lazy.db", threshold=threshold)
    s.search(x[0], k=3)  # builds the index / exact matrix and the id map
    reads = _sql_counter(s)
    hits = s.search(x[3], k=3)
    assert hits[0].id == "v3" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert reads == []  # ids and scores come without touching the rows
    assert [h.metadata["g"] for h in hits] == [int(h.id[1:]) % 3 for h in hits]
    assert hits[0].text == "" and len(reads) == 1  # one query served every hit
    assert hits == s.search(x[3], k=3)  # equal: same ids, scores, texts and metadata
    # Hits whose text was never read keep it when the store closes.
    unread = s.search(x[4], k=2)
    s.close()
    assert unread[0].id == "v4" and unread[0].metadata == {"g": 1}


def test_hit_of_an_item_deleted_before_its_text_is_read(tmp_path):
    s, x = _random_store(tmp_path / "gone.db")
    hits = s.search(x[9], k=2)
    s.delete(["v9"])
    with pytest.raises(StaleResult, match="'v9' .* deleted or replaced"):
        hits[0].text
    assert hits[0].id == "v9" and "v9" not in {h.id for h in s.search(x[9], k=5)}
    s.close()


def test_another_process_writes_are_seen_within_the_consistency_interval(tmp_path, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("embedkit.store.sqlite._clock", lambda: now[0])
    path = tmp_path / "shared.db"
    reader = VectorStore(path, dim=4, ann_threshold=1)
    strict = VectorStore(path, ann_threshold=1, read_consistency_interval=0)
    assert reader.search(np.ones(4), k=1) == []
    writer = VectorStore(path, ann_threshold=1)
    writer.add(vectors=np.eye(4, dtype=np.float32), ids=["a", "b", "c", "d"])
    assert strict.search(np.array([0, 1.0, 0, 0]), k=1)[0].id == "b"  # seen at once
    assert reader.search(np.array([0, 1.0, 0, 0]), k=1) == []  # not looked yet
    now[0] += 0.1
    assert reader.search(np.array([0, 1.0, 0, 0]), k=1)[0].id == "b"
    writer.delete(["b"])
    # Within the interval the reader answers at the position it last looked at ...
    now[0] += 0.05
    assert reader.search(np.array([0, 1.0, 0, 0]), k=1)[0].id == "b"
    assert strict.search(np.array([0, 1.0, 0, 0]), k=1)[0].id != "b"
    # ... and after it, at the writer's.
    now[0] += 0.1
    assert reader.search(np.array([0, 1.0, 0, 0]), k=4)[0].id != "b"
    assert {h.id for h in reader.search(np.ones(4), k=4)} == {"a", "c", "d"}
    # A store's own writes are seen at once, whatever the interval.
    reader.add(vectors=np.array([[0, 0.9, 0.1, 0]]), ids=["b2"])
    assert reader.search(np.array([0, 1.0, 0, 0]), k=1)[0].id == "b2"
    with pytest.raises(InvalidInput, match="read_consistency_interval"):
        VectorStore(path, read_consistency_interval=-1)
    for s in (reader, strict, writer):
        s.close()


def test_first_vectors_stored_by_another_process(tmp_path):
    path = tmp_path / "late.db"
    reader = VectorStore(path, ann_threshold=1, read_consistency_interval=0)
    with pytest.raises(StoreError, match="empty"):
        reader.search(np.ones(3), k=1)
    with VectorStore(path) as writer:
        writer.add(vectors=np.eye(3), ids=["x", "y", "z"])
    assert reader.search(np.array([0, 0, 2.0]), k=1)[0].id == "z" and reader.dim == 3
    reader.close()


@pytest.mark.filterwarnings("ignore:overflow encountered")  # 1e30 squared, before the error
def test_query_vector_checks(store):
    q = store.encoder.encode(["red car"])[0]
    assert [h.id for h in store.search(q * 7.5, k=3)] == [h.id for h in store.search(q, k=3)]
    for bad in (np.full(128, np.inf), np.full(128, 1e30, dtype=np.float32)):
        with pytest.raises(InvalidInput, match="NaN or infinite"):
            store.search(bad)
    with pytest.raises(DimensionMismatch):
        store.search(q[:64])
    with pytest.raises(InvalidInput, match="one query vector"):
        store.search(np.stack([q, q]))


# The schema of stores written by embedkit 0.1 (schema 1): the vector was a column of items.
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE items (
    key INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}', vector BLOB NOT NULL
);
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
END;
CREATE TRIGGER items_au AFTER UPDATE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text) VALUES ('delete', old.key, old.text);
    INSERT INTO items_fts (rowid, text) VALUES (new.key, new.text);
    INSERT INTO changes (key, op) VALUES (old.key, 0);
    INSERT INTO changes (key, op) VALUES (new.key, 1);
END;
"""


def test_schema_1_store_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    rng = np.random.default_rng(3)
    x = rng.standard_normal((150, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("format", "embedkit-store"), ("schema_version", "1"), ("metric", "cosine"), ("dim", "8"),
            ("created_at", "0"), ("log_compacted_upto", "0")])
        db.executemany("INSERT INTO items (id, text, metadata, vector) VALUES (?, ?, ?, ?)",
                       [(f"v{i}", f"item number {i}", f'{{"g": {i % 2}}}', x[i].tobytes()) for i in range(150)])
    s = VectorStore(path, ann_threshold=100)
    assert s.meta["schema_version"] == "3" and s.integrity_check() == []  # via 2, step by step
    rec = s.get(["v7"])[0]
    assert rec.text == "item number 7" and rec.metadata == {"g": 1}
    np.testing.assert_array_equal(rec.vector, x[7])
    assert s.search(x[42], k=1)[0].id == "v42"  # through the HNSW index
    assert [h.id for h in s.search("number 9", mode="keyword", k=1)] == ["v9"]
    assert s.delete(["v42"]) == 1 and s.search(x[42], k=1)[0].id != "v42"
    s.add(vectors=x[:1], ids=["again"])
    assert s.count() == 150
    s.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 150  # none orphaned
        assert "vector" not in {r[1] for r in db.execute("PRAGMA table_info(items)")}
    s = VectorStore(path, ann_threshold=1000)  # opens again as schema 3, searched exactly
    assert s.search(x[0], k=2)[0].id in {"v0", "again"} and s.count() == 150
    s.close()


def test_filtered_vector_search_matches_exact_filtered_search(tmp_path):
    # 600 items, index above 100: g=0/1/2 (200 each) is searched inside the HNSW walk, h=7 (6 items)
    # exactly over the index's vectors, and a new matching item is found at once (cached filters).
    s, x = _random_store(tmp_path / "f.db")
    s.upsert(vectors=x[:6], ids=[f"v{i}" for i in range(6)], metadata=[{"g": i % 3, "h": 7} for i in range(6)])
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    rng = np.random.default_rng(5)
    for q in rng.standard_normal((10, 16)).astype(np.float32):
        qn = q / np.linalg.norm(q)
        g1 = [i for i in np.argsort(-(xn @ qn)) if i % 3 == 1][:10]
        found = [h.id for h in s.search(q, k=10, where={"g": 1})]
        assert len(set(found) & {f"v{i}" for i in g1}) >= 9 and all(int(f[1:]) % 3 == 1 for f in found)
        h7 = [f"v{i}" for i in np.argsort(-(xn[:6] @ qn))]
        assert [h.id for h in s.search(q, k=10, where={"h": 7})] == h7  # exact: all six, in order
    s.add(vectors=-x[:1], ids=["late"], metadata=[{"h": 7}])
    assert s.search(-x[0], k=1, where={"h": 7})[0].id == "late"
    assert s.search(x[0], k=3, where={"h": 8}) == []
    s.close()


def test_where_keeps_json_types_apart(tmp_path):
    s = VectorStore(tmp_path / "t.db", dim=2)
    s.add(vectors=np.eye(2)[[0, 1, 0, 1]], ids=["true", "one", "text", "float"],
          metadata=[{"v": True}, {"v": 1}, {"v": "1"}, {"v": 1.0}])
    assert {h.id for h in s.search(np.ones(2), k=10, where={"v": True})} == {"true"}
    assert {h.id for h in s.search(np.ones(2), k=10, where={"v": 1})} == {"one", "float"}
    assert {h.id for h in s.search(np.ones(2), k=10, where={"v": "1"})} == {"text"}
    assert s.count(where={"v": False}) == 0 and s.count(where={"v": 1.0}) == 2
    with pytest.raises(InvalidInput, match="all zeros"):
        s.search(np.zeros(2))
    s.close()
    for call in (lambda: s.search(np.ones(2)), lambda: s.add(vectors=np.ones((1, 2))), s.count):
        with pytest.raises(StoreError, match="closed"):
            call()


def test_korean_keyword_search_uses_morphemes(tmp_path, enc):
    docs = {"k1": "자동차를 새로 샀다", "k2": "자동차의 엔진 소리", "k3": "전기자동차 충전소가 부족하다",
            "k4": "고속 열차가 빠르게 달린다", "k5": "자동차보험료가 올랐다", "k6": "사과와 배를 먹었다"}
    s = VectorStore(tmp_path / "ko.db", encoder=enc)
    s.add(list(docs.values()), ids=list(docs))
    # Any inflected form finds the others: particles and endings are not part of the term.
    for query in ("자동차", "자동차가", "자동차를"):
        assert {"k1", "k2", "k3"} <= {h.id for h in s.search(query, mode="keyword")}, query
    assert {h.id for h in s.search("충전소", mode="keyword")} == {"k3"}  # a compound's noun
    assert {h.id for h in s.search("빠른 열차", mode="keyword")} == {"k4"}  # adjective stem 빠르
    assert "k6" not in {h.id for h in s.search("자동차", mode="keyword")}
    # Mixed scripts and English keep working in the same index.
    s.add(["SUV 차량을 샀다", "The SUVs are parked"], ids=["m1", "m2"])
    assert {h.id for h in s.search("SUV", mode="keyword")} == {"m1", "m2"}
    assert {h.id for h in s.search("차량", mode="keyword")} == {"m1"}
    assert s.integrity_check() == []


def test_schema_2_store_gets_a_morpheme_index_in_place(tmp_path):
    from embedkit.store import schema

    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("format", "embedkit-store"), ("schema_version", "1"), ("metric", "cosine"), ("dim", "2"),
            ("created_at", "0"), ("log_compacted_upto", "0")])
        db.executemany("INSERT INTO items (id, text, metadata, vector) VALUES (?, ?, ?, ?)",
                       [("a", "자동차를 고쳤다", "{}", np.float32([1, 0]).tobytes()),
                        ("b", "red apples", "{}", np.float32([0, 1]).tobytes())])
        db.executescript("BEGIN;" + schema._MIGRATE_1_TO_2 + "COMMIT;")
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
        # Schema 2's index: unicode61 over the raw text, where 자동차 is not a word of 자동차를.
        assert db.execute("SELECT COUNT(*) FROM items_fts WHERE items_fts MATCH '\"자동차\"'").fetchone()[0] == 0
    with VectorStore(path) as s:
        assert s.meta["schema_version"] == "3" and s.integrity_check() == []
        assert [h.id for h in s.search("자동차", mode="keyword")] == ["a"]
        assert [h.id for h in s.search("apple", mode="keyword")] == ["b"]
        assert s.search(np.float32([1, 0]), k=1)[0].id == "a"


def test_korean_without_kiwipiepy_is_a_clear_error(tmp_path, enc, monkeypatch):
    from embedkit.errors import BackendUnavailable

    s = VectorStore(tmp_path / "nokiwi.db", encoder=enc)
    s.add(["plain English text"], ids=["en"])
    monkeypatch.setitem(__import__("sys").modules, "kiwipiepy", None)  # as if not installed
    monkeypatch.setattr("embedkit.text.korean._KIWI", None)
    with pytest.raises(BackendUnavailable, match="embedkit\\[korean\\]"):
        s.add(["한국어 문장"], ids=["ko"])
    assert s.count() == 1 and [h.id for h in s.search("english", mode="keyword")] == ["en"]


def test_batch_analysis_indexes_the_same_terms_as_one_at_a_time(tmp_path, enc):
    from embedkit.store.filters import analyze

    texts = ["자동차를 새로 샀다", "The cars raced", "전기자동차 충전소가 부족하다", "자동차를 새로 샀다 ", "ㅋㅋ 재밌다"]
    s = VectorStore(tmp_path / "b.db", encoder=enc)
    s.add(texts, ids=[f"t{i}" for i in range(len(texts))])
    rows = dict(s._query("SELECT rowid, terms FROM items_fts"))
    keys = dict(s._query("SELECT id, key FROM items"))
    assert [rows[keys[f"t{i}"]] for i in range(len(texts))] == [analyze(t) for t in texts]
    assert s._analysed == {}  # nothing kept after the write
