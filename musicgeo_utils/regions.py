"""Class regions: their labels, their centres, and the countries they answer.

Region classifiers (notebooks 03 and 04) predict probabilities over *class
regions*; this module says what those regions are and what an answer means:

- :func:`classification_regions`: class labels with at least
  :data:`CLASS_REGION_MIN_TRAIN` training tunes (small regions merged into
  their country, UN subregion ``"Eastern Europe (other)"``, continent
  ``"Europe (other)"``, then ``"rest of world"``);
- :func:`region_centroids`: each region's centre, the **medoid** of its
  training origins (:func:`geo.medoid_index`: the training place with the
  least total great-circle km to the region's tunes), so a pooled region's
  centre is a place its music comes from, never the mid-Atlantic mean of
  Mexico, Brazil and India; plus its most frequent country and whether it is
  ``pooled`` (its tunes come from several countries);
- :func:`training_origins` and :func:`country_of`: the country answer for a
  predicted *point* (regressions, constants, kNN, decoded points) is the
  country of the nearest training origin, an actual place with a real country;
- :func:`region_country_shares`, :func:`country_probabilities` and
  :func:`predicted_countries`: the country answer for region *probabilities*,
  ``argmax_c sum_r P(r) P(c | r)``, with ``P(c | r)`` the share of the
  region's training tunes from country ``c``;
- :func:`decoding_summary` and :func:`two_region_sweep`: what a decoding of
  region probabilities to a point does (the most probable region, its
  probability, the probability near the decoded point; the decoded point as
  the mass moves between two far-apart regions).

Latitude and longitude are degrees, distances great-circle kilometres
(:mod:`musicgeo_utils.geo`).
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from .geo import (
    REGION_DECODINGS,
    check_latlon,
    decode_region_probabilities,
    great_circle_km,
    medoid_index,
    nearest_point_index,
    on_land,
    spherical_mean,
)

# --------------------------------------------------------------------------- class labels

#: Fewest training tunes a class region keeps (:func:`classification_regions`); notebooks 03, 04 and 06 use it.
CLASS_REGION_MIN_TRAIN = 15

#: UN geoscheme area (subregion, continent) of historical states that countryinfo lacks (tables
#: cached before the geocoder gave modern countries can still hold these names).
HISTORICAL_AREAS = {
    "Soviet Union": ("Eastern Europe", "Europe"),
    "Czechoslovakia": ("Eastern Europe", "Europe"),
    "Yugoslavia": ("Southern Europe", "Europe"),
}


@lru_cache(maxsize=None)
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


def classification_regions(tunes: pd.DataFrame, min_train: int = CLASS_REGION_MIN_TRAIN,
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


# --------------------------------------------------------------------------- centres and point -> country


def _labels(values, name: str, n: int) -> np.ndarray:
    labels = np.asarray(values).astype(str).ravel()
    if len(labels) != n:
        raise ValueError(f"need {n} {name}, got {len(labels)}")
    return labels


def _most_frequent(groups: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Per group: the most frequent value (ties: alphabetical), its share, and the number of values."""
    counts = pd.DataFrame({"g": groups, "v": values}).value_counts().rename("k").reset_index()
    counts = counts.sort_values(["g", "k", "v"], ascending=[True, False, True], kind="stable")
    first = counts.drop_duplicates("g").set_index("g")
    totals = counts.groupby("g")["k"].sum()
    return pd.DataFrame({"value": first["v"], "share": first["k"] / totals,
                         "n_values": counts.groupby("g")["v"].size()})


def training_origins(lat, lon, countries) -> pd.DataFrame:
    """The distinct places (degrees) of training tunes, with their country.

    One row per distinct ``(lat, lon)``, sorted by latitude then longitude:
    ``lat, lon, country`` (the most frequent country of the tunes there;
    ties alphabetical) and ``n`` (tunes). The reference places of
    :func:`country_of`.
    """
    lat, lon = check_latlon(lat, lon)
    countries = _labels(countries, "countries", len(lat))
    points, inverse, n = np.unique(np.column_stack([lat, lon]), axis=0, return_inverse=True,
                                   return_counts=True)
    country = _most_frequent(inverse.ravel(), countries)["value"].sort_index().to_numpy()
    return pd.DataFrame({"lat": points[:, 0], "lon": points[:, 1], "country": country, "n": n})


def region_centroids(lat, lon, regions, countries=None) -> pd.DataFrame:
    """Each region's centre: the medoid, degrees, of its training origins; and its countries.

    ``lat``/``lon``: one place per training tune; ``regions``: its class
    label; ``countries``: its country. Returns one row per region (sorted by
    label):

    - ``region``; ``lat, lon``: the medoid (:func:`geo.medoid_index` over the
      region's distinct places, each weighted by its tunes), an actual
      training origin, so the centre is on land where the origins are;
    - ``n``: training tunes; ``mean_lat, mean_lon``: their spherical mean
      (NaN where it is undefined), for comparison only (a pooled region's
      mean can lie in a sea);
    - ``country``: the most frequent country among the region's tunes (ties
      alphabetical; the region label when ``countries`` is not given),
      ``country_share``: its share, ``pooled``: True when the region's tunes
      come from more than one country, so that ``country`` is only the
      likeliest of several (use :func:`region_country_shares` for all).

    With ``countries``, the frame's ``attrs["origins"]`` holds the
    :func:`training_origins` (as plain tuples), so that :func:`country_of`
    called with this frame answers the country of the nearest training
    origin, not of the nearest region centre.
    """
    lat, lon = check_latlon(lat, lon)
    regions = _labels(regions, "region labels", len(lat))
    frame = pd.DataFrame({"lat": lat, "lon": lon, "region": regions})
    rows = []
    for region, group in frame.groupby("region", sort=True):
        places = group.groupby(["lat", "lon"], sort=True).size().reset_index(name="k")
        best = places.iloc[medoid_index(places["lat"], places["lon"], places["k"])]
        mean = spherical_mean(group["lat"], group["lon"], on_zero="nan")
        rows.append({"region": region, "lat": float(best["lat"]), "lon": float(best["lon"]),
                     "n": len(group), "mean_lat": mean[0], "mean_lon": mean[1]})
    out = pd.DataFrame(rows, columns=["region", "lat", "lon", "n", "mean_lat", "mean_lon"])
    if countries is None:
        out["country"], out["country_share"], out["pooled"] = out["region"], 1.0, False
        return out
    countries = _labels(countries, "countries", len(lat))
    top = _most_frequent(regions, countries).loc[out["region"]]
    out["country"] = top["value"].to_numpy()
    out["country_share"] = top["share"].to_numpy(dtype=float)
    out["pooled"] = top["n_values"].to_numpy() > 1
    origins = training_origins(lat, lon, countries)
    out.attrs["origins"] = {c: tuple(origins[c].tolist()) for c in ("lat", "lon", "country")}
    return out


def country_of(lat, lon, places: pd.DataFrame) -> np.ndarray:
    """Country of the nearest reference place (great-circle), for points in degrees.

    ``places``: a table with ``lat``, ``lon``, ``country``: best the
    :func:`training_origins`, so every answer is the country of an actual
    training place. A :func:`region_centroids` frame works too: its
    ``attrs["origins"]`` (the training origins behind the regions) are used
    when present, so a point near Mexico City is answered ``Mexico`` even if
    its nearest region is the pooled ``rest of world`` (whose ``country``
    column names only its most frequent member); without them (e.g. a frame
    read back from a file) the rows themselves are the places. Country names
    are the dataset's own (modern English names, :mod:`geocode`), so they
    compare with the true labels; offline and fast (one matrix product per
    chunk).
    """
    origins = places.attrs.get("origins") if hasattr(places, "attrs") else None
    if origins:
        ref_lat, ref_lon, country = (np.asarray(origins[c]) for c in ("lat", "lon", "country"))
    else:
        missing = {"lat", "lon", "country"} - set(places.columns)
        if missing:
            raise ValueError(f"places lack column(s) {sorted(missing)}")
        ref_lat, ref_lon, country = (places[c].to_numpy() for c in ("lat", "lon", "country"))
    lat, lon = check_latlon(lat, lon)
    return country[nearest_point_index(lat, lon, ref_lat, ref_lon)]


# --------------------------------------------------------------------------- region probabilities -> country


def region_country_shares(regions, countries) -> pd.DataFrame:
    """``P(country | region)`` from training tunes: rows = regions, columns = countries.

    The share of each region's tunes from each country (rows sum to 1),
    rows and columns sorted by name. A region of one country has a single 1.
    """
    regions = _labels(regions, "region labels", len(np.asarray(regions).ravel()))
    countries = _labels(countries, "countries", len(regions))
    if len(regions) == 0:
        raise ValueError("region_country_shares needs at least one tune")
    table = pd.crosstab(pd.Series(regions, name="region"), pd.Series(countries, name="country"))
    return table.div(table.sum(axis=1), axis=0).sort_index().sort_index(axis=1)


def _proba_matrix(proba, regions) -> tuple[np.ndarray, list[str]]:
    if isinstance(proba, pd.DataFrame):
        names = [str(c) for c in proba.columns] if regions is None else list(map(str, regions))
        matrix = proba.to_numpy(dtype=float)
    else:
        if regions is None:
            raise ValueError("regions (one name per probability column) is needed for an array of probabilities")
        names, matrix = list(map(str, regions)), np.atleast_2d(np.asarray(proba, dtype=float))
    if matrix.ndim != 2 or matrix.shape[1] != len(names):
        raise ValueError(f"probabilities of shape {matrix.shape} for {len(names)} region names")
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
        raise ValueError("probabilities must be finite and non-negative")
    return matrix, names


def country_probabilities(proba, shares: pd.DataFrame, regions=None) -> pd.DataFrame:
    """``P(country) = sum_r P(r) P(country | r)`` for each row of region probabilities.

    ``proba``: ``(n, k)`` region probabilities, a DataFrame whose columns
    are region names or an array with ``regions`` naming its columns;
    ``shares``: :func:`region_country_shares` of the training tunes (must
    cover every region). Returns an ``(n, n_countries)`` DataFrame (columns
    as in ``shares``, index that of a DataFrame ``proba``).
    """
    matrix, names = _proba_matrix(proba, regions)
    unknown = sorted(set(names) - set(shares.index.astype(str)))
    if unknown:
        raise ValueError(f"shares lack region(s) {unknown[:5]}")
    out = matrix @ shares.loc[names].to_numpy(dtype=float)
    index = proba.index if isinstance(proba, pd.DataFrame) else None
    return pd.DataFrame(out, columns=shares.columns, index=index)


def predicted_countries(proba, shares: pd.DataFrame, regions=None) -> np.ndarray:
    """The most probable country per row (:func:`country_probabilities`; ties: first by name)."""
    table = country_probabilities(proba, shares, regions)
    return table.columns.to_numpy()[np.argmax(table.to_numpy(), axis=1)]


# --------------------------------------------------------------------------- the region task


class RegionTask(NamedTuple):
    """The region classes of a located dataset, their centres and countries (:func:`region_task`)."""

    codes: np.ndarray
    names: list
    centroids: pd.DataFrame
    shares: pd.DataFrame


def region_task(geo_tunes: pd.DataFrame) -> RegionTask:
    """``(codes, names, centroids, shares)`` of the located tunes' classification regions.

    ``geo_tunes``: tunes with ``lat, lon, country, split`` and what
    :func:`classification_regions` reads. Every region with a training tune
    is a class (``codes`` -1: none); centroids (:func:`region_centroids`) and
    ``P(country | region)`` (:func:`region_country_shares`) come from the
    training tunes alone. Notebooks 03, 04 and 06 all take their region
    centres and country shares from here.
    """
    from .evaluation import encode_classes  # scikit-learn only when a task is made

    tune_regions = classification_regions(geo_tunes)
    codes, names = encode_classes(tune_regions, geo_tunes["split"] == "train", min_train=1)
    train = (geo_tunes["split"] == "train").to_numpy()
    centroids = region_centroids(geo_tunes.loc[train, "lat"], geo_tunes.loc[train, "lon"],
                                 tune_regions[train], geo_tunes.loc[train, "country"])
    shares = region_country_shares(tune_regions[train], geo_tunes.loc[train, "country"])
    return RegionTask(codes, names, centroids, shares)


# --------------------------------------------------------------------------- what a decoding does

#: Radius, km, of the "support" of a decoded point (:func:`decoding_summary`).
SUPPORT_KM = 1000.0


def decoding_summary(proba, centroids: pd.DataFrame, decoding: str = "top",
                     radius_km: float = SUPPORT_KM, regions=None) -> pd.DataFrame:
    """Decoded points with what stands behind them, one row per row of ``proba``.

    ``proba``: ``(n, k)`` region probabilities (columns named as in
    :func:`country_probabilities`); ``centroids``: ``region, lat, lon`` of
    every region (:func:`region_centroids`). Columns: ``lat, lon`` (the
    decoded point, :func:`geo.decode_region_probabilities`), ``top_region``
    and ``top_probability`` (the most probable region and its probability),
    ``support`` (the total probability of the regions whose centre lies
    within ``radius_km`` of the decoded point: near 1 when the point stands
    for the model's belief, near 0 when it is a compromise between far-apart
    regions), ``nearest_region`` and ``nearest_region_km``.
    """
    matrix, names = _proba_matrix(proba, regions)
    if radius_km <= 0:
        raise ValueError(f"radius_km must be positive, got {radius_km}")
    place = centroids.set_index("region")
    unknown = sorted(set(names) - set(place.index.astype(str)))
    if unknown:
        raise ValueError(f"centroids lack region(s) {unknown[:5]}")
    c_lat, c_lon = (place.loc[names, c].to_numpy(dtype=float) for c in ("lat", "lon"))
    lat, lon = decode_region_probabilities(matrix, c_lat, c_lon, decoding)
    km = great_circle_km(lat[:, None], lon[:, None], c_lat[None, :], c_lon[None, :])
    top, nearest = np.argmax(matrix, axis=1), np.argmin(km, axis=1)
    rows = np.arange(len(matrix))
    return pd.DataFrame({
        "lat": lat, "lon": lon, "top_region": np.asarray(names)[top], "top_probability": matrix[rows, top],
        "support": (matrix * (km <= radius_km)).sum(axis=1),
        "nearest_region": np.asarray(names)[nearest], "nearest_region_km": km[rows, nearest],
    }, index=proba.index if isinstance(proba, pd.DataFrame) else None)


def sweep_pair(centroids: pd.DataFrame) -> tuple[str, str]:
    """Two far-apart class regions for :func:`two_region_sweep`: ``(a, b)``.

    The region with most training tunes (``n``; a tie: the first name) east of 60 deg E and the
    one west of 40 deg E (East Asia and Europe, in the folk corpus). Where either side has no
    region (FMA's or Lakh MIDI's North American and European points), the region with most
    training tunes and the one farthest from it.
    """
    if len(centroids) < 2:
        raise ValueError("a sweep needs two class regions")
    ranked = centroids.sort_values(["n", "region"], ascending=[False, True])
    east, west = ranked[ranked["lon"] > 60], ranked[ranked["lon"] < 40]
    if len(east) and len(west):
        return str(east.iloc[0]["region"]), str(west.iloc[0]["region"])
    a = ranked.iloc[0]
    rest = ranked.iloc[1:]
    far = great_circle_km(rest["lat"].to_numpy(float), rest["lon"].to_numpy(float), a["lat"], a["lon"])
    return str(a["region"]), str(rest.iloc[int(np.argmax(far))]["region"])


def two_region_sweep(centroids: pd.DataFrame, region_a: str, region_b: str, shares=None,
                     decodings=REGION_DECODINGS, radius_km: float = SUPPORT_KM) -> pd.DataFrame:
    """The decoded point as probability moves from ``region_a`` to ``region_b``.

    Every row of the sweep gives ``region_b`` the probability ``share_b``
    (``shares``, default 0, 0.05, ..., 1) and ``region_a`` the rest, all
    other regions 0, and decodes it with each of ``decodings``. Columns:
    ``share_b, decoding, lat, lon, km_from_a, km_from_b, on_land``
    (:func:`geo.on_land`) and ``support`` (:func:`decoding_summary`), in
    order of decoding then share: for a figure of how "top" jumps, "median"
    stays with the larger share and "weighted" crosses whatever lies between.
    """
    place = centroids.set_index("region")
    for name in (region_a, region_b):
        if name not in place.index:
            raise ValueError(f"no centroid for region {name!r}")
    if region_a == region_b:
        raise ValueError(f"region_a and region_b are both {region_a!r}")
    shares = np.linspace(0.0, 1.0, 21) if shares is None else np.asarray(shares, dtype=float).ravel()
    if np.any((shares < 0) | (shares > 1)):
        raise ValueError("shares must lie in [0, 1]")
    names = [str(r) for r in place.index]
    proba = np.zeros((len(shares), len(names)))
    proba[:, names.index(region_a)], proba[:, names.index(region_b)] = 1.0 - shares, shares
    a, b = place.loc[region_a], place.loc[region_b]
    frames = []
    for decoding in decodings:
        summary = decoding_summary(proba, centroids, decoding, radius_km, regions=names)
        frames.append(pd.DataFrame({
            "share_b": shares, "decoding": decoding, "lat": summary["lat"], "lon": summary["lon"],
            "km_from_a": great_circle_km(summary["lat"], summary["lon"], a["lat"], a["lon"]),
            "km_from_b": great_circle_km(summary["lat"], summary["lon"], b["lat"], b["lon"]),
            "on_land": on_land(summary["lat"], summary["lon"]), "support": summary["support"]}))
    return pd.concat(frames, ignore_index=True)
