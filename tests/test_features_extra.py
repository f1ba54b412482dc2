"""Analysis helpers added for notebooks 02 and 03: known answers on small inputs."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import baselines as b
from musicgeo_utils import features as f
from musicgeo_utils import plots


def chroma_table(rows):
    columns = [f"chroma_{p}_mean" for p in f.PITCH_CLASSES]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- features


def test_chroma_entropy_of_one_pitch_class_and_of_all_twelve():
    one_hot = np.eye(12)[9]  # only A
    table = chroma_table([one_hot, np.ones(12), [1, 0, 1] + [0] * 9])
    bits = f.chroma_entropy_bits(table)
    assert bits.tolist() == pytest.approx([0.0, np.log2(12), 1.0])


def test_chroma_entropy_refuses_missing_columns_and_negative_values():
    with pytest.raises(ValueError, match="chroma mean"):
        f.chroma_entropy_bits(pd.DataFrame({"chroma_C_mean": [1.0]}))
    with pytest.raises(ValueError, match="non-negative"):
        f.chroma_entropy_bits(chroma_table([-np.ones(12)]))


def test_standardise_uses_training_rows_only_and_drops_constant_columns():
    summary = pd.DataFrame({"a": [1.0, 3.0, 100.0], "flat": [2.0, 2.0, 5.0]}, index=["x", "y", "z"])
    z, dropped = f.standardise_summary(summary, np.array([True, True, False]))
    assert dropped == ["flat"]
    assert z["a"].tolist() == pytest.approx([-1.0, 1.0, 98.0])  # mean 2, std 1 from rows x, y


def test_standardise_names_the_clips_with_nan_features():
    summary = pd.DataFrame({"a": [1.0, np.nan, 2.0]}, index=["ok", "broken", "fine"])
    with pytest.raises(ValueError, match="broken"):
        f.standardise_summary(summary, np.array([True, True, True]))


def test_neighbour_agreement_separated_clusters_and_chance():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (30, 3)), rng.normal(10, 0.1, (30, 3))])
    labels = ["a"] * 30 + ["b"] * 30
    result = f.neighbour_agreement(X, labels, k=5)
    assert result["agreement"] == 1.0 and result["balanced_agreement"] == 1.0
    assert result["chance"] == pytest.approx(0.5) and result["balanced_chance"] == 0.5
    shuffled = f.neighbour_agreement(X, rng.permutation(labels), k=5)
    assert shuffled["agreement"] < 0.75


def test_summary_tsne_is_seeded_and_two_dimensional():
    X = np.random.default_rng(1).normal(size=(60, 8))
    first = f.summary_tsne(X, seed=3, perplexity=10, n_jobs=1)
    second = f.summary_tsne(X, seed=3, perplexity=10, n_jobs=1)
    assert first.shape == (60, 2)
    np.testing.assert_allclose(first, second)
    with pytest.raises(ValueError, match="perplexity"):
        f.summary_tsne(X[:5], perplexity=10)


# --------------------------------------------------------------------------- regions


def tunes_table(spec):
    """Rows of (region, country, n_train, n_test)."""
    rows = []
    for region, country, n_train, n_test in spec:
        rows += [{"region": region, "country": country, "split": "train"}] * n_train
        rows += [{"region": region, "country": country, "split": "test"}] * n_test
    return pd.DataFrame(rows)


def test_classification_regions_merge_small_regions_upwards():
    tunes = tunes_table([
        ("Lothringen", "France", 20, 3),  # big enough: kept
        ("Elsass", "France", 5, 1),  # small: France, which is still small -> Western Europe
        ("Schlesien", "Poland", 16, 2),
        ("Pommern", "Poland", 4, 1),  # also a region name in Germany: disambiguated, then merged
        ("Pommern", "Germany", 12, 0),  # small -> Germany, which has 12 + 10 = 22
        ("Germany", "Germany", 10, 4),
        ("Sweden", "Sweden", 3, 1),  # -> Northern Europe -> Europe (other)
        ("Soviet Union", "Soviet Union", 2, 0),  # historical: Eastern Europe -> Europe
        ("Taiwan", "Taiwan", 2, 1),  # Eastern Asia -> Asia -> rest of world
    ])
    labels = b.classification_regions(tunes, min_train=15)
    by_place = pd.Series(labels.to_numpy(), index=tunes["region"] + "/" + tunes["country"]).groupby(level=0).first()
    assert by_place["Lothringen/France"] == "Lothringen"
    assert by_place["Schlesien/Poland"] == "Schlesien"
    assert by_place["Pommern/Germany"] == by_place["Germany/Germany"] == "Germany"
    assert by_place["Taiwan/Taiwan"] == "rest of world"
    # Elsass (5) + Pommern/Poland (4) + Sweden (3) + Soviet Union (2) = 14 < 15 -> pooled in Europe (other)
    assert by_place["Elsass/France"] == "rest of world"
    train_counts = labels[tunes["split"] == "train"].value_counts()
    assert (train_counts.drop("rest of world") >= 15).all()
    assert labels.name == "class_region" and labels.index.equals(tunes.index)


def test_classification_regions_keeps_subregion_buckets_when_large_enough():
    tunes = tunes_table([("Elsass", "France", 8, 1), ("Flandern", "Belgium", 9, 1), ("Big", "Germany", 30, 2)])
    labels = b.classification_regions(tunes, min_train=15)
    assert set(labels) == {"Western Europe (other)", "Big"}


def test_country_area_known_historical_and_unknown():
    assert b.country_area("Germany") == ("Western Europe", "Europe")
    assert b.country_area("Czechoslovakia") == ("Eastern Europe", "Europe")
    assert b.country_area("Atlantis") == ("unknown area", "unknown area")


# --------------------------------------------------------------------------- analysis of results


def test_baseline_ratios_use_the_best_constant_and_the_linear_model():
    table = pd.DataFrame({"method": ["constant: spherical mean", "constant: geometric median",
                                     b.ScaledLatLonLinear.name, "k nearest neighbours", "other"],
                          "balanced_median_km": [1000.0, 800.0, 900.0, 400.0, 500.0]})
    ratios = b.baseline_ratios(table).set_index("reference")["ratio"]
    assert ratios["constant: geometric median"] == pytest.approx(0.5)
    assert ratios[b.ScaledLatLonLinear.name] == pytest.approx(400 / 900)


def test_country_confusion_pools_rare_countries():
    true = ["DE", "DE", "DE", "CN", "CN", "IE", "SE"]
    pred = ["DE", "CN", "DE", "CN", "DE", "SE", "SE"]
    table = b.country_confusion(true, pred, top=2)
    assert list(table.index) == ["DE", "CN", "other"]
    assert table.loc["DE", "DE"] == 2 and table.loc["CN", "DE"] == 1
    assert table.loc["other", "other"] == 2 and table.to_numpy().sum() == len(true)


def test_on_land_cities_and_seas():
    # Paris, Beijing, Boston (inland); mid-Atlantic, Caspian Sea, Pacific
    lat = [48.86, 39.90, 42.36, 35.0, 42.0, 0.0]
    lon = [2.35, 116.40, -71.10, -40.0, 50.5, -150.0]
    assert b.on_land(lat, lon).tolist() == [True, True, True, False, False, False]


def test_nearest_distance_km_paris_to_berlin_or_beijing():
    km = b.nearest_distance_km([48.8566], [2.3522], [52.52, 39.9042], [13.405, 116.4074])
    assert km[0] == pytest.approx(878, abs=10)


def test_results_round_trip(tmp_path):
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    lat, lon = np.array([50.0, 51.0, 30.0, 31.0]), np.array([10.0, 11.0, 110.0, 111.0])
    regions = np.array(["DE", "DE", "CN", "CN"])
    methods = [b.ConstantSphericalMean().fit(X, lat, lon),
               b.RegionClassifier("logreg", Cs=(1.0,)).fit(X, lat, lon, regions=regions)]
    predictions = b.method_predictions(methods, X[:2], ["t1", "t2"])
    proba = pd.DataFrame(methods[1].predict_proba(X[:2]), index=["t1", "t2"], columns=methods[1].classes_)
    path = b.save_baseline_results(tmp_path / "r.parquet", predictions, proba, methods[1].name)
    loaded, loaded_proba, name = b.load_baseline_results(path)
    pd.testing.assert_frame_equal(loaded, predictions)
    pd.testing.assert_frame_equal(loaded_proba, proba, check_names=False)
    assert name == methods[1].name and loaded_proba.loc["t1"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- plots


def test_plot_helpers_label_their_axes():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2)
    plots.error_cdf(axes[0, 0], {"a": [10, 100, 1000], "b": [5, 50]})
    plots.group_boxes(axes[0, 1], [1, 2, 3, 4], ["x", "x", "y", "y"], "tempo (BPM)")
    plots.embedding_scatter(axes[1, 0], np.zeros((4, 2)), ["x", "x", "y", "y"])
    plots.confusion_heatmap(axes[1, 1], b.country_confusion(["a", "b"], ["a", "a"]))
    assert "km" in axes[0, 0].get_xlabel() and "BPM" in axes[0, 1].get_xlabel()
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes.ravel() if ax is not axes[0, 1])
    plt.close(fig)


def test_summary_families_cover_every_summary_name_in_order():
    params = f.FeatureParams(n_mfcc=13, percentiles=(50.0,))
    table = f.summary_families(params)
    assert table["name"].tolist() == f.summary_names(params)
    counts = table["family"].value_counts()
    assert counts["mfcc"] == 13 * 3 and counts["chroma"] == 12 * 3 and counts["rhythm"] == 4
    assert counts["spectral"] == (3 + params.n_contrast_bands + 1) * 3
    assert counts["tonal"] == 22 + 12 * len(params.interval_lags_beats) and counts["meter"] == 12 * 4 + 1


def test_distinct_colors_stay_distinct_beyond_the_style_palette():
    few = plots.distinct_colors(["German folk", "x"])
    assert few["German folk"] == plots.STYLE_COLORS["German folk"]
    many = plots.distinct_colors([f"program {i}" for i in range(16)])
    assert len(set(many.values())) == 16


def test_summary_table_rounds_and_shows_intervals():
    row = {"method": "m", "balanced_median_km": 1234.4, "balanced_median_km_ci_low": 1001.0,
           "balanced_median_km_ci_high": 1466.0, "median_km": 96.0, "mean_km": 2004.9,
           "balanced_within_750km": 0.4567, "country_accuracy": 0.5, "balanced_country_accuracy": 0.25}
    table = b.summary_table(pd.DataFrame([row]))
    assert table.loc["m", "balanced median km"] == "1230 [1000, 1470]"
    assert table.loc["m", "median km"] == "100" and table.loc["m", "balanced within 750 km"] == "0.46"
