"""Audio as vectors: reading (wav, flac, ogg; mono, resampled), MFCC / log-mel statistics,
Wav2Vec2 mean-pooled hidden states, and a spectrogram CNN trained self-supervised with SimCLR.

Names are imported lazily so that ``import embedkit.audio`` stays light.
"""

from __future__ import annotations

import importlib

__all__ = ["load_audio", "FeatureEncoder", "Wav2Vec2Encoder", "SpectrogramEncoder", "SpectrogramSimCLR",
           "AUDIO_SUFFIXES"]

_WHERE = {"load_audio": ".io", "AUDIO_SUFFIXES": ".io", "FeatureEncoder": ".features",
          "Wav2Vec2Encoder": ".wav2vec", "SpectrogramEncoder": ".ssl", "SpectrogramSimCLR": ".ssl"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
