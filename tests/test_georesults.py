"""Result files and display tables of the geographic comparison."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import geomethods, georesults


def test_baseline_ratios_use_the_best_constant_and_the_linear_model():
    table = pd.DataFrame({"method": ["constant: spherical mean", "constant: geometric median",
                                     geomethods.ScaledLatLonLinear.name, "k nearest neighbours", "other"],
                          "balanced_median_km": [1000.0, 800.0, 900.0, 400.0, 500.0]})
    ratios = georesults.baseline_ratios(table).set_index("reference")["ratio"]
    assert ratios["constant: geometric median"] == pytest.approx(0.5)
    assert ratios[geomethods.ScaledLatLonLinear.name] == pytest.approx(400 / 900)



def test_results_round_trip(tmp_path):
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    lat, lon = np.array([50.0, 51.0, 30.0, 31.0]), np.array([10.0, 11.0, 110.0, 111.0])
    regions = np.array(["DE", "DE", "CN", "CN"])
    methods = [geomethods.ConstantSphericalMean().fit(X, lat, lon),
               geomethods.RegionClassifier("logreg", Cs=(1.0,)).fit(X, lat, lon, regions=regions)]
    predictions = geomethods.method_predictions(methods, X[:2], ["t1", "t2"])
    proba = pd.DataFrame(methods[1].predict_proba(X[:2]), index=["t1", "t2"], columns=methods[1].classes_)
    path = georesults.save_baseline_results(tmp_path / "r.parquet", predictions, proba, methods[1].name)
    loaded, loaded_proba, name = georesults.load_baseline_results(path)
    pd.testing.assert_frame_equal(loaded, predictions)
    pd.testing.assert_frame_equal(loaded_proba, proba, check_names=False)
    assert name == methods[1].name and loaded_proba.loc["t1"].sum() == pytest.approx(1.0)



def test_summary_table_rounds_and_shows_intervals():
    row = {"method": "m", "balanced_median_km": 1234.4, "balanced_median_km_ci_low": 1001.0,
           "balanced_median_km_ci_high": 1466.0, "median_km": 96.0, "mean_km": 2004.9,
           "balanced_within_750km": 0.4567, "country_accuracy": 0.5, "balanced_country_accuracy": 0.25}
    table = georesults.summary_table(pd.DataFrame([row]))
    assert table.loc["m", "balanced median km (mean of country medians)"] == "1230 [1000, 1470]"
    assert table.loc["m", "median km"] == "100" and table.loc["m", "balanced within 750 km"] == "0.46"


def test_hit_rate_table_formats_intervals():
    table = pd.DataFrame({"method": ["kNN", "constant"], "within_200km": [0.254, 0.1],
                          "within_200km_ci_low": [0.21, np.nan], "within_200km_ci_high": [0.291, np.nan],
                          "mean_km": [1234.0, 2000.0]})
    out = georesults.hit_rate_table(table, columns=[("within_200km", "within 200 km", False),
                                                   ("mean_km", "mean km", True)])
    assert out.loc["kNN", "within 200 km"] == "0.25 [0.21, 0.29]"
    assert out.loc["constant", "within 200 km"] == "0.10"  # no interval: the value alone
    assert out.loc["kNN", "mean km"] == "1230" and list(out.index) == ["kNN", "constant"]
    assert [h for _, h, _ in georesults.HIT_RATE_COLUMNS][:3] == ["within 200 km", "within 750 km", "within 2,500 km"]
