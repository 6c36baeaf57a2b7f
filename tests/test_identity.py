"""A store knows its model by content: fingerprints, lazy loading of the recorded model."""

import os
import shutil

import numpy as np
import pytest

import embedkit
from embedkit import VectorStore
from embedkit.errors import ModelMismatch
from embedkit.identity import fingerprint_of, folder_fingerprint
from embedkit.models import default_model_path


@pytest.fixture
def cache(embedkit_cache):
    return embedkit_cache


def test_same_model_by_two_specs_has_one_fingerprint(cache):
    by_name, by_folder = embedkit.load(), embedkit.load(default_model_path())
    assert by_name.name != by_folder.name
    assert by_name.fingerprint == by_folder.fingerprint
    assert len(by_name.fingerprint) == 64
    assert (cache / "fingerprints.json").is_file()  # digests cached by size and mtime


def test_fingerprint_follows_content_not_name(tmp_path, cache, tiny_model_factory):
    a = tiny_model_factory("model-a", seed=0)
    b = tiny_model_factory("model-b", seed=1)
    same_name = tmp_path / "x" / "model"
    shutil.copytree(a, same_name)
    assert folder_fingerprint(a) == folder_fingerprint(same_name)  # same content, other path
    assert folder_fingerprint(a) != folder_fingerprint(b)
    # Rewriting a weights file changes the fingerprint even with the same size.
    weights = same_name / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(1, 1))
    assert folder_fingerprint(same_name) != folder_fingerprint(a)
    # Pooling changes the vectors, so it is part of the identity.
    assert embedkit.load(a).fingerprint != embedkit.load(a, pooling="cls").fingerprint


def test_store_refuses_another_model_with_the_same_folder_name(tmp_path, cache, tiny_model_factory):
    first = tmp_path / "one" / "model"
    other = tmp_path / "two" / "model"
    shutil.copytree(tiny_model_factory("m0", seed=0), first)
    shutil.copytree(tiny_model_factory("m1", seed=1), other)
    enc = embedkit.load(first)
    with VectorStore(tmp_path / "s.db", encoder=enc) as store:
        store.add(["a red car", "a green pear"], ids=["c", "p"])
    impostor = embedkit.load(other)
    assert impostor.name == enc.name == "model" and impostor.dim == enc.dim
    with pytest.raises(ModelMismatch, match="different model"):
        VectorStore(tmp_path / "s.db", encoder=impostor)


def test_store_accepts_the_same_model_by_another_spec(tmp_path, cache):
    path = tmp_path / "s.db"
    with VectorStore(path, encoder=embedkit.load(default_model_path())) as store:
        store.add(["My old car needs new brakes"], ids=["a"])
        assert store.meta["model_fingerprint"] == fingerprint_of(store.encoder)
    with VectorStore(path, encoder=embedkit.load()) as store:  # another name, same content
        assert store.search("vehicle repair", k=1)[0].id == "a"


def test_store_loads_its_recorded_model_lazily(tmp_path, cache):
    path = tmp_path / "s.db"
    with embedkit.open(path, encoder=embedkit.load(), create=True) as store:
        store.add(["자동차 정기 검사", "사과와 배"], ids=["car", "fruit"])
    with embedkit.open(path) as store:
        assert store._encoder is None  # nothing loaded for keyword search
        assert store.search("검사", mode="keyword")[0].id == "car"
        assert store._encoder is None
        hits = store.search("자동차", k=1)  # a text query loads the recorded model
        assert store._encoder is not None and hits[0].id == "car"
        store.add(["바나나"], ids=["banana"])
        assert store.count() == 3


def test_recorded_model_changed_in_place_is_refused(tmp_path, cache, tiny_model_factory):
    folder = tmp_path / "retrained"
    shutil.copytree(tiny_model_factory("r0", seed=0), folder)
    with VectorStore(tmp_path / "s.db", encoder=embedkit.load(folder)) as store:
        store.add(["some text"])
    shutil.rmtree(folder)
    shutil.copytree(tiny_model_factory("r1", seed=1), folder)  # retrained in place
    with embedkit.open(tmp_path / "s.db") as store:
        with pytest.raises(ModelMismatch, match="different model"):
            store.search("some text")


def test_name_only_store_gains_the_fingerprint_on_first_write(tmp_path, cache):
    enc = embedkit.load()
    path = tmp_path / "old.db"
    with VectorStore(path, dim=enc.dim) as store:  # as earlier versions recorded it: name and spec only
        store._set_meta(model=enc.name, model_spec="default")
        store.add(["first"], ids=["1"], vectors=enc.encode(["first"]))
        assert "model_fingerprint" not in store.meta
    with VectorStore(path, encoder=enc) as store:
        store.add(["second"], ids=["2"])
        assert store.meta["model_fingerprint"] == enc.fingerprint


def test_a_store_that_stored_nothing_binds_no_model(tmp_path, cache):
    path = tmp_path / "empty.db"
    VectorStore(path, encoder=embedkit.load("mfcc")).close()
    with VectorStore(path) as store:
        assert store.model is None and store.dim is None
    with VectorStore(path, encoder=embedkit.load()) as store:  # a text model is fine now
        store.add(["hello"], ids=["h"])
        assert store.model == embedkit.load().name


def test_vectors_of_the_wrong_dimension_for_the_encoder(tmp_path):
    from embedkit.errors import DimensionMismatch
    from embedkit.text.hashing import HashingEncoder

    store = VectorStore(tmp_path / "s.db", encoder=HashingEncoder(dim=8))
    with pytest.raises(DimensionMismatch, match="dimension 5, expected 8"):
        store.add(["x"], vectors=np.ones((1, 5)))
