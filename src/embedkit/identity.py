"""A model's identity by content: a fingerprint of its weights and of what shapes its input.

A store records the fingerprint of the model that made its vectors and refuses a model whose
fingerprint differs, whatever its folder or name is called; the same model reached by another path
or spec (``embedkit.load()`` and the folder it resolves to) has the same fingerprint and is
accepted.

What goes in:

- a model folder: the SHA-256 of every weights, configuration and tokenizer file in it
  (``*.safetensors``, ``*.npy``, ``*.bin``, ``*.onnx``, ``*.json``, ``*.txt``, ``*.model``; READMEs,
  licences and embedkit's own caches are left out), by relative path, plus the pooling the encoder
  applies;
- a built-in encoder that needs no files (``mfcc``, ...): its settings.

Hashing a 90 MB model takes about a fifth of a second; each file's digest is cached by path, size
and modification time in ``$EMBEDKIT_CACHE/fingerprints.json``, so a CLI call pays it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path

from .folders import cache_root

__all__ = ["folder_fingerprint", "settings_fingerprint", "fingerprint_of", "file_sha256",
           "MODEL_FILE_SUFFIXES"]

log = logging.getLogger(__name__)

#: Files that make up a model: weights, configurations, vocabularies, tokenizers.
MODEL_FILE_SUFFIXES = (".safetensors", ".npy", ".bin", ".onnx", ".json", ".txt", ".model")
_SKIP_NAMES = {"readme.txt", "license.txt", "requirements.txt"}
_VERSION = "embedkit-model-fingerprint-1"
_lock = threading.Lock()
_memory: dict[str, tuple[int, int, str]] = {}


def _cache_file() -> Path:
    return cache_root() / "fingerprints.json"


def _load_cache() -> dict:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(entries: dict) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fingerprints-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entries, fh)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache only costs the hashing again next time
        log.debug("cannot write the fingerprint cache %s: %s", path, exc)


def _file_digest(path: Path, cache: dict) -> tuple[str, bool]:
    """The SHA-256 of a file, from the cache when its size and mtime are unchanged."""
    real = os.path.realpath(path)
    st = os.stat(real)
    hit = _memory.get(real) or cache.get(real)
    if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2], False
    h = hashlib.sha256()
    with open(real, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    entry = (st.st_size, st.st_mtime_ns, h.hexdigest())
    _memory[real] = entry
    cache[real] = list(entry)
    return entry[2], True


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of one file, cached like the model files' (by path, size and mtime)."""
    with _lock:
        cache = _load_cache()
        digest, new = _file_digest(Path(path), cache)
        if new:
            _save_cache(cache)
    return digest


def _model_files(folder: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        # Hidden folders (.cache, .git) and embedkit's exports (onnx/) are not the model.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "onnx")
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in _SKIP_NAMES:
                continue
            if name.lower().endswith(MODEL_FILE_SUFFIXES):
                files.append(Path(dirpath) / name)
    return files


def folder_fingerprint(folder: str | os.PathLike, **settings) -> str:
    """The fingerprint of the model in ``folder`` (plus ``settings`` that change its vectors)."""
    folder = Path(folder)
    with _lock:
        cache = _load_cache()
        changed = False
        lines = [_VERSION]
        for path in _model_files(folder):
            digest, new = _file_digest(path, cache)
            changed = changed or new
            lines.append(f"{path.relative_to(folder).as_posix()} {digest}")
        if changed:
            _save_cache(cache)
    if len(lines) == 1:
        return settings_fingerprint(folder=str(folder.resolve()), **settings)
    lines.extend(f"{k}={json.dumps(v, sort_keys=True, default=str)}" for k, v in sorted(settings.items())
                 if v is not None)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def settings_fingerprint(**settings) -> str:
    """The fingerprint of an encoder that is all settings (no files): a hash of them."""
    text = json.dumps({"version": _VERSION, **settings}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint_of(encoder) -> str | None:
    """An encoder's fingerprint: the one :func:`embedkit.load` gave it, else from its model folder.

    None for an encoder that has neither (a WordVectors trained in this process, say): stores then
    fall back to comparing names.
    """
    fp = getattr(encoder, "fingerprint", None)
    if fp is None:
        path = getattr(encoder, "path", None)
        if isinstance(path, (str, os.PathLike)) and Path(path).is_dir():
            fp = folder_fingerprint(path, pooling=getattr(encoder, "pooling", None))
            try:
                encoder.fingerprint = fp
            except AttributeError:
                pass
    return fp
