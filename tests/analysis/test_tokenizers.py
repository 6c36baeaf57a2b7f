import pytest

from embedkit.errors import InvalidInput
from embedkit.text.tokenizers import load_tokenizer, oov_report, train_tokenizer

EN = "the lower newest widest lowest slower newer wider the low new wide " * 3
KO = "한국어 문장을 형태소로 나누지 않고 토큰으로 나눕니다 의사와 간호사가 병원에서 일합니다 " * 3


@pytest.fixture()
def corpus(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("\n".join([EN, KO] * 40) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("kind,backend", [("bpe", "hf"), ("wordpiece", "hf"), ("unigram", "hf"),
                                          ("unigram", "sentencepiece"), ("bpe", "sentencepiece")])
def test_train_save_load_roundtrip(corpus, tmp_path, kind, backend):
    size = 120 if backend == "hf" else 50
    tok = train_tokenizer(corpus, kind, size, output=tmp_path / "tok", backend=backend, min_frequency=1)
    assert tok.get_vocab_size() <= size
    again = load_tokenizer(tmp_path / "tok")
    enc = again.encode("lowest 간호사가", add_special_tokens=False)
    assert enc.ids == tok.encode("lowest 간호사가", add_special_tokens=False).ids
    assert again.token_to_id("[UNK]") not in enc.ids  # every piece is known
    assert (tmp_path / "tok" / "embedkit.json").is_file()


def test_bad_corpus_and_vocab_size(tmp_path, corpus):
    empty = tmp_path / "e.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="empty"):
        train_tokenizer(empty, "bpe", 100)
    with pytest.raises(InvalidInput, match="larger than this corpus allows"):
        train_tokenizer(corpus, "bpe", 50_000)
    with pytest.raises(InvalidInput, match="'type'"):
        train_tokenizer(corpus, "bytes", 100)
    with pytest.raises(InvalidInput, match="wordpiece"):
        train_tokenizer(corpus, "wordpiece", 100, backend="sentencepiece")


def test_oov_report_counts_unknowns_single_chars_and_fertility(corpus, tmp_path):
    tok = train_tokenizer(corpus, "wordpiece", 60, min_frequency=1)
    rep = oov_report(tok, [EN, KO, "zzz 뷁뷁"])
    ko, en = rep["languages"]["ko"], rep["languages"]["en"]
    assert ko["words"] == 11 * 3 + 1 and en["words"] == 12 * 3 + 1
    assert ko["unknown_word_share"] == pytest.approx(1 / ko["words"])  # 뷁 never seen
    assert en["fertility"] >= 1 and ko["fertility"] >= 1
    assert rep["all"]["tokens"] == ko["tokens"] + en["tokens"]
    assert 0 < ko["single_char_share"] <= 1
    # a tokenizer with every word whole
    big = train_tokenizer(corpus, "bpe", 150, min_frequency=1)
    rep2 = oov_report(big, [EN])
    assert rep2["all"]["single_char_share"] == 0


def test_oov_report_on_the_shipped_models():
    text = ["의사와 간호사가 병원에서 일합니다.", "The doctor and the nurse work at the hospital."]
    mini = oov_report("all-MiniLM-L6-v2", text)
    e5 = oov_report("multilingual-e5-small", text)
    assert mini["languages"]["en"]["unknown_share"] == 0
    assert e5["languages"]["ko"]["unknown_share"] == 0
    assert mini["languages"]["ko"]["fertility"] > e5["languages"]["ko"]["fertility"]
