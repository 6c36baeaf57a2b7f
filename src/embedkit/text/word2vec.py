"""Word2Vec (CBOW / skip-gram) and FastText (subword skip-gram) trainers on our own numba engine.

>>> from embedkit.text.word2vec import Word2Vec
>>> corpus = [["the", "cat", "sat"], ["the", "dog", "sat"]] * 50
>>> model = Word2Vec(vector_size=16, min_count=1, epochs=2, workers=1, seed=1).fit(corpus)
>>> model.wv_.dim
16
>>> len(model.loss_history_)
2

A corpus is a text file (one sentence per line; ``.gz``, ``.xz`` and ``.bz2`` are read
transparently), a folder of such files (read in name order, hidden files skipped), or an
iterable of token lists (which must be re-iterable: a list, or an object whose ``__iter__`` starts
over). Files are streamed: memory grows with the vocabulary, not with the corpus. A file corpus is
tokenised once, in the vocabulary pass, into a cache of int32 ids (:mod:`embedkit.text.corpus`;
reused by later runs on the same files and tokenizer); each epoch streams the ids chunk by chunk,
remapped to the vocabulary in a background thread while the numba kernels train on the previous
chunk. With ``token_cache=False`` the text is re-read and re-tokenised every epoch instead.

Text that is not valid UTF-8 is decoded with ``errors="replace"`` (U+FFFD) and a
:class:`UnicodeWarning` names the file and the first bad line.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import repeat
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, NotFitted, require
from .corpus import MAX_SENTENCE_LENGTH, iter_sentences
from .ngrams import ngram_buckets, ngrams, piece_ids

__all__ = ["Word2Vec", "FastText", "iter_sentences", "ngrams", "ngram_buckets"]

log = logging.getLogger(__name__)

#: Words per training chunk and worker: the unit of streaming encoding and of parallel work.
CHUNK_WORDS_PER_WORKER = 1 << 18
#: The per-epoch loss (``loss_history_``) is measured on a fixed, evenly spread sample of the
#: corpus's sentences holding between this many and twice this many tokens (or the whole corpus).
PROBE_WORDS = 1 << 15


def _probe_positions(lengths) -> list[int]:
    """The sentences :meth:`Word2Vec._scan` keeps for the probe, from the sentence lengths alone:
    every k-th, k doubling while the sample holds more than ``2 * PROBE_WORDS`` tokens."""
    stride, probe, probe_words = 1, [], 0
    for i, n in enumerate(np.asarray(lengths).tolist()):
        if i % stride == 0:
            probe.append(i)
            probe_words += n
            if probe_words > 2 * PROBE_WORDS:
                probe = probe[::2]
                stride *= 2
                probe_words = int(sum(lengths[j] for j in probe))
    return probe


class _FileWatch:
    """Size and modification time of a file corpus's files, to notice a change between epochs."""

    def __init__(self, corpus):
        from .corpus import corpus_files

        self.files = (corpus_files(Path(corpus)) if isinstance(corpus, (str, os.PathLike))
                      else [])
        self.seen = self._stat()

    def _stat(self):
        return [(p.stat().st_size, p.stat().st_mtime_ns) for p in self.files]

    def check(self) -> None:
        if self.files and self._stat() != self.seen:
            where = self.files[0] if len(self.files) == 1 else self.files[0].parent
            raise InvalidInput(f"The corpus {where} changed while training (size or modification "
                               "time of its files); stopped")


def _check_reiterable(corpus) -> None:
    if isinstance(corpus, Iterator):
        raise InvalidInput(
            "The corpus is a one-shot iterator (e.g. a generator); training reads it once per "
            "epoch plus once for the vocabulary. Pass a list, a file path, or an object whose "
            "__iter__ starts over"
        )


# -------------------------------------------------------------------------------------- helpers
def _alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias tables for sampling index i with probability weights[i] / sum."""
    n = len(weights)
    prob = weights.astype(np.float64) * n / weights.sum()
    alias = np.arange(n, dtype=np.int32)
    small = [i for i in range(n) if prob[i] < 1.0]
    large = [i for i in range(n) if prob[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        alias[s] = g
        prob[g] -= 1.0 - prob[s]
        (small if prob[g] < 1.0 else large).append(g)
    for i in small + large:
        prob[i] = 1.0
    return prob.astype(np.float32), alias


def _check_int(name, value, low, cls_name, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        rng = f"an int in the range [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise InvalidInput(f"The '{name}' parameter of {cls_name} must be {rng}. Got {value!r} instead.")


def _check_float(name, value, low, cls_name, *, low_open=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(
            value) or value < low or (low_open and value == low):
        op = ">" if low_open else ">="
        raise InvalidInput(f"The '{name}' parameter of {cls_name} must be a float {op} {low}. "
                           f"Got {value!r} instead.")


class _Chunk:
    __slots__ = ("ids", "starts", "raw_words")

    def __init__(self, ids, starts, raw_words):
        self.ids, self.starts, self.raw_words = ids, starts, raw_words


def _prefetch(gen: Iterator, depth: int = 2) -> Iterator:
    """Run a generator in a background thread, ``depth`` items ahead."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work():
        try:
            for item in gen:
                if stop.is_set():
                    return
                q.put(item)
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - forwarded to the consumer
            q.put(exc)

    thread = threading.Thread(target=work, daemon=True, name="embedkit-w2v-reader")
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


# ------------------------------------------------------------------------------------- progress
#: tqdm's layout for training bars: tqdm's own rate is left out (it is an average of the last
#: updates, one per chunk, so it jumps); the postfix carries the one speed, the trainer's words/s
#: since training began.
BAR_FORMAT = ("{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} words "
              "[{elapsed}<{remaining}{postfix}]")


def format_rate(wps: float | None) -> str:
    """``695k words/s``, ``1.19M words/s``."""
    if wps is None or not math.isfinite(wps):
        return "- words/s"
    if wps >= 1e6:
        return f"{wps / 1e6:.2f}M words/s"
    if wps >= 1e3:
        return f"{wps / 1e3:.0f}k words/s"
    return f"{wps:.0f} words/s"


def progress_text(loss: float, wps: float | None, epoch: int | None = None,
                  epochs: int | None = None) -> str:
    """Format the postfix of a training bar: epoch, loss (the last per-epoch figure), words/s."""
    parts = []
    if epoch is not None:
        parts.append(f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}")
    if loss is not None and math.isfinite(loss):
        parts.append(f"loss {loss:.4f}")
    parts.append(format_rate(wps))
    return ", ".join(parts)


# -------------------------------------------------------------------------------------- trainer
class Word2Vec:
    """Train word vectors with CBOW or skip-gram and negative sampling.

    The constructor only stores the configuration; :meth:`fit` does the work and sets ``wv_``
    (a :class:`~embedkit.text.word_vectors.WordVectors`), ``loss_history_``, ``initial_loss_``,
    ``online_loss_history_``, ``words_per_second_``, ``corpus_words_`` (tokens per epoch, before
    ``min_count``) and ``training_time_``.

    ``loss_history_[e]`` is the negative-sampling loss per positive pair after epoch ``e``, measured
    with the weights frozen on a fixed sample of the corpus (every k-th sentence, 32k-64k tokens,
    or the whole corpus if smaller) with the same subsampling, windows and negatives every time;
    ``initial_loss_`` is the same figure before training. It is comparable from epoch to epoch.
    ``online_loss_history_`` is the running mean of each pair's loss while it was trained on: it is
    *not* comparable across epochs, since with a high learning rate the weights follow the text
    being read (a Wikipedia article's own words) and score it better than the model as a whole
    does; as the rate decays that advantage goes, so on ordered text it can rise while the
    model improves (issue #17: FastText on enwiki, see TEXT17_NOTES.md).

    >>> corpus = [["king", "queen", "royal"], ["cat", "dog", "pet"]] * 200
    >>> model = Word2Vec(vector_size=20, min_count=1, sample=0, epochs=3, seed=0, workers=1).fit(corpus)
    >>> model.wv_.most_similar("king", topn=1)[0][0] in {"queen", "royal"}
    True

    Args:
        architecture: ``"skipgram"`` or ``"cbow"``.
        vector_size: dimension of the vectors.
        window: maximum distance between a word and its context (a random window of 1..window
            is used per word, as word2vec.c does).
        negative: negative samples per positive (drawn from unigram^0.75).
        min_count: ignore words with fewer occurrences.
        max_vocab_size: keep at most this many most frequent words (None: no limit).
        sample: subsampling threshold for frequent words (0 disables it).
        epochs: passes over the corpus.
        learning_rate, min_learning_rate: linear decay from the first to the second
            (``learning_rate=None``: 0.025 for skip-gram, 0.05 for CBOW, word2vec.c's defaults;
            the rate actually used is :attr:`effective_learning_rate` and is saved).
        workers: training threads (None: all CPUs). Results are deterministic for a ``seed``
            only with ``workers=1``.
        seed: random seed (initial vectors, subsampling, windows, negatives).
        tokenizer: ``"english"`` (lower-case letter/digit runs), ``"whitespace"``, ``"korean"``
            (kiwipiepy morphemes) or a callable; used for file corpora only.
        token_cache: for file corpora, tokenise once and train every epoch from a cache of
            token ids (see :mod:`embedkit.text.corpus`): ``"auto"`` (default) in
            ``$EMBEDKIT_CACHE/corpora``, a folder to keep caches in, or ``False`` to re-read and
            re-tokenise the text every epoch. A cache of the same files and tokenizer is reused
            by later runs.
        keep_token_cache: keep the cache after training (``False``: delete it).
        progress: show a progress bar (None: on a terminal, log lines elsewhere), or a callable
            ``progress(words_done, words_total, loss, words_per_second)`` (``loss``: the
            per-epoch figure of the last finished epoch, ``initial_loss_`` during the first).
    """

    _architectures = ("skipgram", "cbow")

    @property
    def effective_learning_rate(self) -> float:
        """``learning_rate``, or the architecture's default when it is None."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 0.05 if self.architecture == "cbow" else 0.025

    def __init__(self, *, architecture: str = "skipgram", vector_size: int = 100, window: int = 5,
                 negative: int = 5, min_count: int = 5, max_vocab_size: int | None = None,
                 sample: float = 1e-3, epochs: int = 5, learning_rate: float | None = None,
                 min_learning_rate: float = 0.0001, workers: int | None = None, seed: int = 0,
                 tokenizer="english", progress=None, token_cache="auto",
                 keep_token_cache: bool = True):
        self.architecture = architecture
        self.vector_size = vector_size
        self.window = window
        self.negative = negative
        self.min_count = min_count
        self.max_vocab_size = max_vocab_size
        self.sample = sample
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.min_learning_rate = min_learning_rate
        self.workers = workers
        self.seed = seed
        self.tokenizer = tokenizer
        self.progress = progress
        self.token_cache = token_cache
        self.keep_token_cache = keep_token_cache

    # ----------------------------------------------------------------------------- config
    def get_params(self) -> dict:
        """The constructor arguments (the saved configuration)."""
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def _validate(self) -> None:
        cls = type(self).__name__
        if self.architecture not in self._architectures:
            raise InvalidInput(
                f"The 'architecture' parameter of {cls} must be one of "
                f"{', '.join(map(repr, self._architectures))}. Got {self.architecture!r} instead.")
        _check_int("vector_size", self.vector_size, 1, cls, 10_000)
        _check_int("window", self.window, 1, cls, 1000)
        _check_int("negative", self.negative, 1, cls, 1000)
        _check_int("min_count", self.min_count, 1, cls)
        if self.max_vocab_size is not None:
            _check_int("max_vocab_size", self.max_vocab_size, 1, cls)
        _check_float("sample", self.sample, 0.0, cls)
        _check_int("epochs", self.epochs, 1, cls)
        if self.learning_rate is not None:
            _check_float("learning_rate", self.learning_rate, 0.0, cls, low_open=True)
        _check_float("min_learning_rate", self.min_learning_rate, 0.0, cls)
        if self.min_learning_rate > self.effective_learning_rate:
            raise InvalidInput(f"The 'min_learning_rate' parameter of {cls} ({self.min_learning_rate}) "
                               f"must not exceed 'learning_rate' ({self.effective_learning_rate}).")
        if self.workers is not None:
            _check_int("workers", self.workers, 1, cls, 1024)
        _check_int("seed", self.seed, 0, cls, 2**63 - 1)
        if not (self.token_cache in ("auto", False, None, True)
                or isinstance(self.token_cache, (str, os.PathLike))):
            raise InvalidInput(f"The 'token_cache' parameter of {cls} must be 'auto', False or a "
                               f"folder. Got {self.token_cache!r} instead.")
        if not (self.progress is None or isinstance(self.progress, bool) or callable(self.progress)):
            raise InvalidInput(f"The 'progress' parameter of {cls} must be None, a bool or a callable. "
                               f"Got {self.progress!r} instead.")

    # ------------------------------------------------------------------------------ vocab
    def _tokenizer(self):
        from .tokenize import get_tokenizer

        return get_tokenizer(self.tokenizer)

    def _scan(self, corpus, tokenizer, probe: list | None = None
              ) -> tuple[list[str], np.ndarray, int, int]:
        """Count the words, and fill ``probe`` (if given) with every k-th sentence.

        k doubles as needed, so that the sample keeps between PROBE_WORDS and 2 * PROBE_WORDS
        tokens spread over the corpus (or the whole corpus if it is smaller).
        """
        counts: Counter = Counter()
        total = 0
        sentences = 0
        stride, probe_words = 1, 0
        for tokens in iter_sentences(corpus, tokenizer):
            counts.update(tokens)
            total += len(tokens)
            if probe is not None and sentences % stride == 0:
                probe.append(tokens)
                probe_words += len(tokens)
                if probe_words > 2 * PROBE_WORDS:
                    probe[:] = probe[::2]
                    stride *= 2
                    probe_words = sum(map(len, probe))
            sentences += 1
        if total == 0:
            raise InvalidInput("The corpus is empty: it has no tokens to learn from")
        words, freq = self._select_vocabulary(list(counts), np.fromiter(counts.values(), np.int64,
                                                                        len(counts)), total)
        return words, freq, total, sentences

    def _select_vocabulary(self, tokens: list[str], counts: np.ndarray, total: int
                           ) -> tuple[list[str], np.ndarray]:
        """The words kept (count >= min_count, at most max_vocab_size) by falling count, then name."""
        kept = np.flatnonzero(counts >= self.min_count)
        if not len(kept):
            top = int(np.argmax(counts))
            raise InvalidInput(
                f"No word occurs at least min_count={self.min_count} times in the corpus "
                f"({total} tokens, {len(counts)} distinct; the most frequent, {tokens[top]!r}, "
                f"occurs {int(counts[top])} times). Lower min_count or give a larger corpus")
        items = sorted(((tokens[i], int(counts[i])) for i in kept), key=lambda wc: (-wc[1], wc[0]))
        if self.max_vocab_size is not None:
            items = items[:self.max_vocab_size]
        words = [w for w, _ in items]
        freq = np.array([c for _, c in items], dtype=np.int64)
        return words, freq

    # ------------------------------------------------------------------------ token cache
    def _token_cache(self, corpus, tokenizer):
        """The corpus's :class:`~embedkit.text.corpus.TokenCache`, or None (no cache for this
        corpus: an in-memory one, or ``token_cache=False``)."""
        if self.token_cache in (False, None) or not isinstance(corpus, (str, os.PathLike)):
            return None
        from .corpus import token_cache

        root = None if self.token_cache in ("auto", True) else self.token_cache
        # a callable reporter (the CLI's bar) may say whether bars are on: ``enabled``
        shown = getattr(self.progress, "enabled", None) if callable(self.progress) else self.progress
        return token_cache(corpus, tokenizer, root=root, progress=shown)

    def _scan_cache(self, cache, probe: list):
        """Vocabulary, remap table (cache id -> vocabulary id or -1) and probe from a token cache.

        The same words, probe sentences and chunks as reading the text (:meth:`_scan`,
        :meth:`_chunks`), so a seed gives the same model either way.
        """
        words, freq = self._select_vocabulary(cache.words, cache.counts, cache.n_tokens)
        position = {w: i for i, w in enumerate(cache.words)}
        remap = np.full(len(cache.words), -1, dtype=np.int32)
        remap[[position[w] for w in words]] = np.arange(len(words), dtype=np.int32)
        starts = cache.sentence_starts()
        for ids in cache.sentences(_probe_positions(cache.lengths), starts):
            probe.append(remap[ids])
        return words, freq, remap, starts

    @staticmethod
    def _cached_chunks(cache, remap: np.ndarray, starts: np.ndarray, chunk_words: int
                       ) -> Iterator[_Chunk]:
        for raw, bounds in cache.chunks(chunk_words, starts):
            if not len(raw):  # reading the text never yields a chunk without tokens
                continue
            mapped = remap[raw]
            keep = mapped >= 0
            kept = np.zeros(len(raw) + 1, dtype=np.int64)
            np.cumsum(keep, out=kept[1:])
            yield _Chunk(np.ascontiguousarray(mapped[keep]), kept[bounds], len(raw))

    def _keep_prob(self, freq: np.ndarray) -> np.ndarray:
        if self.sample <= 0:
            return np.ones(len(freq), dtype=np.float32)
        threshold = self.sample * freq.sum()
        f = freq.astype(np.float64)
        keep = (np.sqrt(f / threshold) + 1.0) * threshold / f  # word2vec.c
        return np.minimum(keep, 1.0).astype(np.float32)

    # ------------------------------------------------------------------------------ training
    def _chunks(self, corpus, tokenizer, index: dict, chunk_words: int) -> Iterator[_Chunk]:
        get = index.get
        flat: list[str] = []
        lengths: list[int] = []

        def encode():
            ids = np.fromiter(map(get, flat, repeat(-1, len(flat))), dtype=np.int32, count=len(flat))
            bounds = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths, out=bounds[1:])
            keep = ids >= 0
            kept = np.zeros(len(ids) + 1, dtype=np.int64)
            np.cumsum(keep, out=kept[1:])
            return _Chunk(np.ascontiguousarray(ids[keep]), kept[bounds], len(flat))

        for tokens in iter_sentences(corpus, tokenizer):
            flat.extend(tokens)
            lengths.append(len(tokens))
            if len(flat) >= chunk_words:
                yield encode()
                flat, lengths = [], []
        if flat:
            yield encode()

    @staticmethod
    def _encode_probe(sentences: list, index: dict) -> _Chunk:
        get = index.get
        rows = [toks[toks >= 0].astype(np.int32) if isinstance(toks, np.ndarray)  # from a cache
                else np.array([i for i in map(get, toks) if i is not None], dtype=np.int32)
                for toks in sentences]
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=starts[1:])
        ids = np.concatenate(rows) if rows else np.zeros(0, np.int32)
        return _Chunk(np.ascontiguousarray(ids, dtype=np.int32), starts, int(starts[-1]))

    def _probe_loss(self, kernel, syn0, syn1, probe: _Chunk, keep, alias_prob, alias_idx, extra,
                    n_parts: int) -> float:
        """Measure the training objective on the probe sentences with the weights frozen.

        The kernel runs at learning rate 0, with the same subsampling, windows and negatives at
        every call.
        """
        n_sent = len(probe.starts) - 1
        if n_sent == 0 or len(probe.ids) == 0:
            return float("nan")
        n_parts = max(1, min(n_parts, n_sent))
        parts = np.searchsorted(probe.starts, np.linspace(0, probe.starts[-1], n_parts + 1))
        parts = np.maximum.accumulate(parts.astype(np.int64))
        parts[0], parts[-1] = 0, n_sent
        seeds = np.random.SeedSequence([self.seed, 17]).generate_state(n_parts, np.uint64)
        seeds |= np.uint64(1)
        out_loss = np.zeros(n_parts, dtype=np.float64)
        out_pairs = np.zeros(n_parts, dtype=np.int64)
        kernel(syn0, syn1, probe.ids, probe.starts, parts, keep, alias_prob, alias_idx,
               self.window, self.negative, 0.0, 0.0, 0.0, 1.0, seeds, MAX_SENTENCE_LENGTH,
               *extra, out_loss, out_pairs)
        pairs = int(out_pairs.sum())
        return float(out_loss.sum()) / pairs if pairs else float("nan")

    def _init_weights(self, n_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        d = self.vector_size
        syn0 = rng.random((n_rows, d), dtype=np.float32)
        syn0 -= np.float32(0.5)
        syn0 /= np.float32(d)
        return syn0, None

    def _subwords(self, words):  # overridden by FastText
        return None

    def _kernel_args(self, state):
        return ()

    def fit(self, corpus, y=None, *, callback: Callable | None = None):
        """Build the vocabulary and train on ``corpus``; returns ``self``.

        Args:
            corpus: a text file, a folder of text files, or a re-iterable of token lists.
            y: ignored (scikit-learn convention).
            callback: called after each epoch as ``callback(epoch, loss)`` (``loss_history_[epoch]``).
        """
        self._validate()
        require("numba", "words", "training word vectors")
        from . import _kernels
        from .word_vectors import WordVectors

        _check_reiterable(corpus)
        tokenizer = self._tokenizer()
        probe_sentences: list = []
        cache = self._token_cache(corpus, tokenizer)
        t0 = time.perf_counter()
        if cache is not None:
            words, freq, remap, starts = self._scan_cache(cache, probe_sentences)
            total_tokens = cache.n_tokens
            tokenize_time = cache.seconds
        else:
            watch = _FileWatch(corpus)
            words, freq, total_tokens, _ = self._scan(corpus, tokenizer, probe_sentences)
            tokenize_time = None  # tokenised with the vocabulary pass, and again every epoch
        vocab_time = time.perf_counter() - t0
        log.info("vocabulary: %d words (min_count=%d) from %d tokens in %.1fs", len(words),
                 self.min_count, total_tokens, vocab_time)
        index = {w: i for i, w in enumerate(words)}
        probe = self._encode_probe(probe_sentences, index)
        del probe_sentences
        V, d = len(words), self.vector_size
        rng = np.random.default_rng(self.seed)
        sub = self._subwords(words)
        n_rows = V if sub is None else V + self._n_subword_rows()
        syn0, _ = self._init_weights(n_rows, rng)
        syn1 = np.zeros((V, d), dtype=np.float32)
        keep = self._keep_prob(freq)
        alias_prob, alias_idx = _alias_table(freq.astype(np.float64) ** 0.75)
        workers = self.workers or os.cpu_count() or 1
        chunk_words = CHUNK_WORDS_PER_WORKER * workers
        epochs = self.epochs
        total_words = float(total_tokens) * epochs
        if self.architecture == "cbow":
            kernel, extra = ((_kernels.train_cbow, ()) if sub is None
                             else (_kernels.train_subword_cbow, sub))
        elif sub is None:
            kernel, extra = _kernels.train_skipgram, ()
        else:
            kernel, extra = _kernels.train_subword_skipgram, (*sub, self.shared_negatives)
        seq = np.random.SeedSequence(self.seed)
        import numba

        previous_threads = numba.get_num_threads()
        numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
        bar = None
        self.loss_history_ = []
        self.online_loss_history_ = []
        self.epoch_times_ = []
        words_done = 0
        try:
            def probe_loss():
                return self._probe_loss(kernel, syn0, syn1, probe, keep, alias_prob, alias_idx,
                                        extra, workers)

            loss = self.initial_loss_ = probe_loss()
            bar = self._progress_bar(int(total_words), loss)
            if bar is None and callable(self.progress):  # start the caller's clock now
                self.progress(0, int(total_words), loss, 0.0)
            t_train = time.perf_counter()
            for epoch in range(epochs):
                loss_sum, pairs = 0.0, 0
                if cache is not None:
                    chunks = self._cached_chunks(cache, remap, starts, chunk_words)
                else:
                    watch.check()
                    chunks = self._chunks(corpus, tokenizer, index, chunk_words)
                t_epoch = time.perf_counter()
                for chunk in _prefetch(chunks):
                    n_sent = len(chunk.starts) - 1
                    n_parts = max(1, min(workers, n_sent))
                    cum = chunk.starts
                    targets = np.linspace(cum[0], cum[-1], n_parts + 1)
                    parts = np.searchsorted(cum, targets).astype(np.int64)
                    parts[0], parts[-1] = 0, n_sent
                    parts = np.maximum.accumulate(parts)
                    seeds = seq.spawn(1)[0].generate_state(n_parts, np.uint64) | np.uint64(1)
                    out_loss = np.zeros(n_parts, dtype=np.float64)
                    out_pairs = np.zeros(n_parts, dtype=np.int64)
                    # the learning rate follows the tokens seen (in-vocabulary positions here)
                    scale = chunk.raw_words / max(1, len(chunk.ids))
                    kernel(syn0, syn1, chunk.ids, chunk.starts, parts, keep, alias_prob, alias_idx,
                           self.window, self.negative, float(self.effective_learning_rate),
                           float(self.min_learning_rate), float(words_done) / scale,
                           total_words / scale, seeds, MAX_SENTENCE_LENGTH, *extra, out_loss,
                           out_pairs)
                    words_done += chunk.raw_words
                    loss_sum += float(out_loss.sum())
                    pairs += int(out_pairs.sum())
                    elapsed = time.perf_counter() - t_train
                    self._report(bar, chunk.raw_words, words_done, total_words, loss,
                                 words_done / max(elapsed, 1e-9), epoch)
                online = loss_sum / max(pairs, 1)
                self.epoch_times_.append(time.perf_counter() - t_epoch)
                t_probe = time.perf_counter()
                loss = probe_loss()
                t_train += time.perf_counter() - t_probe  # the probe is not training time
                self.online_loss_history_.append(online)
                self.loss_history_.append(loss)
                log.info("epoch %d/%d: loss %.4f (probe, weights frozen), %.4f (running mean while "
                         "training), %d positive pairs", epoch + 1, epochs, loss, online, pairs)
                wps = words_done / max(time.perf_counter() - t_train, 1e-9)
                if bar is not None:
                    bar.set_postfix_str(self._postfix(loss, wps, epoch + 1), refresh=True)
                elif callable(self.progress):  # the epoch's loss, as soon as it is known
                    self.progress(words_done, int(total_words), loss, wps)
                if callback is not None:
                    callback(epoch, loss)
        finally:
            numba.set_num_threads(previous_threads)
            if bar is not None:
                bar.close()
            if cache is not None and not self.keep_token_cache:
                cache.remove()
        self.training_time_ = time.perf_counter() - t_train
        self.vocabulary_time_ = vocab_time
        self.tokenize_time_ = tokenize_time
        self.token_cache_ = None if cache is None or not self.keep_token_cache else str(cache.folder)
        self.token_cache_reused_ = bool(cache is not None and cache.reused)
        self.corpus_words_ = total_tokens
        self.words_per_second_ = total_tokens * epochs / max(self.training_time_, 1e-9)
        self.vocab_size_ = V
        self.wv_ = self._make_vectors(WordVectors, words, freq, syn0, sub)
        return self

    def _make_vectors(self, cls, words, freq, syn0, sub):
        return cls(words, syn0, counts=freq, config=self._saved_config())

    def _saved_config(self) -> dict:
        params = self.get_params()
        params.pop("progress", None)
        params.pop("token_cache", None)
        params.pop("keep_token_cache", None)
        if callable(params.get("tokenizer")):
            params["tokenizer"] = getattr(params["tokenizer"], "__name__", "callable")
        if isinstance(params.get("pieces"), os.PathLike):  # a path, as text (the tokenizer itself
            params["pieces"] = os.fspath(params["pieces"])  # is saved beside the vectors)
        params["learning_rate"] = self.effective_learning_rate
        params["trainer"] = type(self).__name__
        return params

    def _progress_bar(self, total, loss):
        if self.progress is None or self.progress is True:
            from ..progress import progress

            bar = progress(total, type(self).__name__, "words", enabled=self.progress,
                           unit_scale=True, bar_format=BAR_FORMAT, rate_in_postfix=True)
            bar.set_postfix_str(self._postfix(loss, None, 1), refresh=False)
            return bar
        return None

    def _postfix(self, loss, wps, epoch) -> str:
        return progress_text(loss, wps, epoch, self.epochs)

    def _report(self, bar, n, done, total, loss, wps, epoch):
        if bar is not None:
            bar.update(n)
            bar.set_postfix_str(self._postfix(loss, wps, epoch + 1), refresh=False)
        elif callable(self.progress):
            self.progress(done, int(total), loss, wps)

    def _check_fitted(self):
        if not hasattr(self, "wv_"):
            raise NotFitted(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                            "a corpus before using it")

    @property
    def wv(self):
        """The trained word vectors (``wv_``); NotFitted before :meth:`fit`."""
        self._check_fitted()
        return self.wv_

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k != "progress")
        return f"{type(self).__name__}({args})"


class FastText(Word2Vec):
    """Subword skip-gram (fastText): a word is the mean of its own vector and its n-gram vectors.

    Words never seen in training get vectors from their n-grams. ``korean_jamo=True`` takes the
    n-grams over the jamo decomposition of Korean words (Park et al., ACL 2018).

    >>> corpus = [["walking", "runs", "walked"], ["talking", "talked", "talks"]] * 100
    >>> model = FastText(vector_size=16, min_count=1, epochs=2, buckets=1000, seed=0).fit(corpus)
    >>> model.wv_.encode(["walkinng"]).shape
    (1, 16)

    Args:
        min_n, max_n: n-gram lengths (in characters, or jamo with ``korean_jamo``).
        buckets: rows of the hashed n-gram table.
        korean_jamo: decompose Hangul syllables into jamo before taking n-grams.
        pieces: a tokenizer (a ``tokenizer.json``, a folder holding one, e.g. from ``embedkit train
            tokenizer``, or a model name such as ``multilingual-e5-small``) whose BPE / WordPiece /
            Unigram pieces are the subword units instead of character n-grams: a word is the mean
            of its own row and its pieces' rows, one row per piece id (``buckets`` and the n-gram
            settings are then unused). Saved with the vectors, so unseen words get vectors too.
        shared_negatives: share the negative samples among the pairs of a window (Ji et al.):
            several times faster, a few points lower on analogies (see the README, "Word vectors
            benchmark"). Skip-gram only: a CBOW window has one input already.
        **kwargs: as :class:`Word2Vec`. ``architecture="cbow"`` is fastText's CBOW: the input is
            the mean of all word and n-gram rows of the context words.
    """

    def __init__(self, *, architecture: str = "skipgram", vector_size: int = 100, window: int = 5,
                 negative: int = 5, min_count: int = 5, max_vocab_size: int | None = None,
                 sample: float = 1e-3, epochs: int = 5, learning_rate: float | None = None,
                 min_learning_rate: float = 0.0001, workers: int | None = None, seed: int = 0,
                 tokenizer="english", progress=None, token_cache="auto",
                 keep_token_cache: bool = True, min_n: int = 3, max_n: int = 6,
                 buckets: int = 2_000_000, korean_jamo: bool = False,
                 shared_negatives: bool = False, pieces=None):
        super().__init__(architecture=architecture, vector_size=vector_size, window=window,
                         negative=negative, min_count=min_count, max_vocab_size=max_vocab_size,
                         sample=sample, epochs=epochs, learning_rate=learning_rate,
                         min_learning_rate=min_learning_rate, workers=workers, seed=seed,
                         tokenizer=tokenizer, progress=progress, token_cache=token_cache,
                         keep_token_cache=keep_token_cache)
        self.min_n = min_n
        self.max_n = max_n
        self.buckets = buckets
        self.korean_jamo = korean_jamo
        self.shared_negatives = shared_negatives
        self.pieces = pieces
        self._pieces_json: str | None = None

    def _validate(self) -> None:
        cls = type(self).__name__
        super()._validate()
        _check_int("min_n", self.min_n, 1, cls, 20)
        _check_int("max_n", self.max_n, 1, cls, 20)
        if self.max_n < self.min_n:
            raise InvalidInput(f"The 'max_n' parameter of {cls} ({self.max_n}) must be >= 'min_n' "
                               f"({self.min_n}).")
        _check_int("buckets", self.buckets, 1, cls, 2**31 - 1)
        for flag in ("korean_jamo", "shared_negatives"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidInput(f"The '{flag}' parameter of {cls} must be a bool. "
                                   f"Got {getattr(self, flag)!r} instead.")
        self._pieces_json = None
        if self.pieces is not None:
            if not isinstance(self.pieces, (str, os.PathLike)):
                raise InvalidInput(f"The 'pieces' parameter of {cls} must be a tokenizer.json path, "
                                   f"a folder holding one or a model name. Got {self.pieces!r}.")
            if self.korean_jamo:
                raise InvalidInput(f"{cls}: 'pieces' and 'korean_jamo' exclude each other (the "
                                   "tokenizer decides the subword units)")
            from .tokenizers import load_tokenizer

            tok = load_tokenizer(self.pieces)
            if tok.get_vocab_size() < 1:
                raise InvalidInput(f"{cls}: the tokenizer {self.pieces} has an empty vocabulary")
            self._pieces_json = tok.to_str()

    def _n_subword_rows(self) -> int:
        if self._pieces_json is not None:
            from .ngrams import _piece_tokenizer

            return _piece_tokenizer(self._pieces_json).get_vocab_size()
        return self.buckets

    def subword_config(self) -> dict:
        """The settings a :class:`WordVectors` needs to build vectors for unseen words."""
        if self._pieces_json is not None:
            return {"pieces": self._pieces_json, "buckets": self._n_subword_rows()}
        return {"min_n": self.min_n, "max_n": self.max_n, "buckets": self.buckets,
                "korean_jamo": self.korean_jamo}

    def _subwords(self, words):
        V = len(words)
        offsets = np.zeros(V + 1, dtype=np.int64)
        rows: list[int] = []
        units = (piece_ids(words, self._pieces_json) if self._pieces_json is not None else
                 (ngram_buckets(w, self.min_n, self.max_n, self.buckets,
                                korean_jamo=self.korean_jamo) for w in words))
        for i, ids in enumerate(units):
            rows.append(i)
            rows.extend(V + b for b in ids)
            offsets[i + 1] = len(rows)
        return offsets, np.asarray(rows, dtype=np.int32)

    def _init_weights(self, n_rows: int, rng: np.random.Generator):
        # fastText / gensim initialise word and n-gram rows uniformly in [-1/dim, 1/dim]: the
        # input is a mean of ~20 rows, so the word2vec scale (half of that) starts learning slower
        d = self.vector_size
        syn0 = rng.random((n_rows, d), dtype=np.float32)
        syn0 -= np.float32(0.5)
        syn0 *= np.float32(2.0 / d)
        return syn0, None

    def _make_vectors(self, cls, words, freq, syn0, sub):
        from . import _kernels

        V = len(words)
        vectors = np.empty((V, self.vector_size), dtype=np.float32)
        _kernels.compose(syn0, sub[0], sub[1], vectors)
        return cls(words, vectors, counts=freq, config=self._saved_config(),
                   ngram_vectors=syn0[V:], subword=self.subword_config())
