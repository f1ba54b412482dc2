"""Geographic methods (fit, tune, predict, compare) on a seeded, clustered synthetic problem."""
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from musicgeo_utils import geocode, geomethods, geoscores
from musicgeo_utils import geo

KM_PER_DEGREE = np.pi * geo.EARTH_RADIUS_KM / 180.0
# (latitude, longitude, spread in degrees): tunes scattered around three countries.
CLUSTERS = {"China": (34.0, 108.0, 4.0), "Germany": (51.0, 10.0, 1.5), "Ireland": (53.3, -7.5, 0.7)}


def clustered_problem(n_per=120, d=8, noise=1.3, seed=0):
    """Features that tell the country apart (about 80 % of the time), targets near its centre."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 1.0, (len(CLUSTERS), d))
    X, frames = [], []
    for (country, (lat, lon, spread)), mean in zip(CLUSTERS.items(), means):
        X.append(mean + rng.normal(0.0, noise, (n_per, d)))
        frames.append(pd.DataFrame({"lat": lat + rng.normal(0, spread, n_per),
                                    "lon": lon + rng.normal(0, 1.5 * spread, n_per),
                                    "country": country, "region": country}))
    order = rng.permutation(n_per * len(CLUSTERS))
    return np.vstack(X)[order], pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny fits: thread start-up on a shared 2-core machine costs more than it saves."""
    with threadpool_limits(1):
        yield


def light_methods():
    """The default methods with small forests, to keep the tests fast."""
    return geomethods.default_methods(seed=0, n_jobs=1, n_estimators=40)


@pytest.fixture(scope="module")
def split():
    X, y = clustered_problem()
    parts = [slice(0, 200), slice(200, 280), slice(280, None)]
    return [(X[p], y.iloc[p].reset_index(drop=True)) for p in parts]


@pytest.fixture(scope="module")
def comparison(split):
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = split
    return geomethods.compare_methods(X_tr, y_tr, X_va, y_va, X_te, y_te, methods=light_methods(),
                             seed=0, n_boot=100)


def fitted(method, split):
    (X_tr, y_tr), (X_va, y_va), _ = split
    return method.fit(X_tr, y_tr["lat"], y_tr["lon"], regions=y_tr["region"],
                      validation=(X_va, y_va["lat"], y_va["lon"]))


def test_scaled_linear_regression_misses_where_region_classifier_hits(comparison):
    by_method = comparison.set_index("method")
    linear = by_method.loc["linear on scaled lat/lon", "median_km"]
    for name in ("region classifier (logistic regression)", "region classifier (random forest)"):
        assert by_method.loc[name, "median_km"] < linear / 2
    assert by_method.loc["constant: spherical mean", "median_km"] > by_method["median_km"].min()


def test_scaled_linear_predictions_fall_between_the_clusters(split):
    _, _, (X_te, _) = split
    centres = np.array([c[:2] for c in CLUSTERS.values()])
    linear = fitted(geomethods.ScaledLatLonLinear(), split).predict(X_te)
    region = fitted(geomethods.RegionClassifier("logreg"), split)
    region_pred = region._predict(X_te, decoding="top")

    def km_to_nearest_centre(lat, lon):
        return geo.great_circle_km(lat[:, None], lon[:, None], centres[:, 0], centres[:, 1]).min(axis=1)

    assert np.median(km_to_nearest_centre(*linear)) > 1000.0  # e.g. Kazakhstan, Romania, the sea
    assert np.max(km_to_nearest_centre(*region_pred)) < 300.0  # always one of the countries


def test_comparison_table_is_ranked_and_complete(comparison):
    assert len(comparison) == len(geomethods.default_methods())
    assert comparison["balanced_median_km"].is_monotonic_increasing
    for metric in ("mean_km", "balanced_median_km", "within_750km", "country_accuracy"):
        low, high = comparison[f"{metric}_ci_low"], comparison[f"{metric}_ci_high"]
        assert (low <= comparison[metric] + 1e-9).all() and (comparison[metric] <= high + 1e-9).all()
    assert (comparison["n"] == 80).all() and (comparison["n_countries"] == 3).all()


@pytest.mark.parametrize("method", light_methods(), ids=lambda m: m.name)
def test_every_method_predicts_points_on_earth(method, split):
    _, _, (X_te, _) = split
    lat, lon = fitted(method, split).predict(X_te)
    assert lat.shape == lon.shape == (len(X_te),)
    assert np.all(np.abs(lat) <= 90) and np.all((lon >= -180) & (lon < 180))
    if getattr(method, "validation_scores_", None) is not None:
        scores = method.validation_scores_
        grid = len(method.fit_grid()) * len(method.predict_grid())
        assert len(scores) == grid and scores["val_mean_km"].notna().all()


def test_scaled_linear_regression_recovers_an_exactly_linear_map():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 2))
    lat, lon = 10.0 + 5.0 * X[:, 0], -20.0 + 30.0 * X[:, 1]
    pred_lat, pred_lon = geomethods.ScaledLatLonLinear().fit(X, lat, lon).predict(X)
    assert np.allclose(pred_lat, lat) and np.allclose(pred_lon, lon)


def test_constant_predictions_are_the_spherical_mean_and_geometric_median(split):
    (X_tr, y_tr), _, (X_te, _) = split
    mean = geomethods.ConstantSphericalMean().fit(X_tr, y_tr["lat"], y_tr["lon"]).predict(X_te)
    median = geomethods.ConstantGeometricMedian().fit(X_tr, y_tr["lat"], y_tr["lon"]).predict(X_te)
    assert (mean[0][0], mean[1][0]) == pytest.approx(geo.spherical_mean(y_tr["lat"], y_tr["lon"]))
    assert (median[0][0], median[1][0]) == pytest.approx(geo.geometric_median(y_tr["lat"], y_tr["lon"]))
    total_km = [np.sum(geo.great_circle_km(y_tr["lat"], y_tr["lon"], c[0][0], c[1][0])) for c in (median, mean)]
    assert total_km[0] < total_km[1]


def test_region_probabilities_and_decodings(split):
    _, _, (X_te, _) = split
    model = fitted(geomethods.RegionClassifier("logreg"), split)
    proba = model.predict_proba(X_te)
    assert proba.shape == (len(X_te), 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert sorted(model.classes_) == sorted(CLUSTERS)
    top, weighted = model._predict(X_te, decoding="top"), model._predict(X_te, decoding="weighted")
    median = model._predict(X_te, decoding="median")
    assert len(np.unique(np.round(top[0], 6))) == 3  # only the three centroids
    assert not np.allclose(top[0], weighted[0])
    # Where one region holds over half the probability, the median is that region's centroid.
    sure = proba.max(axis=1) > 0.5
    assert sure.any()
    np.testing.assert_allclose(median[0][sure], top[0][sure], atol=1e-6)
    assert model.best_params_["decoding"] in ("top", "weighted", "median")


def test_validation_picks_the_informative_feature_subset(split):
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = split
    rng = np.random.default_rng(1)
    noise = lambda n: rng.normal(0.0, 1.0, (n, 6))  # noqa: E731 - columns that carry nothing
    widen = lambda X: np.hstack([noise(len(X)), X])  # noqa: E731
    subsets = {"noise only": np.arange(6), "with the signal": np.arange(6, 6 + X_tr.shape[1])}
    model = geomethods.OnFeatureSubsets(geomethods.RegionClassifier("logreg"), subsets)
    model.fit(widen(X_tr), y_tr["lat"], y_tr["lon"], regions=y_tr["region"],
              validation=(widen(X_va), y_va["lat"], y_va["lon"]))
    assert model.best_params_["features"] == "with the signal" and model.name == "region classifier (logistic regression)"
    assert model.predict_proba(widen(X_te)).shape == (len(X_te), 3) and sorted(model.classes_) == sorted(CLUSTERS)
    scores = model.validation_scores_.groupby("features")["val_mean_km"].min()
    assert scores["with the signal"] < 0.8 * scores["noise only"]
    with pytest.raises(ValueError, match="fitted on 14 feature columns"):
        model.predict(X_te)
    wrapped = geomethods.default_methods(seed=0, n_jobs=1, n_estimators=10, feature_subsets=subsets)
    assert [type(m).__name__ for m in wrapped[:3]] == ["ConstantSphericalMean", "ConstantGeometricMedian", "ScaledLatLonLinear"]
    assert all(isinstance(m, geomethods.OnFeatureSubsets) for m in wrapped[3:])


@pytest.mark.parametrize("blas_threads", [1, 2])
def test_candidates_fitted_side_by_side_give_the_same_models_as_one_after_another(split, blas_threads):
    """``n_jobs=2``: the logistic regression's C candidates (times the feature subsets) are fitted in two
    threads, each on its own copy; the scores, the choice, the probabilities and the points are those of
    ``n_jobs=1`` bit for bit, under the caller's BLAS limit (one thread, as notebook 03 runs them, or two)."""
    (X_tr, y_tr), (X_va, y_va), (X_te, _) = split
    subsets = {"first half": np.arange(4), "all": np.arange(X_tr.shape[1])}
    models = {}
    with threadpool_limits(blas_threads):
        for n_jobs in (1, 2):
            model = geomethods.OnFeatureSubsets(geomethods.RegionClassifier("logreg", n_jobs=n_jobs,
                                                                            Cs=(0.01, 0.1, 1.0, 10.0)), subsets)
            models[n_jobs] = model.fit(X_tr, y_tr["lat"], y_tr["lon"], regions=y_tr["region"],
                                       validation=(X_va, y_va["lat"], y_va["lon"], y_va["country"]))
    one, two = models[1], models[2]
    assert two.grid_threads() == 2 and one.grid_threads() == 1
    assert geomethods.RegionClassifier("forest", n_jobs=2).grid_threads() == 1  # the forest has threads of its own
    pd.testing.assert_frame_equal(one.validation_scores_, two.validation_scores_, check_exact=True)
    assert one.best_params_ == two.best_params_
    np.testing.assert_array_equal(one.predict_proba(X_te), two.predict_proba(X_te))
    np.testing.assert_array_equal(np.column_stack(one.predict(X_te)), np.column_stack(two.predict(X_te)))


def test_validation_criterion_balanced_median_when_countries_are_given(split):
    (X_tr, y_tr), (X_va, y_va), _ = split
    model = geomethods.KNNGeo()
    model.fit(X_tr, y_tr["lat"], y_tr["lon"], validation=(X_va, y_va["lat"], y_va["lon"], y_va["country"]))
    scores = model.validation_scores_
    best = scores.loc[scores["val_balanced_median_km"].idxmin()]
    assert {k: best[k] for k in model.best_params_} == model.best_params_
    # the balanced median is the mean over countries of each country's median error
    fitted_with = geomethods.KNNGeo().fit(X_tr, y_tr["lat"], y_tr["lon"], params=model.best_params_)
    err = geo.great_circle_km(y_va["lat"], y_va["lon"], *fitted_with.predict(X_va))
    assert best["val_balanced_median_km"] == pytest.approx(pd.Series(err).groupby(y_va["country"]).median().mean())
    plain = geomethods.KNNGeo().fit(X_tr, y_tr["lat"], y_tr["lon"], validation=(X_va, y_va["lat"], y_va["lon"]))
    assert "val_balanced_median_km" not in plain.validation_scores_
    with pytest.raises(ValueError, match="validation must be"):
        geomethods.KNNGeo().fit(X_tr, y_tr["lat"], y_tr["lon"], validation=(X_va, y_va["lat"]))
    with pytest.raises(ValueError, match="criterion"):
        geomethods.compare_methods(X_tr, y_tr, X_va, y_va, X_va, y_va, methods=[geomethods.KNNGeo()], criterion="median")


def test_knn_prediction_is_the_spherical_mean_of_neighbours():
    X = np.array([[0.0], [0.1], [10.0], [10.1]])
    lat, lon = np.zeros(4), np.array([179.0, -179.0, 0.0, 2.0])
    model = geomethods.KNNGeo().fit(X, lat, lon, params={"k": 2, "weighting": "uniform"})
    pred_lat, pred_lon = model.predict([[0.05], [10.05]])
    assert abs(pred_lon[0]) == pytest.approx(180.0) and pred_lon[1] == pytest.approx(1.0)
    assert np.allclose(pred_lat, 0.0, atol=1e-9)


def test_extra_rows_join_the_ranking(comparison, split):
    (_, y_tr), _, (_, y_te) = split
    centroids = geocode.region_centroids(y_tr["lat"], y_tr["lon"], y_tr["region"], y_tr["country"])
    perfect = geoscores.evaluate_predictions("oracle", y_te, y_te["lat"], y_te["lon"], centroids, n_boot=20)
    table = geoscores.rank_methods([comparison, perfect])
    assert table.loc[0, "method"] == "oracle" and len(table) == len(comparison) + 1


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="latitudes"):
        geoscores.evaluate_predictions("m", pd.DataFrame({"lat": [95.0], "lon": [0.0]}), [0.0], [0.0],
                                       pd.DataFrame({"lat": [0.0], "lon": [0.0], "country": ["x"]}), n_boot=0)
    with pytest.raises(ValueError, match="2-D"):
        geomethods.UnitVectorRidge().fit(np.zeros(3), [0, 1, 2], [0, 1, 2])
    with pytest.raises(RuntimeError, match="fit"):
        geomethods.KNNGeo().predict(np.zeros((1, 2)))


def _north_and_south(n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Every other item from Norway, the rest from Spain: ``(regions, targets)``."""
    places = {"north": (60.0, 10.0, "Norway"), "south": (40.0, -4.0, "Spain")}
    region = np.where(np.arange(n) % 2 == 0, "north", "south")
    return region, pd.DataFrame({"lat": [places[r][0] for r in region], "lon": [places[r][1] for r in region],
                                 "region": region, "country": [places[r][2] for r in region]})


def test_compare_inputs_fits_one_method_per_input_and_labels_the_rows():
    rng = np.random.default_rng(0)
    n = 240
    region, targets = _north_and_south(n)
    informative = (region == "north")[:, None] * 2.0 + rng.normal(size=(n, 3))
    noise = rng.normal(size=(n, 3))
    split = np.array(["train", "train", "val", "test"] * (n // 4))
    ids = [f"t{i}" for i in range(n)]
    table, predictions = geomethods.compare_inputs(
        {"heard": ("audio", informative), "noise": ("true notes", noise)}, split, targets, ids,
        lambda: geomethods.RegionClassifier("logreg", seed=0), seed=0, n_boot=0)
    assert list(table["features"]) == ["heard", "noise"]  # best first
    assert table.set_index("features").at["noise", "input"] == "true notes"
    assert table["method"].iloc[0] == "region classifier (logistic regression) · heard"
    assert table["median_km"].iloc[0] < table["median_km"].iloc[1]
    assert len(predictions) == 2 * (split == "test").sum() and set(predictions["input"]) == {"audio", "true notes"}
    with pytest.raises(ValueError, match="rows for"):
        geomethods.compare_inputs({"short": ("audio", noise[:-1])}, split, targets, ids,
                                  lambda: geomethods.RegionClassifier("logreg"), n_boot=0)



def test_compare_inputs_learns_from_extra_training_rows_of_one_input():
    rng = np.random.default_rng(1)
    n = 240
    region, targets = _north_and_south(n)
    X = (region == "north")[:, None] * 2.0 + rng.normal(size=(n, 2))
    split = np.array(["train", "train", "val", "test"] * (n // 4))
    X[split == "train"] = rng.normal(size=((split == "train").sum(), 2))  # the split's own rows carry nothing
    extra_region, extra_targets = _north_and_south(200)
    extra_targets = extra_targets[["country", "region", "lat", "lon"]]  # any column order
    extra = (extra_region == "north")[:, None] * 2.0 + rng.normal(size=(200, 2))
    make = lambda: geomethods.RegionClassifier("logreg", seed=0)  # noqa: E731
    ids = [f"t{i}" for i in range(n)]
    alone, _ = geomethods.compare_inputs({"heard": ("audio", X)}, split, targets, ids, make, n_boot=0)
    helped, predictions = geomethods.compare_inputs({"heard": ("audio", X)}, split, targets, ids, make, n_boot=0,
                                                    extra_train={"heard": (extra, extra_targets)})
    assert helped["median_km"].iloc[0] == 0.0 < alone["median_km"].iloc[0]  # every test tune in its region
    assert len(predictions) == (split == "test").sum()  # scored on the test split's own rows
    with pytest.raises(ValueError, match="extra_train"):
        geomethods.compare_inputs({"heard": ("audio", X)}, split, targets, ids, make, n_boot=0,
                                  extra_train={"heard": (extra[:, :1], extra_targets)})


def test_a_wrapped_regression_gives_no_probabilities_and_a_wrapped_classifier_does():
    subsets = {"all": np.arange(2)}
    ridge = geomethods.OnFeatureSubsets(geomethods.UnitVectorRidge(), subsets)
    classifier = geomethods.OnFeatureSubsets(geomethods.RegionClassifier("logreg"), subsets)
    assert not hasattr(ridge, "predict_proba") and hasattr(classifier, "predict_proba")
    X = np.random.default_rng(0).normal(size=(40, 2))
    lat, lon = np.where(X[:, 0] > 0, 50.0, 30.0), np.zeros(40)
    classifier.fit(X, lat, lon, regions=np.where(X[:, 0] > 0, "n", "s"))
    assert classifier.predict_proba(X).shape == (40, 2)
    assert geomethods.method_countries(ridge.fit(X, lat, lon), X, pd.DataFrame()) is None
