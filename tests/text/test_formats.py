import gzip

import numpy as np
import pytest

from embedkit.errors import InvalidInput
from embedkit.text.formats import read_vectors, write_vectors
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


def test_wordvectors_file_methods(tmp_path, wv):
    path = wv.to_file(tmp_path / "w.vec", format="fasttext")
    assert WordVectors.from_file(path).index_to_key == wv.index_to_key
