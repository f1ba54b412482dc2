"""Geographic methods: predict a latitude/longitude from features.

Every method shares one small interface (:class:`GeoMethod`)::

    method.fit(X, lat, lon, regions=None, validation=(X_val, lat_val, lon_val))
    lat_pred, lon_pred = method.predict(X_test)

``X`` is an ``(n, d)`` feature matrix, latitudes and longitudes are degrees.
Hyperparameters are chosen on the validation set only, from small grids, by
the **mean great-circle error in km** (smooth, and the figure Zhou, Claire &
King 2014 report) or, given countries, by the balanced median km (the mean
over countries of each country's median; :func:`geoscores.error_metrics`); the
model is then fitted on the training set alone.

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
  region's centroid or by the probability-weighted mean of the centroids;
  :class:`RegionDecoder` makes the same choice of decoding for any other
  model's region probabilities (the CRNN's).

:func:`compare_methods` runs everything on train/validation/test and returns
one row per method, scored by :func:`geoscores.evaluate_predictions`;
:func:`cross_validate` does the same by k-fold cross-validation;
:func:`method_predictions` gives the fitted methods' test predictions in the long format that
:mod:`musicgeo_utils.georesults` saves.
"""
from __future__ import annotations

import time
from typing import Sequence

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
    check_latlon,
    coordinate_labels,
    decode_region_probabilities,
    geometric_median,
    great_circle_km,
    latlon_to_xyz,
    spherical_mean,
    wrap_longitude,
    xyz_to_latlon,
)
from .regions import SUPPORT_KM, decoding_summary, predicted_countries, region_centroids, region_country_shares
from .geoscores import as_targets, error_metrics, evaluate_predictions, rank_methods


# --------------------------------------------------------------------------- inputs


def _check_features(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"features must be a 2-D (n, d) array, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("features contain NaN or infinite values")
    return X


def _to_sphere(xyz: np.ndarray, fallback_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project regression outputs onto the sphere; a zero vector takes ``fallback_xyz``."""
    xyz = np.array(xyz, dtype=float)
    zero = np.linalg.norm(xyz, axis=1) <= 1e-9
    xyz[zero] = fallback_xyz
    lat, lon = xyz_to_latlon(xyz)
    return np.atleast_1d(lat), np.atleast_1d(lon)


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
        lat, lon = check_latlon(lat, lon, len(X))
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

    def grid_threads(self) -> int:
        """Threads :meth:`_tune` may fit the fit-grid candidates in, side by side (default 1: one at a time).

        More than one only where a candidate's fit is numpy and BLAS work that
        releases the GIL and runs no threads of its own beyond BLAS's
        (:class:`RegionClassifier`'s logistic regression): each candidate is
        then fitted on its own copy of the method, under the caller's BLAS and
        OpenMP thread limits, so the fitted models and the choice are bit for
        bit those of one candidate after another.
        """
        return 1

    def _candidate(self, fit_params: dict, X, lat, lon, regions, X_val, lat_val, lon_val, country_val) -> list[dict]:
        """Fit one fit-grid candidate on this object; its validation rows, one per predict-grid candidate."""
        self._fit(X, lat, lon, regions, **fit_params)
        self._fitted_with = fit_params
        rows = []
        for predict_params in self.predict_grid():
            err = great_circle_km(lat_val, lon_val, *self._predict(X_val, **predict_params))
            row = {**fit_params, **predict_params, "val_mean_km": float(np.mean(err))}
            if country_val is not None:
                row["val_balanced_median_km"] = error_metrics(err, country_val)["balanced_median_km"]
            rows.append(row)
        return rows

    def _tune(self, X, lat, lon, regions, validation) -> dict:
        if len(validation) not in (3, 4):
            raise ValueError("validation must be (X, lat, lon) or (X, lat, lon, country)")
        X_val, lat_val, lon_val = validation[:3]
        X_val = _check_features(X_val)
        lat_val, lon_val = check_latlon(lat_val, lon_val, len(X_val))
        country_val = np.asarray(validation[3]).ravel() if len(validation) == 4 else None
        if country_val is not None and len(country_val) != len(X_val):
            raise ValueError(f"validation has {len(X_val)} rows but {len(country_val)} countries")
        score = "val_mean_km" if country_val is None else "val_balanced_median_km"
        grid, data = self.fit_grid(), (X, lat, lon, regions, X_val, lat_val, lon_val, country_val)
        threads = min(self.grid_threads(), len(grid))
        if threads > 1:  # each candidate on its own copy (config.map_in_threads: the caller's thread limits)
            import copy

            copies = [copy.deepcopy(self) for _ in grid]
            parts = config.map_in_threads(lambda pair: pair[0]._candidate(pair[1], *data), zip(copies, grid), threads)
        else:
            parts = [self._candidate(params, *data) for params in grid]
        rows = [row for part in parts for row in part]
        owners = [i for i, part in enumerate(parts) for _ in part]  # the fit-grid candidate of each row
        best_index = int(np.argmin([r[score] for r in rows]))
        if threads > 1:  # keep the best candidate's fitted copy: fit() need not fit it again
            self.__dict__.update(copies[owners[best_index]].__dict__)
        self.validation_scores_ = pd.DataFrame(rows)
        best = rows[best_index]
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


class RegionClassifier(GeoMethod):
    """Classify the region, then decode the class probabilities to a place.

    ``model="logreg"``: standardised features and multinomial logistic
    regression (``C`` tuned); ``model="forest"``: random forest
    (``min_samples_leaf`` tuned). ``n_jobs``: the forest's threads (default
    ``config.n_jobs()``), or the threads the logistic regression's ``C``
    candidates are fitted in side by side (default 1; the same models,
    :meth:`grid_threads`). Decodings, chosen on validation:
    ``"top"`` = centroid of the most probable region, ``"weighted"`` =
    probability-weighted spherical mean of all region centroids, ``"median"``
    = their probability-weighted geometric median (the least expected
    great-circle distance; :func:`geo.decode_region_probabilities`). A region's
    centre is the medoid of its training points (:func:`regions.region_centroids`:
    an actual training place). Without ``regions``, each distinct coordinate is
    a region (:func:`geo.coordinate_labels`). :meth:`decoder` gives a
    :class:`RegionDecoder` with the same centres, names and decoding, whose
    :meth:`RegionDecoder.describe` says what stands behind each decoded point.
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

    def grid_threads(self) -> int:
        """The logistic regression's ``C`` candidates are fitted in ``n_jobs`` threads (default 1); the forest's
        one at a time, each with ``n_jobs`` threads of its own (:meth:`GeoMethod.grid_threads`)."""
        return (self.n_jobs or 1) if self.model == "logreg" else 1

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

    def decoder(self) -> "RegionDecoder":
        """A fitted :class:`RegionDecoder` over this classifier's regions and chosen decoding."""
        if not hasattr(self, "best_params_"):
            raise RuntimeError(f"{self.name}: call fit() before decoder()")
        decoding = self._predict_params["decoding"]
        decoder = RegionDecoder(self.centroids_["lat"], self.centroids_["lon"], decodings=(decoding,),
                                regions=self.classes_)
        decoder.best_params_, decoder._predict_params = {"decoding": decoding}, {"decoding": decoding}
        return decoder


class RegionDecoder(GeoMethod):
    """Region probabilities of any model (e.g. the CRNN's softmax) -> a place; the decoding tuned.

    The features are the probabilities themselves, ``(n, n_regions)`` with
    columns in the order of ``centroid_lat``/``centroid_lon``. Nothing is
    learned: :meth:`tune` picks the decoding of :data:`geo.REGION_DECODINGS`
    on validation exactly as :class:`RegionClassifier` does (by the balanced
    median km when countries are given: the mean over countries of each
    country's median), and :meth:`predict` decodes with it. ``regions``
    names the columns (default ``"0", "1", ...``) for :meth:`describe`.
    """

    name = "region decoder"

    def __init__(self, centroid_lat, centroid_lon, decodings: Sequence[str] = REGION_DECODINGS,
                 regions=None):
        self.centroid_lat, self.centroid_lon = check_latlon(centroid_lat, centroid_lon)
        self.decodings = tuple(decodings)
        unknown = sorted(set(self.decodings) - set(REGION_DECODINGS))
        if unknown or not self.decodings:
            raise ValueError(f"decodings must be among {REGION_DECODINGS}, got {self.decodings}")
        self.regions = (np.arange(len(self.centroid_lat)) if regions is None else np.asarray(regions)).astype(str)
        if len(self.regions) != len(self.centroid_lat):
            raise ValueError(f"{len(self.regions)} region names for {len(self.centroid_lat)} centroids")

    @classmethod
    def from_centroids(cls, centroids: pd.DataFrame, regions, decodings: Sequence[str] = REGION_DECODINGS):
        """A decoder over ``regions`` (the probability columns, in order), centres from a
        :func:`regions.region_centroids` frame."""
        regions = [str(r) for r in regions]
        place = centroids.set_index("region")
        missing = sorted(set(regions) - set(place.index.astype(str)))
        if missing:
            raise ValueError(f"centroids lack region(s) {missing[:5]}")
        return cls(place.loc[regions, "lat"], place.loc[regions, "lon"], decodings, regions=regions)

    def predict_grid(self):
        """Candidates: the decodings."""
        return [{"decoding": d} for d in self.decodings]

    def _fit(self, X, lat, lon, regions) -> None:
        if X.shape[1] != len(self.centroid_lat):
            raise ValueError(f"{X.shape[1]} probability columns for {len(self.centroid_lat)} region centroids")

    def _predict(self, X, decoding):
        return decode_region_probabilities(X, self.centroid_lat, self.centroid_lon, decoding)

    def tune(self, proba_val, lat_val, lon_val, country_val=None) -> "RegionDecoder":
        """Choose the decoding on validation probabilities and true places (degrees).

        Scores of every decoding are in :attr:`validation_scores_`, the choice in
        ``best_params_["decoding"]``.
        """
        validation = (proba_val, lat_val, lon_val) + (() if country_val is None else (country_val,))
        return self.fit(proba_val, lat_val, lon_val, validation=validation)

    def describe(self, proba, radius_km: float = SUPPORT_KM, decoding: str | None = None) -> pd.DataFrame:
        """Per row: the decoded point and what stands behind it (:func:`regions.decoding_summary`).

        Columns ``lat, lon, top_region, top_probability, support`` (the
        probability of the regions within ``radius_km`` of the point),
        ``nearest_region, nearest_region_km``. ``decoding``: the tuned one
        (``best_params_``) by default, else the first of ``decodings``.
        """
        if decoding is None:
            decoding = getattr(self, "best_params_", {}).get("decoding", self.decodings[0])
        centroids = pd.DataFrame({"region": self.regions, "lat": self.centroid_lat, "lon": self.centroid_lon})
        matrix = _check_features(proba)
        if matrix.shape[1] != len(self.regions):
            raise ValueError(f"{matrix.shape[1]} probability columns for {len(self.regions)} region centroids")
        return decoding_summary(matrix, centroids, decoding, radius_km, regions=self.regions)


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

    def grid_threads(self) -> int:
        """The wrapped method's (:meth:`GeoMethod.grid_threads`)."""
        return self.method.grid_threads()

    def _columns(self, X):
        if X.shape[1] != self.width_:
            raise ValueError(f"{self.name}: fitted on {self.width_} feature columns, got {X.shape[1]}")
        return X[:, self.columns_]

    def _fit(self, X, lat, lon, regions, features, **params) -> None:
        self.width_, self.columns_ = X.shape[1], self.subsets[features]
        self.method._fit(self._columns(X), lat, lon, regions, **params)

    def _predict(self, X, **params):
        return self.method._predict(self._columns(X), **params)

    @property
    def predict_proba(self):
        """The wrapped region classifier's probabilities on the chosen columns.

        Only where the wrapped method has them: ``hasattr(wrapper, "predict_proba")``
        is False for a wrapped regression, as for the regression itself.
        """
        if not hasattr(self.method, "predict_proba"):
            raise AttributeError(f"{self.method.name} gives no class probabilities")
        return lambda X: self.method.predict_proba(self._columns(_check_features(X)))

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
        RegionClassifier("logreg", seed=seed, n_jobs=n_jobs),
        RegionClassifier("forest", **forest),
    ]
    if feature_subsets:
        learned = [OnFeatureSubsets(method, feature_subsets) for method in learned]
    return [ConstantSphericalMean(), ConstantGeometricMedian(), ScaledLatLonLinear(), *learned]


# --------------------------------------------------------------------------- comparison


def compare_methods(X_train, y_train, X_val, y_val, X_test, y_test,
                    methods: Sequence[GeoMethod] | None = None, seed: int = 0,
                    n_boot: int = 1000, n_jobs: int | None = None,
                    criterion: str = "balanced_median_km") -> pd.DataFrame:
    """Fit every method on train, tune on validation, score on test; best first.

    ``criterion`` is the validation score that picks hyperparameters:
    ``"balanced_median_km"`` (the ranking metric: the mean over countries of
    each country's median error; needs countries in ``y_val``, else each
    tune's region stands in) or ``"mean_km"``.

    ``y_*`` as in :func:`geoscores.as_targets` (lat/lon degrees, optional region and
    country labels). Predicted countries: a region classifier's
    :func:`method_countries` (the likeliest country of its region
    probabilities), any other method's the country of the training origin
    nearest its point (:func:`regions.country_of`). Returns one row per method: all
    :func:`geoscores.error_metrics` scores with bootstrap 95 % intervals, the chosen
    hyperparameters (``params``) and ``fit_seconds``, sorted by
    ``balanced_median_km``. More rows (e.g. CRNN heads) can be added with
    :func:`geoscores.evaluate_predictions` and :func:`geoscores.rank_methods`.
    """
    train, val, test = as_targets(y_train), as_targets(y_val), as_targets(y_test)
    centroids = region_centroids(train["lat"], train["lon"], train["region"], train["country"])
    shares = region_country_shares(train["region"], train["country"])
    if criterion not in ("balanced_median_km", "mean_km"):
        raise ValueError(f"criterion must be 'balanced_median_km' or 'mean_km', not {criterion!r}")
    validation = (X_val, val["lat"], val["lon"]) + ((val["country"],) if criterion == "balanced_median_km" else ())
    rows = []
    for method in methods if methods is not None else default_methods(seed, n_jobs):
        start = time.perf_counter()
        method.fit(X_train, train["lat"], train["lon"], regions=train["region"], validation=validation)
        seconds = time.perf_counter() - start
        row = evaluate_predictions(method.name, test, *method.predict(X_test), centroids, n_boot, seed,
                                   pred_country=method_countries(method, X_test, shares))
        rows.append({**row, "params": repr(method.best_params_), "fit_seconds": seconds})
    return rank_methods(rows)


def method_countries(method: GeoMethod, X, shares: pd.DataFrame) -> np.ndarray | None:
    """A fitted region classifier's country answers; ``None`` for a method that gives only points.

    The country with the largest ``sum_r P(r | x) P(country | r)``
    (:func:`regions.predicted_countries`), ``shares`` being the training
    tunes' :func:`regions.region_country_shares` over the classifier's regions.
    """
    if not hasattr(method, "predict_proba"):
        return None
    return predicted_countries(method.predict_proba(X), shares, regions=method.classes_)


def _fit_fold(method: GeoMethod, X, lat, lon, regions, train_idx, seed: int, val_fraction: float):
    """Tune on an inner validation split of the training folds, then refit on all of them."""
    from sklearn.model_selection import train_test_split

    inner, val = train_test_split(train_idx, test_size=val_fraction, random_state=seed)
    method.fit(X[inner], lat[inner], lon[inner], regions=regions[inner],
               validation=(X[val], lat[val], lon[val]))
    return method.fit(X[train_idx], lat[train_idx], lon[train_idx], regions=regions[train_idx],
                      params=method.best_params_)


def cross_validate(X, targets: pd.DataFrame, n_folds: int = 10, seed: int = 0,
                   methods: Sequence[GeoMethod] | None = None, n_boot: int = 1000,
                   val_fraction: float = 0.2, n_jobs: int | None = None) -> pd.DataFrame:
    """K-fold cross-validation of geographic methods; one row per method, best first.

    ``targets``: ``lat, lon, region, country`` per row of ``X``. Folds are
    shuffled with ``seed``. Within each fold, hyperparameters are tuned on a
    random ``val_fraction`` of the training folds (by mean km) and the method
    is refitted on all training folds with them. Scores
    (:func:`geoscores.evaluate_predictions`, with bootstrap 95 % intervals)
    are computed on the pooled out-of-fold predictions; a prediction's country
    is that of the nearest origin of all rows (the label set, not a fitted
    quantity). Extra columns: ``fold_mean_km_mean`` /
    ``fold_mean_km_std`` over folds and ``params`` (chosen per fold).
    """
    from sklearn.model_selection import KFold

    X = _check_features(X)
    targets = as_targets(targets)
    lat, lon, regions = targets["lat"].to_numpy(), targets["lon"].to_numpy(), targets["region"].to_numpy()
    centroids = region_centroids(lat, lon, regions, targets["country"])
    folds = list(KFold(n_folds, shuffle=True, random_state=seed).split(X))
    rows = []
    for method in methods if methods is not None else default_methods(seed, n_jobs):
        pred, fold_km, params = np.zeros((len(X), 2)), [], []
        for fold, (train_idx, test_idx) in enumerate(folds):
            _fit_fold(method, X, lat, lon, regions, train_idx, seed + fold, val_fraction)
            pred[test_idx] = np.column_stack(method.predict(X[test_idx]))
            fold_km.append(float(np.mean(great_circle_km(lat[test_idx], lon[test_idx], *pred[test_idx].T))))
            params.append(method.best_params_)
        row = evaluate_predictions(method.name, targets, pred[:, 0], pred[:, 1], centroids, n_boot, seed)
        rows.append({**row, "fold_mean_km_mean": float(np.mean(fold_km)),
                     "fold_mean_km_std": float(np.std(fold_km, ddof=1)) if n_folds > 1 else np.nan,
                     "params": repr(params)})
    return rank_methods(rows)


def method_predictions(methods: Sequence[GeoMethod], X, index, shares: pd.DataFrame | None = None) -> pd.DataFrame:
    """Predictions of fitted methods, long format: ``tune_id, method, pred_lat, pred_lon``.

    ``index`` holds one id per row of ``X`` (e.g. test ``tune_id``s). With
    ``shares`` (the training tunes' :func:`regions.region_country_shares`) a
    ``pred_country`` column holds region classifiers' :func:`method_countries`
    (``None`` for other methods), which :func:`geoscores.methods_table` uses.
    """
    index = np.asarray(index).astype(str).ravel()
    frames = []
    for method in methods:
        lat, lon = method.predict(X)
        frame = pd.DataFrame({"tune_id": index, "method": method.name, "pred_lat": lat, "pred_lon": lon})
        if shares is not None:
            countries = method_countries(method, X, shares)
            frame["pred_country"] = pd.Series(countries, dtype=object) if countries is not None else None
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def compare_inputs(inputs: dict, split, targets: pd.DataFrame, tune_ids, make_method, seed: int = 0,
                   n_boot: int = 1000, shares: pd.DataFrame | None = None,
                   extra_train: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One kind of method fitted on each of several inputs: what each input tells about the place.

    ``inputs``: name -> ``(source, X)`` with one row per tune (``source``:
    ``"audio"`` or ``"true notes"``); ``split``: each row's split;
    ``targets``: ``lat, lon, region, country`` per row; ``tune_ids``: one id
    per row; ``make_method``: a function returning a fresh, unfitted
    :class:`GeoMethod` (tuned on validation like in :func:`compare_methods`).
    Returns ``(table, predictions)``: the :func:`compare_methods` rows, one per
    input, named ``"<method> · <input>"`` with ``features`` and ``input``
    columns, best first; and the test predictions in the long format of
    :func:`method_predictions` with an ``input`` column. ``extra_train``: input
    name -> ``(X_extra, targets_extra)``, more training rows for that input
    (e.g. other renders of the training tunes,
    :func:`manifest.profile_extra_renders`), appended to the training split's.
    """
    split = np.asarray(split)
    tune_ids = np.asarray(tune_ids).astype(str)
    rows, predictions = [], []
    for name, (source, X) in inputs.items():
        X = np.asarray(X, dtype=float)
        if len(X) != len(split):
            raise ValueError(f"input {name!r} has {len(X)} rows for {len(split)} tunes")
        parts = {s: (X[split == s], targets[split == s].reset_index(drop=True)) for s in ("train", "val", "test")}
        if (extra_train or {}).get(name) is not None:
            X_extra, targets_extra = extra_train[name]
            X_extra = np.asarray(X_extra, dtype=float)
            if X_extra.ndim != 2 or X_extra.shape[1] != X.shape[1] or len(X_extra) != len(targets_extra):
                raise ValueError(f"extra_train[{name!r}]: need rows of {X.shape[1]} columns and one target each, "
                                 f"got {X_extra.shape} and {len(targets_extra)} targets")
            parts["train"] = (np.vstack([parts["train"][0], X_extra]),
                              pd.concat([parts["train"][1], targets_extra[parts["train"][1].columns]], ignore_index=True))
        method = make_method()
        table = compare_methods(*parts["train"], *parts["val"], *parts["test"], methods=[method], seed=seed,
                                n_boot=n_boot)
        label = f"{method.name} · {name}"
        rows.append(table.assign(method=label, features=name, input=source))
        predictions.append(method_predictions([method], parts["test"][0], tune_ids[split == "test"], shares=shares)
                           .assign(method=label, input=source))
    return rank_methods(rows), pd.concat(predictions, ignore_index=True)
