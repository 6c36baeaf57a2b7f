from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import embedkit
from embedkit.errors import InvalidInput, ModelNotFound, NotFitted

import torch


def test_nt_xent_matches_the_formula():
    from embedkit.vision.simclr import nt_xent

    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    t = 0.5
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / t).numpy()
    n = 4
    losses = []
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        others = [j for j in range(2 * n) if j != i]
        losses.append(-sim[i, pos] + np.log(np.exp(sim[i, others]).sum()))
    assert abs(float(nt_xent(z1, z2, t)) - np.mean(losses)) < 1e-5
    # Identical views with far-apart items give a low loss; it is never negative.
    e = torch.eye(4) * 10
    assert float(nt_xent(e, e, 0.1)) < 0.01
    with pytest.raises(InvalidInput):
        nt_xent(z1, z2[:3])


def test_image_simclr_learns_and_round_trips(tmp_path):
    from sklearn.datasets import load_digits

    from embedkit.vision.digits import ConvNetEncoder, ImageSimCLR

    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    pixels = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    model = ImageSimCLR(size=(8, 8), widths=(8, 16), dim=16, epochs=8, batch_size=128, seed=0)
    model.fit(pixels=pixels)
    assert len(model.history_) == 8 and model.history_[-1] < model.history_[0]
    enc = model.encoder_
    folder = enc.save(tmp_path / "digits-simclr")
    meta = json.loads((folder / "embedkit.json").read_text())
    assert meta["type"] == "image_simclr" and (folder / "model.safetensors").is_file()
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.bin"))
    loaded = embedkit.load(folder)
    assert isinstance(loaded, ConvNetEncoder) and loaded.dim == 16 and loaded.modality == "image"
    imgs = [(p[0] * 255).astype(np.uint8) for p in pixels[:5]]
    assert np.allclose(enc.encode(imgs), loaded.encode(imgs), atol=1e-5)
    # Same-digit neighbours beat chance by far even after a few seconds of training.
    Z = loaded.encode([(p[0] * 255).astype(np.uint8) for p in pixels])
    S = Z @ Z.T
    np.fill_diagonal(S, -1)
    assert (y[S.argmax(1)] == y).mean() > 0.5


def test_simclr_checks_its_inputs():
    from embedkit.vision.simclr import SimCLR

    with pytest.raises(InvalidInput, match="'epochs' parameter"):
        SimCLR(epochs=0).fit(torch.zeros(4, 1, 8, 8), lambda b, g: b)
    with pytest.raises(InvalidInput, match="shape"):
        SimCLR().fit(torch.zeros(4, 8, 8), lambda b, g: b)
    with pytest.raises(NotFitted):
        SimCLR().transform(torch.zeros(2, 1, 8, 8))


def test_bad_saved_model_folder(tmp_path):
    (tmp_path / "embedkit.json").write_text('{"type": "image_simclr"}')
    with pytest.raises(ModelNotFound, match="not a valid image_simclr"):
        embedkit.load(tmp_path)


def test_light_imports():
    code = ("import sys, embedkit, embedkit.vision, embedkit.audio; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; "
            "assert 'librosa' not in sys.modules and 'PIL' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
