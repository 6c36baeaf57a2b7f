"""The embedkit CLI: index, search, embed, similarity, info, and its errors (no tracebacks)."""

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit import VectorStore
from embedkit.cli import main
from embedkit.text.hashing import HashingEncoder


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    docs.mkdir()
    rows = [
        {"id": "1", "text": "My old car needs new brakes."},
        {"id": "2", "text": "The SUV has four wheel drive and a big trunk."},
        {"id": "3", "text": "A sedan with leather seats and a quiet engine."},
        {"id": "4", "text": "Bananas and mangoes are tropical fruit."},
        {"id": "5", "text": "Heavy rain and thunder are expected tonight."},
    ]
    (docs / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    (docs / "bad.txt").write_bytes(b"\xff\xfe\x00\x00binary")
    store = root / "s.db"
    result = CliRunner().invoke(main, ["index", str(docs), "--store", str(store)])
    assert result.exit_code == 0, result.output
    return store, docs, result


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_index_reports_and_skips_bad_file(indexed):
    store, docs, result = indexed
    assert "1 added" in result.output and "1 skipped" in result.output
    assert "bad.txt" in result.output
    again = run("index", docs, "--store", store, "--json")
    data = json.loads(again.stdout)
    assert again.exit_code == 0 and data["unchanged"] == [str(docs / "d.jsonl")]
    assert data["total_items"] == 5


def test_keyword_vs_vector_search(indexed):
    store, _, _ = indexed
    kw = json.loads(run("search", "car", "--store", store, "--mode", "keyword", "--json").stdout)
    assert [h["text"] for h in kw] == ["My old car needs new brakes."]
    vec = json.loads(run("search", "car", "--store", store, "--mode", "vector", "-k", "3", "--json").stdout)
    assert {h["metadata"]["row"] for h in vec} == {"1", "2", "3"}  # SUV and sedan found by meaning
    table = run("search", "vehicle", "--store", store, "-k", "2")
    assert table.exit_code == 0 and "d.jsonl#" in table.stdout and len(table.stdout.splitlines()) == 2
    # FIELD=TEXT compares text; FIELD:=JSON compares numbers (chunk is stored as the number 0).
    text = json.loads(run("search", "car", "--store", store, "--where", "row=1", "--json").stdout)
    assert [h["metadata"]["row"] for h in text] == ["1"]
    as_text = json.loads(run("search", "car", "--store", store, "--where", "chunk=0", "--json").stdout)
    as_number = json.loads(run("search", "car", "--store", store, "--where", "chunk:=0", "-k", "10",
                               "--json").stdout)
    assert as_text == [] and len(as_number) == 5 and all(h["metadata"]["chunk"] == 0 for h in as_number)


def test_info(indexed):
    store, _, _ = indexed
    data = json.loads(run("info", "--store", store, "--json").stdout)
    assert data["count"] == 5 and data["dim"] == 384 and data["healthy"] is True
    assert data["model"] == "multilingual-e5-small" and data["model_spec"] == "multilingual-e5-small"


def test_embed_outputs(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("first line\n\nsecond line\n", encoding="utf-8")
    npy = tmp_path / "v.npy"
    assert run("embed", src, "-o", npy).exit_code == 0
    vectors = np.load(npy, allow_pickle=False)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    import pyarrow.parquet as pq

    out = tmp_path / "v.parquet"
    assert run("embed", src, "-o", out).exit_code == 0
    table = pq.read_table(out)
    assert table.column("text").to_pylist() == ["first line", "second line"]
    np.testing.assert_allclose(np.array(table.column("vector").to_pylist()), vectors, atol=1e-6)
    lines = run("embed", input="hello\nworld\n").stdout.splitlines()
    assert [json.loads(line)["text"] for line in lines] == ["hello", "world"]
    assert len(json.loads(lines[0])["vector"]) == 384


def test_similarity():
    close = float(run("similarity", "a car", "an automobile").stdout)
    far = float(run("similarity", "a car", "a banana").stdout)
    assert close > far + 0.05  # E5's cosines sit in a narrow band (about 0.7 to 1)
    ko = float(run("similarity", "자동차", "a car").stdout)
    assert ko > float(run("similarity", "자동차", "a banana").stdout) + 0.05  # across languages
    assert float(run("similarity", "x", "x", "--metric", "euclidean").stdout) == pytest.approx(0, abs=1e-3)


@pytest.mark.parametrize("args,code,message", [
    (["search", "car", "--store", "{tmp}/missing.db"], 5, "no store at"),
    (["search", "   ", "--store", "{store}"], 2, "query is empty"),
    (["search", "car", "--store", "{store}", "-k", "0"], 2, "k must be"),
    (["search", "car", "--store", "{store}", "--mode", "fuzzy"], 2, "Invalid value for '--mode'"),
    (["search", "car", "--store", "{store}", "--where", "novalue"], 2, "FIELD=TEXT or FIELD:=JSON"),
    (["search", "car", "--store", "{store}", "--where", "chunk:=zero"], 2, "takes a JSON number"),
    (["search", "car", "--store", "{junk}"], 5, "not a readable embedkit store"),
    (["info", "--store", "{junk}"], 5, "not a readable embedkit store"),
    (["embed", "{latin1}"], 2, "not UTF-8"),
    (["embed", "{empty}"], 2, "no text to embed"),
    (["embed", "{empty}", "-o", "x.csv"], 2, "no text to embed"),
    (["similarity", "", "b"], 2, "TEXT_A is empty"),
    (["index", "{empty}", "--store", "{tmp}/new.db", "--model", "{tmp}"], 3, "not a model folder"),
])
def test_errors_exit_cleanly(indexed, tmp_path, args, code, message):
    store, _, _ = indexed
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 64)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    fmt = {"tmp": tmp_path, "store": store, "junk": junk, "latin1": tmp_path / "latin1.txt",
           "empty": tmp_path / "empty.txt"}
    result = run(*[a.format(**fmt) for a in args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_store_made_by_another_model(tmp_path):
    path = tmp_path / "h.db"
    VectorStore(path, encoder=HashingEncoder(dim=64)).add(["some text"])
    result = run("search", "text", "--store", path, "--model", "default", "--mode", "vector")
    assert result.exit_code == 5 and "hashing-64" in result.output and "Traceback" not in result.output
    # keyword search needs no model at all
    assert run("search", "text", "--store", path, "--mode", "keyword").exit_code == 0


def test_corrupt_pages_are_reported(tmp_path):
    path = tmp_path / "c.db"
    VectorStore(path, encoder=HashingEncoder(dim=64)).add(["x " * 50] * 200)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    for off in range(8192, len(data), 4096):  # scribble over every page after the first two
        data[off + 100: off + 400] = b"\xde\xad" * 150
    path.write_bytes(bytes(data))
    result = run("info", "--store", path)
    assert result.exit_code == 5, result.output
    assert "damaged" in result.output and "Traceback" not in result.output


def test_a_failed_first_index_leaves_no_store_file(indexed, tmp_path):
    store, _, _ = indexed
    empty = tmp_path / "nothing"
    empty.mkdir()
    fresh = tmp_path / "fresh.db"
    res = run("index", empty, "--store", fresh)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert not any(tmp_path.glob("fresh.db*"))  # nor its -wal / -shm files
    run("index", empty, "--store", store)  # an existing store is never removed
    with VectorStore(store) as vs:
        assert vs.count() == 5


def test_search_table_shows_item_ids(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "ids.db"
    from embedkit import load

    with VectorStore(store, encoder=load()) as vs:
        vs.add(["a red car in the rain"], ids=["from-python"])
    (tmp_path / "notes.txt").write_text("a red car parked outside", encoding="utf-8")
    res = run("index", "notes.txt", "--store", store)
    assert res.exit_code == 0 and "1 chunk written" in res.output
    res = run("search", "red car", "--store", store, "--mode", "keyword")
    lines = res.output.splitlines()
    assert res.exit_code == 0 and len(lines) == 2
    assert {line.split()[2] for line in lines} == {"from-python", "notes.txt#0"}


@pytest.mark.parametrize("args", [["search", "x", "--store", "s.db", "--mode", "fuzzy"],
                                  ["embed", "no-such-file.txt"], ["no-such-command"]])
def test_usage_errors_are_one_line(args):
    res = run(*args)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--help" in lines[0]


def test_help_lists_families_in_order():
    out = run("--help").output
    heads = ["Store and search:", "Word vectors:", "Images and audio:", "Training and evaluation:"]
    positions = [out.index(h) for h in heads]
    assert positions == sorted(positions)
    assert out.index("index") < out.index("neighbors") < out.index("zero-shot") < out.index("train")


def test_index_of_only_missing_paths_is_an_error_and_creates_no_store(tmp_path):
    res = run("index", tmp_path / "nope.txt", "--store", tmp_path / "new.db")
    assert res.exit_code == 2 and res.output.startswith("error: no such file or folder")
    assert not any(tmp_path.glob("new.db*"))


def test_reindexing_unchanged_files_loads_no_model(indexed, monkeypatch):
    store, docs, _ = indexed
    import embedkit.models

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded although no file changed")

    monkeypatch.setattr(embedkit.models, "load", refuse)
    res = run("index", docs, "--store", store, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["unchanged"] == [str(docs / "d.jsonl")]
