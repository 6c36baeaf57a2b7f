"""Indexing files: formats, chunks with offsets, incremental updates, bad files skipped."""

import json
import os

import pytest

from embedkit import VectorStore, load
from embedkit.apps.indexing import index_paths
from embedkit.errors import InvalidInput
from embedkit.text.hashing import HashingEncoder


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "docs"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("The quick brown fox jumps over the lazy dog.", encoding="utf-8")
    (root / "sub" / "b.md").write_text("# Fruit\n\nApples and pears grow on trees.", encoding="utf-8")
    (root / "sub" / "deeper" / "c.jsonl").write_text(
        json.dumps({"id": "r1", "text": "A sedan with leather seats", "lang": "en"}) + "\n"
        + json.dumps({"id": "r2", "text": "전기차 충전소", "lang": "ko"}) + "\n", encoding="utf-8")
    (root / "d.csv").write_text('id,title,content\n1,Weather,"Rain, then sun"\n2,Sport,Football tonight\n',
                                encoding="utf-8")
    (root / "e.tsv").write_text("text\tlabel\nA calm sea\tpos\n", encoding="utf-8")
    (root / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (root / "image.png").write_bytes(b"\x89PNG\x00\x00")
    return root


def _store(tmp_path, enc=None):
    return VectorStore(tmp_path / "idx.db", encoder=enc or HashingEncoder(dim=64))


def test_formats_and_folders(tmp_path, corpus):
    store = _store(tmp_path)
    report = index_paths(store, [corpus])
    assert len(report.added) == 5 and not report.skipped
    assert store.count() == 7  # a, b, 2 jsonl rows, 2 csv rows, 1 tsv row
    row = store.get([f"{corpus / 'sub/deeper/c.jsonl'}#r2"])[0]
    assert row.text == "전기차 충전소" and row.metadata["lang"] == "ko" and row.metadata["row"] == "r2"
    csv_row = store.get([f"{corpus / 'd.csv'}#1"])[0]
    assert csv_row.text == "Rain, then sun" and csv_row.metadata["title"] == "Weather"
    assert {h.metadata["source"] for h in store.search("apples", mode="keyword")} == {
        str(corpus / "sub" / "b.md")}


def test_long_documents_are_chunked_with_offsets(tmp_path):
    enc = load()
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(120))
    doc = tmp_path / "long.txt"
    doc.write_text(text, encoding="utf-8")
    store = _store(tmp_path, enc)
    index_paths(store, [doc], chunk_tokens=64, overlap=8)
    n = store.count()
    assert n > 5
    records = store.get([f"{doc}#{i}" for i in range(n)])
    for i, rec in enumerate(records):
        assert rec.metadata["chunk"] == i and rec.metadata["n_chunks"] == n
        assert text[rec.metadata["start"]:rec.metadata["end"]] == rec.text
    assert records[0].metadata["start"] == 0 and records[-1].metadata["end"] == len(text)


def test_incremental_reindex(tmp_path, corpus):
    store = _store(tmp_path)
    index_paths(store, [corpus])
    again = index_paths(store, [corpus])
    assert len(again.unchanged) == 5 and not (again.added or again.updated or again.removed)
    # same content, new mtime: recognised by its hash, not re-embedded
    a = corpus / "a.txt"
    os.utime(a, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns + 10**9))
    assert str(a) in index_paths(store, [corpus]).unchanged
    a.write_text("Completely new words about volcanoes.", encoding="utf-8")
    (corpus / "e.tsv").unlink()
    report = index_paths(store, [corpus])
    assert report.updated == [str(a)] and report.removed == [str(corpus / "e.tsv")]
    assert store.count() == 6
    assert [h.metadata["source"] for h in store.search("volcanoes", mode="keyword")] == [str(a)]
    assert store.search("quick brown fox", mode="keyword", k=5) == []
    # indexing another folder never removes the first folder's files
    other = tmp_path / "other"
    other.mkdir()
    (other / "z.txt").write_text("zebra", encoding="utf-8")
    assert index_paths(store, [other]).removed == []
    assert store.count() == 7


def test_bad_files_are_reported_and_skipped(tmp_path, corpus):
    bad = corpus / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("   \n", encoding="utf-8")
    (bad / "binary.txt").write_bytes(b"abc\x00\x01\x02" * 10)
    (bad / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (bad / "broken.jsonl").write_text("{not json\n[1, 2]\n", encoding="utf-8")
    (bad / "nocol.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (bad / "partial.jsonl").write_text('{"text": "good line"}\n{oops\n', encoding="utf-8")
    store = _store(tmp_path)
    report = index_paths(store, [corpus, tmp_path / "does-not-exist"])
    reasons = dict(report.skipped)
    assert reasons[str(bad / "empty.txt")] == "empty file"
    assert "binary" in reasons[str(bad / "binary.txt")]
    assert "not UTF-8" in reasons[str(bad / "latin1.txt")]
    assert "no JSON line" in reasons[str(bad / "broken.jsonl")]
    assert "no text column" in reasons[str(bad / "nocol.csv")]
    assert "no such file" in reasons[str(tmp_path / "does-not-exist")]
    assert any("partial.jsonl" in w and "line 2" in w for w in report.warnings)
    assert len(report.added) == 6  # the five good files and partial.jsonl
    assert store.count() == 8


def test_indexing_needs_an_encoder_and_paths(tmp_path):
    with pytest.raises(InvalidInput, match="encoder"):
        index_paths(VectorStore(tmp_path / "n.db", dim=4), [tmp_path])
    with pytest.raises(InvalidInput, match="at least one"):
        index_paths(_store(tmp_path), [])


def test_a_folder_with_nothing_of_the_models_kind_is_an_error(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(InvalidInput, match="found no files to index.*embeds text"):
        index_paths(_store(tmp_path), [root])


def test_csv_numbers_and_booleans_are_typed_like_jsonl(tmp_path):
    (tmp_path / "r.csv").write_text(
        "id,text,stars,price,verified,code,note\n"
        "1,Great phone,5,9.5,true,007,x\n"
        "2,Bad battery,1,12,FALSE,010,\n"
        "3,Okay screen,3,,true,123,y\n", encoding="utf-8")
    (tmp_path / "r.jsonl").write_text('{"id": "j", "text": "Great tablet", "stars": 5}\n', encoding="utf-8")
    store = _store(tmp_path)
    index_paths(store, [tmp_path / "r.csv", tmp_path / "r.jsonl"])
    meta = store.get([f"{tmp_path / 'r.csv'}#1"])[0].metadata
    assert meta["stars"] == 5 and meta["price"] == 9.5 and meta["verified"] is True
    assert meta["code"] == "007" and meta["note"] == "x" and meta["id"] == "1"  # text stays text
    assert store.get([f"{tmp_path / 'r.csv'}#3"])[0].metadata["price"] is None  # empty typed cell
    fives = {h.id for h in store.search("great", mode="keyword", where={"stars": 5})}
    assert fives == {f"{tmp_path / 'r.csv'}#1", f"{tmp_path / 'r.jsonl'}#j"}
    assert store.count(where={"verified": False}) == 1
