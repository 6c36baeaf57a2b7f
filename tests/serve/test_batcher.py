"""The dynamic batcher on its own: batches of queued requests, and memory handed back after them."""

from __future__ import annotations

import threading

import numpy as np

from embedkit.serve.batching import Batcher


class GatedEncoder:
    """Vectors from text lengths; the first call waits on a gate so that requests can queue."""

    dim = 3
    name = "gated"

    def __init__(self):
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[list[str]] = []

    def encode(self, texts, **_options):
        self.calls.append(list(texts))
        self.entered.set()
        self.gate.wait(10)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_queued_requests_are_encoded_together_and_trimmed_after():
    enc = GatedEncoder()
    trims = []
    batcher = Batcher(enc, max_wait_ms=0, trim_every_s=0)
    batcher._trim = trims.append  # record instead of calling glibc
    try:
        first = batcher.submit(["a"])  # taken at once; the encoder holds it at the gate
        assert enc.entered.wait(10)
        rest = [batcher.submit(["b" * n]) for n in range(2, 6)]
        enc.gate.set()
        vectors = [f.result(10) for f in [first, *rest]]
    finally:
        batcher.close()
    assert enc.calls == [["a"], ["bb", "bbb", "bbbb", "bbbbb"]]  # the four queued ones, one batch
    assert [float(v[0, 0]) for v in vectors] == [1, 2, 3, 4, 5]  # each caller gets its own row
    assert trims == [0, 0]  # malloc_trim(0) after each batch (trim_every_s=0)


def test_trimming_can_be_turned_off():
    enc = GatedEncoder()
    enc.gate.set()
    batcher = Batcher(enc, trim_every_s=None)
    try:
        assert batcher._trim is None
        assert batcher.submit(["x"]).result(10).shape == (1, 3)
    finally:
        batcher.close()


def test_token_counts_are_the_same_for_one_text_and_a_list(tiny_st_model):
    from embedkit.serve.batching import count_tokens
    from embedkit.text.transformer import TransformerEncoder

    enc = TransformerEncoder(tiny_st_model)
    texts = ["Two dogs run across the green field.", "자동차를 타고 바다에 갔어요.", ""]
    together = count_tokens(enc, texts)
    assert [count_tokens(enc, [t])[0] for t in texts] == together
    # the model's own view: its token ids plus [CLS] and [SEP]
    assert together == [len(enc.tokenizer.encode(t).ids) for t in texts]
    assert together[2] == 2
