"""load(): the default model, local folders, the Hugging Face hub code (offline), long texts."""

import shutil

import numpy as np
import pytest

import embedkit
from embedkit.errors import InvalidInput, ModelNotFound
from embedkit.models import minilm_path


@pytest.fixture(scope="module")
def minilm():
    return embedkit.load("all-MiniLM-L6-v2")


def test_minilm_by_name_matches_sentence_transformers(minilm):
    from sentence_transformers import SentenceTransformer

    texts = ["A red car is parked outside.", "Bananas are rich in potassium.", "자동차를 샀다"]
    ours = minilm.encode(texts)
    ref = SentenceTransformer(str(minilm_path()), device="cpu").encode(texts, normalize_embeddings=True)
    assert ours.dtype == np.float32 and ours.shape == (3, 384)
    np.testing.assert_allclose((ours * ref).sum(1), 1.0, atol=1e-5)
    assert minilm.name == "sentence-transformers/all-MiniLM-L6-v2" and minilm.spec == "all-MiniLM-L6-v2"
    assert embedkit.load("sentence-transformers/all-MiniLM-L6-v2").fingerprint == minilm.fingerprint


def test_default_model_is_multilingual_and_records_its_own_name():
    enc = embedkit.load()
    assert enc.name == "multilingual-e5-small" and enc.spec == "multilingual-e5-small"
    assert enc.prompt_for("query") == "query: " and enc.prompt_for("document") == "passage: "
    car, vehicle, banana = enc.encode_queries(["자동차", "차량", "바나나"])
    assert car @ vehicle > car @ banana + 0.05
    ko, en, other = enc.encode_queries(["고양이가 소파에서 잔다", "The cat is sleeping on the sofa",
                                        "Stock prices fell sharply"])
    assert ko @ en > ko @ other + 0.03  # one space for Korean and English (E5: cosines 0.7-1)


def test_store_recorded_as_default_before_0_2_loads_minilm(tmp_path, minilm):
    path = tmp_path / "old.db"
    with embedkit.VectorStore(path, dim=384) as store:  # as 0.1 recorded the default model
        store._set_meta(model=minilm.name, model_spec="default")
        store.add(["My old car needs new brakes"], ids=["a"], vectors=minilm.encode(["My old car needs new brakes"]))
    with embedkit.open(path) as store:
        assert store.search("vehicle repair", k=1)[0].id == "a"
        assert store.encoder.name == minilm.name


def test_encode_is_always_2d_and_normalised(minilm):
    one = minilm.encode(["hello"])
    assert one.shape == (1, 384)
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1.0, atol=1e-5)
    raw = minilm.encode(["hello"], normalize=False)
    assert abs(np.linalg.norm(raw) - 1.0) > 1e-3
    assert minilm.encode([]).shape == (0, 384)


def test_meaning_is_captured(minilm):
    v = minilm.encode(["a car", "an automobile", "a banana"])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


@pytest.mark.parametrize("items", ["a string, not a list", [1, 2], [None], 42])
def test_wrong_item_types(minilm, items):
    with pytest.raises(InvalidInput):
        minilm.encode(items)


def test_long_text_is_chunked_not_truncated(minilm):
    head = "The river bank was flooded after the storm. " * 40           # > 256 tokens
    tail = "Quantum computers use qubits to run algorithms. " * 10
    chunks = minilm.chunk(head + tail, max_tokens=64, overlap=8)
    assert len(chunks) > 5
    assert chunks[0].start == 0 and chunks[-1].end == len(head + tail)
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end  # windows overlap: no text falls between them
    for c in chunks:
        assert (head + tail)[c.start:c.end] == c.text
    full = minilm.encode([head + tail])[0]
    head_only = minilm.encode([head])[0]
    quantum = minilm.encode([tail])[0]
    # The tail beyond the first window still counts: the whole is closer to it than the head is.
    assert full @ quantum > head_only @ quantum + 0.05


def test_not_a_model_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelNotFound, match="not a model folder"):
        embedkit.load(tmp_path)
    with pytest.raises(ModelNotFound, match="is a file"):
        embedkit.load(tmp_path / "notes.txt")
    with pytest.raises(ModelNotFound, match="no model folder"):
        embedkit.load(tmp_path / "missing" / "deeper")


def test_local_sentence_transformers_folder(tmp_path, minilm):
    folder = tmp_path / "my-model"
    shutil.copytree(minilm_path(), folder)
    enc = embedkit.load(folder)
    assert enc.name == "my-model" and enc.spec == str(folder.resolve())
    np.testing.assert_allclose(enc.encode(["x y z"]), minilm.encode(["x y z"]), atol=1e-6)


def test_hub_id_offline_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelNotFound) as info:
        embedkit.load("someone/some-model")
    message = str(info.value)
    assert "someone/some-model" in message and "local folder" in message


def test_hub_id_resolved_from_the_hub_cache(tmp_path, monkeypatch):
    """The real huggingface_hub code finds a model in its cache layout, offline."""
    cache = tmp_path / "hub"
    snapshot = cache / "models--acme--mini" / "snapshots" / ("0" * 40)
    shutil.copytree(minilm_path(), snapshot)
    (cache / "models--acme--mini" / "refs").mkdir()
    (cache / "models--acme--mini" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    enc = embedkit.load("acme/mini")
    assert enc.name == "acme/mini" and enc.spec == "acme/mini" and enc.dim == 384


def test_bad_spec_type():
    with pytest.raises(InvalidInput):
        embedkit.load(123)


def test_loading_a_model_prints_no_progress_bar(capfd):
    capfd.readouterr()
    enc = embedkit.load()
    assert enc.encode(["quiet"]).shape == (1, 384)
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "it/s" not in err, err
