from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

import embedkit
from embedkit.errors import InvalidInput
from embedkit.vision.encoders import ClipEncoder, CnnEncoder

import torch  # noqa: F401


def test_resnet_folder_loads_cnn_features_before_classifier(tiny_resnet, images, capfd):
    enc = embedkit.load(tiny_resnet)
    assert "LOAD REPORT" not in "".join(capfd.readouterr())  # the unused head is by design
    assert isinstance(enc, CnnEncoder) and enc.modality == "image" and enc.dim == 16
    v = enc.encode(images)
    assert v.shape == (4, 16) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    # The same pixels through transformers directly: pooled output of the backbone, not the logits.
    import torch
    from transformers import ResNetModel

    ref = ResNetModel.from_pretrained(tiny_resnet).eval()
    with torch.inference_mode():
        pooled = ref(pixel_values=enc._pixels(images[:1])).pooler_output.reshape(1, -1).numpy()
    raw = enc.encode(images[:1], normalize=False)
    assert np.allclose(raw, pooled, atol=1e-5)
    # Red images are nearer each other than to blue.
    sims = v @ v.T
    assert sims[0, 3] > sims[0, 1]


def test_convnext_without_preprocessor_config(tiny_convnext, images):
    enc = embedkit.load(tiny_convnext)
    assert isinstance(enc, CnnEncoder) and enc.dim == 16
    assert enc.encode(images[:2]).shape == (2, 16)


def test_item_kinds_pil_bytes_array(tiny_resnet, images):
    from PIL import Image

    enc = CnnEncoder(tiny_resnet)
    img = Image.open(images[0])
    arr = np.asarray(img.convert("RGB"))
    data = images[0].read_bytes()
    v = enc.encode([images[0], str(images[0]), img, arr, data])
    assert np.allclose(v, v[0], atol=1e-5)
    with pytest.raises(InvalidInput, match="an image must be"):
        enc.encode([3.5])


def test_clip_text_and_image_one_space_and_zero_shot(tiny_clip, images):
    enc = embedkit.load(tiny_clip)
    assert isinstance(enc, ClipEncoder) and enc.dim == 12
    img = enc.encode_images([str(p) for p in images])
    txt = enc.encode(["a photo of a red square", "a photo of a blue circle"])
    assert img.shape == (4, 12) and txt.shape == (2, 12)
    # str items are texts, Path items are images, and a mixed batch matches separate batches.
    mixed = enc.encode(["a photo of a red square", images[0]])
    assert np.allclose(mixed[0], txt[0], atol=1e-5) and np.allclose(mixed[1], img[0], atol=1e-5)
    # Against transformers directly.
    import torch
    from transformers import AutoTokenizer, CLIPModel

    model = CLIPModel.from_pretrained(tiny_clip).eval()
    tok = AutoTokenizer.from_pretrained(tiny_clip)
    with torch.inference_mode():
        t = model.get_text_features(**tok(["a photo of a red square"], return_tensors="pt"))
    t = getattr(t, "pooler_output", t).numpy()
    assert np.allclose(txt[0], t[0] / np.linalg.norm(t[0]), atol=1e-5)
    result = enc.classify(images, ["red", "blue", "green"])
    assert len(result.labels) == 4 and set(result.labels) <= {"red", "blue", "green"}
    assert result.probabilities.shape == (4, 3) and np.allclose(result.probabilities.sum(1), 1, atol=1e-5)
    with pytest.raises(InvalidInput, match="template"):
        enc.classify(images, ["red", "blue"], template="no slot")
    with pytest.raises(InvalidInput, match="at least two"):
        enc.classify(images, ["red"])


def test_bad_images_are_clear_errors(tiny_resnet, images, tmp_path):
    enc = CnnEncoder(tiny_resnet)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 3)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(images[0].read_bytes()[:120])
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for path, what in ((empty, "empty"), (corrupt, "not a readable image"),
                       (truncated, "truncated|not a readable"), (text, "unsupported image format"),
                       (tmp_path / "missing.png", "no such image")):
        with pytest.raises(InvalidInput, match=what) as info:
            enc.encode([path])
        assert str(path) in str(info.value)


def test_huge_image_is_refused_before_decoding(tiny_resnet, tmp_path):
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("L", (3000, 2000)).save(big)  # 6 MP, tiny file
    with pytest.raises(InvalidInput, match="more than the limit"):
        CnnEncoder(tiny_resnet, max_pixels=1_000_000).encode([big])
    # A decompression bomb by Pillow's own limit is the same clear error.
    from embedkit.vision.io import load_image

    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = 1_000_000
    try:
        with pytest.raises(InvalidInput, match="too large|more than the limit"):
            load_image(big, max_pixels=10**9)
    finally:
        Image.MAX_IMAGE_PIXELS = old


def test_modes_are_converted_to_rgb(tiny_resnet, tmp_path):
    from PIL import Image

    enc = CnnEncoder(tiny_resnet)
    paths = []
    for mode in ("L", "RGBA", "P", "CMYK", "I;16"):
        p = tmp_path / f"{mode.replace(';', '')}.{'tif' if mode in ('CMYK', 'I;16') else 'png'}"
        Image.new(mode, (20, 30)).save(p)
        paths.append(p)
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, format="GIF")
    assert enc.encode(paths + [buf.getvalue()]).shape == (6, 16)


def test_load_errors_for_non_vision_folder(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "resnet"}')
    from embedkit.errors import ModelNotFound

    with pytest.raises(ModelNotFound, match="cannot load a vision model"):
        embedkit.load(Path(tmp_path))
