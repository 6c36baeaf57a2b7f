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

Three options make the segments sturdier across speakers and microphones (the named spec
``"mfcc-warped-segments"`` turns them all on; see the README for the measurements):

* ``floor_db=50``: a soft noise floor, 50 dB below the clip's loudest mel bin, added in the power
  domain. Quiet clips recorded in a noisy room and clean clips then share the same floor, so the
  MFCCs describe the word and not the room's noise.
* ``deltas=True``: the time derivative of every coefficient track, sampled at the same segments.
* ``warps=(0.8, 0.9, 1.0, 1.1, 1.2)``: the mel axis is stretched by each factor (a cheap vocal tract
  length warp) and the segment features of every warp are concatenated. A shorter or longer vocal
  tract moves the formants up or down the mel axis; with several warps side by side, cosine
  similarity tolerates that shift better.

With ``floor_db`` set, the waveform's mean (DC offset) is removed before anything else too.
"""

from __future__ import annotations

from collections.abc import Sequence

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
        floor_db: soft noise floor this many dB below the clip's loudest mel bin, after removing the
            DC offset (None: neither).
        deltas: add the time derivative of every coefficient (``pooling="segments"`` only).
        warps: mel-axis stretch factors; the segment features of each are concatenated
            (``pooling="segments"`` only; ``(1.0,)``: no warp).
        normalize: L2-normalise the output (default False: standardise over a collection instead).
    """

    default_normalize = False

    def __init__(self, *, features: str = "mfcc", pooling: str = "stats", n_mfcc: int = 20,
                 n_mels: int = 40, segments: int = 12, sample_rate: int = 16000, drop_c0: bool = False,
                 floor_db: float | None = None, deltas: bool = False, warps: Sequence[float] = (1.0,),
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
        if floor_db is not None and not (isinstance(floor_db, (int, float)) and not isinstance(floor_db, bool)
                                         and floor_db > 0):
            raise InvalidInput(f"The 'floor_db' parameter of FeatureEncoder must be a positive number or "
                               f"None. Got {floor_db!r} instead.")
        warps = tuple(warps)
        if not warps or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0.5 <= w <= 2.0
                                for w in warps):
            raise InvalidInput(f"The 'warps' parameter of FeatureEncoder must be a non-empty sequence of "
                               f"factors between 0.5 and 2. Got {warps!r} instead.")
        if pooling == "stats" and (deltas or warps != (1.0,)):
            raise InvalidInput("deltas and warps need pooling='segments'")
        self.features, self.pooling = features, pooling
        self.n_mfcc, self.n_mels, self.segments = n_mfcc, n_mels, segments
        self.sample_rate = sample_rate
        self.drop_c0 = bool(drop_c0) and features == "mfcc"
        self.floor_db = None if floor_db is None else float(floor_db)
        self.deltas, self.warps = bool(deltas), tuple(float(w) for w in warps)
        self.default_normalize = normalize
        coeffs = (n_mfcc - self.drop_c0) if features == "mfcc" else n_mels
        self.dim = 2 * coeffs if pooling == "stats" else coeffs * segments * (1 + self.deltas) * len(self.warps)
        self.name = name or f"{features}-{pooling}"
        if name is None and (n_mfcc, n_mels, segments, sample_rate, self.drop_c0) != (20, 40, 12, 16000, False):
            self.name += (f"(n_mfcc={n_mfcc},n_mels={n_mels},segments={segments},sr={sample_rate}"
                          f"{',drop_c0' if self.drop_c0 else ''})")
        if name is None and (self.floor_db is not None or self.deltas or self.warps != (1.0,)):
            self.name += (f"(floor_db={self.floor_db},deltas={self.deltas},"
                          f"warps={','.join(f'{w:g}' for w in self.warps)})")

    def _centre(self, y: np.ndarray) -> np.ndarray:
        return y - y.mean() if self.floor_db is not None else y

    def _mel_db(self, y: np.ndarray) -> np.ndarray:
        peak = float(np.max(np.abs(y)))
        if peak > 0:
            y = y / peak
        m = log_mel(y, self.sample_rate, n_mels=self.n_mels)
        if self.floor_db is not None:
            m = (10.0 * np.log10(10.0 ** (m / 10.0) + 10.0 ** ((m.max() - self.floor_db) / 10.0))).astype(np.float32)
        return m

    def _coefficients(self, mel_db: np.ndarray) -> np.ndarray:
        if self.features == "log-mel":
            return mel_db
        scipy_fft = require("scipy.fft", "audio", "MFCC features")
        return scipy_fft.dct(mel_db, axis=0, type=2, norm="ortho")[int(self.drop_c0): self.n_mfcc]

    def frames(self, y: np.ndarray) -> np.ndarray:
        """The coefficient tracks ``(coefficients, frames)`` of a waveform (no warp)."""
        return self._coefficients(self._mel_db(self._centre(y)))

    def _one(self, y: np.ndarray) -> np.ndarray:
        y = self._centre(y)  # the whole clip's DC offset, once, before trimming
        if self.pooling == "segments":
            librosa = require("librosa", "audio", "audio features")
            trimmed, _ = librosa.effects.trim(y, top_db=40)
            if len(trimmed) >= int(0.05 * self.sample_rate):
                y = trimmed
        mel_db = self._mel_db(y)
        if self.pooling == "stats":
            m = self._coefficients(mel_db)
            return np.concatenate([m.mean(axis=1), m.std(axis=1)])
        parts = []
        bands = np.arange(mel_db.shape[0], dtype=np.float64)
        for w in self.warps:
            warped = mel_db
            if w != 1.0:  # band j of the warped spectrogram reads band j * w of the original
                src = np.clip(bands * w, 0, len(bands) - 1)
                lo = np.floor(src).astype(int)
                hi = np.minimum(lo + 1, len(bands) - 1)
                frac = (src - lo)[:, None]
                warped = (1 - frac) * mel_db[lo] + frac * mel_db[hi]
            m = self._coefficients(warped)
            m = m - m.mean(axis=1, keepdims=True)
            parts.append(_sample(m, self.segments))
            if self.deltas:
                parts.append(_sample(_delta(m), self.segments))
        return np.concatenate(parts)

    def _encode_batch(self, items) -> np.ndarray:
        return np.stack([self._one(self.waveform(item)) for item in items]).astype(np.float32)


def _sample(m: np.ndarray, segments: int) -> np.ndarray:
    """Coefficient tracks ``(c, T)`` sampled at ``segments`` evenly spaced times, flattened."""
    t = np.linspace(0, m.shape[1] - 1, segments)
    return np.stack([np.interp(t, np.arange(m.shape[1]), row) for row in m]).ravel()


def _delta(m: np.ndarray) -> np.ndarray:
    """Time derivative of coefficient tracks (librosa's delta, 9 frames wide or the widest odd width
    that fits; zeros for clips under 3 frames)."""
    T = m.shape[1]
    if T < 3:
        return np.zeros_like(m)
    librosa = require("librosa", "audio", "audio features")
    return librosa.feature.delta(m, width=min(9, T if T % 2 else T - 1), axis=1)
