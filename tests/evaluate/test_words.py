import json

import numpy as np
import pytest

from embedkit.errors import InvalidInput
from embedkit.evaluate.words import (evaluate_analogies, evaluate_similarity, read_analogies,
                                     read_similarity)
from embedkit.text.word_vectors import WordVectors

WORDS = ["king", "queen", "man", "woman", "paris", "france", "rome", "italy", "big", "bigger",
         "small", "smaller", "rare"]


@pytest.fixture
def wv():
    rng = np.random.default_rng(0)
    base = {w: rng.normal(size=16) for w in ["royal", "male", "female", "capital", "fr", "it",
                                             "size", "comp", "noise"]}
    v = {
        "king": base["royal"] + base["male"], "queen": base["royal"] + base["female"],
        "man": base["male"], "woman": base["female"],
        "paris": base["capital"] + base["fr"], "france": base["fr"],
        "rome": base["capital"] + base["it"], "italy": base["it"],
        "big": base["size"], "bigger": base["size"] + base["comp"],
        "small": -base["size"], "smaller": -base["size"] + base["comp"], "rare": base["noise"],
    }
    return WordVectors(WORDS, np.stack([v[w] for w in WORDS]).astype(np.float32),
                       counts=list(range(100, 100 - len(WORDS), -1)))


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_analogy_sections_totals_and_json(tmp_path, wv):
    path = write(tmp_path, "q.txt", ": capital-common\nFrance Paris Italy Rome\nParis France Rome Italy\n"
                 ": family\nman king woman queen\nman woman king unknownword\n"
                 ": gram-comparative\nbig bigger small smaller\nbig bigger small rare\n")
    res = evaluate_analogies(wv, path, restrict_vocab=None)
    d = res.to_dict()
    secs = {s["name"]: s for s in d["sections"]}
    assert secs["capital-common"] == {"name": "capital-common", "kind": "semantic", "correct": 2,
                                      "attempted": 2, "total": 2, "accuracy": 1.0}
    assert secs["family"]["attempted"] == 1 and secs["family"]["total"] == 2
    assert secs["gram-comparative"]["kind"] == "syntactic"
    assert secs["gram-comparative"]["correct"] == 1 and secs["gram-comparative"]["attempted"] == 2
    assert d["semantic"]["correct"] == 3 and d["semantic"]["attempted"] == 3
    assert d["total"]["coverage"] == pytest.approx(5 / 6)
    assert res.accuracy == pytest.approx(4 / 5)
    json.dumps(d)
    assert evaluate_analogies(wv, path, restrict_vocab=None, method="3cosmul").to_dict()["semantic"]["correct"] == 3


def test_restrict_vocab_skips_rare_words(tmp_path, wv):
    path = write(tmp_path, "q.txt", ": s\nman king woman queen\nbig bigger small smaller\n")
    res = evaluate_analogies(wv, path, restrict_vocab=4)
    assert res.to_dict()["total"]["attempted"] == 1


def test_similarity_spearman_and_oov(tmp_path, wv):
    path = write(tmp_path, "ws.tsv", "word1\tword2\tscore\nking\tqueen\t9\nking\tman\t7\n"
                 "paris\tbig\t1\nking\tunicorn\t5\nrome\tParis\t8\n")
    res = evaluate_similarity(wv, path)
    assert res.pairs == 5 and res.found_pairs == 4 and res.oov_pairs == 1
    assert res.oov_words == ["unicorn"]
    cos = [wv.similarity(a, b) for a, b in [("king", "queen"), ("king", "man"), ("paris", "big"), ("rome", "paris")]]
    from scipy.stats import spearmanr

    assert res.spearman == pytest.approx(spearmanr(cos, [9, 7, 1, 8]).statistic)
    assert res.to_dict()["coverage"] == pytest.approx(0.8)


def test_real_files_parse_when_present():
    from pathlib import Path

    data = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not (data / "analogy" / "questions-words.txt").exists():
        pytest.skip("shared datasets not present")
    sections = read_analogies(data / "analogy" / "questions-words.txt")
    assert len(sections) == 14 and sum(len(q) for _, q in sections) == 19544
    assert len(read_similarity(data / "word_similarity" / "wordsim353.tsv")) == 353
    ko = read_analogies(data / "ko_word_eval" / "ko_analogy.txt")
    assert len(ko) == 10 and ko[0][0].startswith("sem1")


def test_bad_files(tmp_path, wv):
    with pytest.raises(InvalidInput, match="line 2: expected four words"):
        read_analogies(write(tmp_path, "a.txt", ": s\nking queen man\n"))
    with pytest.raises(InvalidInput, match="no analogy questions"):
        read_analogies(write(tmp_path, "b.txt", "\n"))
    with pytest.raises(InvalidInput, match="line 3: the score 'high' is not a number"):
        read_similarity(write(tmp_path, "c.tsv", "word1\tword2\tscore\na\tb\t1\nc\td\thigh\n"))
    with pytest.raises(InvalidInput, match="No such evaluation file"):
        evaluate_similarity(wv, tmp_path / "missing.tsv")
    p = tmp_path / "latin.tsv"
    p.write_bytes(b"caf\xe9\tb\t1\n")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        read_similarity(p)
    with pytest.raises(InvalidInput, match="Valid methods"):
        evaluate_analogies(wv, write(tmp_path, "d.txt", ": s\na b c d\n"), method="x")
