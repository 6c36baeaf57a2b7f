"""TextClassifier: planted signals, views chosen on held-out data, graded scores, save/load, CLI,
bad input.

The encoder of most tests is a WordVectors model built here (random word vectors, mean-pooled):
fast, no torch. Its vectors are planted so that a test knows what each view can see.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from embedkit.apps.classify import TextClassifier, is_text_classifier, read_labelled
from embedkit.cli import main
from embedkit.errors import InvalidInput, ModelNotFound, NotFitted
from embedkit.text.word_vectors import WordVectors

POS = ["good", "great", "superb", "lovely", "fun", "brilliant", "moving", "charming"]
NEG = ["bad", "awful", "boring", "dull", "poor", "tedious", "clumsy", "bland"]
NEUTRAL = ["film", "movie", "plot", "actor", "scene", "the", "a", "was", "and", "story", "cast",
           "music", "ending", "camera", "script", "role"]
DIM = 24


def _vectors(seed=0, *, blind=False):
    """Word vectors: positive words near +d, negative near -d (or, ``blind``, all sentiment words
    on one vector, so the encoder cannot tell them apart)."""
    rng = np.random.default_rng(seed)
    d = rng.normal(size=DIM)
    d /= np.linalg.norm(d)
    words = POS + NEG + NEUTRAL
    vecs = rng.normal(size=(len(words), DIM)) * 0.3
    shared = rng.normal(size=DIM)
    for i, w in enumerate(words):
        if w in POS:
            vecs[i] = shared if blind else vecs[i] + 1.5 * d
        elif w in NEG:
            vecs[i] = shared if blind else vecs[i] - 1.5 * d
    return WordVectors(words, vecs.astype(np.float32), name="planted")


def reviews(n, seed, *, pos=POS, neg=NEG, flip=0.0):
    """Texts with 1-3 sentiment words among neutral ones; label pos/neg (a share ``flip`` of the
    labels flipped), and a 1-10 grade from the balance of sentiment words."""
    r = np.random.default_rng(seed)
    texts, labels, grades = [], [], []
    for _ in range(n):
        y = int(r.integers(0, 2))
        k = int(r.integers(1, 4))
        words = list(r.choice(NEUTRAL, 5)) + list(r.choice(pos if y else neg, k))
        r.shuffle(words)
        texts.append(" ".join(words))
        shown = y if r.random() >= flip else 1 - y
        labels.append("pos" if shown else "neg")
        grades.append(float(7 + k) if y else float(4 - k))  # 1-3 negative, 8-10 positive
    return texts, labels, grades


@pytest.fixture(scope="module")
def wv_folder(tmp_path_factory):
    return _vectors().save(tmp_path_factory.mktemp("wv") / "planted")


@pytest.fixture(scope="module")
def blind_folder(tmp_path_factory):
    return _vectors(blind=True).save(tmp_path_factory.mktemp("wv") / "blind")


def test_binary_linear_learns_the_signal_with_calibrated_probabilities(wv_folder):
    texts, labels, _ = reviews(400, 1, flip=0.15)
    test_t, test_y, _ = reviews(400, 2, flip=0.15)
    clf = TextClassifier(model=str(wv_folder), head="linear").fit(texts, labels)
    assert clf.task_ == "binary" and clf.classes_ == ["neg", "pos"]
    assert clf.tfidf_weight_ == 0.0 and clf.encoder_ is not None
    m = clf.evaluate(test_t, test_y)
    assert 0.78 <= m["accuracy"] <= 0.92  # 15% of the labels are flipped: ~0.85 is the ceiling
    proba = clf.predict_proba(test_t)
    assert proba.shape == (400, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert clf.predict(test_t) == [clf.classes_[i] for i in proba.argmax(1)]
    # calibrated: the mean confidence tracks the accuracy (an overconfident model says ~1.0)
    assert abs(proba.max(1).mean() - m["accuracy"]) < 0.08 and m["ece"] < 0.08
    assert clf.score(test_t, test_y) == m["accuracy"]


def test_auto_head_mixes_in_tfidf_when_the_encoder_is_blind_to_the_signal(blind_folder):
    texts, labels, _ = reviews(300, 3)
    test_t, test_y, _ = reviews(200, 4)
    linear = TextClassifier(model=str(blind_folder), head="linear").fit(texts, labels)
    auto = TextClassifier(model=str(blind_folder), head="auto").fit(texts, labels)
    assert linear.score(test_t, test_y) < 0.75  # the encoder gives the words one vector
    assert auto.tfidf_weight_ > 0.5  # the dev split found the words in TF-IDF
    assert auto.score(test_t, test_y) > 0.95
    assert "mix_w0" in auto.dev_scores_ and "mix_w1" in auto.dev_scores_


def test_encoder_view_generalises_to_words_never_seen_in_training(wv_folder):
    # trained on half of the sentiment words, tested on the other half: TF-IDF has never seen
    # them, the encoder's vectors place them with their kind
    texts, labels, _ = reviews(300, 5, pos=POS[:4], neg=NEG[:4])
    test_t, test_y, _ = reviews(200, 6, pos=POS[4:], neg=NEG[4:])
    tfidf = TextClassifier(head="tfidf").fit(texts, labels)
    hybrid = TextClassifier(model=str(wv_folder), head="hybrid").fit(texts, labels)
    assert tfidf.encoder_ is None
    assert tfidf.score(test_t, test_y) < 0.7
    assert hybrid.score(test_t, test_y) > max(0.85, tfidf.score(test_t, test_y) + 0.2)
    assert 0 < hybrid.tfidf_weight_ < 1


def test_an_explicit_dev_set_chooses_but_does_not_train(wv_folder):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    texts, labels, _ = reviews(200, 20, flip=0.1)
    dev_t, dev_y, _ = reviews(100, 21, flip=0.1)
    clf = TextClassifier(model=str(wv_folder), head="linear").fit(texts, labels,
                                                                  dev=(dev_t, dev_y))
    assert clf.choices_ == {"mode": "dev", "examples": 100}
    enc = embedkit.load(str(wv_folder))
    ref = make_pipeline(StandardScaler(), LogisticRegression(C=clf.C_["embedding"],
                                                             max_iter=3000))
    ref.fit(enc.encode(texts, normalize=True), labels)  # the training texts alone
    probe = reviews(30, 22)[0]
    np.testing.assert_allclose(clf.decision_function(probe)[:, 0] * clf.temperature_,
                               ref.decision_function(enc.encode(probe, normalize=True)),
                               rtol=1e-4, atol=1e-4)


def test_multiclass_three_labels(wv_folder):
    texts, _, grades = reviews(450, 7)
    names = ["low" if g <= 3 else "high" for g in grades]
    neutral_t = [" ".join(np.random.default_rng(i).choice(NEUTRAL, 6)) for i in range(150)]
    texts, names = texts + neutral_t, names + ["mid"] * 150
    clf = TextClassifier(model=str(wv_folder), head="linear").fit(texts, names)
    assert clf.task_ == "multiclass" and clf.classes_ == ["high", "low", "mid"]
    test_t, _, g2 = reviews(150, 8)
    test_t += [" ".join(np.random.default_rng(1000 + i).choice(NEUTRAL, 6)) for i in range(50)]
    test_y = ["low" if g <= 3 else "high" for g in g2] + ["mid"] * 50
    assert clf.predict_proba(test_t).shape == (200, 3)
    m = clf.evaluate(test_t, test_y)
    assert m["accuracy"] > 0.9 and m["macro_f1"] > 0.9


def test_integer_labels_keep_their_type(wv_folder):
    texts, labels, _ = reviews(100, 9)
    ints = [1 if y == "pos" else 0 for y in labels]
    clf = TextClassifier(model=str(wv_folder), head="linear").fit(texts, ints)
    assert clf.classes_ == [0, 1]
    assert set(clf.predict(texts[:10])) <= {0, 1}


def test_graded_predicts_scores_in_range_with_rank_correlation(wv_folder):
    texts, _, grades = reviews(400, 10)
    test_t, _, test_g = reviews(200, 11)
    clf = TextClassifier(model=str(wv_folder), task="graded").fit(texts, grades)
    assert clf.task_ == "graded" and clf.score_range_ == (1.0, 10.0)
    m = clf.evaluate(test_t, test_g)
    assert m["spearman"] > 0.8 and m["mae"] < 1.5
    extreme = ["great superb brilliant lovely fun charming moving good"] * 2 + \
              ["awful boring dull poor tedious clumsy bland bad"] * 2
    pred = clf.predict(extreme)
    assert pred.min() >= 1.0 and pred.max() <= 10.0  # clipped to the range
    assert pred[0] > 8 and pred[-1] < 3
    # six distinct grades: classes, and the expected grade of their probabilities
    assert list(clf.grades_) == [1.0, 2.0, 3.0, 8.0, 9.0, 10.0]
    proba = clf.predict_proba(test_t[:5])
    np.testing.assert_allclose(clf.predict(test_t[:5]), proba @ clf.grades_)
    reg = TextClassifier(model=str(wv_folder), task="graded", graded="regression",
                         score_range=(0, 20)).fit(texts, grades)
    assert reg.grades_ is None and reg.score_range_ == (0.0, 20.0)
    assert reg.evaluate(test_t, test_g)["spearman"] > 0.8
    assert reg.predict(extreme).max() <= 20.0
    with pytest.raises(InvalidInput, match="regression: it predicts scores"):
        reg.predict_proba(test_t[:2])


def test_save_and_load_give_the_same_predictions_without_pickle(wv_folder, tmp_path):
    texts, labels, _ = reviews(300, 12)
    test_t = reviews(50, 13)[0]
    clf = TextClassifier(model=str(wv_folder), head="hybrid").fit(texts, labels)
    out = clf.save(tmp_path / "clf")
    names = {p.name for p in out.rglob("*") if p.is_file()}
    assert names == {"embedkit.json", "head.safetensors", "tfidf.json"}
    meta = json.loads((out / "embedkit.json").read_text(encoding="utf-8"))
    assert meta["type"] == "text_classifier" and meta["classes"] == ["neg", "pos"]
    assert meta["encoder"]["spec"] == str(wv_folder.resolve())
    again = TextClassifier.load(out)
    np.testing.assert_allclose(again.predict_proba(test_t), clf.predict_proba(test_t), atol=1e-5)
    assert is_text_classifier(out) and not is_text_classifier(wv_folder)
    assert embedkit.load(str(out)).dim == DIM  # the classifier's encoder
    # graded, TF-IDF only: no encoder at all
    _, _, grades = reviews(300, 12)
    g = TextClassifier(task="graded", head="tfidf", output_dir=tmp_path / "stars").fit(texts,
                                                                                     grades)
    g2 = TextClassifier.load(tmp_path / "stars")
    np.testing.assert_allclose(g2.predict(test_t), g.predict(test_t), atol=1e-4)
    with pytest.raises(ModelNotFound, match="no encoder"):
        embedkit.load(str(tmp_path / "stars"))


def test_load_refuses_a_changed_encoder(tmp_path):
    folder = _vectors(seed=1).save(tmp_path / "wv")
    texts, labels, _ = reviews(100, 14)
    TextClassifier(model=str(folder), head="linear", output_dir=tmp_path / "clf").fit(texts,
                                                                                      labels)
    _vectors(seed=2).save(folder)  # other vectors under the same spec
    with pytest.raises(ModelNotFound, match="fingerprint"):
        TextClassifier.load(tmp_path / "clf")


def test_an_encoder_object_without_a_spec_fits_but_cannot_be_saved(tmp_path):
    texts, labels, _ = reviews(100, 15)
    clf = TextClassifier(model=_vectors(), head="linear").fit(texts, labels)
    assert clf.score(texts, labels) > 0.9
    with pytest.raises(InvalidInput, match="no spec"):
        clf.save(tmp_path / "x")
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.saving").exists()


def test_tiny_data_has_no_dev_split_and_uses_defaults(wv_folder):
    clf = TextClassifier(model=str(wv_folder)).fit(["good film", "bad film", "great plot",
                                                    "dull plot"], ["p", "n", "p", "n"])
    assert clf.dev_scores_ == {} and clf.temperature_ == 1.0 and clf.tfidf_weight_ == 0.0
    assert clf.predict(["superb movie", "awful movie"]) == ["p", "n"]


def test_fine_tuning_end_to_end_and_the_saved_encoder(tiny_model_factory, tmp_path):
    model = tiny_model_factory("cls-tiny", max_seq_length=32)
    a = ["the river bank was muddy", "a man is playing a guitar", "two dogs run across"]
    b = ["stock markets fell sharply", "she reads a book", "children are playing football"]
    texts = a * 10 + b * 10
    labels = ["x"] * 30 + ["y"] * 30
    clf = TextClassifier(model=str(model), head="finetune", epochs=3, train_batch_size=8,
                         learning_rate=1e-3, max_seq_length=16, output_dir=tmp_path / "ft",
                         checkpoint_dir=tmp_path / "ckpt", progress=False)
    clf.fit(texts, labels)
    assert clf.score(texts, labels) >= 0.9
    assert (tmp_path / "ft" / "encoder" / "model.safetensors").is_file()
    assert (tmp_path / "ckpt" / "last" / "state.json").is_file()
    # the saved encoder is a plain model folder: the head's weights are not in it
    from safetensors.numpy import load_file

    keys = load_file(str(tmp_path / "ft" / "encoder" / "model.safetensors"))
    assert not any("embedkit_head" in k for k in keys)
    again = TextClassifier.load(tmp_path / "ft")
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts), atol=1e-5)
    copy = clf.save(tmp_path / "copy")
    assert (copy / "encoder" / "model.safetensors").is_file()


def test_fine_tuning_a_graded_task(tiny_model_factory, tmp_path):
    model = tiny_model_factory("cls-tiny-graded", max_seq_length=32)
    texts = ["the river bank was muddy", "a man is playing a guitar", "two dogs run across",
             "stock markets fell sharply", "she reads a book", "children are playing football"]
    scores = [1.0, 2.0, 3.0, 8.0, 9.0, 10.0]
    clf = TextClassifier(model=str(model), task="graded", head="finetune", epochs=4,
                         train_batch_size=6, learning_rate=1e-3, max_seq_length=16,
                         progress=False, output_dir=tmp_path / "g").fit(texts * 5, scores * 5)
    pred = clf.predict(texts)
    assert pred.min() >= 1.0 and pred.max() <= 10.0
    assert clf.evaluate(texts, scores)["spearman"] > 0.7
    np.testing.assert_allclose(TextClassifier.load(tmp_path / "g").predict(texts), pred,
                               atol=1e-4)


def test_cli_train_and_predict(wv_folder, tmp_path):
    texts, labels, grades = reviews(200, 16)
    data = tmp_path / "reviews.csv"
    rows = ["body,sentiment,stars"] + [f"{t},{y},{g:g}" for t, y, g in zip(texts, labels, grades)]
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "clf"
    res = CliRunner().invoke(main, ["classify", "train", str(data), "--model", str(wv_folder),
                                    "-o", str(out), "--text-column", "body", "--head", "linear"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["classes"] == ["neg", "pos"] and summary["task"] == "binary"
    probe = tmp_path / "texts.txt"
    probe.write_text("a great superb film\nan awful dull plot\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["classify", "predict", str(probe), "--model", str(out),
                                    "--json", "--proba"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.output.splitlines()]
    assert [x["label"] for x in lines] == ["pos", "neg"]
    assert set(lines[0]["proba"]) == {"neg", "pos"} and lines[0]["proba"]["pos"] > 0.5
    stars = tmp_path / "stars"
    res = CliRunner().invoke(main, ["classify", "train", str(data), "--model", str(wv_folder),
                                    "-o", str(stars), "--text-column", "body", "--label-column",
                                    "stars", "--task", "graded"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["score_range"] == [1.0, 10.0]
    res = CliRunner().invoke(main, ["classify", "predict", str(probe), "--model", str(stars),
                                    "--json"])
    assert res.exit_code == 0, res.output
    scores = [json.loads(x)["score"] for x in res.output.splitlines()]
    assert scores[0] > 7 > 4 > scores[1]


def test_bad_input_is_a_clear_error(wv_folder, tmp_path):
    texts, labels, _ = reviews(40, 17)
    with pytest.raises(InvalidInput, match="at least 2 classes"):
        TextClassifier(model=str(wv_folder)).fit(texts, ["pos"] * 40)
    with pytest.raises(InvalidInput, match="not a number"):
        TextClassifier(model=str(wv_folder), task="graded").fit(texts, ["5"] * 39 + ["great"])
    with pytest.raises(InvalidInput, match="at least two different scores"):
        TextClassifier(model=str(wv_folder), task="graded").fit(texts, [3.0] * 40)
    with pytest.raises(InvalidInput, match="exactly 2 labels"):
        TextClassifier(model=str(wv_folder), task="binary").fit(texts, ["a", "b", "c", "d"] * 10)
    with pytest.raises(InvalidInput, match="'head' parameter.*'auto'"):
        TextClassifier(head="forest").fit(texts, labels)
    with pytest.raises(InvalidInput, match="40 texts but 39 labels"):
        TextClassifier(model=str(wv_folder)).fit(texts, labels[:39])
    with pytest.raises(InvalidInput, match="outside score_range"):
        TextClassifier(model=str(wv_folder), task="graded", score_range=(1, 5)).fit(
            texts, [1.0, 9.0] * 20)
    with pytest.raises(NotFitted):
        TextClassifier().predict(["x"])
    clf = TextClassifier(model=str(wv_folder), head="linear").fit(texts, labels)
    with pytest.raises(InvalidInput, match="label 'meh'.*does not have"):
        clf.evaluate(texts[:2], ["pos", "meh"])
    with pytest.raises(InvalidInput, match="not one str"):
        clf.predict("one text")
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InvalidInput, match="empty"):
        TextClassifier(model=str(wv_folder)).fit(empty)
    nolabel = tmp_path / "nolabel.tsv"
    nolabel.write_text("text\tscore\ngood film\t1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no column for 'label'"):
        read_labelled(nolabel)
    with pytest.raises(ModelNotFound, match="not a text classifier|no embedkit.json"):
        TextClassifier.load(tmp_path)


def test_cli_errors_are_one_line_and_exit_non_zero(wv_folder, tmp_path):
    one = tmp_path / "one.tsv"
    one.write_text("text\tlabel\n" + "good film\tpos\n" * 30, encoding="utf-8")
    res = CliRunner().invoke(main, ["classify", "train", str(one), "--model", str(wv_folder),
                                    "-o", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert res.output.startswith("error: ") and "at least 2 classes" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    grades = tmp_path / "grades.tsv"
    grades.write_text("text\tlabel\ngood film\t5\nbad film\tterrible\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["classify", "train", str(grades), "--model", str(wv_folder),
                                    "--task", "graded", "-o", str(tmp_path / "y")])
    assert res.exit_code == 2 and "not a number" in res.output
    res = CliRunner().invoke(main, ["classify", "train", str(one), "--model", str(wv_folder),
                                    "--label-column", "stars", "-o", str(tmp_path / "z")])
    assert res.exit_code == 2 and "no column 'stars'" in res.output
    texts = tmp_path / "t.txt"
    texts.write_text("good\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["classify", "predict", str(texts), "--model", str(tmp_path)])
    assert res.exit_code != 0 and res.output.startswith("error: ")
