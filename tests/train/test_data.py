"""Training data readers: TSV / CSV / JSONL, aliases, and the errors for bad files."""

import json

import pytest

from embedkit.errors import InvalidInput
from embedkit.train import Examples, read_examples


def test_tsv_csv_jsonl_read_the_same_scored_pairs(tmp_path):
    rows = [("a man plays", "a guy plays", 4.5), ("a cat", "stock prices", 0.2)]
    (tmp_path / "d.tsv").write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"{a}\t{b}\t{s}\n" for a, b, s in rows), encoding="utf-8")
    (tmp_path / "d.csv").write_text("sentence1,sentence2,score\n" + "".join(
        f'"{a}","{b}",{s}\n' for a, b, s in rows), encoding="utf-8")
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(
        {"sentence1": a, "sentence2": b, "score": s}) + "\n" for a, b, s in rows), encoding="utf-8")
    got = [read_examples(tmp_path / f"d.{ext}", "scored") for ext in ("tsv", "csv", "jsonl")]
    for ex in got:
        assert ex.kind == "scored" and len(ex) == 2
        assert ex.columns["score"] == [4.5, 0.2]
        assert ex.columns["sentence2"] == ["a guy plays", "stock prices"]
        assert len(ex.source["sha256"]) == 64 and ex.source["rows"] == 2
    assert got[0].normalised_scores() == pytest.approx([0.9, 0.04])


def test_aliases_and_explicit_columns(tmp_path):
    path = tmp_path / "par.tsv"
    path.write_text("ko\ten\tsource\n안녕\thello\tx\n고양이\tcat\tx\n", encoding="utf-8")
    ex = read_examples(path, "parallel")
    assert ex.columns["source"] == ["hello", "cat"] and ex.columns["target"] == ["안녕", "고양이"]
    pairs = read_examples(path, "pairs", columns={"anchor": "ko", "positive": "en"})
    assert pairs.columns["anchor"] == ["안녕", "고양이"]
    triplets = read_examples(path, "triplets", columns={"anchor": "ko", "positive": "en"})
    assert triplets.kind == "pairs"  # no negative column: in-batch negatives only


def test_missing_column_names_what_was_looked_for(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("question\tblah\nq\tb\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no column for 'positive'.*its columns are: question, blah"):
        read_examples(path, "pairs")
    with pytest.raises(InvalidInput, match="no column 'answer'"):
        read_examples(path, "pairs", columns={"anchor": "question", "positive": "answer"})


def test_empty_file_and_header_only(tmp_path):
    (tmp_path / "empty.tsv").write_text("", encoding="utf-8")
    (tmp_path / "header.tsv").write_text("anchor\tpositive\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="is empty"):
        read_examples(tmp_path / "empty.tsv", "pairs")
    with pytest.raises(InvalidInput, match="no examples"):
        read_examples(tmp_path / "header.tsv", "pairs")


def test_score_outside_its_range_and_not_a_number(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("sentence1\tsentence2\tscore\na\tb\t3\nc\td\t7.5\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"line 3: the score '7.5' is outside the range \[0, 5\]"):
        read_examples(path, "scored")
    assert read_examples(path, "scored", score_range=(0, 10)).columns["score"] == [3.0, 7.5]
    path.write_text("sentence1\tsentence2\tscore\na\tb\thigh\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a number"):
        read_examples(path, "scored")


def test_empty_text_and_plain_text_files(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("text\tlabel\nfine\tpos\n\tneg\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 3: the 'text' text is empty"):
        read_examples(path, "labelled")
    txt = tmp_path / "c.txt"
    txt.write_text("one\n\ntwo\n", encoding="utf-8")
    assert read_examples(txt, "texts").columns["text"] == ["one", "two"]
    with pytest.raises(InvalidInput, match="plain text file holds texts only"):
        read_examples(txt, "pairs")


def test_from_columns_checks_like_a_file():
    with pytest.raises(InvalidInput, match="missing: positive"):
        Examples.from_columns("pairs", anchor=["a"])
    with pytest.raises(InvalidInput, match="different lengths"):
        Examples.from_columns("pairs", anchor=["a", "b"], positive=["c"])
    with pytest.raises(InvalidInput, match="outside the range"):
        Examples.from_columns("scored", sentence1=["a"], sentence2=["b"], score=[-1])
