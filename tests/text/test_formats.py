import gzip

import numpy as np
import pytest

from embedkit.errors import InvalidInput
from embedkit.text.formats import detect_format, read_vectors, write_vectors
from embedkit.text.word_vectors import WordVectors


@pytest.fixture
def wv():
    rng = np.random.default_rng(0)
    words = ["the", "king", "queen", "한국어", "naïve"]
    return WordVectors(words, rng.normal(size=(5, 7)).astype(np.float32), name="src")


@pytest.mark.parametrize("fmt, suffix", [("word2vec", ".txt"), ("fasttext", ".vec"),
                                         ("word2vec-binary", ".bin"), ("glove", ".txt")])
def test_roundtrip_each_format_with_auto_detection(tmp_path, wv, fmt, suffix):
    path = write_vectors(wv, tmp_path / f"v{suffix}", format=fmt)
    back = read_vectors(path)  # format="auto"
    assert back.index_to_key == wv.index_to_key
    atol = 0 if fmt == "word2vec-binary" else 1e-5
    np.testing.assert_allclose(back.vectors, wv.vectors, atol=atol, rtol=1e-5)
    assert back.name == "v"
    assert back.config["source_format"] == ("word2vec" if fmt == "fasttext" else fmt)


def test_text_layouts_are_standard(tmp_path, wv):
    w2v = write_vectors(wv, tmp_path / "a.txt", format="word2vec").read_text(encoding="utf-8").splitlines()
    assert w2v[0] == "5 7" and w2v[1].split(" ")[0] == "the" and len(w2v[1].split(" ")) == 8
    glove = write_vectors(wv, tmp_path / "b.txt", format="glove").read_text(encoding="utf-8").splitlines()
    assert glove[0] == w2v[1] and len(glove) == 5
    raw = write_vectors(wv, tmp_path / "c.bin", format="word2vec-binary").read_bytes()
    assert raw.startswith(b"5 7\nthe ")
    assert np.frombuffer(raw[len(b"5 7\nthe "):][:28], dtype="<f4").tolist() == wv.vectors[0].tolist()


def test_gensim_reads_our_files_and_we_read_theirs(tmp_path, wv):
    from gensim.models import KeyedVectors
    for binary in (False, True):
        path = write_vectors(wv, tmp_path / f"ours{int(binary)}.bin", format="word2vec-binary" if binary else "word2vec")
        kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert kv.index_to_key == wv.index_to_key
        np.testing.assert_allclose(kv.vectors, wv.vectors, atol=1e-5)
        theirs = tmp_path / f"theirs{int(binary)}.bin"
        kv.save_word2vec_format(str(theirs), binary=binary)
        back = read_vectors(theirs, format="word2vec-binary" if binary else "word2vec")
        np.testing.assert_allclose(back.vectors, wv.vectors, atol=1e-5)


def test_compressed_and_limit(tmp_path, wv):
    path = write_vectors(wv, tmp_path / "v.txt.gz", format="word2vec")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        assert fh.readline() == "5 7\n"
    back = read_vectors(path, limit=2)
    assert back.index_to_key == ["the", "king"]


def test_truncated_text_file_names_file_and_line(tmp_path, wv):
    path = write_vectors(wv, tmp_path / "v.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"v.txt is truncated: the header announces 5 vectors but the file ends after 2"):
        read_vectors(path)
    cut = lines[:2] + [" ".join(lines[2].split(" ")[:4])]
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"v.txt, line 3: expected a word and 7 numbers, found 3"):
        read_vectors(path)


def test_truncated_binary_file(tmp_path, wv):
    path = write_vectors(wv, tmp_path / "v.bin", format="word2vec-binary")
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    with pytest.raises(InvalidInput, match=r"v.bin is truncated: vector 5 of 5"):
        read_vectors(path)


def test_wrong_format_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nhello 1 2 x\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad.txt, line 2: 'x' is not a number"):
        read_vectors(bad)
    bad.write_text("just some prose here\nand more\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"bad.txt, line 1: 'some' is not a number"):
        read_vectors(bad)
    with pytest.raises(InvalidInput, match="expected a word2vec header"):
        read_vectors(bad, format="word2vec")
    png = tmp_path / "img.bin"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(InvalidInput, match="img.bin, line 1: expected a word2vec binary header"):
        read_vectors(png)
    with pytest.raises(InvalidInput, match="Valid formats are"):
        read_vectors(bad, format="xml")
    with pytest.raises(InvalidInput, match="No such vectors file"):
        read_vectors(tmp_path / "nope.txt")


def test_words_with_spaces_cannot_be_written(tmp_path):
    wv = WordVectors(["new york"], np.ones((1, 2), np.float32))
    with pytest.raises(InvalidInput, match="whitespace"):
        write_vectors(wv, tmp_path / "x.txt")


def test_fasttext_vec_roundtrip(tmp_path, wv):
    path = write_vectors(wv, tmp_path / "w.vec", format="fasttext")
    assert read_vectors(path).index_to_key == wv.index_to_key


# -------------------------------------------------- content-based detection (issue #17 A)
def _compress(path, kind):
    import bz2
    import lzma

    opener = {"gz": gzip.open, "xz": lzma.open, "bz2": bz2.open}[kind]
    data = path.read_bytes()
    with opener(path, "wb") as fh:
        fh.write(data)


EXPECTED = {"word2vec": "word2vec", "fasttext": "word2vec", "word2vec-binary": "word2vec-binary",
            "glove": "glove"}


@pytest.mark.parametrize("fmt", list(EXPECTED))
@pytest.mark.parametrize("name", ["out.word2vec-binary", "noext", "v.txt", "v.bin", "v.vec",
                                  "v.bin.txt", "v.txt.bin"])
@pytest.mark.parametrize("compression", [None, "gz", "xz", "bz2"])
def test_auto_detection_ignores_misleading_or_missing_names(tmp_path, wv, fmt, name, compression):
    path = write_vectors(wv, tmp_path / name, format=fmt)  # no compression suffix: plain
    if compression:
        _compress(path, compression)  # compressed content under a name that does not say so
    assert detect_format(path) == EXPECTED[fmt]
    back = read_vectors(path)
    assert back.index_to_key == wv.index_to_key
    np.testing.assert_allclose(back.vectors, wv.vectors, atol=1e-5, rtol=1e-5)
    assert back.config["source_format"] == EXPECTED[fmt]


@pytest.mark.parametrize("fmt", list(EXPECTED))
@pytest.mark.parametrize("suffix", [".gz", ".xz", ".bz2"])
def test_compression_suffix_on_a_plain_file_is_not_trusted(tmp_path, wv, fmt, suffix):
    plain = write_vectors(wv, tmp_path / "v", format=fmt)
    head = plain.read_bytes()[:2]
    lying = plain.rename(tmp_path / f"v.bin{suffix}")
    assert read_vectors(lying).index_to_key == wv.index_to_key
    # and a file written under a compression suffix is compressed, and read back
    real = write_vectors(wv, tmp_path / f"w.txt{suffix}", format=fmt)
    assert real.read_bytes()[:2] != head
    np.testing.assert_allclose(read_vectors(real).vectors, wv.vectors, atol=1e-5, rtol=1e-5)


def test_binary_whose_first_float_bytes_look_like_text(tmp_path):
    # 0x31203220 = b" 2 1" little-endian: the first row's bytes are printable, the rest are not
    vec = np.frombuffer(b"1 2 \x00\x00\x80?", dtype="<f4").reshape(1, 2).copy()
    wv2 = WordVectors(["a"], vec)
    path = write_vectors(wv2, tmp_path / "v.txt", format="word2vec-binary")
    assert detect_format(path) == "word2vec-binary"
    np.testing.assert_array_equal(read_vectors(path).vectors, vec)


def test_dimension_one_and_long_numbers(tmp_path):
    p = tmp_path / "v"
    p.write_text("2 1\na 0.1\nb -2\n", encoding="utf-8")
    assert detect_format(p) == "word2vec" and read_vectors(p).dim == 1
    # numbers printed with many digits (longer than the detection sample) are still text
    row = " ".join(["0.12345678901234567890123456789"] * 50)
    p.write_text(f"1 50\nword {row}\n", encoding="utf-8")
    assert detect_format(p) == "word2vec" and read_vectors(p).dim == 50


def test_fasttext_binary_model_is_refused_clearly(tmp_path):
    p = tmp_path / "model.bin"
    p.write_bytes((793712314).to_bytes(4, "little") + (12).to_bytes(4, "little") + bytes(64))
    with pytest.raises(InvalidInput, match="fastText binary model"):
        read_vectors(p)


def test_corrupt_compressed_file_is_a_clear_error(tmp_path, wv):
    path = write_vectors(wv, tmp_path / "v.txt.xz")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(InvalidInput, match="v.txt.xz"):
        read_vectors(path)


def test_failed_write_leaves_no_tmp_file_and_bad_targets_are_clear(tmp_path):
    wv2 = WordVectors(["ok", "bad\ud800"], np.ones((2, 3), np.float32))  # lone surrogate: no UTF-8
    for fmt in ("word2vec", "word2vec-binary"):
        with pytest.raises(UnicodeEncodeError):
            write_vectors(wv2, tmp_path / "v.txt", format=fmt)
        assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInput, match="empty word"):
        write_vectors(WordVectors(["a", ""], np.ones((2, 3), np.float32)), tmp_path / "e.txt")
    with pytest.raises(InvalidInput, match="does not exist"):
        write_vectors(WordVectors(["a"], np.ones((1, 3), np.float32)), tmp_path / "no" / "v.txt")
