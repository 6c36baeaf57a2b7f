"""Spoken clips made by espeak-ng, and a tiny random Wav2Vec2 built by the tests."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest


def speak(text: str, path, *, voice: str | None = None, speed: int | None = None):
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed (scripts/setup.sh installs it)")
    cmd = [exe, "-w", str(path)]
    if voice:
        cmd += ["-v", voice]
    if speed:
        cmd += ["-s", str(speed)]
    subprocess.run(cmd + [text], check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    """{word: [clip paths]}: three digits, each said by two voices (22.05 kHz wav from espeak-ng)."""
    folder = tmp_path_factory.mktemp("speech")
    out = {}
    for word in ("one", "two", "three"):
        out[word] = [speak(word, folder / f"{word}_{voice.replace('+', '')}.wav", voice=voice)
                     for voice in ("en", "en+f3")]
    return out


@pytest.fixture(scope="session")
def formats(speech, tmp_path_factory):
    """One clip as wav, flac, ogg, stereo 44.1 kHz and 8 kHz."""
    import soundfile as sf
    folder = tmp_path_factory.mktemp("formats")
    y, sr = sf.read(speech["one"][0], dtype="float32")
    paths = {}
    for fmt in ("wav", "flac", "ogg"):
        paths[fmt] = folder / f"one.{fmt}"
        sf.write(paths[fmt], y, sr, format=fmt.upper() if fmt != "ogg" else "OGG",
                 subtype=None if fmt != "ogg" else "VORBIS")
    import librosa

    y44 = librosa.resample(y, orig_sr=sr, target_sr=44100)
    paths["stereo44k"] = folder / "one_stereo.wav"
    sf.write(paths["stereo44k"], np.stack([y44, 0.5 * y44], axis=1), 44100)
    paths["8k"] = folder / "one_8k.wav"
    sf.write(paths["8k"], librosa.resample(y, orig_sr=sr, target_sr=8000), 8000)
    return paths


@pytest.fixture(scope="session")
def tiny_wav2vec2(tmp_path_factory):
    import torch
    import transformers
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-wav2vec2")
    config = transformers.Wav2Vec2Config(
        vocab_size=12, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2, feat_extract_norm="layer", do_stable_layer_norm=True)
    transformers.Wav2Vec2Model(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True,
                                          return_attention_mask=True).save_pretrained(folder)
    return folder
