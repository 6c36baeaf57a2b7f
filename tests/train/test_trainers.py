"""Trainers on a tiny random BERT: learning, checkpoints and resume, NaN, bad input, saved folders."""

import json

import numpy as np
import pytest

from embedkit.errors import InvalidInput, ModelNotFound, NotFitted
from embedkit.train import (
    DistillationTrainer,
    Examples,
    FewShotClassifier,
    MaskedLMTrainer,
    SentenceTrainer,
    TrainingDiverged,
)

ANCHORS = ["a cat sat on the mat", "the dog ran in the park", "a loan from the bank",
           "coffee and a book", "a man plays the guitar", "two dogs in a green field"]
POSITIVES = ["the cat on a mat", "a dog running in a park", "bank money loan",
             "reading a book with coffee", "guitar music from a man", "dogs run on the field"]


@pytest.fixture(scope="module")
def tiny(tiny_model_factory):
    return tiny_model_factory("train-tiny", max_seq_length=32)


def pairs(n=3):
    return Examples.from_columns("pairs", anchor=ANCHORS * n, positive=POSITIVES * n)


def scored(n=3):
    return Examples.from_columns("scored", sentence1=ANCHORS * n, sentence2=POSITIVES * n,
                                 score=[5.0, 4.0, 3.0, 2.0, 1.0, 0.0] * n)


def weights(folder):
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def test_mnrl_loss_decreases_and_dev_recall_is_kept(tiny, tmp_path):
    tr = SentenceTrainer(model=str(tiny), loss="mnrl", batch_size=6, epochs=12, learning_rate=2e-3,
                         warmup_ratio=0.0, output_dir=tmp_path / "out", progress=False)
    tr.fit(pairs(1), dev=pairs(1))
    losses = [h["loss"] for h in tr.history_ if "loss" in h]
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3])
    assert tr.dev_scores_[-1]["recall@1"] >= tr.dev_before_["recall@1"]
    assert tr.best_score_ == pytest.approx(max(d["recall@1"] for d in tr.dev_scores_), abs=1e-5)
    assert tr.examples_per_second_ > 0 and tr.train_seconds_ > 0


def test_saved_folder_loads_in_embedkit_and_sentence_transformers(tiny, tmp_path):
    from sentence_transformers import SentenceTransformer

    import embedkit

    tr = SentenceTrainer(model=str(tiny), loss="cosent", batch_size=6, max_steps=2,
                         output_dir=tmp_path / "out", progress=False).fit(scored())
    folder = tmp_path / "out"
    ours = embedkit.load(str(folder)).encode(ANCHORS[:3])
    theirs = SentenceTransformer(str(folder), device="cpu").encode(ANCHORS[:3])
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert not np.allclose(ours, embedkit.load(str(tiny)).encode(ANCHORS[:3]), atol=1e-4)
    meta = json.loads((folder / "embedkit.json").read_text())
    assert meta["type"] == "sentence_encoder" and meta["trainer"] == "SentenceTrainer"
    assert meta["recipe"]["loss"] == "cosent" and meta["recipe"]["max_steps"] == 2
    assert meta["data"][0]["sha256"] == scored().source["sha256"]
    assert meta["stats"]["steps"] == 2 and meta["stats"]["trainable_parameters"] > 0
    np.testing.assert_allclose(tr.encoder_.encode(ANCHORS[:3]), ours, atol=1e-6)


def test_frozen_embeddings_stay_and_the_rest_moves(tiny, tmp_path):
    SentenceTrainer(model=str(tiny), batch_size=6, max_steps=2, learning_rate=1e-3,
                    output_dir=tmp_path / "out", progress=False).fit(pairs())
    before, after = weights(tiny), weights(tmp_path / "out")
    key = next(k for k in before if k.endswith("word_embeddings.weight"))
    np.testing.assert_array_equal(before[key], after[key])
    layer = next(k for k in before if "layer.0.attention.self.query.weight" in k)
    assert not np.allclose(before[layer], after[layer])


def test_killed_run_resumes_to_the_same_state(tiny, tmp_path):
    common = dict(model=str(tiny), loss="mnrl", batch_size=6, epochs=2, learning_rate=1e-3,
                  checkpoint_every=1, progress=False)
    SentenceTrainer(**common, output_dir=tmp_path / "a", checkpoint_dir=tmp_path / "ca").fit(pairs())

    def kill(info):
        if info["step"] == 2:
            raise KeyboardInterrupt

    resumed = SentenceTrainer(**common, output_dir=tmp_path / "b", checkpoint_dir=tmp_path / "cb")
    with pytest.raises(KeyboardInterrupt):
        resumed.fit(pairs(), callback=kill)
    state = json.loads((tmp_path / "cb" / "last" / "state.json").read_text())
    assert state["step"] == 2
    resumed.fit(pairs())
    assert resumed.resumed_from_step_ == 2 and resumed.steps_ == 6
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=key)
    other = SentenceTrainer(**common | {"learning_rate": 5e-4}, output_dir=tmp_path / "c",
                            checkpoint_dir=tmp_path / "cb")
    with pytest.raises(InvalidInput, match="other settings or data"):
        other.fit(pairs())


def test_corrupted_checkpoint_is_a_clear_error(tiny, tmp_path):
    tr = SentenceTrainer(model=str(tiny), batch_size=6, max_steps=1, checkpoint_dir=tmp_path / "c",
                         output_dir=tmp_path / "o", progress=False)
    tr.fit(pairs())
    (tmp_path / "c" / "last" / "trainable.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InvalidInput, match="corrupted or incomplete.*resume=False"):
        tr.fit(pairs())
    tr.set_params(resume=False).fit(pairs())  # starting over works


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny, tmp_path, monkeypatch):
    import torch

    from embedkit.train import losses

    real, calls = losses.cosent, []

    def flaky(*args, **kwargs):
        calls.append(1)
        out = real(*args, **kwargs)
        return out * torch.tensor(float("nan")) if len(calls) == 3 else out

    monkeypatch.setattr(losses, "cosent", flaky)
    tr = SentenceTrainer(model=str(tiny), loss="cosent", batch_size=6, epochs=2,
                         checkpoint_dir=tmp_path / "c", checkpoint_every=100,
                         output_dir=tmp_path / "o", progress=False)
    with pytest.raises(TrainingDiverged, match=r"became nan at step 3.*kept in .*last.*learning_rate"):
        tr.fit(scored())
    state = json.loads((tmp_path / "c" / "last" / "state.json").read_text())
    assert state["step"] == 2 and state["batch"] == 2
    assert not (tmp_path / "o").exists()


def test_bad_input(tiny, tmp_path):
    with pytest.raises(InvalidInput, match="fewer than one batch.*at most 6"):
        SentenceTrainer(model=str(tiny), batch_size=8, progress=False).fit(pairs(1))
    with pytest.raises(InvalidInput, match=r"needs about [\d.]+ GiB.*Lower batch_size"):
        SentenceTrainer(model=str(tiny), batch_size=4_000_000, progress=False).fit(pairs())
    not_model = tmp_path / "nomodel"
    not_model.mkdir()
    (not_model / "config.json").write_text(json.dumps({"model_type": "resnet"}))
    with pytest.raises(ModelNotFound, match="hidden_size"):
        SentenceTrainer(model=str(not_model)).fit(pairs())
    with pytest.raises(ModelNotFound, match="not a transformer model folder"):
        SentenceTrainer(model=str(tmp_path)).fit(pairs())
    with pytest.raises(InvalidInput, match="'loss' parameter of SentenceTrainer must be one of"):
        SentenceTrainer(loss="triplet").fit(pairs())
    with pytest.raises(InvalidInput, match="beyond the model's 32 dimensions"):
        SentenceTrainer(model=str(tiny), matryoshka_dims=(64, 32), batch_size=6).fit(pairs())
    with pytest.raises(NotFitted):
        SentenceTrainer().save(tmp_path / "x")


@pytest.mark.parametrize("loss", ["mnrl", "mnrl-symmetric", "angle", "cosine", "simcse"])
def test_each_loss_trains_a_step_with_matryoshka(tiny, tmp_path, loss):
    triplets = tmp_path / "triplets.tsv"
    triplets.write_text("anchor\tpositive\tnegative\n" + "".join(
        f"{a}\t{p}\t{POSITIVES[(i + 1) % 6]}\n" for i, (a, p) in enumerate(zip(ANCHORS, POSITIVES))),
        encoding="utf-8")
    data = {"mnrl": triplets, "mnrl-symmetric": pairs(), "angle": scored(), "cosine": scored(),
            "simcse": Examples.from_columns("texts", text=ANCHORS * 2)}[loss]
    tr = SentenceTrainer(model=str(tiny), loss=loss, batch_size=6, max_steps=1,
                         matryoshka_dims=(32, 16), output_dir=tmp_path / "o", progress=False)
    tr.fit(data)
    assert tr.steps_ == 1 and np.isfinite(tr.history_[0]["loss"])


def test_losses_match_sentence_transformers(tiny):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses as st_losses

    from embedkit.train import losses

    st = SentenceTransformer(str(tiny), device="cpu")
    g = torch.Generator().manual_seed(0)
    a, b, n = (torch.randn(8, 32, generator=g) for _ in range(3))
    y = torch.rand(8, generator=g)
    assert torch.allclose(losses.cosent(a, b, y), st_losses.CoSENTLoss(st).compute_loss_from_embeddings(
        [a, b], y), atol=1e-5)
    assert torch.allclose(losses.angle(a, b, y), st_losses.AnglELoss(st).compute_loss_from_embeddings(
        [a, b], y), atol=1e-5)
    assert torch.allclose(losses.cosine(a, b, y), st_losses.CosineSimilarityLoss(
        st).compute_loss_from_embeddings([a, b], y), atol=1e-5)
    mnrl = st_losses.MultipleNegativesRankingLoss(st).compute_loss_from_embeddings([a, b, n], y)
    assert torch.allclose(losses.mnrl(a, b, n), mnrl, atol=1e-5)


def test_masked_lm_on_a_streamed_corpus(tiny, tmp_path):
    import embedkit

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(ANCHORS * 4) + "\n", encoding="utf-8")
    m = MaskedLMTrainer(model=str(tiny), batch_size=4, max_steps=3, learning_rate=1e-3,
                        output_dir=tmp_path / "mlm", checkpoint_dir=tmp_path / "c", progress=False)
    m.fit(corpus, dev=scored(1))
    assert m.steps_ == 3 and all(np.isfinite(h["loss"]) for h in m.history_ if "loss" in h)
    assert "sts_spearman" in m.dev_before_
    enc = embedkit.load(str(tmp_path / "mlm"))
    assert enc.encode(["a cat"]).shape == (1, 32)
    meta = json.loads((tmp_path / "mlm" / "embedkit.json").read_text())
    assert meta["trainer"] == "MaskedLMTrainer" and meta["data"][0]["rows"] == 24
    with pytest.raises(InvalidInput, match="fewer than one batch"):
        MaskedLMTrainer(model=str(tiny), batch_size=64, progress=False).fit(corpus)


def test_distillation_caches_teacher_vectors(tiny, tiny_model_factory, tmp_path, embedkit_cache):
    teacher = tiny_model_factory("teacher", seed=3)
    par = Examples.from_columns("parallel", source=ANCHORS * 2, target=POSITIVES * 2)
    d = DistillationTrainer(teacher=str(teacher), student=str(tiny), batch_size=6, epochs=3,
                            learning_rate=1e-3, output_dir=tmp_path / "d", progress=False)
    d.fit(par, dev=par)
    losses = [h["loss"] for h in d.history_ if "loss" in h]
    assert losses[-1] < losses[0]
    cached = list((embedkit_cache / "teacher-vectors").glob("*.npy"))
    assert cached
    stamp = {p: p.stat().st_mtime_ns for p in cached}
    d.set_params(output_dir=tmp_path / "d2", epochs=1).fit(par)
    assert {p: p.stat().st_mtime_ns for p in cached} == stamp  # read, not rewritten


def test_fewshot_classifier_predicts_saves_and_loads(tiny, tmp_path):
    from sklearn.linear_model import LogisticRegression

    good = ["good film", "great fun", "a good story", "great acting", "good music", "great end"]
    bad = ["bank loan", "stock prices fell", "the bank closed", "prices and loans", "stock bank",
           "loan prices"]
    texts, labels = good + bad, ["pos"] * 6 + ["neg"] * 6
    clf = FewShotClassifier(model=str(tiny), batch_size=8, num_iterations=4, learning_rate=1e-3,
                            output_dir=tmp_path / "fs", progress=False).fit(texts, labels)
    assert clf.classes_ == ["neg", "pos"] and clf.pairs_ == 2 * 4 * 12
    proba = clf.predict_proba(texts)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    vecs = clf.encoder_.encode(texts)
    ref = LogisticRegression(C=1.0, max_iter=2000).fit(vecs, labels)
    np.testing.assert_allclose(proba, ref.predict_proba(vecs), atol=1e-6)
    assert clf.score(texts, labels) >= 0.9
    again = FewShotClassifier.load(tmp_path / "fs")
    assert again.predict(texts) == clf.predict(texts)
    with pytest.raises(InvalidInput, match="at least 2 classes.*only 'pos'"):
        FewShotClassifier(model=str(tiny)).fit(good, ["pos"] * 6)
    with pytest.raises(NotFitted):
        FewShotClassifier().predict(["x"])


def test_train_layers_freezes_the_lower_layers(tiny, tmp_path):
    SentenceTrainer(model=str(tiny), batch_size=6, max_steps=2, learning_rate=1e-3, train_layers=1,
                    output_dir=tmp_path / "out", progress=False).fit(pairs())
    before, after = weights(tiny), weights(tmp_path / "out")
    low = next(k for k in before if "layer.0.attention.self.query.weight" in k)
    top = next(k for k in before if "layer.1.attention.self.query.weight" in k)
    np.testing.assert_array_equal(before[low], after[low])
    assert not np.allclose(before[top], after[top])
    with pytest.raises(InvalidInput, match="train_layers=5 but the model has 2 layers"):
        SentenceTrainer(model=str(tiny), batch_size=6, train_layers=5).fit(pairs())
