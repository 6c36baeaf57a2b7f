import warnings

import numpy as np
import pytest

from embedkit.analysis.plots import cjk_font, scatter
from embedkit.analysis.projection import Projection, project, project_array
from embedkit.errors import InvalidInput


def _blobs(n_per=40, d=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (3, d))
    X = np.vstack([c + rng.normal(0, 1, (n_per, d)) for c in centres]).astype(np.float32)
    y = np.repeat(np.arange(3), n_per)
    return X, y


def _separation(Y, y):
    """Share of points whose nearest other point (in the projection) has the same label."""
    d = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(y[d.argmin(1)] == y))


@pytest.mark.parametrize("method,opts", [("pca", {}), ("tsne", {"perplexity": 10}),
                                         ("umap", {"n_neighbors": 10})])
def test_projection_keeps_clusters_and_is_deterministic(method, opts):
    X, y = _blobs()
    a = project_array(X, method, 2, seed=3, **opts)
    b = project_array(X, method, 2, seed=3, **opts)
    assert a.shape == (120, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert _separation(a, y) > 0.95


def test_pca_3d_and_matches_sklearn():
    from sklearn.decomposition import PCA

    X, _ = _blobs()
    out = project_array(X, "pca", 3)
    ref = PCA(3, random_state=0).fit_transform(X)
    np.testing.assert_allclose(np.abs(out), np.abs(ref), atol=1e-3)


def test_bad_input_is_named():
    X, _ = _blobs(n_per=5)
    with pytest.raises(InvalidInput, match="perplexity"):
        project_array(X, "tsne", perplexity=30)
    with pytest.raises(InvalidInput, match="n_neighbors"):
        project_array(X, "umap", n_neighbors=50)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(InvalidInput, match="NaN.*row 3"):
        project_array(bad)
    with pytest.raises(InvalidInput, match="same vector"):
        project_array(np.ones((10, 4)))
    with pytest.raises(InvalidInput, match="'method'"):
        project_array(X, "mds")
    with pytest.raises(InvalidInput, match="unknown option"):
        project_array(X, "pca", perplexity=5)
    with pytest.raises(InvalidInput, match="'dim'"):
        project_array(X, "pca", dim=4)


def test_project_word_vectors_keeps_labels_and_saves(tmp_path):
    from embedkit.text.word_vectors import WordVectors

    X, _ = _blobs(n_per=10)
    wv = WordVectors([f"w{i}" for i in range(30)], X, counts=np.arange(30, 0, -1))
    p = project(wv, "pca", words=["w1", "w2", "w15"])
    assert p.labels == ["w1", "w2", "w15"] and p.metadata[0]["count"] == 29
    with pytest.raises(InvalidInput, match="not in the model"):
        project(wv, words=["w1", "nope"])
    p = project(wv, limit=20)
    assert len(p) == 20
    import pyarrow.parquet as pq

    p.save(tmp_path / "c.parquet")
    t = pq.read_table(tmp_path / "c.parquet")
    assert t.column("label").to_pylist()[:2] == ["w0", "w1"]
    np.testing.assert_allclose(t.column("x").to_numpy(), p.coords[:, 0], rtol=1e-6)


def test_hangul_plot_renders_without_missing_glyphs(tmp_path):
    assert cjk_font() is not None, "no CJK font: install fonts-nanum (scripts/setup.sh does)"
    X, y = _blobs(n_per=5)
    labels = ["강아지", "고양이", "토끼", "사과", "바나나"] * 3
    groups = ["동물", "과일", "색깔"]
    p = Projection(coords=project_array(X, "pca"), method="pca", dim=2, seed=0, labels=labels,
                   metadata=[{"group": groups[i]} for i in y])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scatter(p, tmp_path / "map.png", color_by="group", annotate=10, title="한국어 지도")
        scatter(p, tmp_path / "map.svg", color_by="group", annotate=5)
    glyph = [w for w in caught if "Glyph" in str(w.message) or "missing from" in str(w.message)]
    assert not glyph, [str(w.message) for w in glyph]
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "map.svg").read_text()[:500]
    with pytest.raises(InvalidInput, match="metadata field 'colour'"):
        scatter(p, color_by="colour")
