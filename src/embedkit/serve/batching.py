"""Dynamic batching: concurrent requests are queued and encoded together under a token budget.

The model of text-embeddings-inference: a request is a list of texts with their token counts; one
worker thread per model takes the oldest request, then keeps taking queued requests of the same kind
(role and truncation) until the batch holds ``max_batch_tokens`` tokens or ``max_wait_ms`` has passed
since the first one arrived, and encodes them in one call of the library's encoder (which windows
long texts and sorts by length). The queue is bounded: :meth:`Batcher.submit` raises
:class:`QueueFull` (the service answers 429 with ``Retry-After``) instead of growing without limit.

:class:`BatchedEncoder` puts the batcher behind the Encoder protocol, so that a
:class:`~embedkit.store.sqlite.VectorStore` embeds its queries and documents through the same queue.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from ..encoder import encode_as
from ..errors import EmbedkitError, InvalidInput

__all__ = ["Batcher", "BatchedEncoder", "QueueFull", "count_tokens"]

log = logging.getLogger(__name__)


class QueueFull(EmbedkitError):
    """The encoding queue is full: the caller should retry later."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


def _malloc_trim():
    """glibc's ``malloc_trim`` (returns freed heap pages to the system), or None off glibc."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def count_tokens(encoder, texts: list[str]) -> list[int]:
    """Tokens of each text as the model sees them (special tokens of one window included).

    Transformer encoders count with their own tokenizer; others (word vectors, ...) count words.
    """
    tokenizer = getattr(encoder, "tokenizer", None)
    if tokenizer is not None and hasattr(tokenizer, "encode_batch"):
        extra = int(getattr(encoder, "n_special", 0))
        if len(texts) == 1:  # most requests: half the CPU of a batch call (no thread-pool hop)
            return [len(tokenizer.encode(texts[0], add_special_tokens=False).ids) + extra]
        return [len(e.ids) + extra for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    return [max(len(t.split()), 1) for t in texts]


@dataclass
class _Request:
    texts: list[str]
    tokens: int
    role: str
    truncate: bool
    future: Future
    queued_at: float = field(default_factory=time.monotonic)


class Batcher:
    """One worker thread that encodes queued requests together.

    Args:
        encoder: the library encoder (``encode_queries`` / ``encode_documents`` are used).
        max_batch_tokens: token budget of one batch (a bigger request runs alone).
        max_wait_ms: how long the first request of a batch waits for others.
        max_queue: requests waiting at most; more raise :class:`QueueFull`.
        batch_size: rows per forward pass inside a batch.
        metrics: optional :class:`~embedkit.serve.metrics.Metrics`.
        trim_every_s: after a batch, hand freed memory back to the system (glibc ``malloc_trim``)
            at most this often; None never. A worker thread's malloc arena otherwise keeps the
            activations of the largest batches it has seen: 90 s of mixed short and long texts in
            batches of 4-24 from one thread took the RSS from 1,126 to 1,222 MB, and from 985 to
            1,015 MB with a trim after every batch.

    """

    def __init__(self, encoder, *, max_batch_tokens: int = 16384, max_wait_ms: float = 5.0,
                 max_queue: int = 256, batch_size: int = 32, metrics=None, name: str | None = None,
                 trim_every_s: float | None = 1.0):
        self.encoder = encoder
        self.name = name or getattr(encoder, "name", "model")
        self.max_batch_tokens = int(max_batch_tokens)
        self.max_wait = float(max_wait_ms) / 1000.0
        self.max_queue = int(max_queue)
        self.batch_size = int(batch_size)
        self.metrics = metrics
        self._trim = _malloc_trim() if trim_every_s is not None else None
        self._trim_every = trim_every_s
        self._trimmed_at = time.monotonic()
        self._queue: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name=f"embedkit-batcher-{self.name}",
                                        daemon=True)
        self._thread.start()

    # -- submitting --------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Requests waiting in the queue."""
        return len(self._queue)

    def submit(self, texts: list[str], *, role: str = "query", truncate: bool = False,
               tokens: int | None = None) -> Future:
        """Queue texts for encoding; the future gives a float32 (n, dim) array."""
        if role not in ("query", "document"):
            raise InvalidInput(f"Unknown role {role!r}. Valid roles are: query, document")
        fut: Future = Future()
        if not texts:
            fut.set_result(np.zeros((0, self.encoder.dim), dtype=np.float32))
            return fut
        if tokens is None:
            tokens = sum(count_tokens(self.encoder, texts))
        with self._cond:
            if self._closing:
                raise QueueFull("the service is shutting down", retry_after=5.0)
            if len(self._queue) >= self.max_queue:
                if self.metrics is not None:
                    self.metrics.rejected.labels(self.name).inc()
                raise QueueFull(f"the encoding queue is full ({self.max_queue} requests waiting); "
                                "retry later", retry_after=1.0)
            self._queue.append(_Request(list(texts), int(tokens), role, bool(truncate), fut))
            self._report_depth()
            self._cond.notify()
        return fut

    def encode(self, texts, *, role: str = "query", truncate: bool = False,
               timeout: float | None = None) -> np.ndarray:
        """Queue texts and wait for their vectors (for callers on other threads)."""
        return self.submit(list(texts), role=role, truncate=truncate).result(timeout)

    def _report_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.name).set(len(self._queue))

    # -- the worker ------------------------------------------------------------------------------

    def _take(self) -> list[_Request] | None:
        """Wait for a request, then gather a batch of compatible ones (within the budget)."""
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            first = self._queue.popleft()
            batch, tokens = [first], first.tokens
            deadline = first.queued_at + self.max_wait
            while tokens < self.max_batch_tokens:
                match = next((r for r in self._queue
                              if (r.role, r.truncate) == (first.role, first.truncate)), None)
                if match is not None:
                    if tokens + match.tokens > self.max_batch_tokens:
                        break
                    self._queue.remove(match)
                    batch.append(match)
                    tokens += match.tokens
                    continue
                left = deadline - time.monotonic()
                if left <= 0 or self._closing:
                    break
                self._cond.wait(left)
            self._busy = True
            self._report_depth()
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._encode(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            if self._trim is not None and time.monotonic() - self._trimmed_at >= self._trim_every:
                self._trim(0)
                self._trimmed_at = time.monotonic()

    def _encode(self, batch: list[_Request]) -> None:
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if not live:
            return
        texts = [t for r in live for t in r.texts]
        role, truncate = live[0].role, live[0].truncate
        started = time.perf_counter()
        try:
            vectors = self._call(texts, role, truncate)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            if len(live) > 1 and isinstance(exc, EmbedkitError):
                for r in live:  # one caller's bad text must not fail the others
                    try:
                        r.future.set_result(self._call(r.texts, role, truncate))
                    except BaseException as one:  # noqa: BLE001
                        r.future.set_exception(one)
                return
            for r in live:
                r.future.set_exception(exc)
            return
        if self.metrics is not None:
            self.metrics.batch_size.labels(self.name).observe(len(texts))
            self.metrics.batch_tokens.labels(self.name).observe(sum(r.tokens for r in live))
            self.metrics.batch_seconds.labels(self.name).observe(time.perf_counter() - started)
            self.metrics.batch_requests.labels(self.name).observe(len(live))
        start = 0
        for r in live:
            r.future.set_result(vectors[start:start + len(r.texts)])
            start += len(r.texts)

    def _call(self, texts: list[str], role: str, truncate: bool) -> np.ndarray:
        enc = self.encoder
        flip = truncate != bool(getattr(enc, "truncate", False)) and hasattr(enc, "truncate")
        if flip:  # only this thread encodes with this encoder
            enc.truncate = truncate
        try:
            return encode_as(enc, texts, role, batch_size=self.batch_size, progress=False)
        finally:
            if flip:
                enc.truncate = not truncate

    # -- shutting down -------------------------------------------------------------------------

    def close(self, timeout: float = 30.0) -> None:
        """Finish every queued request, then stop the worker."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)


class BatchedEncoder:
    """An Encoder whose ``encode_queries`` / ``encode_documents`` go through a :class:`Batcher`.

    It has the identity of the wrapped encoder (name, spec, fingerprint, dim, prompts), so a store
    accepts it as the model its vectors were made by.
    """

    def __init__(self, batcher: Batcher):
        self._batcher = batcher
        self._inner = batcher.encoder

    def __getattr__(self, name):
        if name in ("_batcher", "_inner"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    def encode_queries(self, items, **_options) -> np.ndarray:
        return self._batcher.encode(list(items), role="query")

    def encode_documents(self, items, **_options) -> np.ndarray:
        return self._batcher.encode(list(items), role="document")

    def encode(self, items, **options) -> np.ndarray:
        """Plain encoding (no role prompt), outside the queue."""
        return self._inner.encode(items, **options)
