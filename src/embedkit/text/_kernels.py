"""Numba kernels of the word2vec / fastText training engine (private).

All arrays are float32 (weights) and int32 (word ids), C-contiguous, one row per word, so that
a row is one cache-friendly run of ``dim`` floats. Each kernel trains one *chunk* of the corpus
(int32 ids with sentence boundaries) and splits it into ``n_parts`` contiguous parts that run in
parallel threads (``prange``) updating the shared weights without locks (Hogwild).

Per window the work is organised as small dense products (Ji et al., 2016, "Parallelizing
Word2Vec in Shared and Distributed Memory"):

* skip-gram: the context words of one centre word form an input block (``2b x dim``); the centre
  word and ``negative`` samples drawn once per window form the output block
  (``(1 + negative) x dim``). Logits, gradients and updates are the three products of those blocks,
  so each sampled output row is fetched once per window instead of once per (centre, context) pair.
* CBOW: the mean of the context rows predicts the centre word against fresh negatives (as in
  word2vec.c).
* subword skip-gram (fastText): the centre word's input vector is the sum of its own row and its
  n-gram rows divided by the number of n-grams (as gensim); it is built once per window (gensim
  rebuilds it for every pair), the window's gradient is summed and added, undivided as in
  fastText, to each of those rows once per window. (Measured: applying it after every pair, as
  gensim does, gave the same analogy accuracy at less than half the speed.) With
  ``shared_negatives`` the ``negative`` samples are shared by the pairs of a window (Ji et al.
  again): every pair has the same input, so a shared negative's gradient is computed once and
  weighted by the number of pairs, which cuts the output work from ``2b (1 + negative)`` to
  ``2b + negative`` rows per window. (Measured on 2M words, 1 epoch: analogy accuracy 0.130 ->
  0.169, words/s up ~1.6x.)

Every kernel draws the rows the next word will touch ahead of time and prefetches them
(:func:`_prefetch_row`, LLVM's prefetch hint): its negatives and output row, and for subword
models its n-gram rows, which are scattered over an 800 MB bucket table. The results are those of
drawing in place (the same distribution), and the misses overlap the current word's arithmetic.
(Measured on enwiki_sample, 12M words, 2 threads, quiet machine: CBOW 2.9M -> 4.3M words/s,
subword skip-gram 0.49M -> 0.73M, with shared negatives 1.11M -> 1.56M, fastText CBOW 0.56M ->
0.67M; word skip-gram, whose block products dominate, +4%. Quality unchanged within noise.)
A multiply-shift replaces the modulo in the draws of windows and samples (CBOW +6%).

The sigmoid and the loss come from tables over [-MAX_LOGIT, MAX_LOGIT] read with linear
interpolation (error < 1e-7; beyond the range the gradient is 0 or 1 and ``-log s(x)`` is taken
as ``-x``): exact libm ``exp`` + ``log1p`` per logit halved the speed. The loss is the true
negative-sampling loss ``-log s(x_pos) - sum log s(-x_neg)``, accumulated in float64 per thread.
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

MAX_LOGIT = np.float32(8.0)

_U12 = np.uint64(12)
_U25 = np.uint64(25)
_U27 = np.uint64(27)
_U32 = np.uint64(32)
_U40 = np.uint64(40)
_MULT = np.uint64(2685821657736338717)
_INV24 = 1.0 / 16777216.0


# llvm.prefetch's name carries the pointer type: "p0" with LLVM's opaque pointers (15+)
_PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"
_LINE = 64  # bytes per cache line
_MAX_LINES = 64  # rows up to 4 KiB (1024 float32) are prefetched whole


@intrinsic
def _prefetch_row(typingctx, arr, row):
    """Ask the CPU to bring ``arr[row]`` (a row of a 2-D C-contiguous array) into cache for
    writing, without waiting for it: a hint, with no effect on the results.

    The kernels draw the rows the *next* word will read (its negatives, its output row, its
    n-gram rows) one word ahead and prefetch them, so that their cache misses overlap the current
    word's arithmetic. The rows are scattered over tables of 50 MB (words) to 800 MB (n-gram
    buckets), so without this each of them stalls on memory.
    """
    sig = types.void(arr, row)

    def codegen(context, builder, signature, args):
        aryty, rowty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        index = context.cast(builder, args[1], rowty, types.intp)
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [index, zero],
                                       wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), _PREFETCH)
        base = builder.bitcast(ptr, i8p)
        nbytes = builder.mul(builder.extract_value(ary.shape, 1),
                             context.get_constant(types.intp, aryty.dtype.bitwidth // 8))
        for line in range(_MAX_LINES):
            offset = context.get_constant(types.intp, line * _LINE)
            with builder.if_then(builder.icmp_signed("<", offset, nbytes), likely=True):
                # rw=1 (for writing), locality=3 (keep in all cache levels), cache type=1 (data)
                builder.call(fn, [builder.gep(base, [offset]), ir.Constant(i32, 1),
                                  ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always")
def _step(state):
    """xorshift64*: returns (new state, 64 random bits)."""
    state ^= state >> _U12
    state ^= state << _U25
    state ^= state >> _U27
    return state, state * _MULT


@njit(inline="always")
def _uniform(bits):
    """A float in [0, 1) from the top 24 bits."""
    return np.float32((bits >> _U40) * _INV24)


@njit(inline="always")
def _below(bits, n):
    """An int in [0, n) from the top 32 bits, by multiply-shift (Lemire 2019) rather than a
    modulo: an integer division per draw cost ~6% of CBOW's time (bias < n / 2**32)."""
    return np.int64(((bits >> _U32) * np.uint64(n)) >> _U32)


@njit(inline="always")
def _sample(bits, alias_prob, alias_idx):
    """One draw from the unigram^0.75 distribution by Walker's alias method (the bucket from the
    top 32 bits, the coin from the low 24)."""
    k = _below(bits, alias_prob.shape[0])
    u = np.float32((bits & np.uint64(0xFFFFFF)) * _INV24)
    if u < alias_prob[k]:
        return np.int32(k)
    return alias_idx[k]


@njit(inline="always")
def _first_draw(state, nxt, alias_prob, alias_idx):
    """Fill ``nxt`` with the first word's samples (the start of the draws :func:`_draw_ahead`
    keeps one word ahead)."""
    for k in range(nxt.shape[0]):
        state, bits = _step(state)
        nxt[k] = _sample(bits, alias_prob, alias_idx)
    return state


@njit(inline="always")
def _draw_ahead(state, nxt, cur, syn1, alias_prob, alias_idx):
    """``cur`` takes the samples drawn for this word; ``nxt`` is refilled for the next word and
    its rows prefetched."""
    for k in range(nxt.shape[0]):
        cur[k] = nxt[k]
        state, bits = _step(state)
        o = _sample(bits, alias_prob, alias_idx)
        nxt[k] = o
        _prefetch_row(syn1, o)
    return state


# sigmoid and softplus tables on [-MAX_LOGIT, MAX_LOGIT], read with linear interpolation
# (absolute error < 1e-7): libm's exp/log1p per logit cost more than the dot product itself.
_RES = 256
_XS = np.linspace(-float(MAX_LOGIT), float(MAX_LOGIT), int(2 * MAX_LOGIT * _RES) + 1)
SIGMOID_TABLE = (1.0 / (1.0 + np.exp(-_XS))).astype(np.float32)
SOFTPLUS_TABLE = np.log1p(np.exp(-_XS)).astype(np.float32)  # -log s(x)


@njit(inline="always")
def _grad_loss(dot, label, alpha):
    """Gradient step (times alpha) and loss of one logistic output (label 1 or 0)."""
    if dot >= MAX_LOGIT:
        f = np.float32(1.0)
        lp = np.float32(0.0)
    elif dot <= -MAX_LOGIT:
        f = np.float32(0.0)
        lp = -dot
    else:
        t = (dot + MAX_LOGIT) * np.float32(_RES)
        j = np.int64(t)
        frac = t - np.float32(j)
        f = SIGMOID_TABLE[j] + frac * (SIGMOID_TABLE[j + 1] - SIGMOID_TABLE[j])
        lp = SOFTPLUS_TABLE[j] + frac * (SOFTPLUS_TABLE[j + 1] - SOFTPLUS_TABLE[j])
    if label:
        return (np.float32(1.0) - f) * alpha, lp  # -log s(x)
    return -f * alpha, lp + dot  # -log s(-x) = x - log s(x)


@njit(inline="always")
def _subsample(ids, a, b, keep_prob, buf, state):
    n = 0
    for t in range(a, b):
        w = ids[t]
        p = keep_prob[w]
        if p < np.float32(1.0):
            state, bits = _step(state)
            if _uniform(bits) >= p:
                continue
        buf[n] = w
        n += 1
    return n, state


@njit(inline="always")
def _alpha(alpha0, min_alpha, done, total):
    progress = done / total if total > 0 else 1.0
    if progress > 1.0:
        progress = 1.0
    return np.float32(alpha0 - (alpha0 - min_alpha) * progress)


@njit(parallel=True, fastmath=True, nogil=True, cache=True)
def train_skipgram(syn0, syn1, ids, starts, parts, keep_prob, alias_prob, alias_idx, window,
                   negative, alpha0, min_alpha, words_before, total_words, seeds, max_len,
                   out_loss, out_pairs):
    """Skip-gram with negative samples shared by the contexts of one window (Ji et al.), drawn
    one word ahead and prefetched."""
    dim = syn0.shape[1]
    n_parts = parts.shape[0] - 1
    base = starts[0]
    for p in prange(n_parts):
        state = seeds[p]
        buf = np.empty(max_len, np.int32)
        ctx = np.empty(2 * window, np.int32)
        outs = np.empty(negative + 1, np.int32)
        negs = np.empty(negative, np.int32)
        nxt = np.empty(negative, np.int32)
        state = _first_draw(state, nxt, alias_prob, alias_idx)
        g = np.zeros((2 * window, negative + 1), np.float32)
        gin = np.zeros((2 * window, dim), np.float32)
        win = np.zeros((2 * window, dim), np.float32)
        wout = np.zeros((negative + 1, dim), np.float32)
        loss = 0.0
        pairs = 0
        for s in range(parts[p], parts[p + 1]):
            a = starts[s]
            b = starts[s + 1]
            alpha = _alpha(alpha0, min_alpha, words_before + (a - base), total_words)
            n, state = _subsample(ids, a, b, keep_prob, buf, state)
            for i in range(n):
                state, bits = _step(state)
                bw = window - _below(bits, window)
                lo = max(0, i - bw)
                hi = min(n, i + bw + 1)
                nc = 0
                for j in range(lo, hi):
                    if j != i:
                        ctx[nc] = buf[j]
                        nc += 1
                if nc == 0:
                    continue
                state = _draw_ahead(state, nxt, negs, syn1, alias_prob, alias_idx)
                if i + 1 < n:
                    _prefetch_row(syn1, buf[i + 1])
                centre = buf[i]
                outs[0] = centre
                for k in range(1, negative + 1):
                    o = negs[k - 1]
                    outs[k] = -1 if o == centre else o
                # gather the blocks into thread-local, contiguous buffers
                for c in range(nc):
                    src = syn0[ctx[c]]
                    dst = win[c]
                    for d in range(dim):
                        dst[d] = src[d]
                for k in range(negative + 1):
                    o = outs[k]
                    dst = wout[k]
                    if o < 0:
                        for d in range(dim):
                            dst[d] = 0.0
                    else:
                        src = syn1[o]
                        for d in range(dim):
                            dst[d] = src[d]
                # logits and gradients: G = W_in . W_out^T, (nc x (1 + negative))
                for c in range(nc):
                    x = win[c]
                    for k in range(negative + 1):
                        if outs[k] < 0:
                            g[c, k] = 0.0
                            continue
                        y = wout[k]
                        dot = np.float32(0.0)
                        for d in range(dim):
                            dot += x[d] * y[d]
                        gk, lk = _grad_loss(dot, k == 0, alpha)
                        g[c, k] = gk
                        loss += lk
                    pairs += 1
                # input deltas G . W_out, scattered to syn0
                for c in range(nc):
                    acc = gin[c]
                    for d in range(dim):
                        acc[d] = 0.0
                    for k in range(negative + 1):
                        gk = g[c, k]
                        y = wout[k]
                        for d in range(dim):
                            acc[d] += gk * y[d]
                # output deltas G^T . W_in, scattered to syn1
                for k in range(negative + 1):
                    o = outs[k]
                    if o < 0:
                        continue
                    dst = syn1[o]
                    for c in range(nc):
                        gk = g[c, k]
                        x = win[c]
                        for d in range(dim):
                            dst[d] += gk * x[d]
                for c in range(nc):
                    dst = syn0[ctx[c]]
                    acc = gin[c]
                    for d in range(dim):
                        dst[d] += acc[d]
        seeds[p] = state
        out_loss[p] = loss
        out_pairs[p] = pairs


@njit(parallel=True, fastmath=True, nogil=True, cache=True)
def train_cbow(syn0, syn1, ids, starts, parts, keep_prob, alias_prob, alias_idx, window,
               negative, alpha0, min_alpha, words_before, total_words, seeds, max_len,
               out_loss, out_pairs):
    """CBOW (mean of the context rows) with negative sampling, as in word2vec.c; each word's
    negatives are drawn one word ahead and prefetched with its output row."""
    dim = syn0.shape[1]
    n_parts = parts.shape[0] - 1
    base = starts[0]
    for p in prange(n_parts):
        state = seeds[p]
        buf = np.empty(max_len, np.int32)
        negs = np.empty(negative, np.int32)
        nxt = np.empty(negative, np.int32)
        state = _first_draw(state, nxt, alias_prob, alias_idx)
        h = np.zeros(dim, np.float32)
        e = np.zeros(dim, np.float32)
        loss = 0.0
        pairs = 0
        for s in range(parts[p], parts[p + 1]):
            a = starts[s]
            b = starts[s + 1]
            alpha = _alpha(alpha0, min_alpha, words_before + (a - base), total_words)
            n, state = _subsample(ids, a, b, keep_prob, buf, state)
            for i in range(n):
                state, bits = _step(state)
                bw = window - _below(bits, window)
                lo = max(0, i - bw)
                hi = min(n, i + bw + 1)
                if hi - lo <= 1:
                    continue
                state = _draw_ahead(state, nxt, negs, syn1, alias_prob, alias_idx)
                if i + 1 < n:
                    _prefetch_row(syn1, buf[i + 1])
                for d in range(dim):
                    h[d] = 0.0
                    e[d] = 0.0
                for j in range(lo, hi):
                    if j != i:
                        src = syn0[buf[j]]
                        for d in range(dim):
                            h[d] += src[d]
                inv = np.float32(1.0) / np.float32(hi - lo - 1)
                for d in range(dim):
                    h[d] *= inv
                centre = buf[i]
                for k in range(negative + 1):
                    if k == 0:
                        o = centre
                    else:
                        o = negs[k - 1]
                        if o == centre:
                            continue
                    y = syn1[o]
                    dot = np.float32(0.0)
                    for d in range(dim):
                        dot += h[d] * y[d]
                    gk, lk = _grad_loss(dot, k == 0, alpha)
                    loss += lk
                    for d in range(dim):
                        e[d] += gk * y[d]
                        y[d] += gk * h[d]
                pairs += 1
                for j in range(lo, hi):
                    if j != i:
                        dst = syn0[buf[j]]
                        for d in range(dim):
                            dst[d] += e[d]
        seeds[p] = state
        out_loss[p] = loss
        out_pairs[p] = pairs


@njit(parallel=True, fastmath=True, nogil=True, cache=True)
def train_subword_skipgram(syn0, syn1, ids, starts, parts, keep_prob, alias_prob, alias_idx,
                           window, negative, alpha0, min_alpha, words_before, total_words, seeds,
                           max_len, sub_offsets, sub_ids, shared_negatives, out_loss, out_pairs):
    """fastText skip-gram: the centre word's input is built from its word and n-gram rows."""
    dim = syn0.shape[1]
    n_parts = parts.shape[0] - 1
    base = starts[0]
    for p in prange(n_parts):
        state = seeds[p]
        buf = np.empty(max_len, np.int32)
        h = np.zeros(dim, np.float32)
        e = np.zeros(dim, np.float32)
        ctx = np.empty(2 * window, np.int32)
        # the window's negatives, drawn before its input vector is summed (and prefetched, so
        # that the sum hides their cache misses): one per window shared, or one set per pair
        draws = np.empty(negative if shared_negatives else 2 * window * negative, np.int32)
        loss = 0.0
        pairs = 0
        for s in range(parts[p], parts[p + 1]):
            a = starts[s]
            b = starts[s + 1]
            alpha = _alpha(alpha0, min_alpha, words_before + (a - base), total_words)
            n, state = _subsample(ids, a, b, keep_prob, buf, state)
            for i in range(n):
                state, bits = _step(state)
                bw = window - _below(bits, window)
                lo = max(0, i - bw)
                hi = min(n, i + bw + 1)
                if hi - lo <= 1:
                    continue
                centre = buf[i]
                s0 = sub_offsets[centre]
                s1 = sub_offsets[centre + 1]
                if i + 1 < n:  # the next centre's word and n-gram rows
                    w = buf[i + 1]
                    for q in range(sub_offsets[w], sub_offsets[w + 1]):
                        _prefetch_row(syn0, sub_ids[q])
                m = negative if shared_negatives else (hi - lo - 1) * negative
                for k in range(m):
                    state, bits = _step(state)
                    o = _sample(bits, alias_prob, alias_idx)
                    draws[k] = o
                    _prefetch_row(syn1, o)
                for d in range(dim):
                    h[d] = 0.0
                    e[d] = 0.0
                for q in range(s0, s1):
                    src = syn0[sub_ids[q]]
                    for d in range(dim):
                        h[d] += src[d]
                # like gensim: the sum over word + n-gram rows divided by the number of n-grams
                inv = np.float32(1.0) / np.float32(max(1, s1 - s0 - 1))
                for d in range(dim):
                    h[d] *= inv
                if shared_negatives:
                    # positives: each context word against the centre's input vector
                    nc = 0
                    for j in range(lo, hi):
                        if j == i:
                            continue
                        ctx[nc] = buf[j]
                        nc += 1
                        y = syn1[buf[j]]
                        dot = np.float32(0.0)
                        for d in range(dim):
                            dot += h[d] * y[d]
                        gk, lk = _grad_loss(dot, True, alpha)
                        loss += lk
                        for d in range(dim):
                            e[d] += gk * y[d]
                            y[d] += gk * h[d]
                        pairs += 1
                    # negatives shared by the window's pairs (Ji et al.): all pairs have the same
                    # input, so a negative's gradient is the same for each pair and is applied once,
                    # times the number of pairs it is a negative for
                    for k in range(negative):
                        o = draws[k]
                        weight = nc
                        for c in range(nc):
                            if ctx[c] == o:
                                weight -= 1
                        if weight == 0:
                            continue
                        y = syn1[o]
                        dot = np.float32(0.0)
                        for d in range(dim):
                            dot += h[d] * y[d]
                        gk, lk = _grad_loss(dot, False, alpha)
                        loss += lk * weight
                        gk *= np.float32(weight)
                        for d in range(dim):
                            e[d] += gk * y[d]
                            y[d] += gk * h[d]
                else:
                    c = 0
                    for j in range(lo, hi):
                        if j == i:
                            continue
                        target = buf[j]
                        for k in range(negative + 1):
                            if k == 0:
                                o = target
                            else:
                                o = draws[c * negative + k - 1]
                                if o == target:
                                    continue
                            y = syn1[o]
                            dot = np.float32(0.0)
                            for d in range(dim):
                                dot += h[d] * y[d]
                            gk, lk = _grad_loss(dot, k == 0, alpha)
                            loss += lk
                            for d in range(dim):
                                e[d] += gk * y[d]
                                y[d] += gk * h[d]
                        pairs += 1
                        c += 1
                # as fastText (and gensim) for unsupervised models: every input row receives the
                # full gradient of the mean (dividing by the row count starves the n-grams)
                for q in range(s0, s1):
                    dst = syn0[sub_ids[q]]
                    for d in range(dim):
                        dst[d] += e[d]
        seeds[p] = state
        out_loss[p] = loss
        out_pairs[p] = pairs


@njit(parallel=True, fastmath=True, nogil=True, cache=True)
def train_subword_cbow(syn0, syn1, ids, starts, parts, keep_prob, alias_prob, alias_idx, window,
                       negative, alpha0, min_alpha, words_before, total_words, seeds, max_len,
                       sub_offsets, sub_ids, out_loss, out_pairs):
    """fastText CBOW: the input is the mean of every word and n-gram row of the context words.

    As fastText's unsupervised CBOW: the hidden vector averages all input rows of the window's
    context words together, and each of those rows receives the full gradient. Negatives are
    drawn one word ahead and prefetched, and so are the rows of the word entering the window.
    """
    dim = syn0.shape[1]
    n_parts = parts.shape[0] - 1
    base = starts[0]
    for p in prange(n_parts):
        state = seeds[p]
        buf = np.empty(max_len, np.int32)
        negs = np.empty(negative, np.int32)
        nxt = np.empty(negative, np.int32)
        state = _first_draw(state, nxt, alias_prob, alias_idx)
        h = np.zeros(dim, np.float32)
        e = np.zeros(dim, np.float32)
        loss = 0.0
        pairs = 0
        for s in range(parts[p], parts[p + 1]):
            a = starts[s]
            b = starts[s + 1]
            alpha = _alpha(alpha0, min_alpha, words_before + (a - base), total_words)
            n, state = _subsample(ids, a, b, keep_prob, buf, state)
            for i in range(n):
                state, bits = _step(state)
                bw = window - _below(bits, window)
                lo = max(0, i - bw)
                hi = min(n, i + bw + 1)
                if hi - lo <= 1:
                    continue
                state = _draw_ahead(state, nxt, negs, syn1, alias_prob, alias_idx)
                if i + 1 < n:
                    _prefetch_row(syn1, buf[i + 1])
                if i + window + 1 < n:  # the word that the next windows can reach first
                    w = buf[i + window + 1]
                    for q in range(sub_offsets[w], sub_offsets[w + 1]):
                        _prefetch_row(syn0, sub_ids[q])
                for d in range(dim):
                    h[d] = 0.0
                    e[d] = 0.0
                count = 0
                for j in range(lo, hi):
                    if j == i:
                        continue
                    w = buf[j]
                    for q in range(sub_offsets[w], sub_offsets[w + 1]):
                        src = syn0[sub_ids[q]]
                        for d in range(dim):
                            h[d] += src[d]
                        count += 1
                inv = np.float32(1.0) / np.float32(max(1, count))
                for d in range(dim):
                    h[d] *= inv
                centre = buf[i]
                for k in range(negative + 1):
                    if k == 0:
                        o = centre
                    else:
                        o = negs[k - 1]
                        if o == centre:
                            continue
                    y = syn1[o]
                    dot = np.float32(0.0)
                    for d in range(dim):
                        dot += h[d] * y[d]
                    gk, lk = _grad_loss(dot, k == 0, alpha)
                    loss += lk
                    for d in range(dim):
                        e[d] += gk * y[d]
                        y[d] += gk * h[d]
                pairs += 1
                for j in range(lo, hi):
                    if j == i:
                        continue
                    w = buf[j]
                    for q in range(sub_offsets[w], sub_offsets[w + 1]):
                        dst = syn0[sub_ids[q]]
                        for d in range(dim):
                            dst[d] += e[d]
        seeds[p] = state
        out_loss[p] = loss
        out_pairs[p] = pairs


@njit(parallel=True, fastmath=True, cache=True)
def compose(syn0, sub_offsets, sub_ids, out):
    """out[w] = mean of syn0 rows sub_ids[sub_offsets[w]:sub_offsets[w + 1]]."""
    dim = syn0.shape[1]
    for w in prange(out.shape[0]):
        s0 = sub_offsets[w]
        s1 = sub_offsets[w + 1]
        for d in range(dim):
            out[w, d] = 0.0
        for q in range(s0, s1):
            row = sub_ids[q]
            for d in range(dim):
                out[w, d] += syn0[row, d]
        if s1 > s0:
            inv = np.float32(1.0) / np.float32(s1 - s0)
            for d in range(dim):
                out[w, d] *= inv
