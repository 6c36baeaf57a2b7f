from __future__ import annotations

import numpy as np
import pytest

import embedkit
from embedkit.audio.features import FeatureEncoder
from embedkit.audio.io import is_silent, load_audio
from embedkit.errors import InvalidInput

import soundfile as sf
import librosa  # noqa: F401


def test_formats_resampling_and_mono(formats):
    ref = load_audio(formats["wav"], sample_rate=16000)
    assert ref.dtype == np.float32 and ref.ndim == 1 and abs(len(ref) / 16000 - 1.0) < 0.5
    for key in ("flac", "ogg", "stereo44k", "8k"):
        y = load_audio(formats[key], sample_rate=16000)
        assert y.ndim == 1 and abs(len(y) - len(ref)) <= 20, key
    enc = FeatureEncoder(features="mfcc")
    v = enc.encode([formats[k] for k in ("wav", "flac", "ogg", "stereo44k", "8k")])
    cos = (v / np.linalg.norm(v, axis=1, keepdims=True)) @ (v[0] / np.linalg.norm(v[0]))
    assert (cos > 0.9).all(), cos  # the same word whatever the container, channels or rate


def test_feature_encoders_shapes_and_named_specs(speech):
    clips = [p for ps in speech.values() for p in ps]
    for spec, dim in (("mfcc", 40), ("log-mel", 80), ("mfcc-segments", 144)):
        enc = embedkit.load(spec)
        assert enc.modality == "audio" and enc.dim == dim and enc.spec == spec
        v = enc.encode(clips)
        assert v.shape == (6, dim) and np.isfinite(v).all()
    with pytest.raises(InvalidInput, match="Valid features are"):
        FeatureEncoder(features="chroma")
    with pytest.raises(InvalidInput, match="Valid poolings are"):
        FeatureEncoder(pooling="max")


def test_waveform_items_and_tuples(formats):
    y, sr = sf.read(formats["wav"], dtype="float32")
    enc = FeatureEncoder()
    a = enc.encode([formats["wav"], (y, sr), load_audio(formats["wav"], sample_rate=16000),
                    formats["wav"].read_bytes()])
    assert np.allclose(a, a[0], atol=1e-3)
    with pytest.raises(InvalidInput, match="audio item must be"):
        enc.encode([12])
    with pytest.raises(InvalidInput, match="NaN"):
        enc.encode([(np.array([0.1, np.nan] * 800, np.float32), 16000)])


def test_bad_audio_files_are_clear_errors(tmp_path, formats):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + b"\x00\x01garbage" * 50)
    truncated = tmp_path / "truncated.ogg"
    truncated.write_bytes(formats["ogg"].read_bytes()[:60])
    text = tmp_path / "notes.txt"
    text.write_text("not audio")
    header_only = tmp_path / "header.wav"
    sf.write(header_only, np.zeros(0, np.float32), 16000)
    enc = FeatureEncoder()
    for path, what in ((empty, "empty"), (corrupt, "not a readable audio"),
                       (truncated, "not a readable audio"), (text, "unsupported audio format"),
                       (header_only, "no samples"), (tmp_path / "missing.wav", "no such audio")):
        with pytest.raises(InvalidInput, match=what) as info:
            enc.encode([path])
        assert str(path) in str(info.value)


def test_silence_and_very_short_clips_are_padded(tmp_path):
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    short = tmp_path / "short.wav"
    sf.write(short, (0.3 * np.sin(np.arange(40) / 3)).astype(np.float32), 8000)  # 5 ms
    y = load_audio(short, sample_rate=16000, min_seconds=0.1)
    assert len(y) == 1600
    assert is_silent(load_audio(silent))
    for spec in ("mfcc", "mfcc-segments"):
        v = embedkit.load(spec).encode([silent, short])
        assert np.isfinite(v).all()


def test_wav2vec2_mean_pooled(tiny_wav2vec2, formats, speech):
    import torch
    from embedkit.audio.wav2vec import Wav2Vec2Encoder

    enc = embedkit.load(tiny_wav2vec2)
    assert isinstance(enc, Wav2Vec2Encoder) and enc.dim == 16 and enc.modality == "audio"
    clips = [formats["wav"], speech["two"][0], speech["three"][1]]
    v = enc.encode(clips, normalize=False)
    assert v.shape == (3, 16) and np.isfinite(v).all()
    # Padding in a batch does not change a clip's vector: batch of 3 == one at a time.
    one = np.stack([enc.encode([c], normalize=False)[0] for c in clips])
    assert np.allclose(v, one, atol=1e-4)
    # Against transformers directly for one clip.
    from transformers import Wav2Vec2Model

    model = Wav2Vec2Model.from_pretrained(tiny_wav2vec2).eval()
    y = load_audio(clips[0], sample_rate=16000, min_seconds=0.5)
    y = (y - y.mean()) / np.sqrt(y.var() + 1e-7)
    with torch.inference_mode():
        ref = model(torch.from_numpy(y[None])).last_hidden_state.mean(1)[0].numpy()
    assert np.allclose(v[0], ref, atol=1e-4)
    # A 5 ms clip is padded to the model's minimum.
    assert enc.encode([(np.ones(80, np.float32) * 0.1, 16000)]).shape == (1, 16)


def test_warped_segments_blocks_floor_and_named_spec(speech):
    clips = [p for ps in speech.values() for p in ps]
    base = dict(features="mfcc", pooling="segments", n_mfcc=10, drop_c0=True, segments=8, sample_rate=8000)
    plain = FeatureEncoder(**base).encode(clips)
    both = FeatureEncoder(**base, deltas=True, warps=(0.9, 1.0)).encode(clips)
    assert plain.shape == (6, 72) and both.shape == (6, 4 * 72)
    # Block order: per warp, the coefficients then their deltas; the 1.0 block is the unwarped one.
    assert np.allclose(both[:, 144:216], plain, atol=1e-4)
    assert not np.allclose(both[:, :72], plain, atol=1e-2)
    # A soft floor changes the vectors of real speech, and 1000 dB below the peak is no floor at all.
    floored = FeatureEncoder(**base, floor_db=30).encode(clips)
    assert not np.allclose(floored, plain, atol=1e-2)
    centred = [y - y.mean() for y in (FeatureEncoder(**base).waveform(c) for c in clips)]  # floor_db removes DC
    assert np.allclose(FeatureEncoder(**base, floor_db=1000).encode(centred), FeatureEncoder(**base).encode(centred),
                       atol=1e-3)
    enc = embedkit.load("mfcc-warped-segments")
    assert enc.dim == 9 * 16 * 2 * 5 and enc.spec == "mfcc-warped-segments" and enc.sample_rate == 8000
    v = enc.encode(clips + [(np.zeros(800, np.float32), 8000), (np.ones(40, np.float32) * 0.1, 8000)])
    assert v.shape == (8, enc.dim) and np.isfinite(v).all()
    for bad, match in ((dict(floor_db=0), "floor_db"), (dict(warps=()), "warps"), (dict(warps=(3.0,)), "warps"),
                       (dict(pooling="stats", deltas=True), "segments")):
        with pytest.raises(InvalidInput, match=match):
            FeatureEncoder(**{**base, **bad})
