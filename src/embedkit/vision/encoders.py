"""Image encoders from Hugging Face folders or ids: CNN features (ResNet, ConvNeXt, and other
``AutoModel`` vision backbones) and CLIP (text and image towers in one space).

Preprocessing is done here with Pillow and numpy, following the folder's
``preprocessor_config.json`` (resize, centre crop, rescale, mean/std normalisation); it needs no
torchvision. Items are image paths (``str`` or :class:`os.PathLike`), bytes, PIL images or
``(h, w, 3)`` uint8 arrays; each is read with :func:`embedkit.vision.io.load_image` (pixel cap,
clear errors for bad files).

For :class:`ClipEncoder`, a ``str`` item is a *text* (so a store of images can be searched with a
text query); images are given as :class:`pathlib.Path`, bytes, PIL images or arrays.
:meth:`ClipEncoder.encode_images` and :meth:`ClipEncoder.encode_texts` are explicit alternatives.

>>> import embedkit
>>> clip = embedkit.load("openai/clip-vit-base-patch32")                     # doctest: +SKIP
>>> images = clip.encode_images(["cat.jpg", "dog.jpg"])                      # doctest: +SKIP
>>> clip.classify(["cat.jpg"], ["cat", "dog"]).labels                        # doctest: +SKIP
['cat']
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..encoder import BaseEncoder, quiet_loading
from ..errors import InvalidInput, ModelNotFound, require
from ..folders import model_folder
from ..similarity import l2_normalize
from .io import load_image

__all__ = ["CnnEncoder", "ClipEncoder", "ZeroShotResult", "Preprocess", "vision_kind",
           "CNN_MODEL_TYPES", "CLIP_MODEL_TYPES"]

log = logging.getLogger(__name__)

CNN_MODEL_TYPES = ("resnet", "convnext", "convnextv2", "regnet", "efficientnet", "mobilenet_v2",
                   "bit", "dinov2", "vit")
CLIP_MODEL_TYPES = ("clip",)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vision_kind(config: dict) -> str | None:
    """``"clip"``, ``"cnn"`` or None for a Hugging Face ``config.json`` dict."""
    model_type = str(config.get("model_type", "")).lower()
    archs = " ".join(config.get("architectures") or []).lower()
    if model_type in CLIP_MODEL_TYPES or archs.startswith("clipmodel"):
        return "clip"
    if model_type in CNN_MODEL_TYPES or any(a in archs for a in ("resnet", "convnext", "regnet")):
        return "cnn"
    return None


@dataclass(frozen=True)
class Preprocess:
    """Resize / crop / normalise settings, read from ``preprocessor_config.json``."""

    resize: int | tuple[int, int] = 224  # shortest edge (int) or exact (height, width)
    crop: tuple[int, int] | None = (224, 224)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    rescale: float = 1 / 255
    resample: int = 3  # PIL bicubic

    @classmethod
    def from_folder(cls, folder: Path, default_size: int = 224) -> Preprocess:
        path = folder / "preprocessor_config.json"
        if not path.is_file():
            log.info("%s has no preprocessor_config.json; using %d px and ImageNet statistics",
                     folder, default_size)
            return cls(resize=default_size, crop=(default_size, default_size))
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelNotFound(f"{path} is not valid JSON: {exc}") from exc
        size = cfg.get("size", default_size)
        crop_size = cfg.get("crop_size")
        if isinstance(size, dict) and "shortest_edge" in size:
            resize: int | tuple[int, int] = int(size["shortest_edge"])
        elif isinstance(size, dict) and "height" in size:
            resize = (int(size["height"]), int(size["width"]))
        else:
            resize = int(size)
        crop = None
        if cfg.get("do_center_crop", crop_size is not None) and crop_size is not None:
            crop = ((int(crop_size["height"]), int(crop_size["width"])) if isinstance(crop_size, dict)
                    else (int(crop_size), int(crop_size)))
        crop_pct = cfg.get("crop_pct")
        if crop is None and isinstance(resize, int) and crop_pct and resize < 384:
            # ConvNeXt: resize the shortest edge to size / crop_pct, then centre-crop size x size.
            crop = (resize, resize)
            resize = int(resize / crop_pct)
        elif crop is None and isinstance(resize, int):
            crop = (resize, resize)
        return cls(resize=resize, crop=crop,
                   mean=tuple(cfg.get("image_mean") or IMAGENET_MEAN),
                   std=tuple(cfg.get("image_std") or IMAGENET_STD),
                   rescale=float(cfg.get("rescale_factor", 1 / 255)),
                   resample=int(cfg.get("resample", 3)))

    def __call__(self, img) -> np.ndarray:
        """A PIL RGB image -> float32 (3, h, w)."""
        if isinstance(self.resize, int):
            w, h = img.size
            s = self.resize / min(w, h)
            img = img.resize((max(round(w * s), 1), max(round(h * s), 1)), self.resample)
        else:
            img = img.resize((self.resize[1], self.resize[0]), self.resample)
        if self.crop is not None:
            ch, cw = self.crop
            w, h = img.size
            left, top = max((w - cw) // 2, 0), max((h - ch) // 2, 0)
            img = img.crop((left, top, left + cw, top + ch))
        arr = np.asarray(img, dtype=np.float32) * self.rescale
        arr = (arr - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return arr.transpose(2, 0, 1)


def _read_config(folder: Path) -> dict:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"{folder} has no readable config.json: {exc}") from exc


@contextmanager
def _quiet_load_report():
    """Hold back transformers' load-report warning while a backbone loads from a classifier folder."""
    logger = logging.getLogger("transformers.modeling_utils")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class _ImageBase(BaseEncoder):
    modality = "image"
    max_pixels: int | None = None

    def _check_item(self, index: int, item: Any) -> Any:
        Image = require("PIL.Image", "vision", "images")
        if isinstance(item, (str, os.PathLike, bytes, bytearray, Image.Image, np.ndarray)):
            return item
        raise InvalidInput(f"item {index}: an image must be a path, bytes, a PIL image or an (h, w, 3) "
                           f"uint8 array; got {type(item).__name__}")

    def image(self, item):
        """Read one item as an RGB PIL image (see :func:`~embedkit.vision.io.load_image`)."""
        Image = require("PIL.Image", "vision", "images")
        if isinstance(item, np.ndarray):
            if item.ndim not in (2, 3) or item.dtype != np.uint8:
                raise InvalidInput(f"an image array must be uint8 (h, w) or (h, w, 3), got {item.dtype} "
                                   f"{item.shape}")
            item = Image.fromarray(item)
        return load_image(item, max_pixels=self.max_pixels)

    def _pixels(self, items):
        torch = require("torch", "vision", "image encoders")
        return torch.from_numpy(np.stack([self.preprocess(self.image(it)) for it in items]))


class CnnEncoder(_ImageBase):
    """Pooled features of a vision backbone (ResNet, ConvNeXt, ...), taken before the classifier.

    Args:
        spec: a Hugging Face folder or id whose ``config.json`` is a vision backbone.
        device: torch device (default ``"cpu"``).
        max_pixels: refuse larger images (default :data:`embedkit.vision.io.MAX_PIXELS`).
        normalize: L2-normalise the features (default True).
    """

    def __init__(self, spec, *, name: str | None = None, device: str = "cpu",
                 max_pixels: int | None = None, normalize: bool = True):
        transformers = require("transformers", "vision", "CNN image encoders")
        folder = model_folder(spec)
        config = _read_config(folder)
        try:
            # A classifier folder (ResNetForImageClassification, ...) loads as its backbone: the
            # head's weights are unused by design, so transformers' load report (a warning table)
            # is held back here, and missing backbone weights are an error instead.
            with quiet_loading(), _quiet_load_report():
                model, info = transformers.AutoModel.from_pretrained(str(folder), output_loading_info=True)
        except Exception as exc:  # noqa: BLE001 - transformers raises many types
            raise ModelNotFound(f"cannot load a vision model from {folder}: {exc}") from exc
        if info.get("missing_keys"):
            missing = sorted(info["missing_keys"])
            raise ModelNotFound(f"{folder} lacks {len(missing)} weights of the image model "
                                f"(e.g. {missing[0]}); it would embed with random weights")
        if info.get("unexpected_keys"):
            log.debug("%s: %d weights unused (a classification head)", folder, len(info["unexpected_keys"]))
        self.model = model.to(device).eval()
        self.device = device
        self.preprocess = Preprocess.from_folder(folder, int(config.get("image_size", 224)))
        self.max_pixels = max_pixels
        self.default_normalize = normalize
        self.name = name or (os.fspath(spec) if not Path(os.fspath(spec)).is_dir() else folder.name)
        self.config = config
        sizes = config.get("hidden_sizes") or [config.get("hidden_size")]
        self.dim = int(sizes[-1])

    def _encode_batch(self, items) -> np.ndarray:
        torch = require("torch", "vision", "image encoders")
        pixels = self._pixels(items).to(self.device)
        with torch.inference_mode():
            out = self.model(pixel_values=pixels)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:  # backbones without a pooler: mean over spatial positions / tokens
            hidden = out.last_hidden_state
            pooled = hidden.mean(dim=(2, 3)) if hidden.ndim == 4 else hidden.mean(dim=1)
        return pooled.reshape(len(items), -1).float().cpu().numpy()


@dataclass(frozen=True)
class ZeroShotResult:
    """Zero-shot classification: the best label per image and the probabilities ``(n, labels)``."""

    labels: list[str]
    probabilities: np.ndarray
    classes: list[str]


class ClipEncoder(_ImageBase):
    """CLIP: images and texts into one space (see the module docs for which items are which).

    Args:
        spec: a Hugging Face CLIP folder or id (``config.json``, weights, tokenizer files,
            ``preprocessor_config.json``).
        device: torch device.
        max_pixels: refuse larger images.
        normalize: L2-normalise the output (default True: CLIP compares by cosine).
    """

    def __init__(self, spec, *, name: str | None = None, device: str = "cpu",
                 max_pixels: int | None = None, normalize: bool = True):
        transformers = require("transformers", "vision", "CLIP")
        folder = model_folder(spec)
        config = _read_config(folder)
        try:
            with quiet_loading():
                self.model = transformers.CLIPModel.from_pretrained(str(folder)).to(device).eval()
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
        except Exception as exc:  # noqa: BLE001
            raise ModelNotFound(f"cannot load a CLIP model from {folder}: {exc}") from exc
        vision = config.get("vision_config") or {}
        self.preprocess = Preprocess.from_folder(folder, int(vision.get("image_size", 224)))
        self.max_length = int((config.get("text_config") or {}).get("max_position_embeddings", 77))
        self.device = device
        self.max_pixels = max_pixels
        self.default_normalize = normalize
        self.dim = int(self.model.config.projection_dim)
        self.name = name or (os.fspath(spec) if not Path(os.fspath(spec)).is_dir() else folder.name)
        self.logit_scale = float(self.model.logit_scale.detach().exp())

    #: CLIP embeds texts too: a text query can search a store of CLIP image vectors.
    accepts_text = True

    def _check_item(self, index: int, item: Any) -> Any:
        if isinstance(item, str):
            if not item.strip():
                raise InvalidInput(f"item {index} is an empty text")
            return item
        return super()._check_item(index, item)

    @staticmethod
    def _features(out):
        return out if not hasattr(out, "pooler_output") else out.pooler_output

    def _texts(self, texts) -> np.ndarray:
        torch = require("torch", "vision", "CLIP")
        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        with torch.inference_mode():
            out = self.model.get_text_features(input_ids=enc["input_ids"].to(self.device),
                                               attention_mask=enc["attention_mask"].to(self.device))
        return self._features(out).float().cpu().numpy()

    def _images(self, items) -> np.ndarray:
        torch = require("torch", "vision", "CLIP")
        with torch.inference_mode():
            out = self.model.get_image_features(pixel_values=self._pixels(items).to(self.device))
        return self._features(out).float().cpu().numpy()

    def _encode_batch(self, items) -> np.ndarray:
        out = np.zeros((len(items), self.dim), np.float32)
        texts = [i for i, it in enumerate(items) if isinstance(it, str)]
        images = [i for i, it in enumerate(items) if not isinstance(it, str)]
        if texts:
            out[texts] = self._texts([items[i] for i in texts])
        if images:
            out[images] = self._images([items[i] for i in images])
        return out

    def encode_images(self, images, **kwargs) -> np.ndarray:
        """Encode images; a ``str`` here is a path."""
        return self.encode([Path(i) if isinstance(i, str) else i for i in images], **kwargs)

    def encode_texts(self, texts, **kwargs) -> np.ndarray:
        """Encode texts."""
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise InvalidInput(f"text {i} must be a str, got {type(t).__name__}")
        return self.encode(list(texts), **kwargs)

    def classify(self, images, labels, *, template: str = "a photo of a {}.") -> ZeroShotResult:
        """Zero-shot classification: each image gets the label whose prompt is most similar.

        Args:
            images: as for :meth:`encode_images`.
            labels: the class names; each is put into ``template``.
            template: the prompt, with ``{}`` where the label goes.
        """
        labels = list(labels)
        if len(labels) < 2 or not all(isinstance(lbl, str) and lbl.strip() for lbl in labels):
            raise InvalidInput(f"labels must be at least two non-empty strings, got {labels!r:.100}")
        if "{}" not in template:
            raise InvalidInput(f"template must contain '{{}}' where the label goes, got {template!r}")
        img = l2_normalize(self.encode_images(images, normalize=False))
        txt = l2_normalize(self.encode_texts([template.format(lbl) for lbl in labels], normalize=False))
        logits = self.logit_scale * img @ txt.T
        logits = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return ZeroShotResult([labels[i] for i in probs.argmax(axis=1)], probs.astype(np.float32), labels)
