import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli import main

ANIMALS = ["cat", "dog", "horse", "cow", "sheep", "goat"]
ROYALS = ["king", "queen", "prince", "princess", "crown", "throne"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("c") / "corpus.txt"
    lines = [" ".join(rng.choice(ANIMALS if i % 2 else ROYALS, 8)).title() + "." for i in range(1200)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "animals"
    res = CliRunner().invoke(main, ["train", "word2vec", str(corpus), "-o", str(out), "--dim", "20",
                                    "--window", "3", "--min-count", "1", "--epochs", "3",
                                    "--workers", "1", "--seed", "1", "--sample", "0", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "loss per epoch" in res.output
    return out


def test_train_saves_a_loadable_model(model):
    assert (model / "embedkit.json").is_file()
    meta = json.loads((model / "embedkit.json").read_text())
    assert meta["type"] == "word_vectors" and meta["config"]["architecture"] == "skipgram"


def test_neighbors(model):
    res = CliRunner().invoke(main, ["neighbors", "cat", "--model", str(model), "-k", "3"])
    assert res.exit_code == 0, res.output
    words = [line.split("\t")[0] for line in res.output.strip().splitlines()]
    assert len(words) == 3 and set(words) <= set(ANIMALS)
    res = CliRunner().invoke(main, ["neighbors", "king", "--model", str(model), "--json"])
    assert {d["word"] for d in json.loads(res.output)[:3]} <= set(ROYALS)


def test_analogy_prints_answers_with_scores(model):
    res = CliRunner().invoke(main, ["analogy", "cat", "dog", "king", "--model", str(model), "-k", "2"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 2
    word, score = lines[0].split("\t")
    assert word not in {"cat", "dog", "king"} and -1.0 <= float(score) <= 3.0


def test_unknown_word_is_a_clean_error(model):
    res = CliRunner().invoke(main, ["neighbors", "unicorn", "--model", str(model)])
    assert res.exit_code == 2
    assert "'unicorn' is not in the vocabulary" in res.output
    assert "Traceback" not in res.output


def test_evaluate_words_json(model, tmp_path):
    sim = tmp_path / "sim.tsv"
    sim.write_text("word1\tword2\tscore\ncat\tdog\t8\ncat\tking\t1\nqueen\tprince\t8\n"
                   "horse\tcrown\t1\ncat\tunicorn\t5\n", encoding="utf-8")
    ana = tmp_path / "ana.txt"
    ana.write_text(": animals\ncat dog horse cow\n: gram-x\nking queen prince princess\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["evaluate", "words", "--model", str(model), "--similarity", str(sim),
                                    "--analogy", str(ana), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    s = out["similarity"][0]
    assert s["oov_pairs"] == 1 and s["found_pairs"] == 4 and s["spearman"] > 0.8
    assert out["analogy"][0]["total"]["attempted"] == 2
    res = CliRunner().invoke(main, ["evaluate", "words", "--model", str(model), "--similarity", str(sim)])
    assert "Spearman" in res.output and "1 out of vocabulary" in res.output


def test_vectors_file_as_model(model, tmp_path):
    from embedkit.text.formats import write_vectors
    from embedkit.text.word_vectors import WordVectors

    vec = write_vectors(WordVectors.load(model), tmp_path / "m.vec", format="fasttext")
    res = CliRunner().invoke(main, ["neighbors", "cat", "--model", str(vec), "-k", "2"])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 2


@pytest.mark.parametrize("content, args, match", [
    ("", [], "empty"),
    ("a b c\n", ["--min-count", "5"], "No word occurs at least min_count=5"),
    ("a b c\n" * 10, ["--window", "0"], "'window' parameter of Word2Vec must be an int in the range"),
    ("a b c\n" * 10, ["--cbow", "--subword", "--shared-negatives"], "for subword skip-gram"),
])
def test_train_bad_input_exit_codes(tmp_path, content, args, match):
    corpus = tmp_path / "c.txt"
    corpus.write_text(content)
    res = CliRunner().invoke(main, ["train", "word2vec", str(corpus), "-o", str(tmp_path / "o"),
                                    "--min-count", "1", "--no-progress", *args])
    assert res.exit_code == 2, res.output
    assert match in res.output and "Traceback" not in res.output


def test_truncated_or_wrong_model_files(tmp_path, model):
    from embedkit.text.formats import write_vectors
    from embedkit.text.word_vectors import WordVectors

    vec = write_vectors(WordVectors.load(model), tmp_path / "m.txt")
    lines = vec.read_text().splitlines()
    vec.write_text("\n".join(lines[:4]) + "\n")
    res = CliRunner().invoke(main, ["neighbors", "cat", "--model", str(vec)])
    assert res.exit_code == 2 and "truncated" in res.output and "Traceback" not in res.output
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01garbage")
    res = CliRunner().invoke(main, ["analogy", "a", "b", "c", "--model", str(junk)])
    assert res.exit_code == 2 and "junk.bin" in res.output
    res = CliRunner().invoke(main, ["neighbors", "cat", "--model", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "No model at" in res.output
    res = CliRunner().invoke(main, ["evaluate", "words", "--model", str(model)])
    assert res.exit_code == 2 and "--similarity" in res.output


def test_subword_training_via_cli(corpus, tmp_path):
    out = tmp_path / "ft"
    res = CliRunner().invoke(main, ["train", "word2vec", str(corpus), "-o", str(out), "--subword",
                                    "--shared-negatives", "--buckets", "2000", "--dim", "16", "--min-count", "1",
                                    "--epochs", "1", "--workers", "1", "--no-progress"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["neighbors", "princes", "--model", str(out), "-k", "3"])
    assert res.exit_code == 0, res.output  # unseen word, built from n-grams


def test_non_utf8_corpus_trains_with_a_warning(tmp_path):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes(b"caf\xe9 au lait chaud\n" * 30)
    with pytest.warns(UnicodeWarning, match="not valid UTF-8"):
        res = CliRunner().invoke(main, ["train", "word2vec", str(corpus), "-o", str(tmp_path / "m"),
                                        "--min-count", "1", "--dim", "8", "--epochs", "1",
                                        "--no-progress"])
    assert res.exit_code == 0, res.output


def test_korean_subword_via_cli(tmp_path):
    import kiwipiepy  # noqa: F401
    corpus = tmp_path / "ko.txt"
    corpus.write_text("밥을 먹었다. 맛있는 밥을 먹었다!\n길을 달렸다. 빠르게 길을 달렸다.\n" * 30,
                      encoding="utf-8")
    out = tmp_path / "ko"
    res = CliRunner().invoke(main, ["train", "word2vec", str(corpus), "-o", str(out), "--korean",
                                    "--subword", "--buckets", "1000", "--dim", "8", "--min-count", "1",
                                    "--epochs", "1", "--workers", "1", "--no-progress"])
    assert res.exit_code == 0, res.output
    import json

    meta = json.loads((out / "embedkit.json").read_text(encoding="utf-8"))
    assert meta["subword"]["korean_jamo"] is True and meta["config"]["tokenizer"] == "korean"
    res = CliRunner().invoke(main, ["neighbors", "먹었다", "--model", str(out), "-k", "2"])
    assert res.exit_code == 0, res.output


def test_subword_pieces_via_cli(corpus, tmp_path):
    tok = tmp_path / "tok"
    res = CliRunner().invoke(main, ["train", "tokenizer", str(corpus), "--type", "bpe",
                                    "--vocab-size", "40", "-o", str(tok)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "bpe-vectors"
    args = ["train", "word2vec", str(corpus), "-o", str(out), "--dim", "16", "--min-count", "1",
            "--epochs", "1", "--workers", "1", "--no-progress", "--pieces", str(tok)]
    res = CliRunner().invoke(main, args)  # --pieces without --subword
    assert res.exit_code != 0 and "needs --subword" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, args + ["--subword"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "embedkit.json").read_text(encoding="utf-8"))
    assert meta["subword"]["pieces"] == "subword_tokenizer.json"
    res = CliRunner().invoke(main, ["neighbors", "princes", "--model", str(out), "-k", "3"])
    assert res.exit_code == 0, res.output  # unseen word, built from its BPE pieces
