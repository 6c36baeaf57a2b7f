"""A small CNN image encoder trained with SimCLR on unlabelled images, saved as an embedkit model.

Images are converted to grey (or RGB), resized to the model's ``size`` and scaled to [0, 1]. The
training views are made with :func:`image_augment`: a random resized crop (70-100 % of the side,
random position, aspect ratio 3:4-4:3), a small rotation, optional horizontal flips (off by default:
a flipped digit or letter is another symbol), brightness/contrast jitter and Gaussian noise, all in
one batched ``grid_sample`` call (no torchvision needed).

>>> from embedkit.vision.digits import ImageSimCLR
>>> model = ImageSimCLR(size=(8, 8), epochs=30).fit(images)     # doctest: +SKIP
>>> model.encoder_.save("digits-simclr"); embedkit.load("digits-simclr")    # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InvalidInput, ModelNotFound, require
from .encoders import _ImageBase
from .simclr import ConvNet, ConvNetConfig, SimCLR, embed

__all__ = ["ConvNetEncoder", "ImageSimCLR", "image_augment", "MODEL_TYPE"]

MODEL_TYPE = "image_simclr"
WEIGHTS = "model.safetensors"


def image_augment(x, generator, *, flip: bool = False, min_scale: float = 0.7, max_angle: float = 15.0,
                  noise: float = 0.05):
    """One random view of a batch ``(n, c, h, w)`` of images scaled to [0, 1]."""
    torch = require("torch", "vision", "SimCLR")
    F = torch.nn.functional
    n = len(x)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=generator)  # noqa: E731
    scale = u(min_scale, 1.0)
    aspect = torch.exp(u(math.log(3 / 4), math.log(4 / 3)))
    sx, sy = scale * aspect.sqrt(), scale / aspect.sqrt()
    angle = u(-max_angle, max_angle) * math.pi / 180
    tx, ty = (1 - sx).clamp(min=0) * u(-1, 1), (1 - sy).clamp(min=0) * u(-1, 1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([sx * cos, -sy * sin, tx], 1),
                         torch.stack([sx * sin, sy * cos, ty], 1)], 1)
    if flip:
        theta[:, 0, :2] *= torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0).view(n, 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    v = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    v = v * u(0.7, 1.3).view(n, 1, 1, 1) + u(-0.1, 0.1).view(n, 1, 1, 1)
    v = v + noise * torch.randn(v.shape, generator=generator)
    return v


class ConvNetEncoder(_ImageBase):
    """Embeds images with a small CNN trained by :class:`ImageSimCLR`."""

    def __init__(self, backbone, *, config: ConvNetConfig, size: tuple[int, int], name: str = "image-simclr",
                 training: dict | None = None, normalize: bool = True, max_pixels: int | None = None):
        self.backbone, self.config, self.size = backbone, config, tuple(size)
        self.dim = config.dim
        self.name = name
        self.training = training or {}
        self.default_normalize = normalize
        self.max_pixels = max_pixels

    def preprocess(self, img) -> np.ndarray:
        """A PIL RGB image -> float32 ``(channels, h, w)`` in [0, 1]."""
        if self.config.in_channels == 1:
            img = img.convert("L")
        img = img.resize((self.size[1], self.size[0]), 2)  # bilinear
        arr = np.asarray(img, dtype=np.float32) / 255.0
        return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)

    def pixels(self, items) -> np.ndarray:
        """Model inputs ``(n, channels, h, w)`` of image items."""
        return np.stack([self.preprocess(self.image(it)) for it in self._prepare(items)])

    def _encode_batch(self, items) -> np.ndarray:
        return embed(self.backbone, np.stack([self.preprocess(self.image(it)) for it in items]))

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``model.safetensors`` and ``embedkit.json`` (type ``image_simclr``) into ``folder``."""
        st = require("safetensors.torch", "vision", "saving models")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        st.save_file({k: v.detach().contiguous() for k, v in self.backbone.state_dict().items()},
                     str(folder / WEIGHTS), metadata={"format": "pt"})
        meta = {"type": MODEL_TYPE, "embedkit_version": __version__, "name": self.name,
                "convnet": self.config.to_dict(), "size": list(self.size), "training": self.training}
        (folder / "embedkit.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, *, name: str | None = None, normalize: bool = True,
             max_pixels: int | None = None) -> ConvNetEncoder:
        """Load a folder written by :meth:`save` (also reached through ``embedkit.load(folder)``)."""
        st = require("safetensors.torch", "vision", "loading models")
        folder = Path(folder)
        try:
            meta = json.loads((folder / "embedkit.json").read_text(encoding="utf-8"))
            config = ConvNetConfig.from_dict(meta["convnet"])
            size = (int(meta["size"][0]), int(meta["size"][1]))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ModelNotFound(f"{folder} is not a valid {MODEL_TYPE} model: {exc}") from exc
        backbone = ConvNet(config)
        try:
            backbone.load_state_dict(st.load_file(str(folder / WEIGHTS)))
        except Exception as exc:  # noqa: BLE001
            raise ModelNotFound(f"cannot read the weights {folder / WEIGHTS}: {exc}") from exc
        backbone.eval()
        return cls(backbone, config=config, size=size, name=name or meta.get("name", "image-simclr"),
                   training=meta.get("training", {}), normalize=normalize, max_pixels=max_pixels)


class ImageSimCLR:
    """Train a :class:`ConvNetEncoder` on unlabelled images with SimCLR.

    Args:
        size: (height, width) images are resized to.
        channels: 1 (grey) or 3 (RGB).
        flip: use horizontal flips as an augmentation.
        dim, widths, pool, temperature, epochs, batch_size, lr, seed, max_seconds: see
            :class:`~embedkit.vision.simclr.SimCLR`.
    """

    def __init__(self, *, size=(32, 32), channels: int = 1, flip: bool = False, dim: int = 128,
                 widths=(32, 64, 128), pool=(1, 1), temperature: float = 0.2, epochs: int = 50,
                 batch_size: int = 256, lr: float = 2e-3, seed: int = 0, max_seconds: float | None = None,
                 name: str = "image-simclr"):
        self.size, self.channels, self.flip = tuple(size), channels, flip
        self.dim, self.widths, self.pool = dim, tuple(widths), tuple(pool)
        self.temperature, self.epochs, self.batch_size = temperature, epochs, batch_size
        self.lr, self.seed, self.max_seconds, self.name = lr, seed, max_seconds, name

    def fit(self, items=None, *, pixels=None, progress=None) -> ImageSimCLR:
        """Train on image items (paths, PIL images, uint8 arrays) or on ready ``pixels``
        ``(n, channels, h, w)`` in [0, 1]. No labels."""
        if self.channels not in (1, 3):
            raise InvalidInput(f"The 'channels' parameter of ImageSimCLR must be 1 or 3. Got {self.channels!r} instead.")
        if pixels is None:
            if items is None:
                raise InvalidInput("fit() needs images or pixels")
            shell = ConvNetEncoder(None, config=ConvNetConfig(in_channels=self.channels), size=self.size)
            pixels = shell.pixels(items)
        pixels = np.asarray(pixels, dtype=np.float32)
        if pixels.ndim != 4 or pixels.shape[1] != self.channels:
            raise InvalidInput(f"pixels must have shape (n, {self.channels}, h, w), got {pixels.shape}")
        flip = self.flip
        trainer = SimCLR(dim=self.dim, widths=self.widths, pool=self.pool, temperature=self.temperature,
                         epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                         max_seconds=self.max_seconds)
        trainer.fit(pixels, lambda b, g: image_augment(b, g, flip=flip), progress=progress)
        self.simclr_, self.history_ = trainer, trainer.history_
        training = {"method": "SimCLR (NT-Xent)", "items": int(len(pixels)), "epochs": trainer.epochs_run_,
                    "batch_size": self.batch_size, "temperature": self.temperature, "seed": self.seed,
                    "final_loss": round(trainer.history_[-1], 4), "seconds": round(trainer.seconds_, 1)}
        self.encoder_ = ConvNetEncoder(trainer.backbone_, config=trainer.config_, size=self.size,
                                       name=self.name, training=training)
        return self
