"""2-D embeddings: determinism, cache hits, map-quality metrics with known answers, neighbours."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from musicgeo_utils import config, embedding

FAST_TSNE = {"perplexity": 15, "max_iter": 250}


@pytest.fixture(scope="module")
def blobs():
    """240 points in 16-D, four well-separated clusters (labels are the clusters)."""
    X, y = make_blobs(n_samples=240, n_features=16, centers=4, cluster_std=1.0,
                      center_box=(-20, 20), random_state=3)
    return X.astype(np.float32), np.array([f"style {c}" for c in y])


def test_embed_is_deterministic_with_the_seed(blobs):
    X, _ = blobs
    first = embedding.embed(X, "tsne", FAST_TSNE, seed=7)
    again = embedding.embed(X, "tsne", FAST_TSNE, seed=7)
    assert first.shape == (240, 2) and first.dtype == np.float32
    assert np.array_equal(first, again)  # (with init="pca" t-SNE draws nothing from the seed)
    pca = embedding.embed(X, "pca", seed=0)
    assert np.array_equal(pca, embedding.embed(X, "pca", seed=1))  # PCA has no randomness left
    # Standardised first: the PCA plane of X and of 1000 * X + 5 is the same.
    assert np.allclose(pca, embedding.embed(1000 * X + 5, "pca"), atol=1e-3)


def test_separated_clusters_give_high_purity_and_trustworthiness(blobs):
    X, labels = blobs
    Y = embedding.embed(X, "tsne", FAST_TSNE, seed=0)
    quality = embedding.map_quality(embedding.standardize(X), Y, labels, n_neighbors=10)
    assert quality["knn_purity_2d"] > 0.9 and quality["knn_purity_high"] > 0.9
    assert quality["trustworthiness"] > 0.9
    assert quality["chance_purity"] == pytest.approx(4 * 60 * 59 / (240 * 239))


def test_random_labels_give_purity_near_chance(blobs):
    X, _ = blobs
    labels = np.random.default_rng(0).choice(["a", "b", "c"], size=len(X))
    Y = embedding.embed(X, "pca")
    quality = embedding.map_quality(embedding.standardize(X), Y, labels)
    assert abs(quality["knn_purity_2d"] - quality["chance_purity"]) < 0.06
    assert abs(quality["knn_purity_high"] - quality["chance_purity"]) < 0.06
    assert 0.3 < quality["chance_purity"] < 0.36  # three roughly equal classes


def test_trustworthiness_falls_when_the_map_scrambles_neighbours(blobs):
    X, labels = blobs
    Y = embedding.embed(X, "pca")
    shuffled = np.random.default_rng(1).permutation(Y)
    good = embedding.map_quality(X, Y, labels)["trustworthiness"]
    bad = embedding.map_quality(X, shuffled, labels)["trustworthiness"]
    assert good > 0.9 and bad < 0.6


def test_grid_is_cached_on_disk_and_not_recomputed(blobs):
    X, labels = blobs
    X = X[:120] + 0.25  # an input no other test embeds
    before = embedding.COMPUTED.copy()
    coords, quality = embedding.embedding_grid(X, labels[:120], seed=3, tsne_perplexities=(10,),
                                               umap_grid=(), tsne_max_iter=250)
    assert list(coords) == ["PCA", "t-SNE perplexity=10"]
    assert embedding.COMPUTED - before == {"pca": 1, "tsne": 1}
    assert not quality["cached"].any()
    files = sorted((config.DATA_DIR / "embeddings").glob("*.npy"))
    assert any(f.name.startswith("tsne-") for f in files)
    mtimes = {f: f.stat().st_mtime_ns for f in files}

    middle = embedding.COMPUTED.copy()
    again, quality2 = embedding.embedding_grid(X, labels[:120], seed=3, tsne_perplexities=(10,),
                                               umap_grid=(), tsne_max_iter=250)
    assert embedding.COMPUTED == middle  # nothing recomputed
    assert quality2["cached"].all()
    assert all(np.array_equal(coords[k], again[k]) for k in coords)
    assert {f: f.stat().st_mtime_ns for f in files} == mtimes
    cols = ["trustworthiness", "knn_purity_2d", "knn_purity_high"]
    pd.testing.assert_frame_equal(quality[cols], quality2[cols])
    # Another seed is another cache entry.
    embedding.embedding_grid(X, labels[:120], seed=4, tsne_perplexities=(10,), umap_grid=(),
                             tsne_max_iter=250)
    assert embedding.COMPUTED - middle == {"pca": 1, "tsne": 1}


def test_grid_in_worker_processes_gives_the_same_layouts_and_caches_them(blobs):
    """``n_jobs=2``: the settings not cached yet are computed in two worker processes, under this process's
    thread limits; each layout is bit for bit the one computed here, counted, and cached for the next call."""
    X, labels = blobs
    X = X[:150] - 0.5  # an input no other test embeds
    before = embedding.COMPUTED.copy()
    coords, quality = embedding.embedding_grid(X, labels[:150], seed=2, tsne_perplexities=(8, 20), umap_grid=(),
                                               tsne_max_iter=250, n_jobs=2)
    assert list(coords) == ["PCA", "t-SNE perplexity=8", "t-SNE perplexity=20"]
    assert embedding.COMPUTED - before == {"pca": 1, "tsne": 2} and not quality["cached"].any()
    for name, (method, params) in zip(coords, [("pca", {}), ("tsne", {"perplexity": 8, "max_iter": 250}),
                                               ("tsne", {"perplexity": 20, "max_iter": 250})]):
        assert np.array_equal(coords[name], embedding.embed(X, method, params, seed=2)), name
    again, quality2 = embedding.embedding_grid(X, labels[:150], seed=2, tsne_perplexities=(8, 20), umap_grid=(),
                                               tsne_max_iter=250, n_jobs=2)
    assert quality2["cached"].all() and all(np.array_equal(coords[k], again[k]) for k in coords)


def test_best_per_method_picks_the_highest_of_each(blobs):
    quality = pd.DataFrame({"method": ["PCA", "t-SNE", "t-SNE", "UMAP", "UMAP"],
                            "knn_purity_2d": [0.5, 0.7, 0.9, 0.8, 0.6]},
                           index=["PCA", "t-SNE a", "t-SNE b", "UMAP a", "UMAP b"])
    assert embedding.best_per_method(quality) == ["PCA", "t-SNE b", "UMAP a"]


def test_neighbour_comparison_on_a_line():
    # Points on a line at 0, 1, 2, ... 9; the map reverses the order of the last five.
    X = np.arange(10, dtype=float)[:, None] * np.ones((1, 3))
    Y2 = np.c_[[0, 1, 2, 3, 4, 9, 8, 7, 6, 5], np.zeros(10)].astype(float)
    ids = [f"tune{i}" for i in range(10)]
    table = embedding.neighbour_comparison(X, Y2, ids, ["tune0", "tune5"], k=2,
                                           labels=["a"] * 5 + ["b"] * 5)
    assert table.shape == (4, 11)
    first = table[table["query"] == "tune0"]
    assert first["feature_neighbour"].tolist() == ["tune1", "tune2"]
    assert first["map_neighbour"].tolist() == ["tune1", "tune2"]
    assert first["overlap"].tolist() == [2, 2] and first["feature_neighbour_on_map"].all()
    assert first["feature_distance"].tolist() == pytest.approx([np.sqrt(3), 2 * np.sqrt(3)])
    # tune5 sits at 9 on the map: its map neighbours are tune6 (8) and tune7 (7);
    # in feature space tune4 and tune6 are at distance sqrt(3): one shared neighbour.
    fifth = table[table["query"] == "tune5"]
    assert set(fifth["feature_neighbour"]) == {"tune4", "tune6"}
    assert fifth["map_neighbour"].tolist() == ["tune6", "tune7"]
    assert fifth["overlap"].tolist() == [1, 1]
    assert fifth["query_label"].tolist() == ["b", "b"]
    with pytest.raises(KeyError, match="tune99"):
        embedding.neighbour_comparison(X, Y2, ids, ["tune99"])


def test_softmax_log_ratio_recovers_centred_logits():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [30.0, -30.0, 0.0]])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ratio = embedding.softmax_log_ratio(probs, eps=1e-30)
    assert np.allclose(ratio, logits - logits.mean(axis=1, keepdims=True), atol=1e-4)
    with pytest.raises(ValueError, match="not a probability vector"):
        embedding.softmax_log_ratio(logits)


def test_bad_inputs_get_clear_errors(blobs):
    X, labels = blobs
    with pytest.raises(ValueError, match="unknown embedding method 'mds'"):
        embedding.embed(X, "mds")
    with pytest.raises(ValueError, match=r"unknown parameters \['perplexty'\]"):
        embedding.embed(X, "tsne", {"perplexty": 5})
    with pytest.raises(ValueError, match="perplexity=300 must be above 1 and below the 240 points"):
        embedding.embed(X, "tsne", {"perplexity": 300})
    bad = X.copy()
    bad[[4, 9]] = np.nan
    with pytest.raises(ValueError, match=r"2 rows with NaN/inf, e.g. rows \[4, 9\]"):
        embedding.embed(bad, "pca")
    with pytest.raises(ValueError, match="labels has shape"):
        embedding.map_quality(X, X[:, :2], labels[:5])


@pytest.mark.slow
def test_umap_is_deterministic_cached_and_not_imported_on_a_cached_rerun(blobs, tmp_path):
    X, labels = blobs
    grid = dict(tsne_perplexities=(), umap_grid=((10, 0.1),))
    coords, quality = embedding.embedding_grid(X, labels, seed=5, **grid)
    Y = coords["UMAP n_neighbors=10 min_dist=0.1"]
    assert np.array_equal(Y, embedding.embed(X, "umap", {"n_neighbors": 10}, seed=5))
    assert quality.loc["UMAP n_neighbors=10 min_dist=0.1", "knn_purity_2d"] > 0.9
    # A fresh process (a notebook rerun) reads the cache and never imports umap.
    script = ("import sys, numpy as np; from musicgeo_utils import embedding as e; "
              "X = np.load(sys.argv[1]); labels = np.load(sys.argv[2]); "
              "c, q = e.embedding_grid(X, labels, seed=5, tsne_perplexities=(), umap_grid=((10, 0.1),)); "
              "print(bool(q.cached.all()), 'umap' in sys.modules)")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "labels.npy", labels)
    env = {**os.environ, "MUSICGEO_DATA": str(config.DATA_DIR)}
    args = [sys.executable, "-c", script, str(tmp_path / "X.npy"), str(tmp_path / "labels.npy")]
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=True)
    assert out.stdout.split() == ["True", "False"]


def test_layouts_figure_has_a_panel_per_layout_and_one_legend(blobs):
    X, labels = blobs
    coords = {"PCA": embedding.embed(X, "pca"), "PCA again": embedding.embed(2 * X, "pca")}
    fig = embedding.layouts_figure(coords, labels, ncols=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["PCA", "PCA again"]
    assert all("method units" in ax.get_xlabel() for ax in visible)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == sorted(set(labels))
    assert sum(len(c.get_offsets()) for c in visible[0].collections) == len(X)


def test_neighbour_agreement_separated_clusters_and_chance():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (30, 3)), rng.normal(10, 0.1, (30, 3))])
    labels = ["a"] * 30 + ["b"] * 30
    result = embedding.neighbour_agreement(X, labels, k=5)
    assert result["agreement"] == 1.0 and result["balanced_agreement"] == 1.0
    assert result["chance"] == pytest.approx(29 / 59) and result["balanced_chance"] == 0.5  # 2 * 30 * 29 / (60 * 59)
    assert result["agreement"] == embedding.knn_label_purity(X, labels, 5)
    shuffled = embedding.neighbour_agreement(X, rng.permutation(labels), k=5)
    assert shuffled["agreement"] < 0.75


def test_cosine_nearest_ranks_by_angle_excludes_rows_and_breaks_ties_low():
    R = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.1], [2.0, 0.0]])
    index, similarity = embedding.cosine_nearest(R, [[1.0, 1.0]], k=2)
    assert index.tolist() == [[2, 0]] and similarity[0, 0] > 0.99  # rows 0, 1 and 3 tie: the lowest wins
    index, _ = embedding.cosine_nearest(R, R, k=1, exclude=np.arange(4), block=3)
    assert index[:, 0].tolist() == [3, 2, 1, 0]  # never itself, across blocks
    with pytest.raises(ValueError, match="dimensions"):
        embedding.cosine_nearest(R, [[1.0, 0.0, 0.0]], k=1)


def test_grid_leaves_out_settings_too_wide_for_the_points_and_says_which(blobs):
    X, labels = blobs
    with pytest.warns(UserWarning, match="t-SNE perplexity=30 left out.*12 points"), \
            pytest.warns(UserWarning, match="5 neighbours, below half the 12 points"):
        coords, quality = embedding.embedding_grid(X[:12] + 0.5, labels[:12], seed=0, tsne_perplexities=(5, 30),
                                                   umap_grid=(), tsne_max_iter=250, n_neighbors_eval=10)
    assert list(coords) == ["PCA", "t-SNE perplexity=5"] and list(quality.index) == list(coords)
