"""Images as vectors: CNN features (ResNet, ConvNeXt), CLIP (text and images in one space, zero-shot
classification) and SimCLR self-supervised training (also used for spectrograms).

Names are imported lazily so that ``import embedkit.vision`` does not import torch.
"""

from __future__ import annotations

import importlib

__all__ = ["load_image", "CnnEncoder", "ClipEncoder", "SimCLR", "ConvNetEncoder", "IMAGE_SUFFIXES"]

_WHERE = {"load_image": ".io", "IMAGE_SUFFIXES": ".io", "CnnEncoder": ".encoders", "ClipEncoder": ".encoders",
          "SimCLR": ".simclr", "ConvNetEncoder": ".digits"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
