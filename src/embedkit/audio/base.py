"""Shared input handling of the audio encoders.

An audio item is one of: a path (``str`` or :class:`os.PathLike`) to a wav/flac/ogg file, the
file's ``bytes``, a 1-D float array already at the encoder's ``sample_rate``, or a
``(waveform, sample_rate)`` tuple (any rate, mono or ``(frames, channels)``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..encoder import BaseEncoder
from ..errors import InvalidInput
from .io import load_audio, prepare_waveform

ITEM_HELP = ("an audio item must be a file path, the file's bytes, a 1-D float waveform at the "
             "encoder's sample rate, or a (waveform, sample_rate) tuple")


class AudioEncoderBase(BaseEncoder):
    """Base of the audio encoders: checks items and turns each into a mono float32 waveform."""

    modality = "audio"
    sample_rate: int = 16000
    min_seconds: float = 0.1

    def _check_item(self, index: int, item: Any) -> Any:
        if isinstance(item, (str, os.PathLike, bytes, bytearray, np.ndarray)):
            return item
        if isinstance(item, tuple) and len(item) == 2:
            return item
        raise InvalidInput(f"item {index}: {ITEM_HELP}; got {type(item).__name__}")

    def waveform(self, item: Any) -> np.ndarray:
        """The item as mono float32 audio at ``self.sample_rate`` (padded to ``min_seconds``)."""
        if isinstance(item, (str, os.PathLike, bytes, bytearray)):
            return load_audio(item, sample_rate=self.sample_rate, min_seconds=self.min_seconds)
        if isinstance(item, tuple):
            y, sr = item
            return prepare_waveform(y, sr, sample_rate=self.sample_rate, min_seconds=self.min_seconds)
        return prepare_waveform(item, self.sample_rate, sample_rate=self.sample_rate,
                                min_seconds=self.min_seconds)
