"""The Encoder protocol: anything that turns a batch of items into a float32 (n, d) array.

Text, word, image and audio encoders all satisfy it, so stores, apps, plots and evaluations work
with every modality. :class:`BaseEncoder` gives implementations the shared checking, batching and
progress-bar logic so that each only writes ``_encode_batch``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import InvalidInput
from .similarity import l2_normalize

__all__ = ["Encoder", "BaseEncoder", "progress_bar", "encode_as", "ROLES"]

#: The roles an item can be embedded in: a search query, or a document searched for.
ROLES = ("query", "document")
#: Prompt names that sentence-transformers models use for each role.
_ROLE_PROMPTS = {"query": ("query",), "document": ("document", "passage", "doc", "corpus")}

log = logging.getLogger(__name__)


@runtime_checkable
class Encoder(Protocol):
    """What every encoder offers.

    ``encode`` always returns a 2-D float32 array with one row per item, whatever the input.
    """

    modality: str
    dim: int
    name: str

    def encode(
        self,
        items: Iterable[Any],
        *,
        batch_size: int = 32,
        normalize: bool | None = None,
        progress: bool | None = None,
    ) -> np.ndarray:
        """Encode items into a float32 array of shape (len(items), dim)."""
        ...


def encode_as(encoder, items, role: str, **options) -> np.ndarray:
    """``encoder.encode_queries`` / ``encode_documents`` where the encoder has them, else ``encode``."""
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}. Valid roles are: {', '.join(ROLES)}")
    method = getattr(encoder, "encode_queries" if role == "query" else "encode_documents", None)
    return (method or encoder.encode)(items, **options)


def progress_bar(total: int, desc: str, enabled: bool | None):
    """Progress on stderr: a bar on a terminal, a log line every 30 s elsewhere (``enabled=None``).

    See :mod:`embedkit.progress`.
    """
    from .progress import progress

    return progress(total, desc, "item", enabled=enabled)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide transformers' own progress bar ("Loading weights") while a model folder loads.

    Loading a local folder takes well under a second; a bar per load only clutters the output of
    every CLI call. embedkit's own bars (encoding, training) are unaffected.
    """
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


class BaseEncoder:
    """Shared behaviour for encoders: input checks, batching, progress, normalisation.

    Subclasses set ``modality``, ``dim``, ``name`` and ``default_normalize``, and implement
    ``_check_item`` (optional) and ``_encode_batch(items) -> np.ndarray``.
    """

    modality: str = "text"
    dim: int = 0
    name: str = ""
    default_normalize: bool = True
    #: A hash of the model's content (see :mod:`embedkit.identity`); set by :func:`embedkit.load`.
    fingerprint: str | None = None
    #: Prompts by name (sentence-transformers' ``prompts``: E5 has ``query`` and ``passage``).
    prompts: dict[str, str] = {}
    #: Batches above which the progress bar is shown when ``progress`` is None (on a terminal).
    progress_min_batches: int = 4

    def _check_item(self, index: int, item: Any) -> Any:
        if not isinstance(item, str):
            raise InvalidInput(
                f"item {index} must be a str for a {self.modality} encoder, got {type(item).__name__}"
            )
        return item

    def _encode_batch(self, items: Sequence[Any]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self, items: Iterable[Any]) -> list[Any]:
        if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise InvalidInput(
                f"items must be a list (or other iterable) of inputs, got {type(items).__name__}; "
                "wrap a single item in a list: encode([item])"
            )
        return [self._check_item(i, item) for i, item in enumerate(items)]

    @staticmethod
    def _check_batch_size(batch_size) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise InvalidInput(f"batch_size must be a positive integer, got {batch_size!r}")

    def _show_progress(self, n_items: int, batch_size: int, progress: bool | None) -> bool | None:
        """``progress`` if given; else show the bar (on a terminal) for more than a few batches."""
        if progress is not None:
            return progress
        return None if -(-n_items // batch_size) > self.progress_min_batches else False

    def encode(self, items, *, batch_size: int = 32, normalize: bool | None = None,
               progress: bool | None = None) -> np.ndarray:
        """Encode items into a float32 array of shape (len(items), dim)."""
        self._check_batch_size(batch_size)
        items = self._prepare(items)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if not items:
            return out
        show = self._show_progress(len(items), batch_size, progress)
        with progress_bar(len(items), f"encode ({self.name})", show) as bar:
            for start in range(0, len(items), batch_size):
                batch = items[start:start + batch_size]
                out[start:start + len(batch)] = self._encode_batch(batch)
                bar.update(len(batch))
        if normalize if normalize is not None else self.default_normalize:
            out = l2_normalize(out)
        return out

    # -- query and document roles ---------------------------------------------------------------

    def prompt_for(self, role: str) -> str | None:
        """The prompt this model puts before a ``role`` ("query" or "document") text, or None."""
        if role not in ROLES:
            raise InvalidInput(f"Unknown role {role!r}. Valid roles are: {', '.join(ROLES)}")
        for name in _ROLE_PROMPTS[role]:
            if self.prompts.get(name):
                return self.prompts[name]
        return None

    def encode_queries(self, items, **options) -> np.ndarray:
        """Encode search queries: with the model's query prompt (E5: ``"query: "``), if it has one.

        Symmetric tasks (similarity, STS, clustering) use this for both sides, as E5 recommends.
        """
        return self._encode_role(items, "query", **options)

    def encode_documents(self, items, **options) -> np.ndarray:
        """Encode documents to be searched: with the model's document prompt (E5: ``"passage: "``)."""
        return self._encode_role(items, "document", **options)

    def _encode_role(self, items, role: str, **options) -> np.ndarray:
        prompt = self.prompt_for(role)
        if not prompt:
            return self.encode(items, **options)
        return self.encode_with_prompt(items, prompt, **options)

    def encode_with_prompt(self, items, prompt: str, **options) -> np.ndarray:
        """Encode text items with ``prompt`` before each (other items as they are)."""
        items = self._prepare(items)
        return self.encode([prompt + x if isinstance(x, str) else x for x in items], **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, modality={self.modality!r}, dim={self.dim})"
