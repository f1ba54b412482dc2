"""Scores in great-circle km, bootstrap intervals, and where predictions land."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import geo, geocode, geoscores

KM_PER_DEGREE = np.pi * geo.EARTH_RADIUS_KM / 180.0
DUBLIN, BERLIN, BEIJING = (53.35, -6.26), (52.52, 13.40), (39.90, 116.40)


def scores_of(true_lat, true_lon, pred_lat, pred_lon, countries):
    """:func:`geoscores.evaluate_predictions` without intervals; each country's centroid is its first true place."""
    truth = pd.DataFrame({"lat": true_lat, "lon": true_lon, "country": countries})
    centroids = truth.drop_duplicates("country")
    return geoscores.evaluate_predictions("m", truth, pred_lat, pred_lon, centroids, n_boot=0)


def test_perfect_prediction_scores():
    lat, lon = np.array([34.0, 51.0, 53.3]), np.array([108.0, 10.0, -7.5])
    countries = np.array(["China", "Germany", "Ireland"])
    scores = scores_of(lat, lon, lat, lon, countries)
    assert scores["mean_km"] == scores["median_km"] == scores["balanced_median_km"] == 0.0
    assert scores["within_200km"] == scores["balanced_within_200km"] == 1.0
    assert scores["country_accuracy"] == scores["balanced_country_accuracy"] == 1.0


def test_balanced_median_weights_every_country_equally():
    # 90 German tunes off by 100 km, 10 Irish ones off by 1,000 km (due north).
    true_lat = np.r_[np.full(90, 51.0), np.full(10, 53.3)]
    true_lon = np.r_[np.full(90, 10.0), np.full(10, -7.5)]
    pred_lat = true_lat + np.r_[np.full(90, 100.0), np.full(10, 1000.0)] / KM_PER_DEGREE
    countries = np.r_[["Germany"] * 90, ["Ireland"] * 10]
    scores = scores_of(true_lat, true_lon, pred_lat, true_lon, countries)
    assert scores["median_km"] == pytest.approx(100.0)
    assert scores["balanced_median_km"] == pytest.approx(550.0)  # (100 + 1000) / 2
    assert scores["mean_km"] == pytest.approx(190.0)
    assert scores["balanced_mean_km"] == pytest.approx(550.0)
    assert scores["within_750km"] == pytest.approx(0.9) and scores["balanced_within_750km"] == pytest.approx(0.5)



def test_group_medians_even_and_odd_groups():
    codes = np.array([1, 0, 1, 0, 0, 1, 1])
    values = np.array([4.0, 3.0, 1.0, 1.0, 2.0, 3.0, 2.0])
    assert geoscores._group_medians(codes, values, 3)[:2].tolist() == [2.0, 2.5]
    assert np.isnan(geoscores._group_medians(codes, values, 3)[2])



def test_bootstrap_is_deterministic_for_a_seed():
    errors = np.random.default_rng(0).exponential(1000.0, 300)
    first = geoscores.bootstrap_ci(np.median, errors, n_boot=300, seed=7)
    assert first == geoscores.bootstrap_ci(np.median, errors, n_boot=300, seed=7)
    assert first != geoscores.bootstrap_ci(np.median, errors, n_boot=300, seed=8)
    assert first[0] < np.median(errors) < first[1]
    many = geoscores.bootstrap_ci(geoscores.error_metrics, errors, n_boot=50, seed=7)
    assert many["median_km"] == geoscores.bootstrap_ci(np.median, errors, n_boot=50, seed=7)



def test_country_of_nearest_centroid_and_error_table():
    centroids = pd.DataFrame({"lat": [51.0, 53.3], "lon": [10.0, -7.5], "country": ["DE", "IE"]})
    assert geocode.country_of([52.5, 54.0], [13.4, -6.0], centroids).tolist() == ["DE", "IE"]
    table = geoscores.error_table([0.0, 0.0, 10.0], [0.0, 0.0, 0.0], [1.0, 3.0, 10.0], [0.0, 0.0, 0.0],
                          ["a", "a", "b"])
    assert table.index.tolist() == ["a", "b"] and table.loc["a", "n"] == 2
    assert table.loc["a", "median_km"] == pytest.approx(2 * KM_PER_DEGREE)
    assert table.loc["b", "within_200km"] == 1.0 and table.loc["a", "within_200km"] == 0.5


def test_country_confusion_pools_rare_countries():
    true = ["DE", "DE", "DE", "CN", "CN", "IE", "SE"]
    pred = ["DE", "CN", "DE", "CN", "DE", "SE", "SE"]
    table = geoscores.country_confusion(true, pred, top=2)
    assert list(table.index) == ["DE", "CN", "other"]
    assert table.loc["DE", "DE"] == 2 and table.loc["CN", "DE"] == 1
    assert table.loc["other", "other"] == 2 and table.to_numpy().sum() == len(true)


def predictions() -> pd.DataFrame:
    """Three tunes; 'exact' predicts each true place, 'sea' predicts the mid-Atlantic."""
    truth = pd.DataFrame({"tune_id": ["a", "b", "c"], "lat": [DUBLIN[0], BERLIN[0], BEIJING[0]],
                          "lon": [DUBLIN[1], BERLIN[1], BEIJING[1]], "collection": ["oneills", "essen", "essen"]})
    exact = truth.assign(method="exact", pred_lat=truth["lat"], pred_lon=truth["lon"])
    sea = truth.assign(method="sea", pred_lat=45.0, pred_lon=-30.0)
    return pd.concat([sea, exact], ignore_index=True)



def test_placement_summary_known_answers():
    frame = predictions()
    table = geoscores.placement_summary(frame, [DUBLIN[0], BERLIN[0]], [DUBLIN[1], BERLIN[1]])
    assert list(table.index) == ["sea", "exact"]  # order of first appearance
    assert table.loc["sea", "on_land"] == 0.0 and table.loc["exact", "on_land"] == 1.0
    sea_km = geo.great_circle_km(45.0, -30.0, np.array([DUBLIN[0], BERLIN[0], BEIJING[0]]),
                                 np.array([DUBLIN[1], BERLIN[1], BEIJING[1]]))
    assert table.loc["sea", "median_error_km"] == pytest.approx(np.median(sea_km))
    assert table.loc["sea", "median_km_to_nearest_origin"] == pytest.approx(sea_km[0])  # Dublin is nearest
    assert table.loc["exact", "median_error_km"] == pytest.approx(0.0, abs=1e-6)
    # Beijing is no reference place: the exact method's median distance is Dublin/Berlin's 0 km.
    assert table.loc["exact", "median_km_to_nearest_origin"] == pytest.approx(0.0, abs=1e-6)
    assert table.loc["sea", "median_spread_km"] == pytest.approx(0.0, abs=1e-6)  # one place for every tune
    centre = geo.spherical_mean(frame["lat"][:3], frame["lon"][:3])
    assert table.loc["exact", "median_spread_km"] == pytest.approx(
        np.median(geo.great_circle_km(frame["lat"][:3], frame["lon"][:3], *centre)))
    assert list(geoscores.placement_summary(frame, [0.0], [0.0], methods=["exact"]).index) == ["exact"]



def test_error_by_group_known_answers_and_errors():
    frame = predictions()
    table = geoscores.error_by_group(frame, "collection", ["exact", "sea"])
    assert list(table.columns) == ["n", "exact", "sea"] and list(table.index) == ["essen", "oneills"]
    assert table.loc["essen", "n"] == 2 and table.loc["essen", "exact"] == pytest.approx(0.0, abs=1e-6)
    essen_sea = geo.great_circle_km(45.0, -30.0, np.array([BERLIN[0], BEIJING[0]]), np.array([BERLIN[1], BEIJING[1]]))
    assert table.loc["essen", "sea"] == pytest.approx(np.median(essen_sea))
    within = geoscores.error_by_group(frame, "collection", stat="within_200km")
    assert within.loc["oneills", "exact"] == 1.0 and within.loc["oneills", "sea"] == 0.0
    with pytest.raises(KeyError, match="nearest"):
        geoscores.error_by_group(frame, "collection", ["nearest"])
    with pytest.raises(ValueError, match="pred_lat"):
        geoscores.placement_summary(frame.drop(columns="pred_lat"), [0.0], [0.0])


def test_balanced_country_accuracy_10_counts_only_countries_with_ten_tunes():
    country = np.array(["A"] * 10 + ["B"] * 12 + ["C"] * 3)
    correct = np.r_[np.ones(5), np.zeros(5), np.ones(12), np.zeros(3)]
    got = geoscores.error_metrics(np.ones(25), country, correct)
    assert got["balanced_country_accuracy"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert got["balanced_country_accuracy_10"] == pytest.approx((0.5 + 1.0) / 2)  # C has 3 tunes: left out
    assert np.isnan(geoscores.error_metrics(np.ones(3), country[-3:], correct[-3:])["balanced_country_accuracy_10"])


def test_region_fold_scores_of_sure_and_of_unsure_answers():
    train = pd.DataFrame({"lat": [52.0] * 3 + [31.0] * 3, "lon": [13.0] * 3 + [121.0] * 3,
                          "country": ["Germany"] * 3 + ["China"] * 3})
    regions_of = ["Berlin"] * 3 + ["Shanghai"] * 3
    test = pd.DataFrame({"lat": [52.0] * 10 + [31.0] * 10, "lon": [13.0] * 10 + [121.0] * 10,
                         "country": ["Germany"] * 10 + ["China"] * 10})
    # a third class without a training tune in the fold is dropped, the rest renormalised
    sure = np.r_[np.tile([0.6, 0.0, 0.4], (10, 1)), np.tile([0.0, 0.6, 0.4], (10, 1))]
    scores = geoscores.region_fold_scores(sure, np.array(["Berlin", "Shanghai", "Nowhere"]), train, regions_of, test)
    assert scores["balanced country accuracy (>= 10 tunes)"] == 1.0
    assert scores["balanced median, top decoding, km"] == pytest.approx(0.0, abs=1e-6)
    assert scores["balanced median, median decoding, km"] == pytest.approx(0.0, abs=1e-6)
    # every answer the wrong region: each country's error is the distance between the two places
    wrong = geoscores.region_fold_scores(sure[::-1], np.array(["Berlin", "Shanghai", "Nowhere"]), train, regions_of, test)
    assert wrong["balanced country accuracy (>= 10 tunes)"] == 0.0
    apart = geo.great_circle_km(52.0, 13.0, 31.0, 121.0)
    assert wrong["balanced median, top decoding, km"] == pytest.approx(apart, rel=1e-6)
