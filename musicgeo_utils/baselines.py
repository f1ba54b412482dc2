"""Geographic baselines: predict a latitude/longitude from features, and score it.

Every method shares one small interface (:class:`GeoMethod`)::

    method.fit(X, lat, lon, regions=None, validation=(X_val, lat_val, lon_val))
    lat_pred, lon_pred = method.predict(X_test)

``X`` is an ``(n, d)`` feature matrix, latitudes and longitudes are degrees.
Hyperparameters are chosen on the validation set only, from small grids, by
the **mean great-circle error in km** (smooth, and the figure Zhou, Claire &
King 2014 report); the model is then fitted on the training set alone.

Methods (:func:`default_methods`):

- constant predictions: the training set's spherical mean and its geometric
  median (:mod:`musicgeo_utils.geo`);
- :class:`ScaledLatLonLinear`: the first write-up's linear regression on
  latitude/90 and longitude/180 with squared error. It is kept faithful on
  purpose: with clustered targets its predictions fall between the clusters
  (the mean of China and Ireland lies in Central Asia);
- :class:`UnitVectorRidge`: ridge regression on 3-D unit vectors, projected
  back onto the sphere;
- :class:`KNNGeo`: k nearest neighbours on standardised features, predicting
  the (distance-weighted) spherical mean of the neighbours;
- :class:`RandomForestUnitVector`: random forest regression on unit vectors
  (Zhou, Claire & King, ICDM 2014);
- :class:`RegionClassifier`: a classifier over region labels (logistic
  regression or random forest) decoded to coordinates by the most probable
  region's centroid or by the probability-weighted mean of the centroids.

Scores (:func:`geo_metrics`, :func:`error_metrics`): mean/median great-circle
km, shares within 200/750/2,500 km (fractions in [0, 1]), country accuracy,
and their *balanced* versions (computed per true country, then averaged over
countries, so a dominant country cannot hide failure on the others).
:func:`compare_methods` runs everything and returns one row per method with
bootstrap 95 % intervals; :func:`evaluate_predictions` scores any other
model's predictions (e.g. CRNN heads) the same way, and :func:`rank_methods`
puts rows together, best first.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from . import config
from .geo import (
    REGION_DECODINGS,
    coordinate_labels,
    decode_region_probabilities,
    geometric_median,
    great_circle_km,
    latlon_to_xyz,
    nearest_point_index,
    spherical_mean,
    xyz_to_latlon,
)

#: Distances, km, for the "share within" metrics.
WITHIN_KM = (200, 750, 2500)
#: The column that :func:`rank_methods` sorts by (smaller is better).
RANK_BY = "balanced_median_km"


# --------------------------------------------------------------------------- inputs


def _check_features(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"features must be a 2-D (n, d) array, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("features contain NaN or infinite values")
    return X


def _check_latlon(lat, lon, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    lat, lon = np.asarray(lat, dtype=float).ravel(), np.asarray(lon, dtype=float).ravel()
    if lat.shape != lon.shape or (n is not None and len(lat) != n):
        raise ValueError(f"need {n if n is not None else len(lat)} latitudes and longitudes, "
                         f"got {len(lat)} and {len(lon)}")
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 360) or not np.all(np.isfinite(lat + lon)):
        raise ValueError("latitudes must lie in [-90, 90] and longitudes in [-360, 360] degrees")
    return lat, lon


def _to_sphere(xyz: np.ndarray, fallback_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project regression outputs onto the sphere; a zero vector takes ``fallback_xyz``."""
    xyz = np.array(xyz, dtype=float)
    zero = np.linalg.norm(xyz, axis=1) <= 1e-9
    xyz[zero] = fallback_xyz
    lat, lon = xyz_to_latlon(xyz)
    return np.atleast_1d(lat), np.atleast_1d(lon)


def wrap_longitude(lon) -> np.ndarray:
    """Longitudes, degrees, wrapped into [-180, 180)."""
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


# --------------------------------------------------------------------------- methods


class GeoMethod:
    """Common interface: ``fit(X, lat, lon, ...)`` then ``predict(X) -> (lat, lon)``.

    Subclasses define ``_fit`` and ``_predict`` and, optionally, a grid of
    fit-time hyperparameters (:meth:`fit_grid`, each needs a refit) and of
    predict-time ones (:meth:`predict_grid`, e.g. ``k`` of kNN, tried on one
    fitted model). The first entry of each grid is the default used when no
    validation set is given.
    """

    name = "geo method"

    def fit_grid(self) -> list[dict]:
        """Candidate fit-time hyperparameters (first = default)."""
        return [{}]

    def predict_grid(self) -> list[dict]:
        """Candidate predict-time hyperparameters (first = default)."""
        return [{}]

    def _fit(self, X, lat, lon, regions, **params) -> None:
        raise NotImplementedError

    def _predict(self, X, **params) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, X, lat, lon, regions=None, validation=None, params: dict | None = None):
        """Fit on ``X`` (n, d) and targets in degrees; tune on ``validation``.

        ``validation`` is ``(X_val, lat_val, lon_val)`` or
        ``(X_val, lat_val, lon_val, country_val)``: every grid candidate is
        fitted on the training data and scored on it by mean great-circle km
        or, when the countries are given, by the balanced median km (the
        median per country, averaged over countries: the headline metric, so
        that tuning does not reward predicting the biggest country); the best
        is kept (:attr:`best_params_`, all scores in :attr:`validation_scores_`).
        ``params`` fixes the hyperparameters instead (e.g. ``best_params_`` of
        an earlier tuning). ``regions``
        (one label per row) is used by region classifiers only.
        """
        X = _check_features(X)
        lat, lon = _check_latlon(lat, lon, len(X))
        regions = None if regions is None else np.asarray(regions).ravel()
        self._fitted_with = None
        if params is None:
            params = self._tune(X, lat, lon, regions, validation) if validation is not None \
                else {**self.fit_grid()[0], **self.predict_grid()[0]}
        fit_params, self._predict_params = self._split_params(params)
        if self._fitted_with != fit_params:
            self._fit(X, lat, lon, regions, **fit_params)
        self.best_params_ = dict(params)
        return self

    def predict(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Predicted latitude and longitude, degrees, one pair per row of ``X``."""
        if not hasattr(self, "best_params_"):
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        return self._predict(_check_features(X), **self._predict_params)

    def _split_params(self, params: dict) -> tuple[dict, dict]:
        predict_keys = set().union(*self.predict_grid())
        fit_params = {k: v for k, v in params.items() if k not in predict_keys}
        return fit_params, {k: v for k, v in params.items() if k in predict_keys}

    def _tune(self, X, lat, lon, regions, validation) -> dict:
        if len(validation) not in (3, 4):
            raise ValueError("validation must be (X, lat, lon) or (X, lat, lon, country)")
        X_val, lat_val, lon_val = validation[:3]
        X_val = _check_features(X_val)
        lat_val, lon_val = _check_latlon(lat_val, lon_val, len(X_val))
        country_val = np.asarray(validation[3]).ravel() if len(validation) == 4 else None
        if country_val is not None and len(country_val) != len(X_val):
            raise ValueError(f"validation has {len(X_val)} rows but {len(country_val)} countries")
        score = "val_mean_km" if country_val is None else "val_balanced_median_km"
        rows = []
        for fit_params in self.fit_grid():
            self._fit(X, lat, lon, regions, **fit_params)
            self._fitted_with = fit_params
            for predict_params in self.predict_grid():
                err = great_circle_km(lat_val, lon_val, *self._predict(X_val, **predict_params))
                row = {**fit_params, **predict_params, "val_mean_km": float(np.mean(err))}
                if country_val is not None:
                    row[score] = error_metrics(err, country_val)["balanced_median_km"]
                rows.append(row)
        self.validation_scores_ = pd.DataFrame(rows)
        best = rows[int(np.argmin([r[score] for r in rows]))]
        return {k: v for k, v in best.items() if not k.startswith("val_")}


class ConstantSphericalMean(GeoMethod):
    """Predicts the training set's spherical mean everywhere (features ignored)."""

    name = "constant: spherical mean"

    def _centre(self, lat, lon):
        return spherical_mean(lat, lon)

    def _fit(self, X, lat, lon, regions) -> None:
        self.centre_ = self._centre(lat, lon)

    def _predict(self, X):
        return np.full(len(X), self.centre_[0]), np.full(len(X), self.centre_[1])


class ConstantGeometricMedian(ConstantSphericalMean):
    """Predicts the training set's geometric median (least total great-circle km)."""

    name = "constant: geometric median"

    def _centre(self, lat, lon):
        return geometric_median(lat, lon)


class ScaledLatLonLinear(GeoMethod):
    """The first write-up's model: least squares on (lat/90, lon/180), unscaled back.

    Standardised features, ``LinearRegression`` (or ``Ridge(alpha)`` if
    ``alpha`` is given), squared error on the scaled coordinates. Kept
    faithful, including its flaw: it averages coordinates, so between
    clusters it predicts places where no music comes from, and it ignores that
    longitude wraps at 180. The only change is that outputs are clipped to
    latitude [-90, 90] and longitude wrapped into [-180, 180) so they are
    points on Earth and can be scored.
    """

    name = "linear on scaled lat/lon"

    def __init__(self, alpha: float | None = None):
        self.alpha = alpha

    def _fit(self, X, lat, lon, regions) -> None:
        regressor = LinearRegression() if self.alpha is None else Ridge(alpha=self.alpha)
        self.model_ = make_pipeline(StandardScaler(), regressor)
        self.model_.fit(X, np.column_stack([lat / 90.0, lon / 180.0]))

    def _predict(self, X):
        scaled = self.model_.predict(X)
        return np.clip(scaled[:, 0] * 90.0, -90.0, 90.0), wrap_longitude(scaled[:, 1] * 180.0)


class UnitVectorRidge(GeoMethod):
    """Ridge regression on 3-D unit vectors, normalised back onto the sphere."""

    name = "ridge on unit vectors"

    def __init__(self, alphas: Sequence[float] = (10.0, 0.1, 1.0, 100.0, 1000.0)):
        self.alphas = tuple(alphas)

    def fit_grid(self):
        """One candidate per ridge penalty ``alpha``."""
        return [{"alpha": a} for a in self.alphas]

    def _fit(self, X, lat, lon, regions, alpha) -> None:
        xyz = latlon_to_xyz(lat, lon)
        self.fallback_ = latlon_to_xyz(*spherical_mean(lat, lon))[0]
        self.model_ = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(X, xyz)

    def _predict(self, X):
        return _to_sphere(self.model_.predict(X), self.fallback_)


class KNNGeo(GeoMethod):
    """k nearest neighbours (Euclidean, standardised features); spherical mean of their places.

    ``weighting="distance"`` weights each neighbour by 1 / (feature distance
    + 1e-9). ``k`` and the weighting are tuned on validation without refitting.
    """

    name = "k nearest neighbours"

    def __init__(self, ks: Sequence[int] = (10, 1, 3, 5, 20, 40),
                 weightings: Sequence[str] = ("distance", "uniform")):
        self.ks, self.weightings = tuple(ks), tuple(weightings)

    def predict_grid(self):
        """Candidates: every ``k`` times every weighting."""
        return [{"k": k, "weighting": w} for k in self.ks for w in self.weightings]

    def _fit(self, X, lat, lon, regions) -> None:
        self.scaler_ = StandardScaler().fit(X)
        self.index_ = NearestNeighbors().fit(self.scaler_.transform(X))
        self.lat_, self.lon_ = lat, lon

    def _predict(self, X, k, weighting):
        k = min(int(k), len(self.lat_))
        dist, idx = self.index_.kneighbors(self.scaler_.transform(X), n_neighbors=k)
        weights = 1.0 / (dist + 1e-9) if weighting == "distance" else np.ones_like(dist)
        lat, lon = spherical_mean(self.lat_[idx], self.lon_[idx], weights, on_zero="nan")
        lat, lon = np.atleast_1d(lat), np.atleast_1d(lon)
        balanced = np.isnan(lat)  # neighbours that cancel out: take the nearest one
        lat[balanced], lon[balanced] = self.lat_[idx[balanced, 0]], self.lon_[idx[balanced, 0]]
        return lat, lon


class RandomForestUnitVector(GeoMethod):
    """Random forest regression on 3-D unit vectors (Zhou, Claire & King 2014).

    ``max_features``: features tried per split, as in scikit-learn (1.0 =
    all, plain bagging; ``"sqrt"`` is many times faster on hundreds of
    features).
    """

    name = "random forest on unit vectors"

    def __init__(self, leaf_sizes: Sequence[int] = (1, 5, 20), n_estimators: int = 200,
                 seed: int = 0, n_jobs: int | None = None, max_features: float | str | None = 1.0):
        self.leaf_sizes, self.n_estimators = tuple(leaf_sizes), n_estimators
        self.seed, self.n_jobs, self.max_features = seed, n_jobs, max_features

    def fit_grid(self):
        """One candidate per ``min_samples_leaf``."""
        return [{"min_samples_leaf": m} for m in self.leaf_sizes]

    def _fit(self, X, lat, lon, regions, min_samples_leaf) -> None:
        self.fallback_ = latlon_to_xyz(*spherical_mean(lat, lon))[0]
        self.model_ = RandomForestRegressor(
            n_estimators=self.n_estimators, min_samples_leaf=min_samples_leaf,
            max_features=self.max_features, random_state=self.seed,
            n_jobs=self.n_jobs or config.n_jobs(),
        ).fit(X, latlon_to_xyz(lat, lon))

    def _predict(self, X):
        return _to_sphere(self.model_.predict(X), self.fallback_)


def region_centroids(lat, lon, regions, countries=None) -> pd.DataFrame:
    """Spherical-mean centroid, degrees, of each region's points.

    Returns one row per region (sorted by label): ``region, lat, lon, n`` and
    ``country`` (the most frequent country among the region's points; the
    region label itself when ``countries`` is not given).
    """
    lat, lon = _check_latlon(lat, lon)
    regions = np.asarray(regions).ravel().astype(str)
    labels, codes = np.unique(regions, return_inverse=True)
    xyz = latlon_to_xyz(lat, lon)
    sums = np.column_stack([np.bincount(codes, weights=xyz[:, i], minlength=len(labels))
                            for i in range(3)])
    c_lat, c_lon = xyz_to_latlon(sums)
    frame = pd.DataFrame({"region": labels, "lat": np.atleast_1d(c_lat),
                          "lon": np.atleast_1d(c_lon), "n": np.bincount(codes)})
    if countries is None:
        frame["country"] = labels
    else:
        pairs = pd.DataFrame({"region": regions, "country": np.asarray(countries).astype(str)})
        frame["country"] = frame["region"].map(
            pairs.groupby("region")["country"].agg(lambda s: s.value_counts().index[0]))
    return frame


class RegionClassifier(GeoMethod):
    """Classify the region, then decode the class probabilities to a place.

    ``model="logreg"``: standardised features and multinomial logistic
    regression (``C`` tuned); ``model="forest"``: random forest
    (``min_samples_leaf`` tuned). Decodings, chosen on validation:
    ``"top"`` = centroid of the most probable region, ``"weighted"`` =
    probability-weighted spherical mean of all region centroids, ``"median"``
    = their probability-weighted geometric median (the least expected
    great-circle distance; :func:`geo.decode_region_probabilities`). Centroids are
    spherical means of each region's training points. Without ``regions``,
    each distinct coordinate is a region (:func:`geo.coordinate_labels`).
    """

    def __init__(self, model: str = "logreg", Cs: Sequence[float] = (1.0, 0.01, 0.1, 10.0),
                 leaf_sizes: Sequence[int] = (1, 5), n_estimators: int = 200,
                 decodings: Sequence[str] = REGION_DECODINGS, seed: int = 0,
                 n_jobs: int | None = None):
        if model not in ("logreg", "forest"):
            raise ValueError(f"model must be 'logreg' or 'forest', not {model!r}")
        self.model, self.Cs, self.leaf_sizes = model, tuple(Cs), tuple(leaf_sizes)
        self.n_estimators, self.decodings = n_estimators, tuple(decodings)
        self.seed, self.n_jobs = seed, n_jobs
        self.name = f"region classifier ({'logistic regression' if model == 'logreg' else 'random forest'})"

    def fit_grid(self):
        """Candidates: ``C`` (logistic regression) or ``min_samples_leaf`` (forest)."""
        if self.model == "logreg":
            return [{"C": c} for c in self.Cs]
        return [{"min_samples_leaf": m} for m in self.leaf_sizes]

    def predict_grid(self):
        """Candidates: the decodings."""
        return [{"decoding": d} for d in self.decodings]

    def _classifier(self, C=None, min_samples_leaf=None):
        if self.model == "logreg":
            return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
        return RandomForestClassifier(n_estimators=self.n_estimators, min_samples_leaf=min_samples_leaf,
                                      random_state=self.seed, n_jobs=self.n_jobs or config.n_jobs())

    def _fit(self, X, lat, lon, regions, **params) -> None:
        regions = coordinate_labels(lat, lon) if regions is None else regions.astype(str)
        if len(np.unique(regions)) < 2:
            raise ValueError(f"{self.name} needs at least two regions in the training data")
        self.classifier_ = self._classifier(**params).fit(X, regions)
        self.classes_ = np.asarray(self.classifier_.classes_)
        self.centroids_ = region_centroids(lat, lon, regions).set_index("region").loc[self.classes_]

    def predict_proba(self, X) -> np.ndarray:
        """Region probabilities, shape (n, n_regions), columns in the order of ``classes_``."""
        return self.classifier_.predict_proba(_check_features(X))

    def _predict(self, X, decoding):
        return decode_region_probabilities(self.classifier_.predict_proba(X), self.centroids_["lat"],
                                           self.centroids_["lon"], decoding)


class OnFeatureSubsets(GeoMethod):
    """Another method whose tuning also picks the feature columns it sees.

    ``subsets`` maps a name to column indices (or a boolean mask) of ``X``;
    the fit grid is every subset times the wrapped method's own fit grid, so
    validation chooses the feature set like any other hyperparameter
    (``best_params_["features"]`` names it). Keeps the wrapped method's
    ``name``; ``predict_proba`` and ``classes_`` pass through for region
    classifiers.
    """

    def __init__(self, method: GeoMethod, subsets: dict):
        if not subsets:
            raise ValueError("subsets must name at least one feature subset")
        self.method, self.name = method, method.name
        self.subsets = {name: np.asarray(columns) for name, columns in subsets.items()}

    def fit_grid(self):
        """Candidates: each subset name times the wrapped method's fit grid."""
        return [{"features": name, **params} for name in self.subsets for params in self.method.fit_grid()]

    def predict_grid(self):
        """The wrapped method's predict-time grid."""
        return self.method.predict_grid()

    def _columns(self, X):
        if X.shape[1] != self.width_:
            raise ValueError(f"{self.name}: fitted on {self.width_} feature columns, got {X.shape[1]}")
        return X[:, self.columns_]

    def _fit(self, X, lat, lon, regions, features, **params) -> None:
        self.width_, self.columns_ = X.shape[1], self.subsets[features]
        self.method._fit(self._columns(X), lat, lon, regions, **params)

    def _predict(self, X, **params):
        return self.method._predict(self._columns(X), **params)

    def predict_proba(self, X) -> np.ndarray:
        """The wrapped region classifier's probabilities on the chosen columns."""
        return self.method.predict_proba(self._columns(_check_features(X)))

    @property
    def classes_(self):
        return self.method.classes_


def default_methods(seed: int = 0, n_jobs: int | None = None, n_estimators: int = 200,
                    regression_max_features: float | str | None = 1.0,
                    feature_subsets: dict | None = None) -> list[GeoMethod]:
    """The baselines compared by :func:`compare_methods`, seeded by ``seed``.

    ``n_estimators`` is the number of trees of both random forests;
    ``regression_max_features`` the features per split of the regression
    forest (see :class:`RandomForestUnitVector`; the classification forest
    uses scikit-learn's default, ``"sqrt"``). ``feature_subsets`` (name ->
    columns) lets validation choose each learned method's features
    (:class:`OnFeatureSubsets`); the first write-up's linear regression
    always sees every column, as it did.
    """
    forest = dict(seed=seed, n_jobs=n_jobs, n_estimators=n_estimators)
    learned = [
        UnitVectorRidge(),
        KNNGeo(),
        RandomForestUnitVector(**forest, max_features=regression_max_features),
        RegionClassifier("logreg", seed=seed),
        RegionClassifier("forest", **forest),
    ]
    if feature_subsets:
        learned = [OnFeatureSubsets(method, feature_subsets) for method in learned]
    return [ConstantSphericalMean(), ConstantGeometricMedian(), ScaledLatLonLinear(), *learned]


# --------------------------------------------------------------------------- metrics


def country_of(lat, lon, centroids: pd.DataFrame) -> np.ndarray:
    """Country label of the nearest known region centroid, for points in degrees.

    ``centroids`` has columns ``lat``, ``lon``, ``country`` (e.g. from
    :func:`region_centroids` on the training set). This is used instead of a
    reverse geocoder (e.g. ``reverse_geocoder``'s ISO codes) because predicted
    countries must be comparable with the dataset's own country labels, which
    include historical states (USSR, Yugoslavia) and German names
    (Deutschland); it is offline, and fast (one matrix product per chunk).
    """
    idx = nearest_point_index(lat, lon, centroids["lat"].to_numpy(), centroids["lon"].to_numpy())
    return centroids["country"].to_numpy()[idx]


def _group_medians(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` within each group code (NaN for empty groups)."""
    order = np.lexsort((values, codes))
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_values = values[order]
    lo = starts + np.maximum(counts - 1, 0) // 2
    hi = starts + counts // 2
    safe = counts > 0
    out = np.full(n_groups, np.nan)
    out[safe] = (sorted_values[lo[safe]] + sorted_values[np.minimum(hi[safe], len(values) - 1)]) / 2
    return out


def _balanced(codes: np.ndarray, values: np.ndarray) -> float:
    """Mean over groups of the within-group mean of ``values``."""
    counts = np.bincount(codes)
    present = counts > 0
    return float(np.mean(np.bincount(codes, weights=values)[present] / counts[present]))


def error_metrics(error_km, true_country=None, country_correct=None) -> dict:
    """Scores from per-item great-circle errors, km (see :func:`geo_metrics`).

    ``true_country`` (labels or integer codes) enables the balanced scores,
    ``country_correct`` (booleans) the country accuracies; without them those
    entries are NaN. Shares "within X km" are fractions in [0, 1].
    """
    err = np.asarray(error_km, dtype=float).ravel()
    within = {f"within_{d}km": err <= d for d in WITHIN_KM}
    out = {"n": len(err), "mean_km": float(np.mean(err)), "median_km": float(np.median(err))}
    out.update({k: float(np.mean(v)) for k, v in within.items()})
    correct = None if country_correct is None else np.asarray(country_correct, dtype=float).ravel()
    out["country_accuracy"] = float(np.mean(correct)) if correct is not None else np.nan
    balanced_keys = ["balanced_mean_km", "balanced_median_km", *(f"balanced_{k}" for k in within),
                     "balanced_country_accuracy"]
    if true_country is None:
        return {**out, "n_countries": 0, **dict.fromkeys(balanced_keys, np.nan)}
    codes = np.unique(np.asarray(true_country).ravel(), return_inverse=True)[1].ravel()
    medians = _group_medians(codes, err, codes.max() + 1)
    out["n_countries"] = int(np.sum(np.bincount(codes) > 0))
    out["balanced_mean_km"] = _balanced(codes, err)
    out["balanced_median_km"] = float(np.nanmean(medians))
    out.update({f"balanced_{k}": _balanced(codes, v.astype(float)) for k, v in within.items()})
    out["balanced_country_accuracy"] = _balanced(codes, correct) if correct is not None else np.nan
    return out


def geo_metrics(true_lat, true_lon, pred_lat, pred_lon, true_country=None, pred_country=None) -> dict:
    """Great-circle error scores of predicted places (degrees in, km out).

    Keys: ``n``, ``mean_km``, ``median_km``, ``within_200km``,
    ``within_750km``, ``within_2500km`` (fractions), ``country_accuracy``,
    ``n_countries``, and the balanced versions, each computed per true
    country and then averaged over countries: ``balanced_mean_km``,
    ``balanced_median_km`` (mean over countries of each country's median),
    ``balanced_within_*km``, ``balanced_country_accuracy``. Country scores are
    NaN without ``true_country`` (and ``pred_country`` for accuracy); use
    :func:`country_of` to get predicted countries.
    """
    true_lat, true_lon = _check_latlon(true_lat, true_lon)
    pred_lat, pred_lon = _check_latlon(pred_lat, pred_lon, len(true_lat))
    err = np.atleast_1d(great_circle_km(true_lat, true_lon, pred_lat, pred_lon))
    correct = None
    if true_country is not None and pred_country is not None:
        correct = np.asarray(true_country).ravel() == np.asarray(pred_country).ravel()
    return error_metrics(err, true_country, correct)


def bootstrap_ci(metric_fn: Callable, *arrays, n_boot: int = 1000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap interval of ``metric_fn(*arrays)`` over rows.

    Each of ``n_boot`` replicates draws ``n`` rows with replacement (the same
    rows from every array, ``n`` = length of the first) with
    ``numpy.random.default_rng(seed)``, so a seed gives identical intervals.
    If ``metric_fn`` returns a number the result is ``(low, high)``; if it
    returns a dict (e.g. :func:`error_metrics`) it is a dict of
    ``(low, high)`` per numeric key.
    """
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError("bootstrap_ci needs non-empty arrays of equal length")
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        samples.append(metric_fn(*(a[idx] for a in arrays)))
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    if isinstance(samples[0], dict):
        keys = [k for k, v in samples[0].items() if isinstance(v, (int, float, np.number))]
        return {k: _interval([s[k] for s in samples], tails) for k in keys}
    return _interval(samples, tails)


def _interval(values, tails) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    if np.all(np.isnan(values)):
        return (np.nan, np.nan)
    low, high = np.nanpercentile(values, tails)
    return float(low), float(high)


# --------------------------------------------------------------------------- comparison


def as_targets(y) -> pd.DataFrame:
    """Targets as a DataFrame with ``lat``, ``lon``, ``region``, ``country``.

    Accepts a DataFrame with ``lat`` and ``lon`` (degrees) and optionally
    ``region`` and ``country``, or an ``(n, 2)`` array of lat/lon. A missing
    ``region`` is each distinct coordinate; a missing ``country`` is the region.
    """
    if isinstance(y, pd.DataFrame):
        missing = {"lat", "lon"} - set(y.columns)
        if missing:
            raise ValueError(f"targets lack column(s) {sorted(missing)}")
        frame = y.reset_index(drop=True).copy()
    else:
        arr = np.asarray(y, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"targets must be a DataFrame or an (n, 2) lat/lon array, got {arr.shape}")
        frame = pd.DataFrame({"lat": arr[:, 0], "lon": arr[:, 1]})
    _check_latlon(frame["lat"], frame["lon"])
    if "region" not in frame:
        frame["region"] = coordinate_labels(frame["lat"], frame["lon"])
    if "country" not in frame:
        frame["country"] = frame["region"]
    frame["region"], frame["country"] = frame["region"].astype(str), frame["country"].astype(str)
    return frame


def evaluate_predictions(name: str, y_test, pred_lat, pred_lon, centroids: pd.DataFrame,
                         n_boot: int = 1000, seed: int = 0) -> dict:
    """One comparison row: all :func:`geo_metrics` scores and their 95 % bootstrap intervals.

    ``y_test`` as in :func:`as_targets`; predicted countries come from
    :func:`country_of` with ``centroids`` (the training regions'). Interval
    columns are ``<metric>_ci_low`` / ``<metric>_ci_high`` (``n_boot=0``
    skips them). Use this for any model (e.g. a CRNN head) so its row is
    comparable with :func:`compare_methods`'s.
    """
    y = as_targets(y_test)
    pred_lat, pred_lon = _check_latlon(pred_lat, pred_lon, len(y))
    err = np.atleast_1d(great_circle_km(y["lat"].to_numpy(), y["lon"].to_numpy(), pred_lat, pred_lon))
    codes = np.unique(y["country"].to_numpy(), return_inverse=True)[1].ravel()
    correct = country_of(pred_lat, pred_lon, centroids) == y["country"].to_numpy()
    row = {"method": name, **error_metrics(err, codes, correct)}
    if n_boot:
        cis = bootstrap_ci(error_metrics, err, codes, correct, n_boot=n_boot, seed=seed)
        for key, (low, high) in cis.items():
            if key not in ("n", "n_countries"):
                row[f"{key}_ci_low"], row[f"{key}_ci_high"] = low, high
    return row


def rank_methods(rows, by: str = RANK_BY) -> pd.DataFrame:
    """Comparison rows (dicts or DataFrames) as one table, best (smallest ``by``) first."""
    frames = [r if isinstance(r, pd.DataFrame) else pd.DataFrame([r]) for r in rows]
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values([by, "mean_km"], kind="stable").reset_index(drop=True)


def compare_methods(X_train, y_train, X_val, y_val, X_test, y_test,
                    methods: Sequence[GeoMethod] | None = None, seed: int = 0,
                    n_boot: int = 1000, n_jobs: int | None = None,
                    criterion: str = "balanced_median_km") -> pd.DataFrame:
    """Fit every method on train, tune on validation, score on test; best first.

    ``criterion`` is the validation score that picks hyperparameters:
    ``"balanced_median_km"`` (the ranking metric; needs countries in
    ``y_val``, else each tune's region stands in) or ``"mean_km"``.

    ``y_*`` as in :func:`as_targets` (lat/lon degrees, optional region and
    country labels). Predicted countries are the country of the nearest
    training-region centroid. Returns one row per method: all
    :func:`geo_metrics` scores with bootstrap 95 % intervals, the chosen
    hyperparameters (``params``) and ``fit_seconds``, sorted by
    ``balanced_median_km``. More rows (e.g. CRNN heads) can be added with
    :func:`evaluate_predictions` and :func:`rank_methods`.
    """
    train, val, test = as_targets(y_train), as_targets(y_val), as_targets(y_test)
    centroids = region_centroids(train["lat"], train["lon"], train["region"], train["country"])
    if criterion not in ("balanced_median_km", "mean_km"):
        raise ValueError(f"criterion must be 'balanced_median_km' or 'mean_km', not {criterion!r}")
    validation = (X_val, val["lat"], val["lon"]) + ((val["country"],) if criterion == "balanced_median_km" else ())
    rows = []
    for method in methods if methods is not None else default_methods(seed, n_jobs):
        start = time.perf_counter()
        method.fit(X_train, train["lat"], train["lon"], regions=train["region"], validation=validation)
        seconds = time.perf_counter() - start
        row = evaluate_predictions(method.name, test, *method.predict(X_test), centroids, n_boot, seed)
        rows.append({**row, "params": repr(method.best_params_), "fit_seconds": seconds})
    return rank_methods(rows)


def error_table(true_lat, true_lon, pred_lat, pred_lon, groups) -> pd.DataFrame:
    """Great-circle errors, km, per group (e.g. region or country), largest group first.

    Columns: ``n``, ``mean_km``, ``median_km`` and ``within_*km`` fractions,
    indexed by group label.
    """
    true_lat, true_lon = _check_latlon(true_lat, true_lon)
    err = np.atleast_1d(great_circle_km(true_lat, true_lon, *_check_latlon(pred_lat, pred_lon, len(true_lat))))
    frame = pd.DataFrame({"group": np.asarray(groups).ravel(), "err": err})
    for d in WITHIN_KM:
        frame[f"within_{d}km"] = (err <= d).astype(float)
    grouped = frame.groupby("group")
    table = grouped["err"].agg(n="size", mean_km="mean", median_km="median")
    table = table.join(grouped[[f"within_{d}km" for d in WITHIN_KM]].mean())
    return table.sort_values(["n", "median_km"], ascending=[False, True])


# --------------------------------------------------------------------------- regions for classification

#: UN geoscheme area (subregion, continent) of historical states that countryinfo lacks.
HISTORICAL_AREAS = {
    "Soviet Union": ("Eastern Europe", "Europe"),
    "Czechoslovakia": ("Eastern Europe", "Europe"),
    "Yugoslavia": ("Southern Europe", "Europe"),
}


@functools.lru_cache(maxsize=None)
def country_area(country: str) -> tuple[str, str]:
    """``(subregion, continent)`` of a country name, e.g. ``('Western Europe', 'Europe')``.

    From countryinfo's UN-geoscheme fields, with :data:`HISTORICAL_AREAS`
    for states that no longer exist; ``('unknown area', 'unknown area')`` when
    neither knows the name.
    """
    if country in HISTORICAL_AREAS:
        return HISTORICAL_AREAS[country]
    from countryinfo import CountryInfo

    try:
        info = CountryInfo(country).info()
    except Exception:  # countryinfo raises its own CountryNotFoundError (and KeyError in old versions)
        return ("unknown area", "unknown area")
    return (info.get("subregion") or "unknown area", info.get("region") or "unknown area")


def _merge_small(labels: pd.Series, coarser: pd.Series, train: np.ndarray, min_train: int) -> pd.Series:
    """Replace labels with fewer than ``min_train`` training rows by their coarser label."""
    counts = labels[train].value_counts()
    small = labels.map(counts).fillna(0).to_numpy() < min_train
    return labels.mask(small, coarser)


def classification_regions(tunes: pd.DataFrame, min_train: int = 15,
                           split_column: str = "split") -> pd.Series:
    """Class labels for region classification, each with at least ``min_train`` training tunes.

    Starts from the manifest's ``region`` (province, historical region, or
    the country for country-level tunes; a name used in two countries gets
    the country in brackets, e.g. ``Pommern (Poland)``). A region with fewer
    than ``min_train`` tunes in the ``train`` split is merged into its
    ``country``; a country still too small into its UN subregion (e.g.
    ``Eastern Europe (other)``, see :func:`country_area`), then its continent
    (``Europe (other)``), then ``rest of world``, which is kept whatever its
    size. Counting only training tunes means validation and test tunes get
    the same label as training tunes from the same place. Returns a Series
    aligned with ``tunes.index``, named ``class_region``.
    """
    missing = {"region", "country", split_column} - set(tunes.columns)
    if missing:
        raise ValueError(f"tunes lack column(s) {sorted(missing)}")
    country = tunes["country"].fillna("").astype(str).replace("", "unknown country")
    region = tunes["region"].fillna("").astype(str)
    region = region.mask(region == "", country)
    shared = region.map(pd.DataFrame({"r": region, "c": country}).groupby("r")["c"].nunique()) > 1
    region = region.mask(shared & (region != country), region + " (" + country + ")")
    areas = country.map(country_area)
    subregion = areas.str[0] + " (other)"
    continent = areas.str[1] + " (other)"
    train = (tunes[split_column] == "train").to_numpy()
    labels = region
    for coarser in (country, subregion, continent, pd.Series("rest of world", index=tunes.index)):
        labels = _merge_small(labels, coarser, train, min_train)
    return labels.rename("class_region")


# --------------------------------------------------------------------------- analysis of results


def baseline_ratios(table: pd.DataFrame, metric: str = RANK_BY) -> pd.DataFrame:
    """The best method's ``metric`` divided by the constant and the scaled-linear baselines'.

    ``table`` is a :func:`compare_methods` table. The constant reference is
    the better (smaller ``metric``) of the two constant predictors, so the
    ratio is not flattered by the weaker one. Returns one row per reference:
    ``reference, reference_value, best_method, best_value, ratio``.
    """
    ranked = table.sort_values(metric, kind="stable").reset_index(drop=True)
    is_constant = ranked["method"].str.startswith("constant")
    is_linear = ranked["method"] == ScaledLatLonLinear.name
    learned = ranked[~is_constant & ~is_linear]
    if learned.empty or not is_constant.any() or not is_linear.any():
        raise ValueError("table needs a constant, the scaled-linear and at least one other method")
    best = learned.iloc[0]
    rows = []
    for reference in (ranked[is_constant].iloc[0], ranked[is_linear].iloc[0]):
        rows.append({"reference": reference["method"], "reference_value": reference[metric],
                     "best_method": best["method"], "best_value": best[metric],
                     "ratio": best[metric] / reference[metric]})
    return pd.DataFrame(rows)


def country_confusion(true_country, pred_country, top: int | None = 12) -> pd.DataFrame:
    """Counts of true (rows) against predicted (columns) countries.

    Countries are ordered by how often they are true; beyond the ``top``
    most frequent true countries, every other label is pooled as ``other``
    (on both axes, so rows and columns stay the same list).
    """
    true = pd.Series(np.asarray(true_country).astype(str).ravel(), name="true country")
    pred = pd.Series(np.asarray(pred_country).astype(str).ravel(), name="predicted country")
    if len(true) != len(pred):
        raise ValueError(f"{len(true)} true but {len(pred)} predicted countries")
    order = list(true.value_counts().index)
    if top is not None and len(order) > top:
        order = order[:top]
        true, pred = true.where(true.isin(order), "other"), pred.where(pred.isin(order), "other")
        order = order + ["other"]
    extra = sorted(set(pred) - set(order))
    table = pd.crosstab(true, pred)
    return table.reindex(index=order, columns=order + extra, fill_value=0)


@functools.lru_cache(maxsize=1)
def _land_paths():
    import json

    from matplotlib.path import Path as PolygonPath

    geojson = json.loads((config.PACKAGE_DATA / "countries.geojson").read_text())
    paths = []
    for feature in geojson["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        paths.extend(PolygonPath(np.asarray(polygon[0])[:, :2]) for polygon in polygons)
    return paths


def on_land(lat, lon) -> np.ndarray:
    """True where a point (degrees) lies inside a country of the package's basemap.

    Uses the outer rings of ``countries.geojson`` (the simplified basemap of
    the maps, without Antarctica), so lakes count as land and points within a
    few km of a coast can fall on either side; good enough to tell whether a
    prediction lands in a country or in a sea such as the Caspian.
    """
    lat, lon = _check_latlon(lat, lon)
    points = np.column_stack([wrap_longitude(lon), lat])
    inside = np.zeros(len(points), dtype=bool)
    for path in _land_paths():
        inside |= path.contains_points(points)
    return inside


def nearest_distance_km(lat, lon, ref_lat, ref_lon) -> np.ndarray:
    """Great-circle km from each point to the nearest reference point (degrees in)."""
    lat, lon = _check_latlon(lat, lon)
    ref_lat, ref_lon = _check_latlon(ref_lat, ref_lon)
    idx = nearest_point_index(lat, lon, ref_lat, ref_lon)
    return np.atleast_1d(great_circle_km(lat, lon, ref_lat[idx], ref_lon[idx]))


def method_predictions(methods: Sequence[GeoMethod], X, index) -> pd.DataFrame:
    """Predictions of fitted methods, long format: ``tune_id, method, pred_lat, pred_lon``.

    ``index`` holds one id per row of ``X`` (e.g. test ``tune_id``s).
    """
    index = np.asarray(index).astype(str).ravel()
    frames = []
    for method in methods:
        lat, lon = method.predict(X)
        frames.append(pd.DataFrame({"tune_id": index, "method": method.name,
                                    "pred_lat": lat, "pred_lon": lon}))
    return pd.concat(frames, ignore_index=True)


_PROBA_PREFIX = "proba:"


def save_baseline_results(path, predictions: pd.DataFrame, proba: pd.DataFrame | None = None,
                          proba_method: str | None = None) -> Path:
    """Write test predictions (and region probabilities) to one Parquet file, atomically.

    ``predictions``: long format from :func:`method_predictions`, optionally
    with true-place columns (``lat, lon, country, ...``) repeated per method.
    ``proba``: one row per ``tune_id`` (index), one column per region class,
    from ``proba_method`` (stored in the ``proba_method`` column); its columns
    are written as ``proba:<region>`` and joined on ``tune_id``. Read back
    with :func:`load_baseline_results`.
    """
    from .cache import write_parquet

    frame = predictions.copy()
    if proba is not None:
        wide = proba.add_prefix(_PROBA_PREFIX)
        wide.index = wide.index.astype(str)
        frame = frame.join(wide, on="tune_id")
        frame["proba_method"] = proba_method or ""
    return write_parquet(path, frame)


def load_baseline_results(path) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """``(predictions, proba, proba_method)`` as written by :func:`save_baseline_results`.

    ``predictions`` is the long table without probability columns; ``proba``
    has one row per ``tune_id`` and one column per region (empty when none
    were saved).
    """
    frame = pd.read_parquet(path)
    proba_columns = [c for c in frame.columns if c.startswith(_PROBA_PREFIX)]
    predictions = frame.drop(columns=proba_columns + ["proba_method"], errors="ignore")
    proba = (frame.drop_duplicates("tune_id").set_index("tune_id")[proba_columns]
             .rename(columns=lambda c: c[len(_PROBA_PREFIX):]))
    method = frame["proba_method"].iloc[0] if "proba_method" in frame and len(frame) else None
    return predictions, proba, method


#: Columns of :func:`summary_table`: (column of a comparison table, header, km?).
SUMMARY_COLUMNS = (
    ("balanced_median_km", "balanced median km", True),
    ("median_km", "median km", True),
    ("mean_km", "mean km", True),
    ("balanced_within_750km", "balanced within 750 km", False),
    ("country_accuracy", "country accuracy", False),
    ("balanced_country_accuracy", "balanced country accuracy", False),
)


def summary_table(table: pd.DataFrame, round_km: int = 10, digits: int = 2) -> pd.DataFrame:
    """A comparison table as text cells ``value [low, high]``, rounded for display and nbval.

    Distances (km) are rounded to ``round_km`` km, shares and accuracies to
    ``digits`` decimals, so float noise cannot change the text. The row
    order of ``table`` is kept (best first for :func:`compare_methods`).
    """
    return hit_rate_table(table, SUMMARY_COLUMNS, round_km, digits)


# --------------------------------------------------------------------------- where predictions land (notebook 06)


def _method_groups(predictions: pd.DataFrame, methods: Sequence[str] | None):
    """``(method, rows)`` pairs in the order of ``methods`` (default: first appearance)."""
    missing = {"method", "pred_lat", "pred_lon", "lat", "lon"} - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions lack column(s) {sorted(missing)}")
    names = list(dict.fromkeys(predictions["method"])) if methods is None else list(methods)
    unknown = sorted(set(names) - set(predictions["method"]))
    if unknown:
        raise KeyError(f"no predictions for method(s) {unknown}")
    return [(name, predictions[predictions["method"] == name]) for name in names]


def placement_summary(predictions: pd.DataFrame, ref_lat, ref_lon,
                      methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Where each method's predictions land, one row per method.

    ``predictions``: long table (``method, pred_lat, pred_lon, lat, lon``,
    degrees). ``ref_lat``/``ref_lon``: the places music is known to come
    from (e.g. the training tunes' distinct origins). Columns: ``n``,
    ``on_land`` (share of predictions inside a country, :func:`on_land`),
    ``median_km_to_nearest_origin`` (median great-circle km from a prediction
    to the nearest reference place), ``median_spread_km`` (median km from a
    prediction to the spherical mean of the method's predictions: near 0 for
    a method that answers nearly the same place for every tune) and
    ``median_error_km``.
    """
    rows = {}
    for name, p in _method_groups(predictions, methods):
        lat, lon = p["pred_lat"].to_numpy(float), p["pred_lon"].to_numpy(float)
        err = great_circle_km(p["lat"].to_numpy(float), p["lon"].to_numpy(float), lat, lon)
        centre = spherical_mean(lat, lon, on_zero="nan")
        rows[name] = {"n": len(p), "on_land": float(on_land(lat, lon).mean()),
                      "median_km_to_nearest_origin": float(np.median(nearest_distance_km(lat, lon, ref_lat, ref_lon))),
                      "median_spread_km": float(np.median(great_circle_km(lat, lon, *centre))),
                      "median_error_km": float(np.median(err))}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def error_by_group(predictions: pd.DataFrame, group: str, methods: Sequence[str] | None = None,
                   stat: str = "median_km") -> pd.DataFrame:
    """One error statistic (km or share) per value of ``group`` (rows) and method (columns).

    ``stat`` is a column of :func:`error_table` (``median_km``, ``mean_km``,
    ``within_750km`` ...). The first column, ``n``, counts the test tunes per
    group (of the first method); rows are ordered largest group first.
    """
    table = {}
    for name, p in _method_groups(predictions, methods):
        errors = error_table(p["lat"], p["lon"], p["pred_lat"], p["pred_lon"], p[group].astype(str))
        table.setdefault("n", errors["n"])
        table[name] = errors[stat]
    out = pd.DataFrame(table).rename_axis(group)
    return out.sort_values("n", ascending=False, kind="stable")


#: Columns of :func:`hit_rate_table`: (column of a comparison table, header, km?).
HIT_RATE_COLUMNS = tuple(
    [(f"within_{d}km", f"within {d:,} km", False) for d in WITHIN_KM]
    + [(f"balanced_within_{d}km", f"balanced within {d:,} km", False) for d in WITHIN_KM]
    + [("country_accuracy", "country accuracy", False),
       ("balanced_country_accuracy", "balanced country accuracy", False)])


def _interval_text(value: float, low, high, km: bool, round_km: int, digits: int) -> str:
    """``value [low, high]`` rounded for display: km to ``round_km``, shares to ``digits``."""
    def text(v):
        return f"{round(v / round_km) * round_km:.0f}" if km else f"{v:.{digits}f}"

    if low is None or pd.isna(low):
        return text(value)
    return f"{text(value)} [{text(low)}, {text(high)}]"


def hit_rate_table(table: pd.DataFrame, columns=HIT_RATE_COLUMNS, round_km: int = 10,
                   digits: int = 2) -> pd.DataFrame:
    """Like :func:`summary_table`, for other columns: by default the hit rates and accuracies.

    ``columns``: ``(column, header, km)`` triples; each cell is
    ``value [low, high]`` from ``<column>_ci_low``/``_ci_high`` when the table
    has them. Shares ("within X km", accuracies) are fractions in [0, 1].
    """
    out = pd.DataFrame({"method": table["method"]})
    for column, header, km in columns:
        out[header] = [_interval_text(row[column], row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high"),
                                      km, round_km, digits) for _, row in table.iterrows()]
    return out.set_index("method")


def methods_table(predictions: pd.DataFrame, centroids: pd.DataFrame, n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """Score every method of a long prediction table; best first.

    ``predictions``: ``tune_id, method, pred_lat, pred_lon`` and the true
    ``lat, lon, country`` (as saved by :func:`save_baseline_results`);
    ``centroids``: the training regions' (:func:`region_centroids`), which give
    the predicted country. One row per method with :func:`evaluate_predictions`'
    metrics and 95 % bootstrap intervals, ranked by :func:`rank_methods`.
    """
    rows = [evaluate_predictions(name, group[["lat", "lon", "country"]], group["pred_lat"].to_numpy(),
                                 group["pred_lon"].to_numpy(), centroids, n_boot=n_boot, seed=seed)
            for name, group in predictions.groupby("method", sort=False)]
    return rank_methods(rows)
