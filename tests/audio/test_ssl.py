from __future__ import annotations

import json

import numpy as np
import pytest

import embedkit
from embedkit.audio.ssl import SpectrogramEncoder, SpectrogramSimCLR, spectrogram_augment
from embedkit.errors import InvalidInput

import torch
import librosa  # noqa: F401


def test_augment_shapes_and_randomness():
    x = torch.randn(6, 1, 20, 32)
    g = torch.Generator().manual_seed(0)
    a, b = spectrogram_augment(x, g, frames=16), spectrogram_augment(x, g, frames=16)
    assert a.shape == (6, 1, 20, 16) and torch.isfinite(a).all()
    assert not torch.allclose(a, b)


def test_train_save_load_and_index(speech, tmp_path):
    clips = [p for ps in speech.values() for p in ps]
    trainer = SpectrogramSimCLR(sample_rate=16000, n_mels=20, frames=16, widths=(4, 8), dim=16,
                                epochs=3, batch_size=6, seed=0, lifter=8)
    trainer.fit(clips)
    enc = trainer.encoder_
    assert enc.dim == 16 and enc.modality == "audio"
    folder = enc.save(tmp_path / "audio-simclr")
    meta = json.loads((folder / "embedkit.json").read_text())
    assert meta["type"] == "audio_simclr" and meta["frontend"]["n_mels"] == 20
    assert meta["frontend"]["lifter"] == 8 and loaded_lifter(folder) == 8
    assert meta["training"]["items"] == 6 and "embedkit_version" in meta
    loaded = embedkit.load(folder)
    assert isinstance(loaded, SpectrogramEncoder)
    v1, v2 = enc.encode(clips), loaded.encode(clips)
    assert v1.shape == (6, 16) and np.allclose(v1, v2, atol=1e-5)
    # Silence and a 5 ms clip still embed.
    assert np.isfinite(loaded.encode([(np.zeros(8000, np.float32), 8000),
                                      (np.ones(40, np.float32) * 0.1, 8000)])).all()
    from embedkit import VectorStore
    from embedkit.apps.indexing import index_paths

    with VectorStore(tmp_path / "a.db", encoder=loaded) as vs:
        report = index_paths(vs, [speech["one"][0].parent])
        assert len(report.added) == 6 and vs.model_spec is not None
        hit = vs.search(loaded.encode([speech["two"][0]])[0], k=1)[0]
        assert hit.metadata["source"].endswith(speech["two"][0].name)


def loaded_lifter(folder) -> int:
    return SpectrogramEncoder.load(folder).lifter


def test_lifter_keeps_the_envelope_only():
    from embedkit.audio.ssl import _lifter

    x = torch.randn(2, 1, 20, 5)
    flat = torch.ones(2, 1, 20, 5) * 3.0
    assert torch.allclose(_lifter(flat, 13), torch.zeros_like(flat), atol=1e-5)  # c0 (level) removed
    assert torch.equal(_lifter(x, 0), x)
    assert torch.allclose(_lifter(_lifter(x, 13), 13), _lifter(x, 13), atol=1e-5)  # a projection


def test_supcon_equals_nt_xent_with_distinct_labels_and_uses_shared_labels():
    from embedkit.vision.simclr import nt_xent, supcon

    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
    assert torch.allclose(supcon(z1, z2, torch.arange(8), 0.2), nt_xent(z1, z2, 0.2), atol=1e-5)
    # Two items that share a label: making them identical lowers SupCon but not NT-Xent's positives.
    labels = torch.tensor([0, 0, 1, 2, 3, 4, 5, 6])
    z1b, z2b = z1.clone(), z2.clone()
    z1b[1], z2b[1] = z1[0], z2[0]
    assert supcon(z1b, z2b, labels, 0.2) < supcon(z1, z2, labels, 0.2)


def test_supervised_training_is_recorded_and_loads(speech, tmp_path):
    clips = [p for ps in speech.values() for p in ps]
    words = [w for w, ps in speech.items() for _ in ps]
    trainer = SpectrogramSimCLR(sample_rate=16000, n_mels=20, frames=16, widths=(4, 8), dim=16, epochs=3,
                                batch_size=6, seed=0, lifter=8, floor_db=50)
    with pytest.raises(InvalidInput, match="one label per item"):
        trainer.fit(clips, labels=words[:-1])
    with pytest.raises(InvalidInput, match="at least 2 different labels"):
        trainer.fit(clips, labels=["one"] * len(clips))
    trainer.fit(clips, labels=words)
    folder = trainer.encoder_.save(tmp_path / "audio-supcon")
    meta = json.loads((folder / "embedkit.json").read_text())
    assert meta["training"]["labels_used"] is True and meta["training"]["method"].startswith("SupCon")
    assert meta["training"]["classes"] == 3 and meta["frontend"]["floor_db"] == 50
    loaded = embedkit.load(folder)
    assert loaded.floor_db == 50
    assert np.allclose(loaded.encode(clips), trainer.encoder_.encode(clips), atol=1e-5)
    # The soft floor is part of the front end: without it the spectrograms differ.
    hard = SpectrogramSimCLR(sample_rate=16000, n_mels=20, frames=16)._shell().spectrograms(clips[:1])
    assert not np.allclose(loaded.spectrograms(clips[:1]), hard, atol=1e-3)
    unsup = SpectrogramSimCLR(sample_rate=16000, n_mels=20, frames=16, widths=(4, 8), dim=16, epochs=1,
                              batch_size=6).fit(clips)
    assert unsup.encoder_.training["labels_used"] is False


def test_cli_trains_with_labels_from_file_names(speech, tmp_path):
    from click.testing import CliRunner

    from embedkit.cli import main

    clips = tmp_path / "clips"
    clips.mkdir()
    for word, paths in speech.items():
        for i, p in enumerate(paths):
            (clips / f"{word}_{i}.wav").write_bytes(p.read_bytes())
    out = tmp_path / "model"
    res = CliRunner().invoke(main, ["train", "audio-simclr", str(clips), "--out", str(out), "--epochs", "2",
                                    "--label-from", "prefix", "--floor-db", "50"])
    assert res.exit_code == 0, res.output
    assert "SupCon, 3 labels" in res.output
    meta = json.loads((out / "embedkit.json").read_text())
    assert meta["training"]["labels_used"] is True and meta["frontend"]["floor_db"] == 50
    assert embedkit.load(out).encode([clips / "one_0.wav"]).shape == (1, 128)
    res = CliRunner().invoke(main, ["train", "audio-simclr", str(clips), "--out", str(out), "--epochs", "1",
                                    "--label-from", "clusters", "--clusters", "3"])
    assert res.exit_code == 0, res.output
    assert "no labels, SupCon on 3 k-means clusters" in res.output
    assert json.loads((out / "embedkit.json").read_text())["training"]["labels_used"] is False


def test_pseudo_labels_from_clusters_use_no_labels(speech, tmp_path):
    from embedkit.audio.ssl import cluster_labels

    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(0, 0.1, (10, 4)) + [3, 0, 0, 0], rng.normal(0, 0.1, (10, 4)) - [3, 0, 0, 0]])
    lab = cluster_labels(blobs, 2)
    assert len(set(lab[:10])) == 1 and len(set(lab[10:])) == 1 and lab[0] != lab[10]
    with pytest.raises(InvalidInput, match="2 <= k <= n"):
        cluster_labels(blobs, 21)
    clips = [p for ps in speech.values() for p in ps]
    trainer = SpectrogramSimCLR(sample_rate=16000, n_mels=20, frames=16, widths=(4, 8), dim=16, epochs=2,
                                batch_size=6, floor_db=50)
    with pytest.raises(InvalidInput, match="labels or clusters"):
        trainer.fit(clips, labels=[0, 1] * 3, clusters=2)
    trainer.fit(clips, clusters=3)
    meta = trainer.encoder_.training
    assert meta["labels_used"] is False and "k-means (3)" in meta["method"] and meta["classes"] == 3
    assert embedkit.load(trainer.encoder_.save(tmp_path / "m")).encode(clips).shape == (6, 16)


def test_side_by_side_with_warped_segments(speech, tmp_path):
    from embedkit.audio.features import FeatureEncoder
    from embedkit.audio.ssl import CLUSTER_FEATURES

    clips = [p for ps in speech.values() for p in ps]
    trainer = SpectrogramSimCLR(sample_rate=16000, n_mels=20, frames=16, widths=(4, 8), dim=16, epochs=2,
                                batch_size=6, floor_db=50)
    trainer.fit(clips, clusters=3, with_features=True)
    enc = trainer.encoder_
    feats = FeatureEncoder(**CLUSTER_FEATURES, sample_rate=16000)
    assert enc.dim == 16 + feats.dim and enc.training["side_by_side"]
    raw = enc.encode(clips, normalize=False)
    cnn, side = raw[:, :16], raw[:, 16:]
    # Each block is unit length, and is the standardised CNN / feature vector of the clip.
    assert np.allclose(np.linalg.norm(cnn, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(side, axis=1), 1, atol=1e-5)
    z = (feats.encode(clips) - enc.standardise["features_mean"]) / enc.standardise["features_std"]
    assert np.allclose(side, z / np.linalg.norm(z, axis=1, keepdims=True), atol=1e-4)
    # Over the training clips the standardised CNN block has mean 0.
    z_cnn = (enc.embed_spectrograms(enc.spectrograms(clips)) - enc.standardise["cnn_mean"]) / enc.standardise["cnn_std"]
    assert np.allclose(z_cnn.mean(0), 0, atol=1e-4)
    folder = enc.save(tmp_path / "side")
    assert (folder / "standardise.safetensors").is_file()
    loaded = embedkit.load(folder)
    assert loaded.dim == enc.dim and np.allclose(loaded.encode(clips), enc.encode(clips), atol=1e-5)
    (folder / "standardise.safetensors").unlink()
    with pytest.raises(embedkit.errors.ModelNotFound, match="standardise.safetensors"):
        embedkit.load(folder)


def test_a_store_refuses_a_model_folder_retrained_in_place(speech, tmp_path):
    from embedkit import VectorStore
    from embedkit.errors import ModelMismatch

    clips = [p for ps in speech.values() for p in ps]
    folder = tmp_path / "m"

    def train(seed):
        t = SpectrogramSimCLR(sample_rate=8000, n_mels=20, frames=16, widths=(4, 8), dim=16, epochs=1,
                              batch_size=6, seed=seed).fit(clips)
        t.encoder_.save(folder)
        return t.encoder_

    first = train(0)
    assert first.name.startswith("audio-simclr@") and embedkit.load(folder).name == first.name
    with VectorStore(tmp_path / "s.db", encoder=embedkit.load(folder)) as store:
        store.add(["x"], vectors=first.encode(clips[:1]))
    second = train(1)  # same name, same dimension, other weights
    assert second.name != first.name
    with pytest.raises(ModelMismatch, match=first.name):
        VectorStore(tmp_path / "s.db", encoder=embedkit.load(folder))
