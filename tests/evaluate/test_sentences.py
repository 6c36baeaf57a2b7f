"""The sentence evaluation harness: readers, metrics against reference values, any Encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedkit.encoder import BaseEncoder
from embedkit.errors import InvalidInput
from embedkit.evaluate.sentences import (
    EvalResult,
    PairData,
    RetrievalData,
    StsData,
    _best_threshold,
    evaluate_pairs,
    evaluate_retrieval,
    evaluate_sts,
    read_pairs,
    read_retrieval,
    read_sts,
    spearman,
)


class KeywordEncoder(BaseEncoder):
    """A transparent toy encoder: one dimension per known word, counts."""

    modality = "text"
    name = "keywords"
    words = ["dog", "cat", "car", "bank", "river", "money", "guitar", "music"]
    dim = len(words)

    def _encode_batch(self, items):
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for i, text in enumerate(items):
            for w in text.lower().split():
                if w in self.words:
                    out[i, self.words.index(w)] += 1
            out[i, :] += 1e-3  # no zero vectors
        return out


STS_TSV = ("genre\tfilename\tyear\tid\tscore\tsentence1\tsentence2\n"
           "main\tx\t2012\t1\t5.0\ta dog\tthe dog\n"
           "main\tx\t2012\t2\t0.5\ta dog\ta car\n"
           "main\tx\t2012\t3\t3.0\tdog cat\tdog\n"
           "main\tx\t2012\t4\t0.0\tguitar music\triver bank\n")


def test_read_sts(tmp_path):
    path = tmp_path / "sts.tsv"
    path.write_text(STS_TSV, encoding="utf-8")
    data = read_sts(path)
    assert data.sentences1[0] == "a dog" and data.scores.tolist() == [5.0, 0.5, 3.0, 0.0]


def test_sts_with_a_toy_encoder(tmp_path):
    path = tmp_path / "sts.tsv"
    path.write_text(STS_TSV, encoding="utf-8")
    result = evaluate_sts(KeywordEncoder(), path)
    assert isinstance(result, EvalResult) and result.task == "sts" and result.n == 4
    assert result.metrics["spearman"] == pytest.approx(1.0)
    assert "spearman" in result.table()
    json.dumps(result.to_dict())


def test_sts_plot(tmp_path):
    import matplotlib  # noqa: F401
    path = tmp_path / "sts.tsv"
    path.write_text(STS_TSV, encoding="utf-8")
    evaluate_sts(KeywordEncoder(), path, plot=tmp_path / "sts.png")
    assert (tmp_path / "sts.png").read_bytes()[:4] == b"\x89PNG"


def test_spearman_matches_scipy():
    import scipy.stats as stats
    rng = np.random.default_rng(0)
    a, b = rng.random(200).round(1), rng.random(200).round(1)  # many ties
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).correlation, abs=1e-12)


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("a\tb\n1\t2\n", "missing score, sentence1, sentence2"),
    ("score\tsentence1\tsentence2\n", "no rows"),
    ("score\tsentence1\tsentence2\nhigh\ta\tb\n", "line 2: score must be a number"),
    ("score\tsentence1\tsentence2\n1.0\tonly two\n", "line 2: expected 3"),
])
def test_bad_sts_files(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        read_sts(path)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidInput, match="no STS file"):
        read_sts(tmp_path / "nope.tsv")


def test_best_threshold_against_sklearn():
    import sklearn.metrics as metrics
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = (labels * 0.3 + rng.random(300)).round(2)
    got = _best_threshold(scores, labels)
    assert got["average_precision"] == pytest.approx(metrics.average_precision_score(labels, scores))
    best_acc = max(metrics.accuracy_score(labels, scores >= t) for t in np.r_[scores, np.inf])
    best_f1 = max(metrics.f1_score(labels, scores >= t) for t in scores)
    assert got["accuracy"] == pytest.approx(best_acc)
    assert got["f1"] == pytest.approx(best_f1)
    assert metrics.accuracy_score(labels, scores >= got["accuracy_threshold"]) == pytest.approx(best_acc)


def test_pairs(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("sentence1\tsentence2\tlabel\n"
                    "a dog\tthe dog\t1\nguitar\tmusic guitar\t1\na dog\ta car\t0\nriver\tmoney\t0\n",
                    encoding="utf-8")
    result = evaluate_pairs(KeywordEncoder(), path)
    assert result.metrics["accuracy"] == 1.0 and result.metrics["f1"] == 1.0
    assert result.metrics["average_precision"] == 1.0
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence1\tsentence2\tlabel\na\tb\tyes\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="label must be 0 or 1"):
        read_pairs(bad)


def _beir(tmp_path):
    folder = tmp_path / "toy"
    (folder / "qrels").mkdir(parents=True)
    docs = {"d1": "dog dog", "d2": "cat", "d3": "car", "d4": "river bank", "d5": "bank money"}
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for k, v in docs.items():
            fh.write(json.dumps({"_id": k, "title": "", "text": v}) + "\n")
    queries = {"q1": "dog", "q2": "bank money", "q3": "guitar"}
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for k, v in queries.items():
            fh.write(json.dumps({"_id": k, "text": v}) + "\n")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td5\t2\nq2\td4\t1\nq3\td3\t1\n", encoding="utf-8")
    return folder


def test_retrieval_metrics(tmp_path):
    folder = _beir(tmp_path)
    data = read_retrieval(folder)
    assert set(data.qrels) == {"q1", "q2", "q3"} and data.qrels["q2"] == {"d5": 2.0, "d4": 1.0}
    result = evaluate_retrieval(KeywordEncoder(), folder, ks=(1, 2, 5))
    m = result.metrics
    # q1: d1 first. q2: d5 first, d4 second. q3 ("guitar"): nothing matches, d3 ranks anywhere.
    assert m["recall@5"] == pytest.approx(1.0)
    assert m["recall@1"] == pytest.approx((1 + 0.5 + (1.0 if m["mrr@10"] == 1 else 0)) / 3)
    assert set(m) == {"recall@1", "recall@2", "recall@5", "mrr@10", "ndcg@10"}
    assert 0 < m["ndcg@10"] <= 1


def test_retrieval_ndcg_by_hand():
    class Fixed(BaseEncoder):
        name, dim = "fixed", 2
        vecs = {"q": [1, 0], "a": [0.9, 0.1], "b": [0.5, 0.5], "c": [0.1, 0.9]}

        def _encode_batch(self, items):
            return np.array([self.vecs[t] for t in items], dtype=np.float32)

    data = RetrievalData({"q1": "q"}, {"A": "a", "B": "b", "C": "c"}, {"q1": {"B": 2.0, "C": 1.0}})
    m = evaluate_retrieval(Fixed(), data, ks=(1, 3)).metrics
    dcg = 2 / np.log2(3) + 1 / np.log2(4)
    idcg = 2 / np.log2(2) + 1 / np.log2(3)
    assert m["ndcg@10"] == pytest.approx(dcg / idcg)
    assert m["mrr@10"] == pytest.approx(0.5)
    assert m["recall@1"] == 0.0 and m["recall@3"] == 1.0


def test_bad_retrieval_folders(tmp_path):
    with pytest.raises(InvalidInput, match="no retrieval folder"):
        read_retrieval(tmp_path / "nope")
    folder = _beir(tmp_path)
    (folder / "qrels" / "test.tsv").unlink()
    with pytest.raises(InvalidInput, match="qrels/test.tsv or qrels.tsv"):
        read_retrieval(folder)
    (folder / "qrels.tsv").write_text("q9\td1\t1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="judges no query"):
        read_retrieval(folder)
    (folder / "corpus.jsonl").write_text("not json\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="corpus.jsonl, line 1"):
        read_retrieval(folder)
    with pytest.raises(InvalidInput, match="ks must be positive"):
        evaluate_retrieval(KeywordEncoder(), RetrievalData({}, {}, {}), ks=(0,))


def test_not_an_encoder():
    with pytest.raises(InvalidInput, match="encode"):
        evaluate_sts(object(), StsData(["a"], ["b"], np.array([1.0])))
    with pytest.raises(InvalidInput, match="encode"):
        evaluate_pairs("model", PairData(["a"], ["b"], np.array([1])))


def test_works_with_the_tiny_transformer(tiny_st_model, tmp_path):
    from embedkit.text.transformer import TransformerEncoder

    path = tmp_path / "sts.tsv"
    path.write_text(STS_TSV, encoding="utf-8")
    result = evaluate_sts(TransformerEncoder(tiny_st_model), path)
    assert -1 <= result.metrics["spearman"] <= 1 and result.model == "tiny-bert"


@pytest.mark.slow
def test_default_model_on_stsb_dev():
    import embedkit
    from embedkit.cli.sentences import _shared_data

    path = _shared_data("stsb/sts-dev.tsv")
    if path is None:
        pytest.skip("../shared/data/stsb/sts-dev.tsv is not present")
    data = read_sts(path)
    small = StsData(data.sentences1[:300], data.sentences2[:300], data.scores[:300], "stsb-dev-300")
    result = evaluate_sts(embedkit.load(), small)
    assert result.metrics["spearman"] > 0.8  # multilingual-e5-small is ~0.87 on the full dev set
