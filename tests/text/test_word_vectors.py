import json

import numpy as np
import pytest

import embedkit
from embedkit.encoder import Encoder
from embedkit.errors import InvalidInput, ModelNotFound
from embedkit.text.word_vectors import UnknownWord, WordVectors

WORDS = ["king", "queen", "man", "woman", "apple", "banana"]
# dims: royalty, male, female, fruit
VECS = np.array([
    [1.0, 1.0, 0.0, 0.0],
    [1.0, 0.0, 1.0, 0.0],
    [0.0, 1.0, 0.0, 0.05],
    [0.0, 0.0, 1.0, 0.05],
    [0.0, 0.0, 0.0, 1.0],
    [0.05, 0.0, 0.0, 1.0],
], dtype=np.float32)


@pytest.fixture
def wv():
    return WordVectors(WORDS, VECS, counts=[50, 40, 300, 280, 10, 9], name="toy")


def test_analogy_both_methods_exclude_question_words(wv):
    for method in ("3cosadd", "3cosmul"):
        ans = wv.analogy("man", "king", "woman", method=method, topn=3)
        assert ans[0][0] == "queen"
        assert not {"man", "king", "woman"} & {w for w, _ in ans}
    with pytest.raises(InvalidInput, match="Valid methods are: '3cosadd', '3cosmul'"):
        wv.analogy("man", "king", "woman", method="cos")


def test_most_similar_and_arithmetic(wv):
    assert wv.most_similar("apple", topn=1)[0][0] == "banana"
    assert wv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)[0][0] == "queen"
    res = wv.most_similar("king", topn=10)
    assert len(res) == 5 and "king" not in [w for w, _ in res]
    scores = [s for _, s in res]
    assert scores == sorted(scores, reverse=True)
    assert wv.most_similar("king", topn=2, restrict_vocab=3)[0][0] in {"queen", "man"}
    with pytest.raises(InvalidInput, match="topn"):
        wv.most_similar("king", topn=0)


def test_similarity_doesnt_match_contains(wv):
    assert wv.similarity("apple", "banana") == pytest.approx(
        float(VECS[4] @ VECS[5] / np.linalg.norm(VECS[5])), rel=1e-5)
    assert wv.doesnt_match(["king", "queen", "apple"]) == "apple"
    assert "king" in wv and "rook" not in wv and len(wv) == 6


def test_unknown_word_error_names_the_word(wv):
    with pytest.raises(UnknownWord, match="'rook' is not in the vocabulary of 'toy'") as info:
        wv.most_similar("rook")
    assert isinstance(info.value, KeyError) and isinstance(info.value, InvalidInput)
    with pytest.raises(KeyError):
        wv["rook"]


def test_encoder_words_and_sif_sentences(wv):
    assert isinstance(wv, Encoder) and wv.modality == "word" and wv.dim == 4
    out = wv.encode(["king", "apple"])
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_allclose(out[0], VECS[0])
    # SIF: the frequent word "man" weighs less than the rare word "apple"
    sent = wv.encode(["man apple"])[0]
    p = np.array([300, 10]) / 689
    w = 1e-3 / (1e-3 + p)
    np.testing.assert_allclose(sent, (w[0] * VECS[2] + w[1] * VECS[4]) / w.sum(), rtol=1e-5)
    assert sent[3] > 0.9
    unit = wv.encode(["king"], normalize=True)
    assert np.linalg.norm(unit) == pytest.approx(1.0)
    with pytest.raises(UnknownWord, match="rook"):
        wv.encode(["rook"])
    with pytest.raises(InvalidInput, match="no word in the vocabulary"):
        wv.encode(["zorg blap"])


@pytest.mark.parametrize("fmt", ["safetensors", "npy"])
def test_save_load_roundtrip_memory_mapped(tmp_path, wv, fmt):
    folder = wv.save(tmp_path / "my-model", format=fmt)
    meta = json.loads((folder / "embedkit.json").read_text())
    assert meta["type"] == "word_vectors" and meta["embedkit_version"] == embedkit.__version__
    assert not list(folder.glob("*.pkl"))
    back = WordVectors.load(folder)
    assert back.name == "my-model"
    assert isinstance(back.vectors, np.memmap)
    np.testing.assert_array_equal(np.asarray(back.vectors), VECS)
    assert back.index_to_key == WORDS and back.counts.tolist() == wv.counts.tolist()
    assert back.analogy("man", "king", "woman")[0][0] == "queen"
    # the package-level loader finds it too
    loaded = embedkit.load(folder)
    assert isinstance(loaded, WordVectors) and loaded.most_similar("apple", topn=1)[0][0] == "banana"


def test_safetensors_file_is_standard(tmp_path, wv):
    import safetensors.numpy as st
    folder = wv.save(tmp_path / "m")
    tensors = st.load_file(str(folder / "vectors.safetensors"))
    np.testing.assert_array_equal(tensors["vectors"], VECS)


def test_load_errors(tmp_path, wv):
    with pytest.raises(ModelNotFound, match="no embedkit.json"):
        WordVectors.load(tmp_path)
    folder = wv.save(tmp_path / "m")
    data = (folder / "vectors.safetensors").read_bytes()
    (folder / "vectors.safetensors").write_bytes(data[:-10])
    with pytest.raises(InvalidInput, match="truncated"):
        WordVectors.load(folder)
    with pytest.raises(InvalidInput, match="unknown options"):
        WordVectors.load(folder, bogus=1)


def test_constructor_checks():
    with pytest.raises(InvalidInput, match="shape"):
        WordVectors(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(InvalidInput, match="more than once"):
        WordVectors(["a", "a"], np.zeros((2, 2)))


def test_lazy_top_level_name():
    assert embedkit.WordVectors is WordVectors
