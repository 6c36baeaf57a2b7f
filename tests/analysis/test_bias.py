import itertools

import numpy as np
import pytest

from embedkit.analysis import bias
from embedkit.errors import InvalidInput
from embedkit.text.word_vectors import WordVectors


def _toy(seed=0, dim=24):
    """Vectors with a planted gender direction: career words lean male, family words female."""
    rng = np.random.default_rng(seed)
    g = np.zeros(dim)
    g[0] = 1.0
    test = bias.load_weat("career-family")
    lists = bias.gender_lists("en")
    words, vecs = [], []

    def add(w, lean):
        if w not in words:
            words.append(w)
            v = rng.normal(0, 1, dim)
            v[0] = 0
            vecs.append(v / np.linalg.norm(v) + lean * g)

    for w in test.X + test.A:
        add(w, -0.8)
    for w in test.Y + test.B:
        add(w, 0.8)
    for f, m in lists["definitional_pairs"] + lists["equalize_pairs"]:
        base = rng.normal(0, 1, dim)
        base[0] = 0
        base /= np.linalg.norm(base)
        if f not in words and m not in words:
            words += [f, m]
            vecs += [base + g, base - g]
    for i in range(300):
        add(f"neutral{i}", rng.normal(0, 0.5))
    return WordVectors(words, np.array(vecs, dtype=np.float32)), test


def test_weat_effect_size_and_exact_permutation_p():
    rng = np.random.default_rng(0)
    X, Y, A, B = (rng.normal(size=(4, 5)) for _ in range(4))
    X += 2 * A.mean(0)
    effect, p, stat, s = bias.weat(X, Y, A, B, permutations=100_000)
    # By hand: s(w) per word, population std, and p over all C(8, 4) = 70 partitions.
    def cos(u, v):
        return u @ v / np.linalg.norm(u) / np.linalg.norm(v)

    sw = np.array([np.mean([cos(w, a) for a in A]) - np.mean([cos(w, b) for b in B])
                   for w in np.vstack([X, Y])])
    assert effect == pytest.approx((sw[:4].mean() - sw[4:].mean()) / sw.std())
    parts = [sum(sw[list(c)]) - (sw.sum() - sum(sw[list(c)])) for c in itertools.combinations(range(8), 4)]
    assert p == pytest.approx(np.mean(np.array(parts) >= stat - 1e-12))
    assert effect > 1.0 and p < 0.1


def test_run_weat_on_planted_bias_reports_missing_words():
    wv, test = _toy()
    r = bias.run_weat(wv, "career-family", permutations=2000)
    assert r.effect_size > 1.5 and r.p_value < 0.01
    assert not any(r.missing.values())
    with pytest.raises(InvalidInput, match=r"set X \(남성\).*남자"):
        bias.run_weat(wv, "ko-career-family")


def test_shipped_tests_load_in_both_languages():
    names = bias.weat_tests()
    for must in ("career-family", "math-arts", "science-arts", "flowers-insects",
                 "ko-career-family", "ko-math-arts", "ko-science-arts"):
        assert must in names
    t = bias.load_weat("ko-science-arts")
    assert t.language == "ko" and "과학" in t.X and len(t.X) == len(t.Y) == 8
    assert ["여자", "남자"] in bias.gender_lists("ko")["definitional_pairs"]


def test_hard_debias_removes_the_direction_and_equalises():
    wv, _ = _toy()
    g = bias.gender_direction(wv)
    assert abs(g[0][0]) > 0.95  # found the planted direction
    before = bias.direct_bias(wv, ["executive", "home", "neutral1", "neutral2"], direction=g)
    new, info = bias.hard_debias(wv)
    after = bias.direct_bias(new, ["executive", "home", "neutral1", "neutral2"], direction=g)
    assert before["direct_bias"] > 0.3 and after["direct_bias"] < 1e-5
    assert info["equalised_pairs"] > 10
    # equalised: every neutral word is exactly as near "he" as "she"
    for w in ("executive", "home", "neutral5"):
        assert new.similarity(w, "he") == pytest.approx(new.similarity(w, "she"), abs=1e-5)
    # the planted bias was all along g: with it gone, the effect is what random vectors give
    assert abs(bias.run_weat(new, "career-family", permutations=0).effect_size) < 1.0
    gg = bias.recoverability(wv, new, n=60, limit=10_000)
    assert gg["original_cluster_accuracy"] > 0.9
    assert {"debiased_cluster_accuracy", "debiased_classifier_accuracy"} <= set(gg)


def test_sentence_debias_projects_the_subspace_out():
    class Enc:
        dim = 8
        modality = "text"
        name = "toy"

        def encode(self, items, **kw):
            out = []
            for t in items:
                rng = np.random.default_rng(abs(hash(t.split()[-1].strip("."))) % 2**32)
                v = rng.normal(size=8)
                v[0] = 3.0 if any(w in t for w in ("she", "woman", "her", "mother", "girl")) else 0.0
                out.append(v)
            return np.array(out, dtype=np.float32)

    B = bias.sentence_gender_subspace(Enc(), templates=["This is {}."])
    deb = bias.DebiasedEncoder(Enc(), B)
    E = deb.encode(["This is she.", "This is a table."])
    assert np.allclose(E @ deb.basis.T, 0, atol=1e-5)
    assert np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-5)
