"""Wav2Vec2 (and HuBERT / WavLM, same interface) as an audio encoder: the mean of the last hidden
states over the clip's frames (padding excluded).

>>> import embedkit
>>> enc = embedkit.load("facebook/wav2vec2-base")        # doctest: +SKIP
>>> enc.encode(["speech.flac"]).shape                    # doctest: +SKIP
(1, 768)

Audio is read as mono at the model's rate (``sampling_rate`` of ``preprocessor_config.json``,
default 16 kHz), normalised to zero mean and unit variance per clip (as Wav2Vec2's feature
extractor does) and zero-padded to at least ``min_seconds`` so the convolutional front end always
sees enough samples.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import ModelNotFound, require
from ..folders import model_folder
from .base import AudioEncoderBase

__all__ = ["Wav2Vec2Encoder", "AUDIO_MODEL_TYPES", "is_audio_config"]

AUDIO_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "wav2vec2-conformer")


def is_audio_config(config: dict) -> bool:
    """True when a Hugging Face ``config.json`` dict describes a speech encoder we can pool."""
    model_type = str(config.get("model_type", "")).lower()
    archs = " ".join(config.get("architectures") or []).lower()
    return model_type in AUDIO_MODEL_TYPES or any(a.replace("-", "") in archs for a in AUDIO_MODEL_TYPES)


class Wav2Vec2Encoder(AudioEncoderBase):
    """Mean-pooled last hidden states of a Wav2Vec2-family model.

    Args:
        spec: a Hugging Face folder or id.
        layer: which hidden state to pool (-1: the last; lower layers often carry more phonetics).
        device: torch device.
        min_seconds: clips are zero-padded to this length.
        normalize: L2-normalise the output (default True).
    """

    def __init__(self, spec, *, name: str | None = None, layer: int = -1, device: str = "cpu",
                 min_seconds: float = 0.5, normalize: bool = True):
        transformers = require("transformers", "audio", "Wav2Vec2 audio encoders")
        folder = model_folder(spec)
        try:
            self.model = transformers.AutoModel.from_pretrained(str(folder)).to(device).eval()
        except Exception as exc:  # noqa: BLE001 - transformers raises many types
            raise ModelNotFound(f"cannot load an audio model from {folder}: {exc}") from exc
        self.sample_rate, self.do_normalize = 16000, True
        pre = folder / "preprocessor_config.json"
        if pre.is_file():
            try:
                cfg = json.loads(pre.read_text(encoding="utf-8"))
                self.sample_rate = int(cfg.get("sampling_rate", 16000))
                self.do_normalize = bool(cfg.get("do_normalize", True))
            except (OSError, ValueError) as exc:
                raise ModelNotFound(f"{pre} is not valid JSON: {exc}") from exc
        self.layer = layer
        self.device = device
        self.min_seconds = min_seconds
        self.default_normalize = normalize
        self.dim = int(self.model.config.hidden_size)
        self.name = name or (folder.name if Path(os.fspath(spec)).expanduser().is_dir() else os.fspath(spec))

    def _encode_batch(self, items) -> np.ndarray:
        torch = require("torch", "audio", "Wav2Vec2 audio encoders")
        waves = [self.waveform(it) for it in items]
        if self.do_normalize:
            waves = [(w - w.mean()) / np.sqrt(w.var() + 1e-7) for w in waves]
        n = max(len(w) for w in waves)
        x = np.zeros((len(waves), n), np.float32)
        mask = np.zeros((len(waves), n), np.int64)
        for i, w in enumerate(waves):
            x[i, :len(w)], mask[i, :len(w)] = w, 1
        # Models with group-norm feature extractors (wav2vec2-base) are trained without padding
        # masks: they get zero-padded input only; pooling always excludes the padded frames.
        use_mask = getattr(self.model.config, "feat_extract_norm", "layer") == "layer"
        with torch.inference_mode():
            out = self.model(torch.from_numpy(x),
                             attention_mask=torch.from_numpy(mask) if use_mask else None,
                             output_hidden_states=self.layer != -1)
            hidden = out.hidden_states[self.layer] if self.layer != -1 else out.last_hidden_state
            frames = self.model._get_feat_extract_output_lengths(torch.from_numpy(mask.sum(1)))
            valid = (torch.arange(hidden.shape[1])[None, :] < frames[:, None]).float().unsqueeze(-1)
            pooled = (hidden * valid).sum(1) / valid.sum(1).clamp(min=1.0)
        return pooled.float().numpy()
