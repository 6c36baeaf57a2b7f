"""The store contract, run over every backend: SQLite (a file) and Milvus Lite (started by the tests).

Each Milvus Lite store below runs its own in-process Milvus Lite server on a temporary folder,
started when the store opens and stopped when it closes.
"""

import json
import socket
import time

import numpy as np
import pytest

import embedkit
from embedkit import VectorStore
from embedkit.errors import (
    DimensionMismatch,
    InvalidInput,
    ModelMismatch,
    StoreCorrupt,
    StoreError,
    StoreNotFound,
)
from embedkit.store.base import StoreBackend
from embedkit.store.results import SourceState
from embedkit.text.hashing import HashingEncoder

DOCS = {
    "a": "The red car is parked in the garage",
    "b": "A new SUV with four wheel drive",
    "c": "Fresh apples and ripe bananas at the market",
    "d": "The cars raced around the track",
    "e": "자동차가 주차장에 있다",
    "f": "Carrot cake with cream cheese",
}

BACKENDS = ["sqlite", "milvus-lite"]


def location(backend, tmp_path, name="s"):
    return str(tmp_path / f"{name}.db") if backend == "sqlite" else f"milvus-lite://{tmp_path}/{name}.db"


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def open_store(backend, tmp_path):
    opened = []

    def make(name="s", **options):
        s = VectorStore(location(backend, tmp_path, name), **options)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def enc():
    return HashingEncoder(dim=128)


@pytest.fixture
def store(open_store, enc):
    s = open_store(encoder=enc)
    s.add(list(DOCS.values()), ids=list(DOCS), metadata=[{"lang": "ko" if k == "e" else "en", "n": i}
                                                          for i, k in enumerate(DOCS)])
    return s


def test_backend_is_chosen_by_the_path(store, backend, tmp_path):
    assert isinstance(store, StoreBackend)
    assert type(store).__name__ == ("VectorStore" if backend == "sqlite" else "MilvusStore")
    with embedkit.open(location(backend, tmp_path)) as again:  # embedkit.open dispatches the same way
        assert type(again) is type(store) and again.count() == 6


def test_add_get_count_delete_upsert(store, enc):
    assert store.count() == 6 and len(store) == 6
    rec_a, missing = store.get(["a", "zzz"])
    assert missing is None and rec_a.text == DOCS["a"] and rec_a.metadata == {"lang": "en", "n": 0}
    np.testing.assert_allclose(rec_a.vector, enc.encode([DOCS["a"]])[0], atol=1e-6)
    with pytest.raises(InvalidInput, match="already in the store"):
        store.add(["again", "fresh"], ids=["new", "a"])
    assert store.count() == 6 and store.get(["new"]) == [None]  # the failed add changed nothing
    store.upsert(["The blue car"], ids=["a"], metadata=[{"lang": "en"}])
    assert store.get(["a"])[0].text == "The blue car" and store.count() == 6
    assert store.delete(["a", "b", "nope"]) == 2
    assert store.count() == 4 and store.get(["a"]) == [None]
    assert store.delete(where={"lang": "ko"}) == 1
    assert store.count(where={"lang": "en"}) == 3
    batches = list(store.records(batch_size=2))
    assert sorted(r.id for b in batches for r in b) == ["c", "d", "f"] and max(map(len, batches)) <= 2


def test_keyword_search_matches_words_not_substrings(store):
    hits = store.search("car", mode="keyword")
    assert {h.id for h in hits} == {"a", "d"}  # "cars" stems to car; "carrot" does not match
    assert all(h.score > 0 for h in hits)  # BM25, higher is better
    assert [h.id for h in store.search("자동차", mode="keyword")] == ["e"]  # 자동차가 -> 자동차
    top = store.search("apples bananas", mode="keyword")
    assert top[0].id == "c" and top[0].text == DOCS["c"]
    with pytest.raises(InvalidInput, match="no words"):
        store.search("?!", mode="keyword")


def test_bm25_ranks_by_term_frequency(open_store):
    s = open_store(dim=2)
    s.add(["car", "car car car garage", "a long text about a car and many other things in it"],
          ids=["one", "three", "long"], vectors=np.ones((3, 2)))
    assert [h.id for h in s.search("car", mode="keyword")] == ["three", "one", "long"]


def test_vector_and_hybrid_search(store, enc):
    top = store.search("red car parked", k=3)
    assert top[0].id == "a" and top[0].score == pytest.approx(
        float(enc.encode(["red car parked"])[0] @ enc.encode([DOCS["a"]])[0]), abs=1e-5)
    assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)
    assert store.search("car garage", mode="hybrid", k=3)[0].id == "a"
    assert store.search(enc.encode(["fresh apples"])[0], k=1)[0].id == "c"


def test_metadata_filters(store):
    assert {h.id for h in store.search("car", k=10, where={"lang": "ko"})} == {"e"}
    assert {h.id for h in store.search("car", mode="keyword", where={"lang": "en"})} == {"a", "d"}
    assert [h.id for h in store.search("car", mode="hybrid", where={"n": 3})] == ["d"]
    with pytest.raises(InvalidInput):
        store.search("car", where={"lang": ["en"]})


def test_filters_keep_json_types_apart(open_store):
    s = open_store(dim=2)
    values = {"true": True, "one": 1, "one_float": 1.0, "text_one": "1", "null": None, "zero": 0,
              "false": False}
    ids = list(values)
    s.add(vectors=np.ones((len(ids), 2)), ids=ids, metadata=[{"v": v, "a key": v} for v in values.values()])
    s.add(vectors=np.ones((1, 2)), ids=["missing"], metadata=[{}])

    def found(v):
        return {h.id for h in s.search(np.ones(2), k=20, where={"v": v})}

    assert found(1) == {"one", "one_float"} and found(1.0) == {"one", "one_float"}
    assert found(True) == {"true"} and found(False) == {"false"} and found(0) == {"zero"}
    assert found("1") == {"text_one"} and found(None) == {"null"}
    assert s.count(where={"a key": True}) == 1
    assert s.delete(where={"v": 1}) == 2 and s.count() == 6
    assert s.get(["true"])[0].metadata == {"v": True, "a key": True}


def test_model_recorded_and_enforced(backend, tmp_path, enc):
    where = location(backend, tmp_path, "m")
    with VectorStore(where, encoder=enc) as s:
        s.add(["hello world"], ids=["h"])
    with VectorStore(where, create=False) as reopened:
        assert (reopened.model, reopened.dim, reopened.model_spec) == ("hashing-128", 128, "hashing-128")
        with pytest.raises(ModelMismatch, match="hashing-128"):
            reopened.encoder = HashingEncoder(dim=128, name="other-model")
    with pytest.raises(ModelMismatch, match="hashing-128"):
        VectorStore(where, encoder=HashingEncoder(dim=128, name="other-model"))
    with pytest.raises(ModelMismatch, match="128-dimensional"):
        VectorStore(where, encoder=HashingEncoder(dim=64, name="hashing-128"))
    with VectorStore(where, create=False) as s:
        assert s.count() == 1  # nothing lost


def test_durable_after_restart(backend, tmp_path, enc):
    where = location(backend, tmp_path, "d")
    x = enc.encode(list(DOCS.values()))
    with VectorStore(where, encoder=enc) as s:
        s.add(list(DOCS.values()), ids=list(DOCS), metadata=[{"i": i} for i in range(6)])
        s.delete(["f"])
    with VectorStore(where, create=False) as s:
        assert s.count() == 5 and s.get(["f"]) == [None]
        np.testing.assert_allclose(s.get(["c"])[0].vector, x[2], atol=1e-6)
        assert s.search(x[3], k=1)[0].id == "d" and s.search("apples", mode="keyword")[0].id == "c"


def test_missing_store(backend, tmp_path):
    with pytest.raises(StoreNotFound):
        VectorStore(location(backend, tmp_path, "none"), create=False)


@pytest.mark.parametrize("kwargs,match", [
    ({"query": "", "mode": "vector"}, "empty"),
    ({"query": "   ", "mode": "keyword"}, "empty"),
    ({"query": "car", "mode": "fuzzy"}, "Valid modes are: vector, keyword, hybrid"),
    ({"query": "car", "k": 0}, "k must be"),
    ({"query": "car", "k": 10**9}, "k must be"),
    ({"query": np.ones(7), "mode": "vector"}, "dimension 7, expected 128"),
    ({"query": np.full(128, np.nan), "mode": "vector"}, "NaN"),
    ({"query": np.ones(128), "mode": "keyword"}, "text query"),
])
def test_bad_search_input(store, kwargs, match):
    kwargs = dict(kwargs)
    query = kwargs.pop("query")
    with pytest.raises(InvalidInput, match=match):
        store.search(query, **kwargs)


def test_bad_add_input(open_store, enc):
    s = open_store("x", encoder=enc)
    for texts, kwargs, match in [
        (["ok", "  "], {}, "empty"), (["ok", 3], {}, "must be a str"), ("just a string", {}, "list of str"),
        (["x", "y"], {"ids": ["same", "same"]}, "more than once"),
        (["x"], {"metadata": [{"f": object()}]}, "JSON"),
        (["x"], {"vectors": np.full((1, 128), np.nan)}, "NaN"),
    ]:
        with pytest.raises(InvalidInput, match=match):
            s.add(texts, **kwargs)
    with pytest.raises(DimensionMismatch):
        s.add(["x"], vectors=np.ones((1, 5)))
    assert s.count() == 0


def test_indexed_sources(open_store):
    s = open_store(dim=2)
    state = SourceState("a.txt", 10, 5, "ab" * 32, 0)
    s.replace_source(state, ["one", "two"], ids=["a.txt#0", "a.txt#1"],
                     metadata=[{"source": "a.txt"}] * 2, vectors=np.eye(2))
    s.add(["other"], ids=["x"], vectors=np.ones((1, 2)))
    assert s.sources() == ["a.txt"] and s.source_state("a.txt").n_items == 2
    s.replace_source(SourceState("a.txt", 11, 6, "cd" * 32, 0), ["uno"], ids=["a.txt#0"],
                     metadata=[{"source": "a.txt"}], vectors=np.eye(2)[:1])
    assert s.count() == 2 and s.source_state("a.txt").sha256 == "cd" * 32
    s.touch_source(SourceState("a.txt", 12, 7, "cd" * 32, 1))
    assert (s.source_state("a.txt").size, s.source_state("a.txt").mtime_ns) == (12, 7)
    assert s.remove_source("a.txt") == 1 and s.sources() == [] and s.count() == 1
    assert s.source_state("a.txt") is None


def test_metrics_score_higher_is_closer(open_store):
    x = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0]], dtype=np.float32)
    e = open_store("e", dim=2, metric="euclidean")
    e.add(vectors=x, ids=["o", "p", "q"])
    hits = e.search(np.array([3.0, 3.0]), k=3)
    assert [h.id for h in hits] == ["p", "o", "q"]
    assert hits[0].score == pytest.approx(-1.0, abs=1e-4) and hits[1].score == pytest.approx(-np.sqrt(18), abs=1e-4)
    d = open_store("dot", dim=2, metric="dot")
    d.add(vectors=x, ids=["o", "p", "q"])
    assert [h.id for h in d.search(np.array([1.0, 0.0]), k=2)] == ["q", "p"]


# -- Milvus only -------------------------------------------------------------------------------

def test_foreign_and_mismatched_milvus_collections_are_refused_and_left_alone(tmp_path):
    from milvus_lite.server_manager import server_manager_instance
    from pymilvus import DataType, MilvusClient

    path = tmp_path / "foreign.db"
    client = MilvusClient(str(path))
    client.create_collection("theirs", dimension=4)
    client.insert("theirs", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection("half", schema=schema, index_params=index,
                             properties={"embedkit.format": "embedkit-milvus-1", "embedkit.metric": "cosine"})
    client.close()
    server_manager_instance.release_server(str(path))
    with pytest.raises(StoreCorrupt, match="not made by embedkit"):
        VectorStore(f"milvus-lite://{path}?collection=theirs")
    with pytest.raises(StoreCorrupt, match="embedkit schema: text .missing."):
        VectorStore(f"milvus-lite://{path}?collection=half")
    client = MilvusClient(str(path))
    assert client.query("theirs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 1
    client.close()
    server_manager_instance.release_server(str(path))


def test_unreachable_milvus_server_fails_fast():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(StoreError, match=f"cannot reach the Milvus server at 127.0.0.1:{port}"):
        VectorStore(f"milvus://127.0.0.1:{port}/docs")
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("url,match", [
    ("milvus-lite://docs", "ending in .db"),
    ("milvus-lite://x.db?collection=bad-name", "collection names"),
    ("milvus://:19530/c", "milvus://host:port/collection"),
])
def test_bad_milvus_urls(url, match):
    with pytest.raises(InvalidInput, match=match):
        VectorStore(url)


def test_migrate_both_ways_keeps_vectors_metadata_model_and_sources(tmp_path, enc):
    from embedkit.apps.migrate import migrate

    src = tmp_path / "src.db"
    with VectorStore(src, encoder=enc) as s:
        s.replace_source(SourceState("f.txt", 3, 4, "ef" * 32, 0), ["red car", "blue car"],
                         ids=["f.txt#0", "f.txt#1"], metadata=[{"source": "f.txt", "chunk": i} for i in range(2)],
                         vectors=enc.encode(["red car", "blue car"]))
        s.add(list(DOCS.values()), ids=list(DOCS), metadata=[{"flag": i % 2 == 0} for i in range(6)])
    lite = f"milvus-lite://{tmp_path}/copy.db"
    report = migrate(src, lite, batch_size=3, sample=5)
    assert report["copied"] == report["count"] == 8 and report["sources"] == 1 and report["sampled"] == 5
    back = tmp_path / "back.db"
    migrate(lite, back)
    with VectorStore(back, create=False) as b, VectorStore(src, create=False) as a:
        assert b.model_record() == a.model_record() and b.sources() == ["f.txt"]
        assert b.source_state("f.txt") == a.source_state("f.txt")
        assert b.count(where={"flag": True}) == 3
        ids = list(DOCS) + ["f.txt#0"]
        for x, y in zip(a.get(ids), b.get(ids)):
            assert (x.text, x.metadata) == (y.text, y.metadata)
            np.testing.assert_allclose(x.vector, y.vector, atol=1e-6)  # re-normalised: last bit
    with pytest.raises(InvalidInput, match="new or empty"):
        migrate(src, back)


def test_cli_index_search_info_migrate_on_milvus_lite(tmp_path, tiny_st_model):
    from click.testing import CliRunner

    from embedkit.cli import main

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in [("car.txt", "The red car is parked in the garage."), ("fruit.txt", "Fresh apples at the market."),
                       ("ko.txt", "자동차가 주차장에 있다")]:
        (docs / name).write_text(text, encoding="utf-8")
    url = f"milvus-lite://{tmp_path}/cli.db"
    run = CliRunner().invoke
    r = run(main, ["index", str(docs), "--store", url, "--model", str(tiny_st_model)])
    assert r.exit_code == 0 and "3 added" in r.output, r.output
    r = run(main, ["index", str(docs), "--store", url])  # the recorded model, nothing changed
    assert r.exit_code == 0 and "3 unchanged" in r.output, r.output
    r = run(main, ["search", "자동차", "--store", url, "--mode", "keyword", "--json"])
    assert r.exit_code == 0 and [h["id"].endswith("ko.txt#0") for h in json.loads(r.output)] == [True]
    r = run(main, ["search", "apples market", "--store", url, "-k", "1", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)[0]["id"].endswith("fruit.txt#0")
    r = run(main, ["info", "--store", url, "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["backend"] == "milvus-lite"
    copy = tmp_path / "copy.db"
    r = run(main, ["migrate", url, str(copy), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["count"] == 3, r.output
    r = run(main, ["index", str(docs), "--store", str(copy)])  # the copy continues incrementally
    assert r.exit_code == 0 and "3 unchanged" in r.output, r.output
    r = run(main, ["migrate", str(copy), url])
    assert r.exit_code == 2 and r.output.startswith("error:") and "new or empty" in r.output
    r = run(main, ["search", "car", "--store", f"{url}?collection=nope"])
    assert r.exit_code == 5 and r.output.startswith("error: no collection 'nope'")


def test_milvus_call_past_its_timeout_is_a_clear_store_error(tmp_path):
    # A real gRPC deadline (1 ns): pymilvus re-raises it as a bare grpc error, which must reach the
    # caller as a StoreError. Whether the server applied the write anyway varies (it sometimes
    # does), and a call can beat the deadline (a fresh-clone CI run once saw five in a row
    # succeed; why was not established), so writes are tried until one runs out of time, at most
    # 50, and the test asks only what the error promises.
    store = VectorStore(f"milvus-lite://{tmp_path}/t.db", dim=4)
    try:
        store.add(None, ids=["a"], vectors=np.ones((1, 4), np.float32))
        errors, tries = [], 0
        while not errors and tries < 50:
            store.timeout = 1e-9
            try:
                store.add(None, ids=[f"b{tries}"], vectors=np.ones((1, 4), np.float32))
            except StoreError as exc:
                errors.append(str(exc))
            tries += 1
        store.timeout = 10.0
        assert errors, "fifty writes with a 1 ns deadline all succeeded"
        for e in errors:  # add reads the ids first, then writes: either call can run out of time
            assert "did not read items within 1e-09 s" in e or (
                "did not write items within 1e-09 s" in e and "may or may not have been applied" in e), e
        assert 1 <= store.count() <= 1 + tries
        assert store.get(["a"])[0].id == "a"  # the store still answers
    finally:
        store.timeout = 10.0
        store.close()
