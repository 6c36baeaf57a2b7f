"""Hand-made audio features as vectors: log-mel and MFCC statistics (librosa).

>>> from embedkit.audio import FeatureEncoder
>>> enc = FeatureEncoder(features="mfcc")                  # 20 MFCCs: mean and std -> 40 numbers
>>> enc.encode(["speech.wav"]).shape                       # doctest: +SKIP
(1, 40)

``pooling="stats"`` keeps the mean and standard deviation of every coefficient over time (order-free);
``pooling="segments"`` trims leading/trailing silence, subtracts the clip's mean (cepstral mean
normalisation) and samples the coefficient tracks at ``segments`` evenly spaced times, keeping the
coarse order of sounds in a word (better for spoken words; see the README, "Images and audio"). The named spec
``"mfcc-segments"`` uses 13 MFCCs without the 0th (loudness) and 12 segments: 144 numbers; fewer
cepstral coefficients carry less of the speaker, which helped speaker-independent retrieval of
spoken digits (0.688 -> 0.735 1-NN accuracy, benchmarks/media.py).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInput, require
from .base import AudioEncoderBase

__all__ = ["FeatureEncoder", "log_mel", "FEATURES", "POOLINGS"]

FEATURES = ("mfcc", "log-mel")
POOLINGS = ("stats", "segments")


def log_mel(y: np.ndarray, sr: int, *, n_mels: int = 40, n_fft: int | None = None,
            hop_length: int | None = None, fmax: float | None = None) -> np.ndarray:
    """Log-mel power spectrogram ``(n_mels, frames)`` in dB, with 32 ms windows and 10 ms hops."""
    librosa = require("librosa", "audio", "audio features")
    n_fft = n_fft or int(2 ** np.ceil(np.log2(0.032 * sr)))
    hop_length = hop_length or max(int(0.010 * sr), 1)
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels,
                                         fmax=fmax, power=2.0)
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)


class FeatureEncoder(AudioEncoderBase):
    """MFCC or log-mel statistics of a clip (see the module docs).

    Args:
        features: ``"mfcc"`` or ``"log-mel"``.
        pooling: ``"stats"`` (mean and std over time) or ``"segments"`` (see the module docs).
        n_mfcc, n_mels: coefficients and mel bands.
        segments: time points kept by ``pooling="segments"``.
        sample_rate: audio is resampled to this rate first.
        drop_c0: leave out the 0th MFCC (overall loudness).
        normalize: L2-normalise the output (default False: standardise over a collection instead).
    """

    default_normalize = False

    def __init__(self, *, features: str = "mfcc", pooling: str = "stats", n_mfcc: int = 20,
                 n_mels: int = 40, segments: int = 12, sample_rate: int = 16000, drop_c0: bool = False,
                 normalize: bool = False, name: str | None = None):
        if features not in FEATURES:
            raise InvalidInput(f"Invalid features {features!r}. Valid features are: {', '.join(FEATURES)}")
        if pooling not in POOLINGS:
            raise InvalidInput(f"Invalid pooling {pooling!r}. Valid poolings are: {', '.join(POOLINGS)}")
        for key, v in (("n_mfcc", n_mfcc), ("n_mels", n_mels), ("segments", segments),
                       ("sample_rate", sample_rate)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise InvalidInput(f"The {key!r} parameter of FeatureEncoder must be a positive int. "
                                   f"Got {v!r} instead.")
        if features == "mfcc" and n_mfcc > n_mels:
            raise InvalidInput(f"n_mfcc ({n_mfcc}) cannot exceed n_mels ({n_mels})")
        self.features, self.pooling = features, pooling
        self.n_mfcc, self.n_mels, self.segments = n_mfcc, n_mels, segments
        self.sample_rate = sample_rate
        self.drop_c0 = bool(drop_c0) and features == "mfcc"
        self.default_normalize = normalize
        coeffs = (n_mfcc - self.drop_c0) if features == "mfcc" else n_mels
        self.dim = 2 * coeffs if pooling == "stats" else coeffs * segments
        self.name = name or f"{features}-{pooling}"
        if name is None and (n_mfcc, n_mels, segments, sample_rate, self.drop_c0) != (20, 40, 12, 16000, False):
            self.name += (f"(n_mfcc={n_mfcc},n_mels={n_mels},segments={segments},sr={sample_rate}"
                          f"{',drop_c0' if self.drop_c0 else ''})")

    def frames(self, y: np.ndarray) -> np.ndarray:
        """The coefficient tracks ``(coefficients, frames)`` of a waveform."""
        peak = float(np.max(np.abs(y)))
        if peak > 0:
            y = y / peak
        mel_db = log_mel(y, self.sample_rate, n_mels=self.n_mels)
        if self.features == "log-mel":
            return mel_db
        scipy_fft = require("scipy.fft", "audio", "MFCC features")
        return scipy_fft.dct(mel_db, axis=0, type=2, norm="ortho")[int(self.drop_c0): self.n_mfcc]

    def _one(self, y: np.ndarray) -> np.ndarray:
        if self.pooling == "segments":
            librosa = require("librosa", "audio", "audio features")
            trimmed, _ = librosa.effects.trim(y, top_db=40)
            if len(trimmed) >= int(0.05 * self.sample_rate):
                y = trimmed
        m = self.frames(y)
        if self.pooling == "stats":
            return np.concatenate([m.mean(axis=1), m.std(axis=1)])
        m = m - m.mean(axis=1, keepdims=True)
        t = np.linspace(0, m.shape[1] - 1, self.segments)
        return np.stack([np.interp(t, np.arange(m.shape[1]), row) for row in m]).ravel()

    def _encode_batch(self, items) -> np.ndarray:
        return np.stack([self._one(self.waveform(item)) for item in items]).astype(np.float32)
