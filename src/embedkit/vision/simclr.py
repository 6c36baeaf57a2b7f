"""SimCLR: self-supervised contrastive training of a small CNN on unlabelled 2-D inputs.

Two augmented views of every item go through the encoder and a projection head; the NT-Xent loss
(normalised temperature-scaled cross entropy, Chen et al. 2020) pulls the two views of one item
together and pushes the other ``2N - 2`` views of the batch away. The same trainer serves images
(:mod:`embedkit.vision.digits`) and spectrograms (:mod:`embedkit.audio.ssl`): callers pass the data
as one float tensor ``(n, channels, height, width)`` and an ``augment(batch, generator)`` function.

>>> import torch
>>> from embedkit.vision.simclr import SimCLR
>>> x = torch.rand(64, 1, 8, 8)
>>> model = SimCLR(epochs=1, batch_size=32, widths=(8, 16), dim=16).fit(x, lambda b, g: b)
>>> model.backbone_(x[:2]).shape
torch.Size([2, 16])

The trainer is separate from the model it produces (``backbone_``, a :class:`ConvNet`), whose
weights are saved as safetensors by the encoders that use it; nothing is pickled.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from ..errors import InvalidInput, NotFitted, require

__all__ = ["SimCLR", "ConvNet", "ConvNetConfig", "nt_xent", "supcon"]

log = logging.getLogger(__name__)


def nt_xent(z1, z2, temperature: float = 0.2):
    """NT-Xent loss of two batches of projections ``(n, d)``; row ``i`` of each is one item's views."""
    torch = require("torch", "vision", "SimCLR")
    F = torch.nn.functional
    if z1.shape != z2.shape or z1.ndim != 2 or len(z1) < 2:
        raise InvalidInput(f"nt_xent needs two (n, d) batches with n >= 2 of the same shape, got "
                           f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))  # a view is never its own positive or negative
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, target)


def supcon(z1, z2, labels, temperature: float = 0.1):
    """Supervised contrastive loss (SupCon, Khosla et al. 2020) of two batches of projections ``(n, d)``:
    every other view with the same label is a positive, every view with another label a negative.
    With all labels distinct it equals :func:`nt_xent`."""
    torch = require("torch", "vision", "SimCLR")
    F = torch.nn.functional
    if z1.shape != z2.shape or z1.ndim != 2 or len(z1) < 2 or len(labels) != len(z1):
        raise InvalidInput(f"supcon needs two (n, d) batches with n >= 2 and n labels, got "
                           f"{tuple(z1.shape)}, {tuple(z2.shape)} and {len(labels)} labels")
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    y = torch.cat([labels, labels])
    logits = z @ z.T / temperature
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, float("-inf"))
    positive = (y[:, None] == y[None, :]) & ~eye
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -(log_prob.masked_fill(~positive, 0.0).sum(1) / positive.sum(1)).mean()


@dataclass(frozen=True)
class ConvNetConfig:
    """Shape of a :class:`ConvNet`: saved as JSON next to its safetensors weights."""

    in_channels: int = 1
    widths: tuple[int, ...] = (32, 64, 128)
    dim: int = 128
    pool: tuple[int, int] = (1, 1)
    convs: int = 1  # convolutions per block

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"], d["pool"] = list(self.widths), list(self.pool)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ConvNetConfig:
        return cls(in_channels=int(d["in_channels"]), widths=tuple(int(w) for w in d["widths"]),
                   dim=int(d["dim"]), pool=tuple(int(p) for p in d["pool"]), convs=int(d.get("convs", 1)))


def ConvNet(config: ConvNetConfig):  # noqa: N802 - builds a torch module; torch imported lazily
    """A small CNN: blocks of (conv 3x3, batch norm, ReLU) x ``config.convs`` then 2x2 max-pool, an adaptive average
    pool to ``config.pool`` and a linear layer to ``config.dim`` features."""
    torch = require("torch", "vision", "SimCLR")
    nn = torch.nn
    layers: list = []
    c = config.in_channels
    for i, w in enumerate(config.widths):
        for j in range(config.convs):
            layers += [nn.Conv2d(c if j == 0 else w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.ReLU(inplace=True)]
        if i < len(config.widths) - 1:
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        c = w
    ph, pw = config.pool
    layers += [nn.AdaptiveAvgPool2d((ph, pw)), nn.Flatten(), nn.Linear(c * ph * pw, config.dim)]
    return nn.Sequential(*layers)


class SimCLR:
    """Train a :class:`ConvNet` without labels with SimCLR (two augmented views, NT-Xent loss).

    Args:
        dim: size of the learned representation (the encoder's output).
        projection_dim: size of the projection head's output, where the loss is computed.
        widths: channels of the CNN blocks (each block after the first halves height and width).
        pool: the grid the last feature map is averaged to before the linear layer.
        temperature: NT-Xent temperature.
        epochs, batch_size, lr, weight_decay: AdamW with a cosine schedule.
        seed: seeds the weights, the batch order and the augmentations.
        max_seconds: stop early (after a finished epoch) when training has run this long.
    """

    def __init__(self, *, dim: int = 128, projection_dim: int = 64, widths: Sequence[int] = (32, 64, 128),
                 pool: tuple[int, int] = (1, 1), convs: int = 1, temperature: float = 0.2, epochs: int = 50,
                 batch_size: int = 256, lr: float = 2e-3, weight_decay: float = 1e-4, seed: int = 0,
                 max_seconds: float | None = None):
        self.dim = dim
        self.projection_dim = projection_dim
        self.widths = tuple(widths)
        self.pool = tuple(pool)
        self.convs = convs
        self.temperature = temperature
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.seed = seed
        self.max_seconds = max_seconds

    def _check(self, n: int) -> None:
        for name in ("dim", "projection_dim", "epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise InvalidInput(f"The {name!r} parameter of SimCLR must be a positive int. Got {v!r} instead.")
        if not self.temperature > 0:
            raise InvalidInput(f"The 'temperature' parameter of SimCLR must be > 0. Got {self.temperature!r} instead.")
        if n < 2:
            raise InvalidInput(f"SimCLR needs at least 2 items to contrast, got {n}")

    def fit(self, data, augment: Callable, *, labels=None,
            progress: Callable[[int, int], None] | None = None) -> SimCLR:
        """Train on ``data`` (float tensor ``(n, c, h, w)``); ``augment(batch, generator)`` makes one
        random view of a batch (called twice per step). ``progress(epoch, epochs)`` after each epoch.

        ``labels`` (optional, one int per item) switches the loss from NT-Xent to supervised contrastive
        (:func:`supcon`): items that share a label are pulled together as well."""
        torch = require("torch", "vision", "SimCLR")
        nn = torch.nn
        data = torch.as_tensor(data, dtype=torch.float32)
        if data.ndim != 4:
            raise InvalidInput(f"SimCLR data must be a (n, channels, height, width) tensor, got shape "
                               f"{tuple(data.shape)}")
        self._check(len(data))
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long)
            if labels.shape != (len(data),):
                raise InvalidInput(f"labels must hold one int per item ({len(data)}), got shape "
                                   f"{tuple(labels.shape)}")
        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        self.config_ = ConvNetConfig(in_channels=int(data.shape[1]), widths=self.widths, dim=self.dim,
                                     pool=self.pool, convs=self.convs)
        backbone = ConvNet(self.config_)
        head = nn.Sequential(nn.Linear(self.dim, self.dim), nn.ReLU(inplace=True),
                             nn.Linear(self.dim, self.projection_dim))
        params = list(backbone.parameters()) + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        bs = min(self.batch_size, len(data))
        steps_per_epoch = max(len(data) // bs, 1)
        total = steps_per_epoch * self.epochs
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / max(total // 20, 1)) * 0.5 * (1 + math.cos(math.pi * s / total)))
        self.history_: list[float] = []
        started = time.perf_counter()
        backbone.train()
        head.train()
        for epoch in range(self.epochs):
            order = torch.randperm(len(data), generator=gen)
            losses = []
            for s in range(steps_per_epoch):
                idx = order[s * bs:(s + 1) * bs]
                batch = data[idx]
                v1, v2 = augment(batch, gen), augment(batch, gen)
                if labels is None:
                    loss = nt_xent(head(backbone(v1)), head(backbone(v2)), self.temperature)
                else:
                    loss = supcon(head(backbone(v1)), head(backbone(v2)), labels[idx], self.temperature)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
            self.history_.append(sum(losses) / len(losses))
            log.info("SimCLR epoch %d/%d loss %.4f", epoch + 1, self.epochs, self.history_[-1])
            if progress:
                progress(epoch + 1, self.epochs)
            if self.max_seconds is not None and time.perf_counter() - started > self.max_seconds:
                log.info("SimCLR stopped after %d epochs (max_seconds=%s)", epoch + 1, self.max_seconds)
                break
        backbone.eval()
        self.backbone_ = backbone
        self.epochs_run_ = len(self.history_)
        self.seconds_ = time.perf_counter() - started
        return self

    def transform(self, data, *, batch_size: int = 512):
        """Representations of ``data`` as a float32 numpy array ``(n, dim)``."""
        if not hasattr(self, "backbone_"):
            raise NotFitted("this SimCLR model is not fitted yet; call fit(data, augment) first")
        return embed(self.backbone_, data, batch_size=batch_size)


def embed(backbone, data, *, batch_size: int = 512):
    """Run a backbone in eval mode without gradients; return float32 numpy ``(n, dim)``."""
    torch = require("torch", "vision", "SimCLR")
    data = torch.as_tensor(data, dtype=torch.float32)
    backbone.eval()
    outs = []
    with torch.inference_mode():
        for a in range(0, len(data), batch_size):
            outs.append(backbone(data[a:a + batch_size]).float().numpy())
    import numpy as np

    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
