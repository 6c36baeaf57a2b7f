import numpy as np
import pytest

from embedkit.analysis.clusters import class_tfidf, cluster
from embedkit.analysis.dimensions import dimension_probe, gaussian_probe
from embedkit.errors import InvalidInput


def _data(seed=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(0, 1, (3, 16))
    X = np.vstack([c[i] * 5 + rng.normal(0, 0.5, (30, 16)) for i in range(3)]).astype(np.float32)
    topics = [["the dog barks", "a puppy and a dog"], ["fresh apple juice", "banana and apple"],
              ["stock market falls", "market prices rise"]]
    texts = [topics[i][j % 2] for i in range(3) for j in range(30)]
    return X, np.repeat(np.arange(3), 30), texts


def test_kmeans_picks_k_and_describes_clusters():
    X, y, texts = _data()
    r = cluster(X, "kmeans", texts=texts)
    assert r.params["k"] == 3 and r.silhouette > 0.5
    tops = {c.terms[0][0] for c in r.clusters}
    assert tops == {"dog", "apple", "market"}
    for c in r.clusters:  # typical members come from the cluster
        assert len({y[i] for i in c.members}) == 1


def test_hdbscan_finds_the_blobs():
    X, y, texts = _data()
    r = cluster(X, "hdbscan", min_cluster_size=10, texts=texts)
    assert r.n_clusters == 3
    kept = r.labels >= 0
    # each found cluster is one true blob
    for lab in set(r.labels[kept].tolist()):
        assert len(set(y[r.labels == lab].tolist())) == 1


def test_ctfidf_formula():
    terms = class_tfidf(["a b b", "a c"], [0, 1], tokenizer=str.split, stop_words=frozenset())
    # A = 2.5 tokens/class; f(b) = 2 -> (2/3) * log(1 + 2.5/2)
    assert terms[0][0][0] == "b"
    assert terms[0][0][1] == pytest.approx((2 / 3) * np.log(1 + 2.5 / 2))


def test_cluster_bad_input():
    X, _, _ = _data()
    with pytest.raises(InvalidInput, match="k must be"):
        cluster(X, k=500)
    with pytest.raises(InvalidInput, match="texts has 3"):
        cluster(X, texts=["a", "b", "c"])
    with pytest.raises(InvalidInput, match="same vector"):
        cluster(np.zeros((10, 3)))


def test_distance_concentration_and_recall():
    g = gaussian_probe(600, [2, 16, 128], n_queries=100)
    rc = [r["relative_contrast"] for r in g]
    assert rc[0] > rc[1] > rc[2]  # distances concentrate as the dimension grows
    assert g[0]["cosine_std"] > g[2]["cosine_std"]
    # Low-rank data: 8 directions carry everything, so PCA to 8 keeps the neighbours exactly.
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(600, 8)) @ rng.normal(size=(8, 64))).astype(np.float32)
    rows = dimension_probe(X, [2, 8, 64], n_queries=100)
    assert rows[-1]["recall_at_k"] == pytest.approx(1.0)
    assert rows[1]["recall_at_k"] > 0.99 and rows[0]["recall_at_k"] < 0.5
    trunc = dimension_probe(X, [8, 64], reduce="truncate", n_queries=100)
    assert trunc[0]["recall_at_k"] < rows[1]["recall_at_k"]
    with pytest.raises(InvalidInput, match="outside"):
        dimension_probe(X, [128])
