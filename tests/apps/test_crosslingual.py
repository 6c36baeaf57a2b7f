"""Cross-lingual word mapping: Procrustes + CSLS recovers a planted rotation, from a dictionary or none."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.apps.crosslingual import WordMapping, read_dictionary, split_dictionary
from embedkit.cli import main
from embedkit.errors import DimensionMismatch, InvalidInput, NotFitted
from embedkit.text.word_vectors import WordVectors

N, D = 1500, 24


def _spaces(noise: float = 0.05, seed: int = 0, target_dim: int = D):
    """A clustered 'source' space and a rotated, noisy copy with other word names as 'target'."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(30, D)) * rng.uniform(0.5, 2.0, size=(30, 1))
    which = rng.integers(0, 30, size=N)
    x = centers[which] + rng.normal(size=(N, D)) * rng.uniform(0.3, 1.0, size=(N, 1))
    q, _ = np.linalg.qr(rng.normal(size=(max(D, target_dim), max(D, target_dim))))
    rot = q[:D, :target_dim]
    z = x @ rot + noise * rng.normal(size=(N, target_dim))
    order = np.arange(N)  # frequencies differ a little between the languages
    for a in range(0, N - 1, 7):
        order[a], order[a + 1] = order[a + 1], order[a]
    src = WordVectors([f"s{i}" for i in range(N)], x.astype(np.float32), name="src")
    tgt = WordVectors([f"t{i}" for i in order], z[order].astype(np.float32), name="tgt")
    return src, tgt


def _pairs(ids):
    return [(f"s{i}", f"t{i}") for i in ids]


def test_procrustes_recovers_a_rotation_and_csls_beats_chance():
    src, tgt = _spaces()
    train, test = _pairs(range(0, 600)), _pairs(range(600, 1000))
    m = WordMapping(refine=0, max_vocab=N).fit(src, tgt, train)
    assert m.dictionary_size_ == 600 and m.dictionary_coverage_ == 1.0
    w = m.W_
    np.testing.assert_allclose(w.T @ w, np.eye(D), atol=1e-4)  # orthogonal
    res = m.evaluate(test)
    assert res["scored"] == 400 and res["coverage"] == 1.0
    assert res["nn_p@1"] > 0.9 and res["csls_p@1"] > 0.9
    assert res["csls_p@5"] >= res["csls_p@1"]
    # the same words with a random orthogonal map are near chance
    rnd = WordMapping(refine=0, max_vocab=N).fit(src, tgt, train)
    rnd.W_ = np.linalg.qr(np.random.default_rng(3).normal(size=(D, D)))[0].astype(np.float32)
    rnd._cache = {}
    assert rnd.evaluate(test)["csls_p@1"] < 0.1


def test_refinement_grows_a_tiny_seed_dictionary():
    src, tgt = _spaces(noise=0.05)
    seed = _pairs(range(0, 40))
    test = _pairs(range(1000, 1400))
    plain = WordMapping(refine=0, max_vocab=N).fit(src, tgt, seed).evaluate(test)["csls_p@1"]
    refined = WordMapping(refine=3, refine_vocab=N, max_vocab=N).fit(src, tgt, seed)
    assert refined.induced_pairs_ > 100
    assert refined.evaluate(test)["csls_p@1"] >= plain - 0.01


def test_unsupervised_start_without_a_dictionary():
    src, tgt = _spaces(noise=0.02, seed=1)
    m = WordMapping(refine=1, refine_vocab=1000, unsupervised_vocab=1000,
                    max_vocab=N).fit(src, tgt, unsupervised=True)
    assert m.dictionary_size_ == 0
    res = m.evaluate(_pairs(range(1000, 1400)))
    assert res["csls_p@1"] > 0.5, res


def test_translate_both_directions_and_methods():
    src, tgt = _spaces()
    m = WordMapping(refine=0, max_vocab=N).fit(src, tgt, _pairs(range(800)))
    hits = m.translate("s1200", k=3)
    assert len(hits) == 3 and hits[0][0] == "t1200"
    assert hits[0][1] >= hits[1][1] >= hits[2][1]
    assert m.translate("s1200", k=1, method="nn")[0][0] == "t1200"
    assert m.translate("t1300", k=1, reverse=True)[0][0] == "s1300"
    with pytest.raises(KeyError, match="nope"):
        m.translate("nope")
    with pytest.raises(InvalidInput, match="method"):
        m.translate("s1", method="cosine")
    with pytest.raises(InvalidInput, match="k must"):
        m.translate("s1", k=0)


def test_save_load_round_trip_checks_the_vectors(tmp_path):
    src, tgt = _spaces()
    src.save(tmp_path / "src")
    tgt.save(tmp_path / "tgt")
    src, tgt = WordVectors.load(tmp_path / "src"), WordVectors.load(tmp_path / "tgt")
    m = WordMapping(refine=1, max_vocab=N).fit(src, tgt, _pairs(range(500)))
    m.save(tmp_path / "map")
    assert not list((tmp_path / "map").glob("*.pkl"))
    back = WordMapping.load(tmp_path / "map")
    np.testing.assert_array_equal(back.W_, m.W_)
    assert back.translate("s1100", k=5) == m.translate("s1100", k=5)
    other, _ = _spaces(seed=7)
    other = WordVectors([f"x{i}" for i in range(N)], other.vectors, name="other")
    with pytest.raises(InvalidInput, match="not the ones"):
        WordMapping.load(tmp_path / "map", source=other)
    small = WordVectors(src.index_to_key, np.asarray(src.vectors)[:, :10], name="small")
    with pytest.raises(DimensionMismatch, match="dimension 10"):
        WordMapping.load(tmp_path / "map", source=small)


def test_bad_input():
    src, tgt = _spaces()
    with pytest.raises(InvalidInput, match="empty"):
        WordMapping().fit(src, tgt, [])
    with pytest.raises(InvalidInput, match="both words"):
        WordMapping().fit(src, tgt, [("a", "b"), ("c", "d")])
    with pytest.raises(InvalidInput, match="dictionary is needed"):
        WordMapping().fit(src, tgt)
    with pytest.raises(InvalidInput, match="WordVectors"):
        WordMapping().fit(np.zeros((3, 3)), tgt, [("s1", "t1")])
    bad = WordVectors(["a", "b"], np.array([[np.nan, 1.0], [0.0, 1.0]], dtype=np.float32))
    with pytest.raises(InvalidInput, match="NaN"):
        WordMapping().fit(bad, tgt, [("a", "t1")])
    with pytest.raises(InvalidInput, match="refine"):
        WordMapping(refine=-1)
    with pytest.raises(NotFitted):
        WordMapping().translate("x")


def test_dictionary_files(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_text("en\tko\ncar\t자동차\ncar\t차\n\nhouse\t집\n", encoding="utf-8")
    assert read_dictionary(p) == [("car", "자동차"), ("car", "차"), ("house", "집")]
    (tmp_path / "bad.tsv").write_text("car\t자동차\nlonely\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 2"):
        read_dictionary(tmp_path / "bad.tsv")
    (tmp_path / "empty.tsv").write_text("en\tko\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no translation pairs"):
        read_dictionary(tmp_path / "empty.tsv")
    pairs = [(f"w{i % 50}", f"v{i}") for i in range(120)]
    train, test = split_dictionary(pairs, 0.2, seed=1)
    assert {s for s, _ in train}.isdisjoint({s for s, _ in test})
    assert len(train) + len(test) == 120 and {s for s, _ in test}


def test_cli_align_and_translate(tmp_path):
    src, tgt = _spaces()
    src.save(tmp_path / "src")
    tgt.save(tmp_path / "tgt")
    d = tmp_path / "seed.tsv"
    d.write_text("".join(f"s{i}\tt{i}\n" for i in range(600)), encoding="utf-8")
    t = tmp_path / "test.tsv"
    t.write_text("".join(f"s{i}\tt{i}\n" for i in range(900, 1100)), encoding="utf-8")
    r = CliRunner().invoke(main, ["align", str(tmp_path / "src"), str(tmp_path / "tgt"), "-d", str(d),
                                  "--test", str(t), "-o", str(tmp_path / "map"), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["dictionary_pairs_used"] == 600 and summary["test"]["csls_p@1"] > 0.9
    r = CliRunner().invoke(main, ["translate", "s1234", "--map", str(tmp_path / "map"), "-k", "2"])
    assert r.exit_code == 0 and r.output.startswith("s1234: t1234 ")
    r = CliRunner().invoke(main, ["translate", "zzz", "--map", str(tmp_path / "map")])
    assert r.exit_code != 0 and "zzz" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["align", str(tmp_path / "src"), str(tmp_path / "tgt"),
                                  "-o", str(tmp_path / "m2")])
    assert r.exit_code != 0 and "--dictionary" in r.output
    r = CliRunner().invoke(main, ["translate", "s1", "--map", str(tmp_path / "nope")])
    assert r.exit_code != 0 and "no such folder" in r.output
