"""Reading audio: wav, flac and ogg (soundfile; librosa's loaders as a fallback for other formats
it knows), mixed to mono, resampled, checked.

Handling, documented once:

* several channels are averaged to mono; any sample rate is resampled (librosa, soxr) to the rate asked;
* integer PCM is scaled to [-1, 1]; NaN or infinite samples are an error;
* an empty file, a file that is not audio, a truncated file and an unsupported format raise
  :class:`~embedkit.errors.InvalidInput` naming the file and the problem;
* a clip shorter than ``min_seconds`` is zero-padded (at the end) to that length, so that every
  encoder sees at least one full analysis window; a silent clip is accepted (its features are those
  of silence) but :func:`is_silent` lets callers warn about it.
"""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, require

__all__ = ["load_audio", "to_mono", "resample", "pad_to", "is_silent", "AUDIO_SUFFIXES", "MAX_SECONDS"]

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")
#: Longest clip read, in seconds: longer files are an error rather than gigabytes of floats.
MAX_SECONDS = 15 * 60


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average the channels of ``(frames, channels)`` audio; 1-D input is returned as is."""
    y = np.asarray(y)
    return y if y.ndim == 1 else y.mean(axis=1)


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample mono float audio (librosa's soxr high-quality resampler)."""
    if orig_sr == target_sr:
        return np.asarray(y, dtype=np.float32)
    librosa = require("librosa", "audio", "resampling audio")
    return librosa.resample(np.asarray(y, dtype=np.float32), orig_sr=orig_sr, target_sr=target_sr,
                            res_type="soxr_hq").astype(np.float32)


def pad_to(y: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad ``y`` at the end to at least ``n`` samples."""
    return y if len(y) >= n else np.pad(y, (0, n - len(y)))


def is_silent(y: np.ndarray, *, threshold_db: float = -60.0) -> bool:
    """True when the clip's peak is below ``threshold_db`` dBFS."""
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    return peak <= 10 ** (threshold_db / 20)


_BUFFER = re.compile(r"<_io\.BytesIO object at 0x[0-9a-fA-F]+>")


def _name(source) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<audio bytes>"


def _read(source) -> tuple[np.ndarray, int]:
    sf = require("soundfile", "audio", "reading audio files")
    name = _name(source)
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"{name}: no such audio file")
        if path.stat().st_size == 0:
            raise InvalidInput(f"{name}: the file is empty")
        data = path.read_bytes()
    if not data:
        raise InvalidInput(f"{name}: the audio is empty")
    try:
        info = sf.info(io.BytesIO(data))
        if info.duration > MAX_SECONDS:
            raise InvalidInput(f"{name}: the clip lasts {info.duration:.0f} s; the limit is {MAX_SECONDS} s")
        y, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
        return y, int(sr)
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - soundfile raises LibsndfileError, RuntimeError, ...
        first = exc
    # Formats libsndfile cannot read (e.g. mp3 on old builds): librosa's audioread fallback.
    if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() == ".mp3":
        try:
            librosa = require("librosa", "audio", "reading audio files")
            y, sr = librosa.load(os.fspath(source), sr=None, mono=False)
            return (y.T if y.ndim == 2 else y).astype(np.float32), int(sr)
        except Exception:  # noqa: BLE001
            pass
    msg = str(first).strip().splitlines()[0] if str(first).strip() else type(first).__name__
    # libsndfile names the in-memory buffer it was given ("Error opening <_io.BytesIO object at
    # 0x7f...>: ..."); say what it could not read instead.
    msg = _BUFFER.sub(name, msg).removeprefix(f"Error opening {name}: ")
    suffix = Path(name).suffix.lower() if name != "<audio bytes>" else ""
    if suffix and suffix not in AUDIO_SUFFIXES:
        raise InvalidInput(f"{name}: unsupported audio format {suffix!r}; supported: "
                           f"{', '.join(AUDIO_SUFFIXES)} ({msg})") from first
    raise InvalidInput(f"{name}: not a readable audio file (corrupt, truncated or unsupported "
                       f"format): {msg}") from first


def load_audio(source, *, sample_rate: int = 16000, min_seconds: float = 0.1) -> np.ndarray:
    """Read a file (path or bytes) as mono float32 at ``sample_rate``; see the module notes.

    >>> y = load_audio("speech.wav", sample_rate=16000)    # doctest: +SKIP
    """
    y, sr = _read(source)
    return prepare_waveform(y, sr, sample_rate=sample_rate, min_seconds=min_seconds, name=_name(source))


def prepare_waveform(y, sr: int, *, sample_rate: int, min_seconds: float = 0.1,
                     name: str = "waveform") -> np.ndarray:
    """Check, mix to mono, resample and pad an in-memory waveform (``(frames,)`` or ``(frames, ch)``)."""
    y = np.asarray(y)
    if y.dtype.kind in "iu":
        y = y.astype(np.float32) / float(np.iinfo(y.dtype).max)
    if y.dtype.kind != "f" or y.ndim not in (1, 2):
        raise InvalidInput(f"{name}: expected a 1-D (frames) or 2-D (frames, channels) float waveform, "
                           f"got dtype {y.dtype} and shape {y.shape}")
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise InvalidInput(f"{name}: the sample rate must be a positive int, got {sr!r}")
    y = to_mono(y).astype(np.float32)
    if y.size == 0:
        raise InvalidInput(f"{name}: the audio has no samples")
    if not np.isfinite(y).all():
        raise InvalidInput(f"{name}: the audio contains NaN or infinite samples")
    y = resample(y, int(sr), sample_rate)
    return pad_to(y, int(round(min_seconds * sample_rate)))
