"""A spectrogram encoder trained without labels with SimCLR (the same trainer as the images).

Every clip becomes a fixed-size log-mel image: silence trimmed, peak-normalised, ``n_mels`` bands,
each band's mean removed (cepstral mean normalisation, which takes out much of the microphone and
the speaker's spectral tilt) and the time axis resampled to ``2 * frames`` steps. Training draws two
random *views* of each clip and teaches a small CNN to map them close together (NT-Xent):

* **time shift and speed change**: a random window of 70-100 % of the clip, placed at a random
  offset, is stretched back to ``frames`` steps;
* **pitch / formant change**: the mel axis is scaled by a random factor in [0.85, 1.18] (vocal tract
  length perturbation, a cheap stand-in for pitch shifting that acts on the spectrogram directly);
* **noise**: white noise in the power domain at a random SNR between 5 and 30 dB;
* **masking**: one random band of mel channels and one of time steps set to the mean.

``lifter=k`` (optional) smooths the mel axis by keeping cepstral coefficients 1..k-1 (as MFCCs do,
without the loudness term), in training and at encoding time alike. ``floor_db=50`` (optional)
removes the DC offset and replaces the hard 80 dB floor by a soft noise floor 50 dB below the loudest
bin (as :class:`~embedkit.audio.features.FeatureEncoder` does), so that clean and noisy recordings
share one floor.

``fit(items, labels=...)`` trains the same network with the supervised contrastive loss (SupCon)
instead: clips that share a label (the spoken word, say) are pulled together as well as the two views
of one clip. That uses labels; the saved model says so (``training.labels_used``).

``fit(items, clusters=40)`` needs no labels: the clips are first described by hand-made features
(``mfcc-warped-segments`` unless ``features=`` is given), standardised and grouped by k-means into
``clusters`` groups, and the cluster ids serve as SupCon's labels (pseudo-labels, as in DeepCluster).
Clips of one spoken word by different speakers often share a cluster, so the CNN learns what they
have in common. ``training.labels_used`` stays false and ``training.method`` names the clustering.

The augmentations are affine resamplings done in one batched ``grid_sample`` call, so a training
run on ~1500 clips takes a few minutes on two CPU cores.

>>> from embedkit.audio import SpectrogramSimCLR
>>> trainer = SpectrogramSimCLR(epochs=30).fit(["a.wav", "b.wav", ...])    # doctest: +SKIP
>>> trainer.encoder_.save("my-audio-model")                                 # doctest: +SKIP
>>> enc = embedkit.load("my-audio-model")                                   # doctest: +SKIP

A saved model is a folder: ``model.safetensors`` (the CNN weights) and ``embedkit.json`` (type
``audio_simclr``, front-end and network shape, training settings, embedkit version). No pickle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InvalidInput, ModelNotFound, NotFitted, require
from ..vision.simclr import ConvNet, ConvNetConfig, SimCLR, embed
from .base import AudioEncoderBase
from .features import log_mel

__all__ = ["SpectrogramEncoder", "SpectrogramSimCLR", "spectrogram_augment", "cluster_labels", "MODEL_TYPE"]

log = logging.getLogger(__name__)

MODEL_TYPE = "audio_simclr"
WEIGHTS = "model.safetensors"
STANDARDISE = "standardise.safetensors"  # with_features=True: the training clips' statistics
STANDARDISE_KEYS = ("cnn_mean", "cnn_std", "features_mean", "features_std")


def _frontend(y: np.ndarray, *, sample_rate: int, n_mels: int, steps: int,
              floor_db: float | None = None) -> np.ndarray:
    librosa = require("librosa", "audio", "spectrogram features")
    if floor_db is not None:
        y = y - y.mean()
    trimmed, _ = librosa.effects.trim(y, top_db=40)
    if len(trimmed) >= int(0.05 * sample_rate):
        y = trimmed
    peak = float(np.max(np.abs(y)))
    if peak > 0:
        y = y / peak
    m = log_mel(y, sample_rate, n_mels=n_mels)
    if floor_db is None:
        m = np.maximum(m, m.max() - 80.0)
    else:  # a soft noise floor floor_db below the loudest bin (see FeatureEncoder)
        m = 10.0 * np.log10(10.0 ** (m / 10.0) + 10.0 ** ((m.max() - floor_db) / 10.0))
    m = (m - m.mean(axis=1, keepdims=True)) / 20.0
    t = np.linspace(0, m.shape[1] - 1, steps)
    return np.stack([np.interp(t, np.arange(m.shape[1]), row) for row in m]).astype(np.float32)


#: Features the pseudo-labels of ``fit(clusters=k)`` are clustered on (the named spec
#: ``mfcc-warped-segments`` at the trainer's sample rate).
CLUSTER_FEATURES = dict(features="mfcc", pooling="segments", n_mfcc=10, drop_c0=True, n_mels=64, segments=16,
                        floor_db=50.0, deltas=True, warps=(0.8, 0.9, 1.0, 1.1, 1.2))


def cluster_labels(vectors, k: int, *, seed: int = 0) -> np.ndarray:
    """Pseudo-labels without any labels: k-means (scikit-learn) of the standardised, unit-length vectors."""
    cluster = require("sklearn.cluster", "audio", "pseudo-labels")
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= len(x):
        raise InvalidInput(f"cluster_labels needs (n, d) vectors and 2 <= k <= n, got shape {x.shape} and k={k!r}")
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return cluster.KMeans(k, n_init=4, random_state=seed).fit_predict(x).astype(np.int64)


def _lifter(x, keep: int):
    """Smooth the mel axis of ``(n, 1, mels, t)`` by keeping cepstral coefficients 1..keep-1 (no c0):
    the spectral envelope without fine (pitch) structure or overall level. ``keep=0``: unchanged."""
    if not keep:
        return x
    torch = require("torch", "audio", "spectrogram SimCLR")
    scipy_fft = require("scipy.fft", "audio", "spectrogram SimCLR")
    mels = x.shape[2]
    d = scipy_fft.dct(np.eye(mels), axis=0, type=2, norm="ortho")  # d @ v = DCT of v
    mask = np.zeros(mels)
    mask[1:keep] = 1.0
    lift = torch.as_tensor(d.T @ np.diag(mask) @ d, dtype=x.dtype)
    return torch.einsum("ij,ncjt->ncit", lift, x)


def _resample_grid(x, frames: int, scale_t, shift_t, scale_f):
    """Affine resampling of (n, 1, mels, T) to (n, 1, mels, frames) with per-item time window and
    mel-axis scale (1 = identity)."""
    torch = require("torch", "audio", "spectrogram SimCLR")
    n, _, mels, _ = x.shape
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = scale_t
    theta[:, 0, 2] = shift_t
    theta[:, 1, 1] = scale_f
    theta[:, 1, 2] = scale_f - 1.0  # scale about the lowest band
    grid = torch.nn.functional.affine_grid(theta, (n, 1, mels, frames), align_corners=True)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                                           align_corners=True)


def spectrogram_augment(x, generator, *, frames: int, lifter: int = 0, warp: tuple[float, float] = (0.85, 1.18)):
    """One random view of a batch of front-end spectrograms (see the module docs)."""
    torch = require("torch", "audio", "spectrogram SimCLR")
    n, _, mels, _ = x.shape
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=generator)  # noqa: E731
    scale_t = u(0.70, 1.0)
    shift_t = (1.0 - scale_t) * u(-1.0, 1.0)
    scale_f = u(float(warp[0]), float(warp[1]))
    v = _resample_grid(x, frames, scale_t, shift_t, 1.0 / scale_f)
    # Noise in the power domain at a random SNR (dB values were divided by 20 in the front end).
    power = torch.pow(10.0, v * 2.0)
    snr_db = u(5.0, 30.0).view(n, 1, 1, 1)
    noise = power.mean(dim=(2, 3), keepdim=True) * torch.pow(10.0, -snr_db / 10.0)
    noise = noise * torch.empty_like(v).exponential_(generator=generator)
    v = torch.log10(power + noise) / 2.0
    v = _lifter(v - v.mean(dim=3, keepdim=True), lifter)
    # One frequency mask and one time mask.
    f0 = (torch.rand(n, generator=generator) * mels).long()
    fw = (torch.rand(n, generator=generator) * mels * 0.15).long()
    t0 = (torch.rand(n, generator=generator) * frames).long()
    tw = (torch.rand(n, generator=generator) * frames * 0.15).long()
    fi = torch.arange(mels).view(1, mels, 1)
    ti = torch.arange(frames).view(1, 1, frames)
    mask = ((fi >= f0.view(n, 1, 1)) & (fi < (f0 + fw).view(n, 1, 1))) | \
           ((ti >= t0.view(n, 1, 1)) & (ti < (t0 + tw).view(n, 1, 1)))
    return v.masked_fill(mask.unsqueeze(1), 0.0)


class SpectrogramEncoder(AudioEncoderBase):
    """Embeds audio with a CNN over fixed-size log-mel images (trained by :class:`SpectrogramSimCLR`).

    With ``features`` (keyword arguments of a :class:`~embedkit.audio.features.FeatureEncoder`) and
    ``standardise`` (per-dimension means and standard deviations of the CNN vectors and of those
    features over the training clips), a vector is the two side by side: each block standardised
    and scaled to unit length, so that both weigh the same in a cosine.
    """

    def __init__(self, backbone, *, config: ConvNetConfig, sample_rate: int, n_mels: int, frames: int,
                 lifter: int = 0, floor_db: float | None = None, name: str = "audio-simclr",
                 training: dict | None = None, normalize: bool = True, features: dict | None = None,
                 standardise: dict[str, np.ndarray] | None = None):
        self.backbone = backbone
        self.lifter = lifter
        self.floor_db = None if floor_db is None else float(floor_db)
        self.config = config
        self.sample_rate, self.n_mels, self.frames = sample_rate, n_mels, frames
        self.training = training or {}
        self.default_normalize = normalize
        self.features = None
        self.feature_args = None if features is None else {**features, "sample_rate": sample_rate}
        if self.feature_args is not None:
            from .features import FeatureEncoder

            self.features = FeatureEncoder(**self.feature_args)
            if standardise is None or set(standardise) != set(STANDARDISE_KEYS):
                raise InvalidInput(f"features need standardise= with {', '.join(STANDARDISE_KEYS)}")
        self.standardise = standardise
        self.dim = config.dim + (self.features.dim if self.features is not None else 0)
        # The name a store records ends in a fingerprint of the weights, so that a store refuses a
        # model folder retrained in place (same name and dimension, other vectors).
        self.base_name = name
        self.fingerprint = self._fingerprint() if backbone is not None else None
        self.name = name if self.fingerprint is None else f"{name}@{self.fingerprint[:12]}"

    def _fingerprint(self) -> str:
        """SHA-256 of the weights (and standardisation statistics), in a fixed order."""
        digest = hashlib.sha256()
        for key, tensor in sorted(self.backbone.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        for key in sorted(self.standardise or {}):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(self.standardise[key], dtype=np.float32).tobytes())
        return digest.hexdigest()

    def spectrograms(self, items) -> np.ndarray:
        """Front-end images ``(n, 1, n_mels, 2 * frames)`` of audio items."""
        items = self._prepare(items)
        return np.stack([_frontend(self.waveform(it), sample_rate=self.sample_rate, n_mels=self.n_mels,
                                   steps=2 * self.frames, floor_db=self.floor_db) for it in items])[:, None]

    def embed_spectrograms(self, specs) -> np.ndarray:
        torch = require("torch", "audio", "spectrogram encoder")
        x = torch.as_tensor(specs, dtype=torch.float32)
        ones = torch.ones(len(x))
        x = _lifter(_resample_grid(x, self.frames, ones, torch.zeros(len(x)), ones), self.lifter)
        return embed(self.backbone, x)

    def _encode_batch(self, items) -> np.ndarray:
        cnn = self.embed_spectrograms(self.spectrograms(items))
        if self.features is None:
            return cnn
        return self.side_by_side(cnn, self.features._encode_batch(items))

    def side_by_side(self, cnn: np.ndarray, features: np.ndarray) -> np.ndarray:
        """CNN vectors and feature vectors, each standardised and unit length, concatenated."""
        st = self.standardise
        blocks = [(cnn - st["cnn_mean"]) / st["cnn_std"], (features - st["features_mean"]) / st["features_std"]]
        return np.hstack([b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
                          for b in blocks]).astype(np.float32)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` and ``embedkit.json`` into ``folder`` (created if needed)."""
        st = require("safetensors.torch", "vision", "saving models")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.backbone.state_dict().items()}
        st.save_file(state, str(folder / WEIGHTS), metadata={"format": "pt"})
        meta = {"type": MODEL_TYPE, "embedkit_version": __version__, "name": self.base_name,
                "convnet": self.config.to_dict(),
                "frontend": {"sample_rate": self.sample_rate, "n_mels": self.n_mels, "frames": self.frames,
                             "lifter": self.lifter, "floor_db": self.floor_db},
                "training": self.training}
        if self.features is not None:
            meta["features"] = {k: v for k, v in self.feature_args.items() if k != "sample_rate"}
            snp = require("safetensors.numpy", "audio", "saving models")
            snp.save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in self.standardise.items()},
                          str(folder / STANDARDISE))
        (folder / "embedkit.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, *, name: str | None = None,
             normalize: bool = True) -> SpectrogramEncoder:
        """Load a folder written by :meth:`save` (also reached through ``embedkit.load(folder)``)."""
        st = require("safetensors.torch", "vision", "loading models")
        folder = Path(folder)
        try:
            meta = json.loads((folder / "embedkit.json").read_text(encoding="utf-8"))
            config = ConvNetConfig.from_dict(meta["convnet"])
            fe = meta["frontend"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelNotFound(f"{folder} is not a valid {MODEL_TYPE} model: {exc}") from exc
        if meta.get("type") != MODEL_TYPE:
            raise ModelNotFound(f"{folder} holds a {meta.get('type')!r} model, not {MODEL_TYPE!r}")
        backbone = ConvNet(config)
        try:
            backbone.load_state_dict(st.load_file(str(folder / WEIGHTS)))
        except Exception as exc:  # noqa: BLE001 - missing file, bad header, wrong shapes
            raise ModelNotFound(f"cannot read the weights {folder / WEIGHTS}: {exc}") from exc
        backbone.eval()
        features = standardise = None
        if meta.get("features") is not None:
            features = dict(meta["features"])
            try:
                standardise = require("safetensors.numpy", "audio", "loading models").load_file(
                    str(folder / STANDARDISE))
            except Exception as exc:  # noqa: BLE001 - missing file, bad header
                raise ModelNotFound(f"cannot read {folder / STANDARDISE}: {exc}") from exc
        return cls(backbone, config=config, sample_rate=int(fe["sample_rate"]), n_mels=int(fe["n_mels"]),
                   frames=int(fe["frames"]), lifter=int(fe.get("lifter", 0)),
                   floor_db=None if fe.get("floor_db") is None else float(fe["floor_db"]),
                   name=name or meta.get("name", "audio-simclr"),
                   training=meta.get("training", {}), normalize=normalize, features=features,
                   standardise=standardise)


class SpectrogramSimCLR:
    """Train a :class:`SpectrogramEncoder` on unlabelled audio with SimCLR (see the module docs).

    Args:
        sample_rate, n_mels, frames: the front end (audio rate, mel bands, time steps seen by the CNN).
        dim, widths, pool, temperature, epochs, batch_size, lr, seed, max_seconds: passed to
            :class:`~embedkit.vision.simclr.SimCLR`.
        lifter: keep cepstral coefficients 1..lifter-1 of the mel axis (0: off).
        floor_db: soft noise floor below the loudest bin (None: the hard 80 dB floor).
        warp: range of the random mel-axis stretch of the augmentation.
        name: the model's name (stored with the vectors it makes).
    """

    def __init__(self, *, sample_rate: int = 16000, n_mels: int = 40, frames: int = 32, dim: int = 128,
                 widths=(16, 32, 64), pool=(2, 4), temperature: float = 0.2, epochs: int = 60,
                 batch_size: int = 256, lr: float = 2e-3, seed: int = 0, max_seconds: float | None = None,
                 lifter: int = 0, floor_db: float | None = None, warp: tuple[float, float] = (0.85, 1.18),
                 name: str = "audio-simclr"):
        self.sample_rate, self.n_mels, self.frames = sample_rate, n_mels, frames
        self.lifter, self.floor_db, self.warp = lifter, floor_db, tuple(warp)
        self.dim, self.widths, self.pool = dim, tuple(widths), tuple(pool)
        self.temperature, self.epochs, self.batch_size = temperature, epochs, batch_size
        self.lr, self.seed, self.max_seconds, self.name = lr, seed, max_seconds, name

    def _shell(self) -> SpectrogramEncoder:
        return SpectrogramEncoder(None, config=ConvNetConfig(dim=self.dim), sample_rate=self.sample_rate,
                                  n_mels=self.n_mels, frames=self.frames, floor_db=self.floor_db,
                                  name=self.name)

    def fit(self, items=None, *, spectrograms=None, labels=None, clusters: int | None = None, features=None,
            with_features: bool = False, progress=None) -> SpectrogramSimCLR:
        """Train on audio items (paths, bytes, waveforms), or on ready front-end ``spectrograms`` from
        :meth:`SpectrogramEncoder.spectrograms`. Without ``labels`` this is SimCLR (no labels). With
        ``labels`` (one hashable label per item, e.g. the spoken word) it is supervised contrastive
        training (SupCon): clips that share a label are pulled together too. With ``clusters=k`` (no
        labels) SupCon runs on k-means pseudo-labels of ``features`` (one row per item; by default the
        ``mfcc-warped-segments`` features of ``items``). The saved model records which
        (``training.method`` and ``training.labels_used``).

        ``with_features=True`` makes the encoder put the ``mfcc-warped-segments`` features
        (:data:`CLUSTER_FEATURES`) beside the CNN vector, each standardised with the statistics of
        the training clips (``features``, if given, must be those features of the items)."""
        if labels is not None and clusters is not None:
            raise InvalidInput("pass labels or clusters, not both")
        if (clusters is not None or with_features) and features is None:
            if items is None:
                raise InvalidInput("fit(clusters=k) and fit(with_features=True) need the audio items "
                                   "or features=")
            from .features import FeatureEncoder

            features = FeatureEncoder(**CLUSTER_FEATURES, sample_rate=self.sample_rate).encode(items)
        if spectrograms is None:
            if items is None:
                raise InvalidInput("fit() needs audio items or spectrograms")
            spectrograms = self._shell().spectrograms(items)
        specs = np.asarray(spectrograms, dtype=np.float32)
        if specs.ndim != 4 or specs.shape[1:3] != (1, self.n_mels):
            raise InvalidInput(f"spectrograms must have shape (n, 1, {self.n_mels}, T), got {specs.shape}")
        label_ids = None
        if features is not None and len(features) != len(specs):
            raise InvalidInput(f"features must hold one row per item ({len(specs)}), got {len(features)}")
        if clusters is not None:
            if len(features) != len(specs):
                raise InvalidInput(f"features must hold one row per item ({len(specs)}), got {len(features)}")
            label_ids = cluster_labels(features, clusters, seed=self.seed)
        elif labels is not None:
            labels = list(labels)
            if len(labels) != len(specs):
                raise InvalidInput(f"labels must hold one label per item ({len(specs)}), got {len(labels)}")
            classes = sorted(set(labels), key=str)
            if len(classes) < 2:
                raise InvalidInput(f"supervised training needs at least 2 different labels, got {classes}")
            index = {c: i for i, c in enumerate(classes)}
            label_ids = np.array([index[c] for c in labels], dtype=np.int64)
        frames, lifter, warp = self.frames, self.lifter, self.warp
        trainer = SimCLR(dim=self.dim, widths=self.widths, pool=self.pool, temperature=self.temperature,
                         epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                         max_seconds=self.max_seconds)
        trainer.fit(specs, lambda b, g: spectrogram_augment(b, g, frames=frames, lifter=lifter, warp=warp),
                    labels=label_ids, progress=progress)
        self.simclr_ = trainer
        self.history_ = trainer.history_
        method = ("SimCLR (NT-Xent)" if label_ids is None else "SupCon (supervised contrastive)"
                  if clusters is None else f"SupCon on pseudo-labels: k-means ({clusters}) of features, no labels")
        training = {"method": method, "labels_used": labels is not None,
                    "classes": None if label_ids is None else len(set(label_ids.tolist())),
                    "items": int(len(specs)), "epochs": trainer.epochs_run_,
                    "batch_size": self.batch_size, "temperature": self.temperature, "lr": self.lr,
                    "seed": self.seed, "final_loss": round(trainer.history_[-1], 4),
                    "seconds": round(trainer.seconds_, 1)}
        standardise = extra = None
        if with_features:
            encoder = SpectrogramEncoder(trainer.backbone_, config=trainer.config_, sample_rate=self.sample_rate,
                                         n_mels=self.n_mels, frames=self.frames, lifter=self.lifter,
                                         floor_db=self.floor_db)
            cnn = encoder.embed_spectrograms(specs)
            feats = np.asarray(features, dtype=np.float32)
            standardise = {"cnn_mean": cnn.mean(0), "cnn_std": cnn.std(0) + 1e-6,
                           "features_mean": feats.mean(0), "features_std": feats.std(0) + 1e-6}
            extra = dict(CLUSTER_FEATURES)
            training["side_by_side"] = "mfcc-warped-segments features, standardised on the training clips"
        self.encoder_ = SpectrogramEncoder(trainer.backbone_, config=trainer.config_,
                                           sample_rate=self.sample_rate, n_mels=self.n_mels,
                                           frames=self.frames, lifter=self.lifter, floor_db=self.floor_db,
                                           name=self.name, training=training, features=extra,
                                           standardise=standardise)
        return self

    @property
    def encoder(self) -> SpectrogramEncoder:
        if not hasattr(self, "encoder_"):
            raise NotFitted("SpectrogramSimCLR is not fitted yet; call fit(items) first")
        return self.encoder_
