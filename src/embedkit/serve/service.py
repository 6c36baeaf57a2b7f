"""The service's state: its limits, models (each behind a batcher), stores, metrics and keys.

Routes (:mod:`.routes`) read everything through :class:`Service`, which knows nothing of HTTP.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import EmbedkitError, InvalidInput, ModelMismatch, ModelNotFound, StoreNotFound
from .batching import BatchedEncoder, Batcher

__all__ = ["Limits", "Service", "NotReady", "TooLarge", "parse_store_spec"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how the batcher groups requests (all readable at /info)."""

    #: texts in one embeddings request, documents in one write, ids in one get or delete
    max_inputs: int = 2048
    #: tokens of one input; longer inputs are refused unless the request asks to truncate
    #: (inputs longer than the model's window but within this are windowed, as the library does)
    max_input_tokens: int = 8192
    #: bytes of one request body (413 above)
    max_body_bytes: int = 4 * 1024 * 1024
    #: seconds a client may take to send its body (408 after)
    body_timeout_s: float = 30.0
    #: token budget of one encoded batch
    max_batch_tokens: int = 16384
    #: how long the first request of a batch waits for others
    max_wait_ms: float = 5.0
    #: requests waiting for the encoder at most (429 with Retry-After above)
    max_queue: int = 256
    #: rows per forward pass inside a batch
    batch_size: int = 32
    #: results of one search at most
    max_k: int = 1000
    #: points of one explorer map at most
    max_map_points: int = 200_000

    def __post_init__(self):
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise InvalidInput(f"the limit {name} must be a positive number, got {value!r}")


class NotReady(EmbedkitError):
    """The models are still loading (HTTP 503 with Retry-After)."""

    status = 503


class TooLarge(InvalidInput):
    """A request is over one of the service's limits (HTTP 413)."""

    status = 413


def parse_store_spec(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named by the file's stem) -> (name, path)."""
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInput(f"a store is NAME=PATH or PATH, got {spec!r}")
    name, sep, path = spec.partition("=")
    if not sep:
        path, name = spec, Path(spec).stem
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise InvalidInput(f"a store name must be letters, digits, '-', '_' or '.', got {name!r}")
    return name, Path(path).expanduser()


class Service:
    """Models, stores and settings of one running service.

    Args:
        model: the model spec (``embedkit.load``) or an encoder object; the default model if None.
        stores: ``{name: path}`` of stores to serve (each must exist unless ``create_stores``).
        limits: request and batching limits.
        api_keys: keys accepted as ``Authorization: Bearer KEY`` (none: no authentication).
        matryoshka: the model's vectors may be truncated (``dimensions``) and renormalised.

    """

    def __init__(self, *, model=None, stores: dict[str, os.PathLike] | None = None,
                 limits: Limits | None = None, api_keys: list[str] | None = None,
                 matryoshka: bool = False, create_stores: bool = False, metrics=None):
        from .metrics import Metrics

        self.model_spec = model
        self.store_paths = {name: Path(p) for name, p in (stores or {}).items()}
        self.limits = limits or Limits()
        self.api_keys = [k for k in (api_keys or []) if k]
        self.matryoshka = bool(matryoshka)
        self.create_stores = create_stores
        self.metrics = metrics or Metrics()
        self.batchers: dict[str, Batcher] = {}  # model name -> its batcher
        self.stores: dict = {}
        self.ready = threading.Event()
        self.load_error: str | None = None
        self.explore_cache: dict = {}
        self._loader: threading.Thread | None = None
        self.default_model: str | None = None

    # -- start and stop ------------------------------------------------------------------------

    def start(self, *, background: bool = True) -> None:
        """Open the stores now; load the models (in a thread unless ``background`` is False)."""
        from ..store.sqlite import VectorStore

        for name, path in self.store_paths.items():
            if not path.exists() and not self.create_stores:
                self.close()
                raise StoreNotFound(f"no store at {path} (store {name!r})")
            self.stores[name] = VectorStore(path, create=self.create_stores)
        if background:
            self._loader = threading.Thread(target=self._load, name="embedkit-model-loader",
                                            daemon=True)
            self._loader.start()
        else:
            self._load()
            if self.load_error:
                raise ModelNotFound(self.load_error)

    def _batcher_for(self, encoder) -> Batcher:
        lim = self.limits
        return Batcher(encoder, max_batch_tokens=lim.max_batch_tokens, max_wait_ms=lim.max_wait_ms,
                       max_queue=lim.max_queue, batch_size=lim.batch_size, metrics=self.metrics)

    def _load(self) -> None:
        try:
            if isinstance(self.model_spec, (str, os.PathLike)) or self.model_spec is None:
                from ..models import load

                encoder = load(self.model_spec)
            else:
                encoder = self.model_spec
            self.default_model = encoder.name
            self.batchers[encoder.name] = self._batcher_for(encoder)
            for name, store in self.stores.items():
                self._bind(name, store)
            self.ready.set()
            log.info("ready: models %s, stores %s", list(self.batchers), list(self.stores))
        except Exception as exc:  # noqa: BLE001 - reported by /ready and every model route
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.error("the service could not load its models: %s", self.load_error)

    def _bind(self, name: str, store) -> None:
        """Give a store the batched encoder of its model (loading the store's own if it differs)."""
        for batcher in self.batchers.values():
            try:
                store.encoder = BatchedEncoder(batcher)
                return
            except ModelMismatch:
                continue
        if store.model_spec is None:
            return
        own = store._load_recorded_model()
        batcher = self._batcher_for(own)
        self.batchers[own.name] = batcher
        store.encoder = BatchedEncoder(batcher)

    def close(self) -> None:
        """Finish queued encodings, then close every store (its ANN index saved)."""
        for batcher in self.batchers.values():
            batcher.close()
        for store in self.stores.values():
            try:
                store.close()
            except Exception as exc:  # noqa: BLE001 - close the others
                log.error("closing a store failed: %s", exc)
        self.stores.clear()

    # -- look-ups ------------------------------------------------------------------------------

    def check_ready(self) -> None:
        if self.load_error:
            raise NotReady(f"the model failed to load: {self.load_error}")
        if not self.ready.is_set():
            raise NotReady("the model is still loading; retry shortly")

    def batcher(self, model: str | None) -> Batcher:
        """The batcher of a model by name, spec or ``"default"``."""
        self.check_ready()
        if model is None or model in ("", "default"):
            return self.batchers[self.default_model]
        if model in self.batchers:
            return self.batchers[model]
        for b in self.batchers.values():
            if model == getattr(b.encoder, "spec", None):
                return b
        raise ModelNotFound(f"unknown model {model!r}; this service has: "
                            f"{', '.join(sorted(self.batchers))}")

    def store(self, name: str):
        try:
            return self.stores[name]
        except KeyError:
            known = ", ".join(sorted(self.stores)) or "none"
            raise StoreNotFound(f"unknown store {name!r}; this service has: {known}") from None

    def model_info(self) -> list[dict]:
        out = []
        for name, b in self.batchers.items():
            enc = b.encoder
            out.append({"id": name, "dim": enc.dim, "modality": getattr(enc, "modality", "text"),
                        "spec": getattr(enc, "spec", None),
                        "max_tokens_per_window": getattr(enc, "max_length", None),
                        "prompts": {r: enc.prompt_for(r) for r in ("query", "document")}
                        if hasattr(enc, "prompt_for") else {},
                        "dimensions": "any up to dim" if self.matryoshka else "dim only",
                        "default": name == self.default_model})
        return out
