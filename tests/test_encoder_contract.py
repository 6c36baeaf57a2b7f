"""One contract for every text encoder: what `encode` returns and refuses, whatever the backend."""

import numpy as np
import pytest

from embedkit import Encoder, load
from embedkit.errors import InvalidInput
from embedkit.text.hashing import HashingEncoder

TEXTS = ["A man is playing a guitar.", "Two dogs run across the field.", "영화가 정말 재미있어요",
         "the river bank", "stock markets fell", "x"]


def _word_vectors():
    from embedkit.text.tokenize import tokenize
    from embedkit.text.word2vec import Word2Vec

    corpus = [tokenize(t) for t in TEXTS] * 30
    return Word2Vec(vector_size=16, min_count=1, epochs=2, workers=1, seed=0).fit(corpus).wv_


ENCODERS = {
    "hashing": lambda tiny: HashingEncoder(dim=64),
    "transformer": lambda tiny: load(tiny),
    "onnx-fp32": lambda tiny: load(tiny, backend="onnx"),
    "onnx-int8": lambda tiny: load(tiny, backend="onnx", quantize="int8"),
    "word-vectors": lambda tiny: _word_vectors(),
}


@pytest.fixture(scope="module", params=sorted(ENCODERS))
def encoder(request, tiny_st_model, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("EMBEDKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        yield ENCODERS[request.param](tiny_st_model)
    finally:
        mp.undo()


def test_satisfies_the_protocol(encoder):
    assert isinstance(encoder, Encoder)
    assert isinstance(encoder.dim, int) and encoder.dim > 0 and encoder.name


def test_encode_returns_float32_rows(encoder):
    out = encoder.encode(TEXTS)
    assert out.dtype == np.float32 and out.shape == (len(TEXTS), encoder.dim)
    assert np.isfinite(out).all()
    assert encoder.encode(TEXTS[:1]).shape == (1, encoder.dim)   # one item: still 2-D
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_batching_does_not_change_results(encoder):
    whole = encoder.encode(TEXTS, batch_size=64)
    ones = encoder.encode(TEXTS, batch_size=1)
    # Dynamic int8 quantisation scales activations per batch, so batch make-up moves results a little.
    tol = 1e-3 if getattr(encoder, "quantize", None) == "int8" else 2e-5
    np.testing.assert_allclose(whole, ones, atol=tol)
    np.testing.assert_allclose(encoder.encode(TEXTS), whole, atol=2e-5)   # deterministic


def test_normalize_flag(encoder):
    unit = encoder.encode(TEXTS[:3], normalize=True)
    norms = np.linalg.norm(unit, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-4) | (norms == 0))
    raw = encoder.encode(TEXTS[:3], normalize=False)
    np.testing.assert_allclose(raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12),
                               unit, atol=1e-4)


@pytest.mark.parametrize("bad", ["not a list", [1.5], [None], [b"bytes"]])
def test_refuses_wrong_types(encoder, bad):
    with pytest.raises(InvalidInput):
        encoder.encode(bad)


@pytest.mark.parametrize("batch_size", [0, -1, 2.0])
def test_refuses_bad_batch_size(encoder, batch_size):
    with pytest.raises(InvalidInput, match="batch_size"):
        encoder.encode(TEXTS, batch_size=batch_size)
