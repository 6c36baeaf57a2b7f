"""Language-neutral search: a query is not drawn to documents of its own language for that alone."""

import zlib

import numpy as np
import pytest

from embedkit import VectorStore
from embedkit.encoder import BaseEncoder
from embedkit.store.language import MIN_GROUP, LanguageCentering, script_of

# topic words in both languages
TOPICS = {"cat": "고양이", "dog": "강아지", "rain": "비", "car": "자동차"}
KOREAN = {v: k for k, v in TOPICS.items()}


class BilingualToy(BaseEncoder):
    """Like a multilingual encoder: a topic direction plus a strong language direction.

    A text's first word names its topic (in English or Korean); the script adds its language's
    direction, which outweighs the topic, as in real multilingual models, only more so.
    """

    modality = "text"
    name = spec = "bilingual-toy"
    dim = 32

    def __init__(self):
        rng = np.random.default_rng(0)
        self.topic = {t: rng.normal(size=self.dim) for t in TOPICS}
        self.lang = {s: 1.2 * rng.normal(size=self.dim) for s in ("hangul", "latin")}

    def _encode_batch(self, items):
        out = []
        for text in items:
            first = text.split()[0]
            topic = KOREAN.get(first, first)
            noise = np.random.default_rng(zlib.crc32(text.encode())).normal(size=self.dim) * 0.3
            out.append(self.topic[topic] + self.lang[script_of(text)] + noise)
        return np.asarray(out, dtype=np.float32)


@pytest.fixture
def store(tmp_path):
    s = VectorStore(tmp_path / "s.db", encoder=BilingualToy())
    # English documents about cats; Korean documents about everything but cats
    docs = [f"cat note {i}" for i in range(MIN_GROUP)]
    docs += [f"{TOPICS[t]} 메모 {i}" for t in ("dog", "rain", "car") for i in range(MIN_GROUP)]
    docs += [f"{t} note {i}" for t in ("dog", "rain") for i in range(MIN_GROUP)]
    s.add(docs, ids=[f"d{i}" for i in range(len(docs))])
    yield s
    s.close()


def test_a_korean_query_finds_the_english_documents_on_its_topic(store):
    plain = store.search("고양이", k=MIN_GROUP, language_neutral=False)
    neutral = store.search("고양이", k=MIN_GROUP)
    assert sum(h.text.startswith("cat") for h in plain) == 0  # its own language wins
    assert sum(h.text.startswith("cat") for h in neutral) == MIN_GROUP
    hybrid = store.search("고양이", k=MIN_GROUP, mode="hybrid")
    assert sum(h.text.startswith("cat") for h in hybrid) >= MIN_GROUP // 2


def test_same_language_search_keeps_its_topic(store):
    hits = store.search("강아지", k=MIN_GROUP)
    assert all(h.text.startswith(("강아지", "dog")) for h in hits)


def test_filters_apply_and_vector_queries_are_untouched(store):
    hits = store.search("고양이", k=3, where={"source": "nowhere"})
    assert hits == []
    q = BilingualToy().encode(["고양이"])[0]
    assert [h.id for h in store.search(q, k=5)] == [
        h.id for h in store.search(q, k=5, language_neutral=False)]


def test_one_language_stores_search_as_before(tmp_path):
    with VectorStore(tmp_path / "en.db", encoder=BilingualToy()) as s:
        s.add([f"{t} note {i}" for t in ("cat", "dog") for i in range(MIN_GROUP)])
        a = s.search("cat", k=4)
        b = s.search("cat", k=4, language_neutral=False)
        assert [h.id for h in a] == [h.id for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b])


def test_new_documents_join_the_language_means(store):
    before = store.search("고양이", k=1)[0].id
    store.add(["고양이 메모 new"], ids=["new"])
    assert store.search("고양이", k=1)[0].id == "new"  # seen at once (the means are rebuilt)
    assert before != "new"


@pytest.mark.parametrize("text, script", [
    ("전기 SUV 차량", "hangul"), ("An electric SUV", "latin"), ("1234 !?", "other"),
    ("東京タワー", "kana"), ("Москва", "cyrillic"), ("", "other"), ("北京", "han")])
def test_script_of(text, script):
    assert script_of(text) == script


def test_centring_needs_two_scripts_with_enough_documents():
    rng = np.random.default_rng(0)
    mat = rng.normal(size=(20, 8)).astype(np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    keys = np.arange(20)
    assert not LanguageCentering(keys, mat, ["latin"] * 20).active
    assert not LanguageCentering(keys, mat, ["latin"] * 15 + ["hangul"] * 5).active
    both = LanguageCentering(keys, mat, ["latin"] * 10 + ["hangul"] * 10)
    assert both.active
    np.testing.assert_allclose(np.linalg.norm(both.matrix, axis=1), 1.0, rtol=1e-5)
    q = both.query(mat[0], "cat")
    assert np.isclose(np.linalg.norm(q), 1.0) and not np.allclose(q, mat[0])
