import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.analysis import bias
from embedkit.cli import main
from embedkit.text.word_vectors import WordVectors


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Word vectors holding every word of the shipped English gender lists and WEAT tests, with
    a planted gender lean on career (male) and family (female) words."""
    rng = np.random.default_rng(0)
    words = []
    lean = {}
    for name in ("career-family", "math-arts"):
        t = bias.load_weat(name)
        for w in t.X + t.A:
            lean.setdefault(w, -1.0)
        for w in t.Y + t.B:
            lean.setdefault(w, 1.0)
    lists = bias.gender_lists("en")
    for f, m in lists["definitional_pairs"] + lists["equalize_pairs"]:
        lean.setdefault(f, 1.5)
        lean.setdefault(m, -1.5)
    for w in lists["professions"]:
        lean.setdefault(w, rng.normal(0, 0.5))
    groups = {"dog": "animal", "cat": "animal", "rabbit": "animal", "apple": "fruit",
              "banana": "fruit", "orange": "fruit"}
    for w in groups:
        lean.setdefault(w, 0.0)
    words = list(lean)
    V = rng.normal(0, 1, (len(words), 16))
    V[:, 0] = [lean[w] for w in words]
    for i, w in enumerate(words):
        if w in groups:
            V[i, 1:] = (8.0 if groups[w] == "animal" else -8.0) + rng.normal(0, 0.3, 15)
    folder = tmp_path_factory.mktemp("m") / "wv"
    WordVectors(words, V.astype(np.float32)).save(folder)
    wfile = folder.parent / "words.tsv"
    wfile.write_text("".join(f"{w}\t{g}\n" for w, g in groups.items()) + "unknownword\tnone\n",
                     encoding="utf-8")
    return folder, wfile


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_project_writes_plot_and_coordinates(model, tmp_path):
    folder, wfile = model
    res = run("project", "--model", folder, "--words", wfile, "--color-by", "group",
              "-o", tmp_path / "map.png", "--out", tmp_path / "c.csv")
    assert res.exit_code == 0, res.output
    assert "skipped 1 words" in res.output
    rows = (tmp_path / "c.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].split(",")[:4] == ["id", "label", "x", "y"] and len(rows) == 7
    assert (tmp_path / "map.png").stat().st_size > 1000


def test_project_errors_are_one_line(model, tmp_path):
    folder, wfile = model
    res = run("project", "--model", folder, "--words", wfile, "--method", "tsne", "-o", tmp_path / "m.png")
    assert res.exit_code == 2
    assert res.output.splitlines()[-1].startswith("error: t-SNE with perplexity 30 needs more than 90")
    assert "Traceback" not in res.output
    res = run("project", "--model", folder, "--words", wfile, "-o", tmp_path / "m.pdf")
    assert res.exit_code == 2 and "use a .png or .svg" in res.output


def test_cluster_and_dimensions(model, tmp_path):
    folder, wfile = model
    res = run("cluster", "--model", folder, "--words", wfile, "--k", "2", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{"):])
    sets = sorted(sorted(c["typical_members"]) for c in doc["clusters"])
    assert sets == [["apple", "banana", "orange"], ["cat", "dog", "rabbit"]]
    res = run("analyze", "dimensions", "--model", folder, "--dims", "2,4,16", "--queries", "50",
              "--json", "-", "-o", tmp_path / "d.png")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[: res.output.rindex("}") + 1])
    assert [r["dim"] for r in doc["real"]] == [2, 4, 16] and doc["real"][-1]["recall_at_k"] == 1.0


def test_bias_weat_direct_and_debias(model, tmp_path):
    folder, _ = model
    res = run("bias", "weat", "--model", folder, "--test", "career-family", "--json",
              "--permutations", "500")
    assert res.exit_code == 0, res.output
    before = json.loads(res.output)[0]["effect_size"]
    assert before > 1.0
    res = run("bias", "weat", "--model", folder, "--test", "ko-career-family")
    assert res.exit_code == 2 and "set X (남성)" in res.output and "missing: 남자" in res.output
    res = run("bias", "direct", "--model", folder, "doctor", "nurse")
    assert res.exit_code == 0 and "doctor" in res.output
    res = run("bias", "debias", "--model", folder, "-o", tmp_path / "deb")
    assert res.exit_code == 0, res.output
    assert "-> 0.0000" in res.output
    deb = WordVectors.load(tmp_path / "deb")
    assert deb.similarity("executive", "he") == pytest.approx(deb.similarity("executive", "she"), abs=1e-5)


def test_train_tokenizer_and_oov(tmp_path):
    corpus = tmp_path / "ko.txt"
    corpus.write_text("의사와 간호사가 병원에서 일합니다\n고양이와 강아지가 집에서 잡니다\n" * 30, encoding="utf-8")
    res = run("train", "tokenizer", corpus, "--type", "bpe", "--vocab-size", "60", "--min-frequency", "1",
              "-o", tmp_path / "tok")
    assert res.exit_code == 0, res.output
    res = run("analyze", "tokens", "-t", tmp_path / "tok", "--corpus", corpus, "--json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)[str(tmp_path / "tok")]
    assert rep["languages"]["ko"]["unknown_share"] == 0 and rep["languages"]["ko"]["words"] == 240
    empty = tmp_path / "e.txt"
    empty.write_text("", encoding="utf-8")
    res = run("train", "tokenizer", empty, "-o", tmp_path / "t2")
    assert res.exit_code == 2 and res.output.startswith("error: the corpus") and "empty" in res.output


def test_project_and_cluster_a_store(tmp_path):
    from embedkit.store.sqlite import VectorStore

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (2, 12)) * 6
    vecs = np.vstack([centres[i % 2] + rng.normal(0, 0.3, 12) for i in range(30)]).astype(np.float32)
    texts = [("dog runs fast" if i % 2 else "stock prices fall") + f" {i}" for i in range(30)]
    path = tmp_path / "s.db"
    with VectorStore(path, dim=12) as vs:
        vs.add(texts, metadata=[{"topic": "pets" if i % 2 else "money"} for i in range(30)],
               vectors=vecs)
    res = run("project", "--store", path, "--color-by", "topic", "--out", tmp_path / "c.json")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert len(doc["points"]) == 30 and doc["points"][1]["topic"] == "pets"
    assert doc["points"][1]["label"] == "dog runs fast 1"
    res = run("cluster", "--store", path, "--k", "2", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert sorted(c["size"] for c in doc["clusters"]) == [15, 15]
    assert {c["terms"][0][0] for c in doc["clusters"]} <= {"dog", "runs", "fast", "stock", "prices", "fall"}
