"""Tokenise once: the token cache gives the same model as re-reading the text, is reused only for
the same files and tokenizer, and never trusts a half-written or stale cache."""

import errno
import json
import lzma

import numpy as np
import pytest

from embedkit.errors import InvalidInput
from embedkit.text import corpus as corpus_mod
from embedkit.text.corpus import token_cache
from embedkit.text.word2vec import FastText, Word2Vec

WORDS = [["cat", "dog", "horse", "cow"], ["king", "queen", "prince", "crown"],
         ["hammer", "saw", "drill", "wrench"]]


def topic_corpus(n=1500, length=8, seed=0):
    rng = np.random.default_rng(seed)
    return [[str(w) for w in rng.choice(WORDS[i % 3], length)] for i in range(n)]


def small(**kw):
    base = dict(vector_size=24, window=3, negative=5, min_count=1, sample=0.0, epochs=3,
                workers=1, seed=3, progress=False)
    base.update(kw)
    return base


class CountingTokenizer:
    """Whitespace tokenizer that counts its calls (lines tokenised)."""

    def __init__(self, key="counting-v1", on_call=None):
        self.calls = 0
        self.cache_key = key
        self.on_call = on_call

    def __call__(self, text):
        self.calls += 1
        if self.on_call is not None:
            self.on_call(self.calls)
        return text.split()


def write_corpus(path, n=600, seed=0, extra_lines=()):
    lines = [" ".join(s) for s in topic_corpus(n, seed=seed)]
    lines[5:5] = ["", "   "]  # empty sentences in the middle
    lines.extend(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("cls", [Word2Vec, FastText])
def test_cached_training_equals_reading_the_text(tmp_path, cls):
    path = write_corpus(tmp_path / "c.txt", extra_lines=[" ".join(["cat"] * 25_000)])
    kw = small(tokenizer="whitespace", epochs=2, buckets=3000) if cls is FastText else small(
        tokenizer="whitespace", epochs=2)
    cached = cls(**kw, token_cache=tmp_path / "cache").fit(path)
    plain = cls(**kw, token_cache=False).fit(path)
    assert cached.token_cache_ is not None and plain.token_cache_ is None
    assert cached.wv_.index_to_key == plain.wv_.index_to_key
    np.testing.assert_array_equal(cached.wv_.vectors, plain.wv_.vectors)
    assert cached.loss_history_ == plain.loss_history_
    assert cached.corpus_words_ == plain.corpus_words_


def test_second_run_reuses_the_cache_without_tokenising(tmp_path):
    path = write_corpus(tmp_path / "c.txt")
    tok = CountingTokenizer()
    first = Word2Vec(**small(tokenizer=tok, epochs=3), token_cache=tmp_path / "cache").fit(path)
    lines = len(path.read_text().splitlines())
    assert tok.calls == lines  # once, not once per epoch plus once for the vocabulary
    assert not first.token_cache_reused_ and first.tokenize_time_ > 0
    assert len(first.epoch_times_) == 3
    second = Word2Vec(**small(tokenizer=tok, epochs=3), token_cache=tmp_path / "cache").fit(path)
    assert tok.calls == lines and second.token_cache_reused_
    np.testing.assert_array_equal(first.wv_.vectors, second.wv_.vectors)


def test_without_the_cache_the_text_is_tokenised_every_epoch(tmp_path):
    path = write_corpus(tmp_path / "c.txt")
    tok = CountingTokenizer()
    Word2Vec(**small(tokenizer=tok, epochs=3), token_cache=False).fit(path)
    assert tok.calls == 4 * len(path.read_text().splitlines())


def test_another_tokenizer_or_changed_file_builds_a_new_cache(tmp_path):
    path = write_corpus(tmp_path / "c.txt")
    root = tmp_path / "cache"
    a = token_cache(path, CountingTokenizer("one"), root=root, progress=False)
    b = token_cache(path, CountingTokenizer("two"), root=root, progress=False)
    assert a.folder != b.folder and not b.reused
    write_corpus(path, seed=1)
    c = token_cache(path, CountingTokenizer("one"), root=root, progress=False)
    assert c.folder != a.folder and not c.reused
    d = token_cache(path, CountingTokenizer("one"), root=root, progress=False)
    assert d.folder == c.folder and d.reused
    meta = json.loads((c.folder / "meta.json").read_text())
    assert meta["tokens"] == c.n_tokens == int(c.counts.sum())


def test_a_killed_build_leaves_nothing_a_later_run_trusts(tmp_path):
    path = write_corpus(tmp_path / "c.txt")
    root = tmp_path / "cache"

    def die(calls):
        if calls == 300:
            raise KeyboardInterrupt  # the run is killed half-way through the corpus

    with pytest.raises(KeyboardInterrupt):
        token_cache(path, CountingTokenizer(on_call=die), root=root, progress=False)
    assert not list(root.iterdir())  # no folder, not even the temporary one
    tok = CountingTokenizer()
    cache = token_cache(path, tok, root=root, progress=False)
    assert not cache.reused and tok.calls == len(path.read_text().splitlines())


def test_what_a_killed_build_left_is_removed_by_the_next_build(tmp_path):
    import os
    import time

    path = write_corpus(tmp_path / "c.txt")
    root = tmp_path / "cache"
    cache = token_cache(path, CountingTokenizer(), root=root, progress=False)
    cache.remove()
    stale = root / f".{cache.folder.name}.tmp-killed"
    live = root / f".{cache.folder.name}.tmp-running"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "ids.i32").write_bytes(b"\0" * 16)
    old = time.time() - corpus_mod.STALE_BUILD_SECONDS - 60
    for p in (stale / "ids.i32", stale):
        os.utime(p, (old, old))
    token_cache(path, CountingTokenizer(), root=root, progress=False)
    assert not stale.exists() and live.exists()  # a build that may still be running is left alone


def test_corpus_changed_while_being_read_is_refused_and_not_cached(tmp_path):
    path = write_corpus(tmp_path / "c.txt")

    def touch(calls):
        if calls == 10:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write("dog cat\n")

    with pytest.raises(InvalidInput, match="changed while it was being read"):
        token_cache(path, CountingTokenizer(on_call=touch), root=tmp_path / "cache", progress=False)
    assert not list((tmp_path / "cache").iterdir())


def test_corpus_changed_between_epochs_without_a_cache_stops_training(tmp_path):
    path = write_corpus(tmp_path / "c.txt")

    def change(epoch, loss):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("dog cat\n")

    with pytest.raises(InvalidInput, match="changed while training"):
        Word2Vec(**small(tokenizer="whitespace", epochs=3), token_cache=False).fit(
            path, callback=change)


def test_too_little_disk_space_is_a_clear_error_before_any_work(tmp_path, monkeypatch):
    path = write_corpus(tmp_path / "c.txt")
    real = corpus_mod.shutil.disk_usage
    monkeypatch.setattr(corpus_mod.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=1 << 20))
    tok = CountingTokenizer()
    with pytest.raises(InvalidInput, match="Not enough disk space for the token cache"):
        Word2Vec(**small(tokenizer=tok), token_cache=tmp_path / "cache").fit(path)
    assert tok.calls == 0


def test_a_disk_that_fills_up_while_writing_is_a_clear_error(tmp_path, monkeypatch):
    path = write_corpus(tmp_path / "c.txt")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(corpus_mod, "_write_ids", full)
    with pytest.raises(InvalidInput, match="disk filled up"):
        token_cache(path, CountingTokenizer(), root=tmp_path / "cache", progress=False)
    assert not list((tmp_path / "cache").iterdir())


def test_keep_token_cache_false_removes_it(tmp_path):
    path = write_corpus(tmp_path / "c.txt")
    model = Word2Vec(**small(tokenizer="whitespace"), token_cache=tmp_path / "cache",
                     keep_token_cache=False).fit(path)
    assert model.token_cache_ is None and not list((tmp_path / "cache").iterdir())


def test_compressed_corpus_and_default_cache_location(tmp_path, embedkit_cache):
    plain = write_corpus(tmp_path / "c.txt")
    xz = tmp_path / "c.txt.xz"
    xz.write_bytes(lzma.compress(plain.read_bytes()))
    model = Word2Vec(**small(tokenizer="whitespace")).fit(xz)
    assert model.token_cache_.startswith(str(embedkit_cache / "corpora"))
    other = Word2Vec(**small(tokenizer="whitespace"), token_cache=False).fit(plain)
    np.testing.assert_array_equal(model.wv_.vectors, other.wv_.vectors)


def test_in_memory_corpora_need_no_cache():
    model = Word2Vec(**small()).fit(topic_corpus(200))
    assert model.token_cache_ is None and model.tokenize_time_ is None


def test_bad_token_cache_parameter():
    with pytest.raises(InvalidInput, match="token_cache"):
        Word2Vec(**small(), token_cache=3).fit(topic_corpus(50))


def test_saved_config_leaves_the_cache_settings_out(tmp_path):
    path = write_corpus(tmp_path / "c.txt")
    model = Word2Vec(**small(tokenizer="whitespace"), token_cache=tmp_path / "cache").fit(path)
    assert "token_cache" not in model.wv_.config and "keep_token_cache" not in model.wv_.config


def test_korean_stream_keeps_line_order_and_equals_one_at_a_time():
    from embedkit.text.korean import KoreanTokenizer

    lines = ["한국어를 배웁니다", "", "자동차가 빠르게 달린다", "서울은 대한민국의 수도이다",
             "OK 괜찮아요"] * 40
    tok = KoreanTokenizer()
    assert list(tok.stream(iter(lines))) == [tok(line) for line in lines]
    assert "kiwipiepy" in tok.cache_key
