import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from embedkit import similarity as sim
from embedkit.errors import DimensionMismatch, InvalidInput


def test_metrics_against_definitions():
    a = np.array([[3.0, 4.0], [1.0, 0.0]], dtype=np.float32)
    b = np.array([[0.0, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(sim.dot(a, b), [[8.0], [0.0]])
    np.testing.assert_allclose(sim.cosine(a, b), [[0.8], [0.0]], atol=1e-6)
    np.testing.assert_allclose(sim.euclidean(a, b), [[np.hypot(3, 2)], [np.hypot(1, 2)]], atol=1e-5)
    np.testing.assert_allclose(sim.score(a, b, "euclidean"), -sim.euclidean(a, b))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 40), st.just(5)),
              elements=st.floats(-10, 10, width=32)),
       st.integers(1, 50), st.sampled_from(sim.METRICS))
def test_topk_matches_a_full_sort(corpus, k, metric):
    query = corpus[:1] + 0.5
    result = sim.topk(query, corpus, k=k, metric=metric)
    scores = sim.score(query, corpus, metric)[0]
    expected = np.sort(scores)[::-1][:min(k, len(corpus))]
    np.testing.assert_allclose(result.scores[0], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores[result.indices[0]], result.scores[0], rtol=1e-6)


@pytest.mark.parametrize("bad,err", [
    (([[np.nan, 1.0]], [[1.0, 1.0]]), InvalidInput),
    (([[1.0, 1.0]], [[1.0, 1.0, 1.0]]), DimensionMismatch),
    ((np.zeros((2, 2, 2)), [[1.0, 1.0]]), InvalidInput),
    ((["a", "b"], [[1.0, 1.0]]), InvalidInput),
])
def test_bad_vectors_are_rejected(bad, err):
    with pytest.raises(err):
        sim.cosine(*bad)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k(k):
    with pytest.raises(InvalidInput, match="k must be"):
        sim.topk([[1.0, 0.0]], [[1.0, 0.0]], k=k)


def test_unknown_metric_lists_the_valid_ones():
    with pytest.raises(InvalidInput, match="cosine, dot, euclidean"):
        sim.score([[1.0]], [[1.0]], "manhattan")
