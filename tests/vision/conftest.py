"""Tiny random Hugging Face vision models, built and saved by the tests (nothing is downloaded)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import torch
import transformers


def _save_preprocessor(folder, size: int) -> None:
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"shortest_edge": size}, "do_center_crop": True,
        "crop_size": {"height": size, "width": size}, "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "rescale_factor": 1 / 255,
        "resample": 3}))


def build_tiny_resnet(folder):
    torch.manual_seed(0)
    config = transformers.ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16],
                                       depths=[1, 1], layer_type="basic", num_labels=3)
    transformers.ResNetForImageClassification(config).save_pretrained(folder)
    _save_preprocessor(folder, 32)
    return folder


@pytest.fixture(scope="session")
def tiny_resnet(tmp_path_factory):
    return build_tiny_resnet(tmp_path_factory.mktemp("tiny-resnet"))


@pytest.fixture(scope="session")
def tiny_convnext(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-convnext")
    config = transformers.ConvNextConfig(num_channels=3, hidden_sizes=[8, 16], depths=[1, 1],
                                         num_stages=2, image_size=32)
    transformers.ConvNextModel(config).save_pretrained(folder)
    return folder  # no preprocessor_config.json: the encoder falls back to defaults


def build_tiny_clip(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers

    torch.manual_seed(0)
    words = ["<pad>", "<unk>", "<s>", "</s>", "a", "photo", "of", "red", "blue", "green", "square",
             "circle", "cat", "dog", "car", "the", "."]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>",
                                                bos_token="<s>", eos_token="</s>")
    fast.save_pretrained(folder)
    text = dict(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=16, pad_token_id=0, bos_token_id=2,
                eos_token_id=3)
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                  image_size=32, patch_size=8)
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=12)
    transformers.CLIPModel(config).save_pretrained(folder)
    _save_preprocessor(folder, 32)
    return folder


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("images"))


def make_images(folder):
    """A few small PNG/JPEG images with distinct colours."""
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255), (0, 255, 0), (250, 10, 10)]):
        arr = np.tile(np.array(colour, np.uint8), (40 + 4 * i, 48, 1))
        arr = np.clip(arr.astype(int) + rng.integers(-10, 10, arr.shape), 0, 255).astype(np.uint8)
        p = folder / (f"img{i}.png" if i % 2 == 0 else f"img{i}.jpg")
        Image.fromarray(arr).save(p)
        paths.append(p)
    return paths
