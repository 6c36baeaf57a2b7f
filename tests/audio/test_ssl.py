from __future__ import annotations

import json

import numpy as np
import pytest

import embedkit
from embedkit.audio.ssl import SpectrogramEncoder, SpectrogramSimCLR, spectrogram_augment

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
