import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from embedkit.text.korean import EMPTY_FINAL, from_jamo, to_jamo
from embedkit.text.word2vec import FastText, ngrams


def test_jamo_decomposition_examples():
    assert to_jamo("한") == "ㅎㅏㄴ"
    assert to_jamo("나") == "ㄴㅏ" + EMPTY_FINAL
    assert to_jamo("값") == "ㄱㅏㅄ"
    assert to_jamo("a1 가") == "a1 ㄱㅏ" + EMPTY_FINAL


def test_jamo_agrees_with_unicode_nfd():
    # NFD gives conjoining jamo; compare positions: every syllable -> 2 or 3 NFD jamo
    for word in ["학교", "사랑해요", "읽었다", "뷁"]:
        nfd = unicodedata.normalize("NFD", word)
        ours = to_jamo(word)
        assert len(ours) == 3 * len(word)
        assert sum(ch != EMPTY_FINAL for ch in ours) == len(nfd)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3) | st.sampled_from("ab 1"),
               max_size=12))
def test_jamo_roundtrip(text):
    assert from_jamo(to_jamo(text)) == text


def test_jamo_ngrams_share_stems_across_inflections():
    # 먹었다 / 먹었고: syllable n-grams of length 3 share little; jamo n-grams share much more
    a, b = "먹었다", "먹었고"
    char = set(ngrams(a, 3, 3)) & set(ngrams(b, 3, 3))
    jamo = set(ngrams(a, 3, 3, korean_jamo=True)) & set(ngrams(b, 3, 3, korean_jamo=True))
    assert len(jamo) > len(char)
    assert ngrams("나", 3, 3, korean_jamo=True)[0] == "<ㄴㅏ"


def test_kiwi_morphemes():
    import kiwipiepy  # noqa: F401
    from embedkit.text.korean import KoreanTokenizer

    tok = KoreanTokenizer()
    out = tok("한국어를 배웁니다!")
    assert out[:2] == ["한국어", "를"] and "!" not in out
    assert tok.batch(["좋아요", ""]) [0][0] == "좋"
    assert tok("   ") == []


def test_fasttext_with_jamo_trains_and_covers_unseen_forms():
    import numpy as np

    rng = np.random.default_rng(0)
    food = ["먹었다", "먹었고", "먹는다", "밥을", "김치를"]
    move = ["달렸다", "달렸고", "달린다", "길을", "빠르게"]
    corpus = [list(rng.choice(food if i % 2 else move, 6)) for i in range(1500)]
    wv = FastText(vector_size=24, window=3, min_count=1, sample=0, epochs=3, workers=1, seed=0,
                  buckets=5000, korean_jamo=True, progress=False).fit(corpus).wv_
    assert wv.subword["korean_jamo"] is True
    assert "먹는데" not in wv
    assert wv.similarity("먹는데", "먹는다") > wv.similarity("먹는데", "달린다")


def test_korean_tokenizer_in_training_file(tmp_path):
    import kiwipiepy  # noqa: F401
    from embedkit.text.word2vec import Word2Vec

    path = tmp_path / "ko.txt"
    path.write_text("밥을 먹었다. 맛있는 밥을 먹었다!\n길을 달렸다. 빠르게 길을 달렸다.\n" * 30, encoding="utf-8")
    wv = Word2Vec(tokenizer="korean", vector_size=8, min_count=1, epochs=1, workers=1,
                  progress=False).fit(path).wv_
    assert "밥" in wv and "을" in wv and "." not in wv and "밥을" not in wv
