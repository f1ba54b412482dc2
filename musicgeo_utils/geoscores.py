"""Scores of predicted places in great-circle km, with bootstrap intervals.

:func:`error_metrics`: mean and median great-circle
km, shares within 200/750/2,500 km (fractions in [0, 1]), country accuracy,
and their *balanced* versions (computed per true country, then averaged over
countries, so a dominant country cannot hide failure on the others). The
headline figure, ``balanced_median_km`` (the column name kept in every
results file), is the **mean over countries of each country's median error**.
:func:`evaluate_predictions` scores any model's predictions (a method of
:mod:`musicgeo_utils.geomethods`, a CRNN head) with bootstrap 95 % intervals,
:func:`rank_methods` puts rows together, best first, and
:func:`methods_table` does both for a long table of predictions.

Where predictions land (notebooks 03 and 06): :func:`placement_summary`,
:func:`error_by_group`, :func:`error_table`, :func:`country_confusion`.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .geo import check_latlon, coordinate_labels, great_circle_km, nearest_distance_km, on_land, spherical_mean
from .regions import country_of

#: Distances, km, for the "share within" metrics.
WITHIN_KM = (200, 750, 2500)


#: The column that :func:`rank_methods` sorts by (smaller is better): the mean over countries
#: of each country's median error, km (the name ``balanced_median_km`` is kept in the result files).
RANK_BY = "balanced_median_km"


# --------------------------------------------------------------------------- metrics


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


#: Fewest test tunes of a country that ``balanced_country_accuracy_10`` counts.
BIG_COUNTRY_TUNES = 10


def error_metrics(error_km, true_country=None, country_correct=None) -> dict:
    """Scores from per-item great-circle errors, km.

    Keys: ``n``, ``mean_km``, ``median_km``, ``within_200km``,
    ``within_750km``, ``within_2500km`` (fractions in [0, 1]),
    ``country_accuracy``, ``n_countries``, and the balanced versions, each
    computed per true country and then averaged over countries:
    ``balanced_mean_km``, ``balanced_median_km`` (the mean over countries of
    each country's median, not a median), ``balanced_within_*km``,
    ``balanced_country_accuracy``, and ``balanced_country_accuracy_10``: the
    same over the countries with at least :data:`BIG_COUNTRY_TUNES` tunes here
    (where a country's accuracy means something; in a bootstrap replicate, those
    with that many draws). ``true_country`` (labels or integer codes)
    enables the balanced scores, ``country_correct`` (booleans; predicted
    countries from :func:`regions.country_of` or :func:`regions.predicted_countries`)
    the country accuracies; without
    them those entries are NaN. :func:`evaluate_predictions` computes the
    errors and countries from places.
    """
    err = np.asarray(error_km, dtype=float).ravel()
    within = {f"within_{d}km": err <= d for d in WITHIN_KM}
    out = {"n": len(err), "mean_km": float(np.mean(err)), "median_km": float(np.median(err))}
    out.update({k: float(np.mean(v)) for k, v in within.items()})
    correct = None if country_correct is None else np.asarray(country_correct, dtype=float).ravel()
    out["country_accuracy"] = float(np.mean(correct)) if correct is not None else np.nan
    balanced_keys = ["balanced_mean_km", "balanced_median_km", *(f"balanced_{k}" for k in within),
                     "balanced_country_accuracy", "balanced_country_accuracy_10"]
    if true_country is None:
        return {**out, "n_countries": 0, **dict.fromkeys(balanced_keys, np.nan)}
    codes = np.unique(np.asarray(true_country).ravel(), return_inverse=True)[1].ravel()
    medians = _group_medians(codes, err, codes.max() + 1)
    out["n_countries"] = int(np.sum(np.bincount(codes) > 0))
    out["balanced_mean_km"] = _balanced(codes, err)
    out["balanced_median_km"] = float(np.nanmean(medians))
    out.update({f"balanced_{k}": _balanced(codes, v.astype(float)) for k, v in within.items()})
    out["balanced_country_accuracy"] = _balanced(codes, correct) if correct is not None else np.nan
    big = np.bincount(codes)[codes] >= BIG_COUNTRY_TUNES
    out["balanced_country_accuracy_10"] = (_balanced(codes[big], correct[big])
                                           if correct is not None and big.any() else np.nan)
    return out


def region_fold_scores(proba, classes, train: pd.DataFrame, train_regions, test: pd.DataFrame) -> dict:
    """The scores the benchmarks' cross-validation folds give a region classifier.

    ``proba``: ``(len(test), len(classes))`` region probabilities of the
    held-out tunes; ``train`` and ``test``: ``lat, lon, country`` of the fold's
    training and held-out tunes, ``train_regions`` the training tunes' region
    classes. The region centres (:func:`regions.region_centroids`) and
    ``P(country | region)`` come from the fold's training tunes; a class with
    no training tune in the fold is dropped and the rest renormalised. Returns
    the balanced median (km) of the top region's centre and of the median
    decoding (:func:`geo.decode_region_probabilities`) and the balanced country
    accuracy over the countries with at least :data:`BIG_COUNTRY_TUNES` held-out
    tunes, as :func:`error_metrics` defines them.
    """
    from .geo import decode_region_probabilities
    from .regions import predicted_countries, region_centroids, region_country_shares

    train_regions = np.asarray(train_regions)
    centres = region_centroids(train["lat"], train["lon"], train_regions).set_index("region")
    shares = region_country_shares(train_regions, train["country"])
    keep = np.isin(classes, centres.index)
    proba = np.asarray(proba, dtype=float)[:, keep]
    proba = proba / proba.sum(axis=1, keepdims=True)
    classes = np.asarray(classes)[keep]
    countries = test["country"].to_numpy()
    hits = predicted_countries(proba, shares, regions=list(classes)) == countries
    out = {}
    for decoding in ("top", "median"):
        lat, lon = decode_region_probabilities(proba, centres.loc[classes, "lat"], centres.loc[classes, "lon"], decoding)
        scores = error_metrics(great_circle_km(test["lat"], test["lon"], lat, lon), countries, hits)
        out[f"balanced median, {decoding} decoding, km"] = scores["balanced_median_km"]
    out["balanced country accuracy (>= 10 tunes)"] = scores["balanced_country_accuracy_10"]
    return out


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


# --------------------------------------------------------------------------- comparison rows


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
    check_latlon(frame["lat"], frame["lon"])
    if "region" not in frame:
        frame["region"] = coordinate_labels(frame["lat"], frame["lon"])
    if "country" not in frame:
        frame["country"] = frame["region"]
    frame["region"], frame["country"] = frame["region"].astype(str), frame["country"].astype(str)
    return frame


def evaluate_predictions(name: str, y_test, pred_lat, pred_lon, centroids: pd.DataFrame,
                         n_boot: int = 1000, seed: int = 0, pred_country=None) -> dict:
    """One comparison row: all :func:`error_metrics` scores and their 95 % bootstrap intervals.

    ``y_test`` as in :func:`as_targets`. The predicted country of each tune
    is ``pred_country`` when given (e.g. :func:`regions.predicted_countries`
    of a region classifier's probabilities), else :func:`regions.country_of`
    the predicted point: the country of the nearest training origin when
    ``centroids`` is a :func:`regions.region_centroids` frame (or a
    :func:`regions.training_origins` table), of the nearest row otherwise.
    Interval columns are ``<metric>_ci_low`` / ``<metric>_ci_high``
    (``n_boot=0`` skips them). Use this for any model (e.g. a CRNN head) so
    its row is comparable with :func:`geomethods.compare_methods`'s.
    """
    y = as_targets(y_test)
    pred_lat, pred_lon = check_latlon(pred_lat, pred_lon, len(y))
    err = np.atleast_1d(great_circle_km(y["lat"].to_numpy(), y["lon"].to_numpy(), pred_lat, pred_lon))
    codes = np.unique(y["country"].to_numpy(), return_inverse=True)[1].ravel()
    if pred_country is None:
        pred_country = country_of(pred_lat, pred_lon, centroids)
    pred_country = np.asarray(pred_country).astype(str).ravel()
    if len(pred_country) != len(y):
        raise ValueError(f"{len(pred_country)} predicted countries for {len(y)} tunes")
    correct = pred_country == y["country"].to_numpy()
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


def methods_table(predictions: pd.DataFrame, centroids: pd.DataFrame, n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """Score every method of a long prediction table; best first.

    ``predictions``: ``tune_id, method, pred_lat, pred_lon`` and the true
    ``lat, lon, country`` (as saved by :func:`georesults.save_baseline_results`);
    an optional ``pred_country`` column gives a method's own country answers
    (e.g. a region classifier's :func:`regions.predicted_countries`; empty
    or missing for a method: the country of its points); an optional
    ``input`` column says what a method hears (``"audio"``, the default, or
    ``"true notes"`` for the score references) and is kept in the table.
    ``centroids``: the training regions' (:func:`regions.region_centroids`),
    whose training origins give the country of a predicted point (see
    :func:`evaluate_predictions`). One row per method with its metrics and
    95 % bootstrap intervals, ranked by :func:`rank_methods`.
    """
    rows = []
    for name, group in predictions.groupby("method", sort=False):
        own = group["pred_country"] if "pred_country" in group else None
        own = None if own is None or own.isna().any() or (own.astype(str) == "").any() else own.to_numpy()
        row = evaluate_predictions(name, group[["lat", "lon", "country"]], group["pred_lat"].to_numpy(),
                                   group["pred_lon"].to_numpy(), centroids, n_boot=n_boot, seed=seed,
                                   pred_country=own)
        source = group["input"].dropna() if "input" in group else pd.Series(dtype=object)
        rows.append({**row, "input": source.iloc[0] if len(source) else "audio"})
    return rank_methods(rows)


# --------------------------------------------------------------------------- errors by group, and where predictions land


def error_table(true_lat, true_lon, pred_lat, pred_lon, groups) -> pd.DataFrame:
    """Great-circle errors, km, per group (e.g. region or country), largest group first.

    Columns: ``n``, ``mean_km``, ``median_km`` and ``within_*km`` fractions,
    indexed by group label.
    """
    true_lat, true_lon = check_latlon(true_lat, true_lon)
    err = np.atleast_1d(great_circle_km(true_lat, true_lon, *check_latlon(pred_lat, pred_lon, len(true_lat))))
    frame = pd.DataFrame({"group": np.asarray(groups).ravel(), "err": err})
    for d in WITHIN_KM:
        frame[f"within_{d}km"] = (err <= d).astype(float)
    grouped = frame.groupby("group")
    table = grouped["err"].agg(n="size", mean_km="mean", median_km="median")
    table = table.join(grouped[[f"within_{d}km" for d in WITHIN_KM]].mean())
    return table.sort_values(["n", "median_km"], ascending=[False, True])


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


def median_spread_km(lat, lon) -> float:
    """Median great-circle km from points (degrees) to their spherical mean: how spread out they are.

    Near 0 for a method that answers nearly the same place for every tune; NaN
    when the points balance out and their mean has no direction.
    """
    centre = spherical_mean(lat, lon, on_zero="nan")
    return float(np.median(great_circle_km(lat, lon, *centre)))


def placement_summary(predictions: pd.DataFrame, ref_lat, ref_lon,
                      methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Where each method's predictions land, one row per method.

    ``predictions``: long table (``method, pred_lat, pred_lon, lat, lon``,
    degrees). ``ref_lat``/``ref_lon``: the places music is known to come
    from (e.g. the training tunes' distinct origins). Columns: ``n``,
    ``on_land`` (share of predictions inside a country, :func:`geo.on_land`),
    ``median_km_to_nearest_origin`` (median great-circle km from a prediction
    to the nearest reference place), ``median_spread_km`` (:func:`median_spread_km` of the method's
    predictions) and
    ``median_error_km``.
    """
    rows = {}
    for name, p in _method_groups(predictions, methods):
        lat, lon = p["pred_lat"].to_numpy(float), p["pred_lon"].to_numpy(float)
        err = great_circle_km(p["lat"].to_numpy(float), p["lon"].to_numpy(float), lat, lon)
        rows[name] = {"n": len(p), "on_land": float(on_land(lat, lon).mean()),
                      "median_km_to_nearest_origin": float(np.median(nearest_distance_km(lat, lon, ref_lat, ref_lon))),
                      "median_spread_km": median_spread_km(lat, lon),
                      "median_error_km": float(np.median(err))}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")


def error_by_group(predictions: pd.DataFrame, group: str, methods: Sequence[str] | None = None,
                   stat: str = "median_km") -> pd.DataFrame:
    """One error statistic (km or share) per value of ``group`` (rows) and method (columns).

    ``stat`` is a column of :func:`error_table` (``median_km``, ``mean_km``,
    ``within_750km`` ...). The first column, ``n``, counts the test tunes per
    group (of the first method); rows are ordered largest group first, equal
    sizes by group name.
    """
    table = {}
    for name, p in _method_groups(predictions, methods):
        errors = error_table(p["lat"], p["lon"], p["pred_lat"], p["pred_lon"], p[group].astype(str))
        table.setdefault("n", errors["n"])
        table[name] = errors[stat]
    out = pd.DataFrame(table).sort_index().rename_axis(group)
    return out.sort_values("n", ascending=False, kind="stable")


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
