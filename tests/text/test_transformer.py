"""The torch transformer encoder: folder config, pooling, windows, token vectors, bad input."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import embedkit
from embedkit.errors import InvalidInput, ModelNotFound
from embedkit.text.transformer import MIN_PASS_ROWS, TokenEmbeddings, TransformerEncoder, pool


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def tiny(tiny_st_model):
    return TransformerEncoder(tiny_st_model)


def test_reads_the_folder_config(tiny):
    assert tiny.dim == 32
    assert tiny.pooling == "mean"
    assert tiny.default_normalize is True
    assert tiny.max_length == 32
    assert tiny.window == 30  # [CLS] and [SEP] take two of the 32


def test_load_gives_the_same_encoder(tiny_st_model, tiny):
    enc = embedkit.load(tiny_st_model)
    assert isinstance(enc, TransformerEncoder)
    np.testing.assert_allclose(enc.encode(["a dog"]), tiny.encode(["a dog"]), atol=1e-6)


def test_matches_sentence_transformers(tiny_st_model, tiny):
    import sentence_transformers as st
    model = st.SentenceTransformer(str(tiny_st_model), device="cpu")
    texts = ["The river bank.", "Two dogs run", "", "Mixed 東京 Москва café"]
    ours = tiny.encode(texts)
    theirs = model.encode(texts, normalize_embeddings=True)
    assert ours.dtype == np.float32 and ours.shape == (4, 32)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("pooling", ["cls", "max"])
def test_pooling_from_the_model_config(tiny_model_factory, pooling):
    import sentence_transformers as st
    folder = tiny_model_factory(f"tiny-{pooling}", pooling=pooling, normalize=False)
    enc = TransformerEncoder(folder)
    assert enc.pooling == pooling and enc.default_normalize is False
    texts = ["a man plays a guitar", "the bank"]
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(texts)
    np.testing.assert_allclose(enc.encode(texts), theirs, atol=1e-5)


def record_pass_widths(enc, monkeypatch) -> list[list[int]]:
    """The row lengths of every forward pass ``enc`` runs from now on, pass by pass."""
    widths: list[list[int]] = []
    real = enc._forward_hidden

    def spy(batch):
        widths.append([len(r) for r in batch])
        return real(batch)

    monkeypatch.setattr(enc, "_forward_hidden", spy)
    return widths


def test_batches_are_sorted_by_length_and_padded_to_the_batch_max(tiny, monkeypatch):
    widths = record_pass_widths(tiny, monkeypatch)
    texts = ["a " * n for n in (20, 1, 9, 3, 15, 2)]
    sorted_result = tiny.encode(texts, batch_size=2)
    flat = [w for batch in widths for w in batch]
    assert flat == sorted(flat)
    # each batch is padded to its own longest row only: same vectors as one-at-a-time
    one_by_one = np.vstack([tiny.encode([t]) for t in texts])
    np.testing.assert_allclose(sorted_result, one_by_one, atol=1e-5)


def test_forward_passes_keep_within_the_token_budget(tiny_st_model, monkeypatch):
    enc = TransformerEncoder(tiny_st_model, batch_tokens=40)
    assert TransformerEncoder(tiny_st_model).batch_tokens == 1024  # the CPU default
    assert TransformerEncoder(tiny_st_model, batch_tokens=None).batch_tokens is None
    widths = record_pass_widths(enc, monkeypatch)
    texts = ["a " * n for n in (1, 1, 2, 3, 8, 18, 28, 2, 1, 1, 1, 20, 25, 27)]
    vectors = enc.encode(texts, batch_size=8)
    # within the budget, or as few rows as a pass may hold whatever the budget
    assert all(len(b) * max(b) <= 40 or len(b) <= MIN_PASS_ROWS for b in widths)
    assert len(widths[0]) == 8  # the row cap still holds for short rows
    assert any(len(b) * max(b) > 40 for b in widths)  # long rows go MIN_PASS_ROWS at a time
    assert len(widths) > 2  # the 14 rows, at most 8 per pass, took more passes than the row cap
    assert sorted(w for b in widths for w in b) == sorted(len(r) + 2 for r in
                                                          enc._tokenize(texts)[0])
    # passes of one long row alone: the same vectors as without a budget
    np.testing.assert_allclose(vectors, TransformerEncoder(tiny_st_model, batch_tokens=None)
                               .encode(texts, batch_size=8), atol=1e-5)
    tokens = enc.encode_tokens(texts, batch_size=8)
    assert [len(t.tokens) for t in tokens] == [len(r) for r in enc._tokenize(texts)[0]]


@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "1024"])
def test_a_bad_token_budget_is_refused(tiny_st_model, bad):
    with pytest.raises(InvalidInput, match="batch_tokens"):
        TransformerEncoder(tiny_st_model, batch_tokens=bad)


def test_long_text_is_windowed_not_truncated(tiny, caplog):
    long = "the quick brown fox jumps over the lazy dog. " * 20
    n_tokens = len(tiny._tokenize([long])[0][0])
    assert n_tokens > tiny.window
    head = tiny.encode([long[:60]])[0]
    with caplog.at_level(logging.WARNING):
        full = tiny.encode([long])[0]
    assert not any("truncat" in r.message for r in caplog.records)
    assert np.isfinite(full).all()
    chunks = tiny.chunk(long)
    assert len(chunks) > 1 and chunks[0].start == 0 and chunks[-1].end == len(long)
    assert _cos(head, full) < 0.9999  # the tail contributes


def test_truncate_option_keeps_the_first_window_and_warns(tiny_st_model, caplog):
    enc = TransformerEncoder(tiny_st_model, truncate=True)
    long = "the quick brown fox jumps over the lazy dog. " * 20
    with caplog.at_level(logging.WARNING, logger="embedkit.text.transformer"):
        vec = enc.encode([long, "short"])
    assert any("truncated" in r.message and "1 of 2" in r.message for r in caplog.records)
    ids = enc._tokenize([long])[0][0][:enc.window]
    first = enc._forward([enc._prefix + ids + enc._suffix])[0]
    np.testing.assert_allclose(vec[0], first / np.linalg.norm(first), atol=1e-5)
    tokens = enc.encode_tokens([long])[0]
    assert len(tokens) == enc.window


def test_empty_control_characters_and_mixed_scripts(tiny):
    texts = ["", "   ", "\x00\x07\x1b", "hello\x00 world", "café 東京 Москва 영화"]
    vecs = tiny.encode(texts)
    assert vecs.shape == (5, 32) and np.isfinite(vecs).all()
    # control characters are dropped by the tokenizer's normaliser
    np.testing.assert_allclose(vecs[3], tiny.encode(["hello world"])[0], atol=1e-5)
    np.testing.assert_allclose(vecs[0], vecs[2], atol=1e-5)
    tok = tiny.encode_tokens(texts)
    assert [len(t) for t in tok][:3] == [0, 0, 0]
    assert tok[0].vectors.shape == (0, 32)


def test_encode_tokens_offsets_point_into_the_text(tiny):
    text = "Mixed scripts: Café 東京!"
    te = tiny.encode_tokens([text])[0]
    assert isinstance(te, TokenEmbeddings)
    assert te.vectors.shape == (len(te.tokens), 32) and te.vectors.dtype == np.float32
    for token, (a, b) in zip(te.tokens, te.offsets):
        piece = text[a:b].lower().replace("é", "e")
        assert piece == token.removeprefix("##") or token == "[UNK]"


def test_encode_tokens_of_a_long_text_covers_every_token(tiny):
    long = "two dogs run across the green field " * 15
    te = tiny.encode_tokens([long])[0]
    assert len(te) == len(tiny._tokenize([long])[0][0]) > tiny.window
    assert np.isfinite(te.vectors).all() and (np.abs(te.vectors).sum(1) > 0).all()


def test_bad_input(tiny):
    with pytest.raises(InvalidInput, match="wrap a single item"):
        tiny.encode("a single string")
    with pytest.raises(InvalidInput, match="item 1 must be a str"):
        tiny.encode(["ok", 3])
    with pytest.raises(InvalidInput, match="batch_size"):
        tiny.encode(["ok"], batch_size=0)
    assert tiny.encode([]).shape == (0, 32)
    assert tiny.encode_tokens([]) == []


def test_bad_options(tiny_st_model):
    with pytest.raises(InvalidInput, match="Valid pooling modes are"):
        TransformerEncoder(tiny_st_model, pooling="median")
    with pytest.raises(InvalidInput, match="max_length"):
        TransformerEncoder(tiny_st_model, max_length=-3)
    with pytest.raises(InvalidInput, match="truncate"):
        TransformerEncoder(tiny_st_model, truncate="yes")


def test_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelNotFound, match="not a model folder"):
        TransformerEncoder(tmp_path)
    with pytest.raises(ModelNotFound, match="not a model folder"):
        embedkit.load(tmp_path)


def test_a_folder_with_broken_weights(tiny_st_model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_st_model, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelNotFound, match="cannot load a transformer model"):
        TransformerEncoder(broken)


def test_a_config_that_is_not_a_transformer(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"foo": 1}))
    with pytest.raises(ModelNotFound, match="hidden_size"):
        TransformerEncoder(tmp_path)


def test_pool_modes():
    hidden = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    np.testing.assert_allclose(pool(hidden, mask, "mean")[0], hidden[0, :2].mean(0))
    np.testing.assert_allclose(pool(hidden, mask, "max")[0], hidden[0, :2].max(0))
    np.testing.assert_allclose(pool(hidden, mask, "cls"), hidden[:, 0])
    np.testing.assert_allclose(pool(hidden, mask, "lasttoken")[0], hidden[0, 1])
    with pytest.raises(InvalidInput, match="Valid pooling modes"):
        pool(hidden, mask, "median")


# -- the real default model, where real semantics matter -------------------------------------------


@pytest.fixture(scope="module")
def default():
    return embedkit.load()


@pytest.fixture(scope="module")
def minilm():
    return embedkit.load("all-MiniLM-L6-v2")


def test_bank_means_different_things_in_different_contexts(minilm):
    default = minilm  # WordPiece keeps "bank" one token
    texts = ["We sat on the river bank and watched the water.",
             "I went to the bank to ask for a loan.",
             "The bank approved my mortgage application."]
    vecs = []
    for te, text in zip(default.encode_tokens(texts), texts):
        i = te.tokens.index("bank")
        assert text[te.offsets[i][0]:te.offsets[i][1]] == "bank"
        vecs.append(te.vectors[i])
    river_vs_money = _cos(vecs[0], vecs[1])
    money_vs_money = _cos(vecs[1], vecs[2])
    assert river_vs_money < money_vs_money - 0.05, (river_vs_money, money_vs_money)


def test_default_model_matches_sentence_transformers(default):
    import sentence_transformers as st
    model = st.SentenceTransformer(str(embedkit.models.default_model_path()), device="cpu")
    texts = ["A man is playing a guitar.", "", "영화가 정말 재미있어요", "Hello\x00 world"]
    np.testing.assert_allclose(default.encode(texts), model.encode(texts), atol=1e-5)
    sims = default.encode(["A man plays the guitar.", "Someone is playing an instrument.",
                           "The stock market fell today."])
    assert sims[0] @ sims[1] > sims[0] @ sims[2] + 0.1  # E5's cosines sit between about 0.7 and 1
