"""Reading images (Pillow), with the checks that keep a bad file from doing harm.

* The pixel count is capped at :data:`MAX_PIXELS` (default 64 megapixels, overridable per call):
  the size is read from the header *before* decoding, so a decompression bomb is refused with a
  clear :class:`~embedkit.errors.InvalidInput` instead of exhausting memory. Pillow's own
  ``DecompressionBombError`` / warning are turned into the same error.
* Empty, truncated, corrupt and non-image files raise ``InvalidInput`` naming the file and the problem.
* Every image is converted to RGB (palette, grey, CMYK, 16-bit; transparency is composited on white)
  and the first frame of an animation is used.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, require

__all__ = ["load_image", "to_rgb", "IMAGE_SUFFIXES", "MAX_PIXELS"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
MAX_PIXELS = 64_000_000


def _name(source) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<image bytes>"


def to_rgb(img, name: str = "image"):
    """Convert a PIL image to RGB (alpha composited on white)."""
    Image = require("PIL.Image", "vision", "images")
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() or 1.0
        img = Image.fromarray((arr / hi * 255).astype(np.uint8))
    return img.convert("RGB")


def load_image(source, *, max_pixels: int | None = None):
    """Open an image (path, bytes or PIL image) as a decoded RGB PIL image; see the module notes.

    >>> img = load_image("cat.jpg")            # doctest: +SKIP
    """
    Image = require("PIL.Image", "vision", "images")
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    name = _name(source)
    if isinstance(source, Image.Image):
        img = source
    else:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        elif isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if not path.is_file():
                raise InvalidInput(f"{name}: no such image file")
            data = path.read_bytes()
        else:
            raise InvalidInput(f"an image must be a path, bytes or a PIL image, got {type(source).__name__}")
        if not data:
            raise InvalidInput(f"{name}: the file is empty")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InvalidInput(f"{name}: the image is too large to decode safely ({exc})") from exc
        except Exception as exc:  # noqa: BLE001 - UnidentifiedImageError, OSError, SyntaxError...
            suffix = Path(name).suffix.lower()
            hint = (f"unsupported image format {suffix!r} (supported: {', '.join(IMAGE_SUFFIXES)})"
                    if suffix and suffix not in IMAGE_SUFFIXES else "not a readable image (corrupt or "
                    "unsupported format)")
            raise InvalidInput(f"{name}: {hint}: {exc}") from exc
    w, h = img.size
    if w <= 0 or h <= 0:
        raise InvalidInput(f"{name}: the image has no pixels ({w}x{h})")
    if w * h > limit:
        raise InvalidInput(f"{name}: the image has {w}x{h} = {w * h:,} pixels, more than the limit of "
                           f"{limit:,}; downscale it first or raise max_pixels")
    try:
        img.seek(0)
        img.load()
    except Exception as exc:  # noqa: BLE001 - truncated data raises OSError, others vary
        raise InvalidInput(f"{name}: the image data is truncated or corrupt: {exc}") from exc
    return to_rgb(img, name)
