"""Great-circle geometry on a spherical Earth: distances, unit vectors, centres.

Every function takes latitude and longitude in **degrees** (latitude north
positive, longitude east positive) and returns distances in **kilometres**.
The Earth is a sphere of radius :data:`EARTH_RADIUS_KM` = 6371.0088 km, the
IUGG mean radius R1 = (2a + b) / 3 of the WGS-84 ellipsoid; a spherical model
is off by at most ~0.5 % from ellipsoidal (geodesic) distances, far below the
errors of any music-geography model.

All functions are vectorised with NumPy and broadcast their arguments.
Also here: :func:`check_latlon` (the input check every geographic module
uses), :func:`wrap_longitude`, and the land test :func:`on_land` against the
package's country basemap.
"""
from __future__ import annotations

import functools
import json

import numpy as np

from .config import PACKAGE_DATA

#: Mean Earth radius (IUGG R1 of WGS-84), km.
EARTH_RADIUS_KM = 6371.0088

def _as_float(values) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _scalar_or_array(values: np.ndarray):
    """0-d results come back as a plain ``float``, others as arrays."""
    return float(values) if np.ndim(values) == 0 else values


def great_circle_km(lat1, lon1, lat2, lon2):
    """Great-circle distance, km, between points given in degrees.

    Haversine formula on a sphere of radius :data:`EARTH_RADIUS_KM`, which is
    accurate for tiny and for near-antipodal separations alike (the argument of
    ``arcsin`` is clipped to [0, 1] against rounding). Arguments broadcast, so
    ``great_circle_km(lat[:, None], lon[:, None], clat, clon)`` is a distance
    matrix. A 0-d result is returned as ``float``.
    """
    phi1, lam1, phi2, lam2 = (np.radians(_as_float(v)) for v in (lat1, lon1, lat2, lon2))
    half_dphi = (phi2 - phi1) / 2.0
    half_dlam = (lam2 - lam1) / 2.0
    h = np.sin(half_dphi) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlam) ** 2
    return _scalar_or_array(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def latlon_to_xyz(lat, lon) -> np.ndarray:
    """Unit vectors (x, y, z) on the unit sphere for points in degrees.

    x points to (0 N, 0 E), y to (0 N, 90 E), z to the North Pole. Scalars
    and 1-D inputs give shape ``(n, 3)``; higher-dimensional inputs give
    ``(..., 3)`` after broadcasting ``lat`` against ``lon``.
    """
    phi, lam = np.broadcast_arrays(np.radians(_as_float(lat)), np.radians(_as_float(lon)))
    cos_phi = np.cos(phi)
    xyz = np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)], axis=-1)
    return xyz.reshape(1, 3) if xyz.ndim == 1 else xyz


def xyz_to_latlon(xyz, on_zero: str = "raise", zero_tol: float = 1e-12):
    """Latitude and longitude, degrees, of the directions of 3-D vectors.

    ``xyz`` has shape ``(..., 3)`` and need not be normalised: each vector is
    divided by its length first, which projects e.g. a regression output back
    onto the sphere. Longitude is in [-180, 180); at the poles it is 0.

    A (near-)zero vector (length <= ``zero_tol``) has no direction. With
    ``on_zero="raise"`` (default) a ``ValueError`` says how many there are;
    with ``on_zero="nan"`` those rows get NaN latitude and longitude.
    Returns ``(lat, lon)`` arrays of shape ``xyz.shape[:-1]`` (floats for a
    single vector).
    """
    if on_zero not in ("raise", "nan"):
        raise ValueError(f"on_zero must be 'raise' or 'nan', not {on_zero!r}")
    xyz = _as_float(xyz)
    if xyz.shape[-1:] != (3,):
        raise ValueError(f"xyz must have shape (..., 3), got {xyz.shape}")
    norm = np.linalg.norm(xyz, axis=-1)
    zero = ~(norm > zero_tol)  # also catches NaN lengths
    if on_zero == "raise" and np.any(zero):
        raise ValueError(
            f"{int(np.sum(zero))} zero-length vector(s) have no direction on the sphere "
            "(e.g. the mean of antipodal points); pass on_zero='nan' to get NaN instead"
        )
    x, y, z = np.moveaxis(xyz, -1, 0)
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    lon = np.where(lon >= 180.0, lon - 360.0, lon)
    lon = np.where(np.hypot(x, y) <= zero_tol * np.maximum(norm, 1.0), 0.0, lon)
    lat, lon = np.where(zero, np.nan, lat), np.where(zero, np.nan, lon)
    return _scalar_or_array(lat), _scalar_or_array(lon)


def _weights_like(weights, shape) -> np.ndarray:
    if weights is None:
        return np.ones(shape)
    w = np.broadcast_to(_as_float(weights), shape)
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    return w


def spherical_mean(lat, lon, weights=None, on_zero: str = "raise"):
    """Mean direction, degrees, of points on the sphere (over the last axis).

    The (weighted) average of the points' unit vectors, normalised back onto
    the sphere: unlike averaging latitude and longitude it is right across the
    date line (179.5 E and 179.5 W average to 180) and near the poles. For
    ``lat``/``lon`` of shape ``(..., k)`` it averages each row of ``k`` points
    (used by k-nearest-neighbour prediction) and returns arrays of shape
    ``(...)``; for 1-D input it returns two floats. If the points balance out
    (e.g. two antipodes) the mean has no direction: see ``on_zero`` in
    :func:`xyz_to_latlon`.
    """
    xyz = latlon_to_xyz(lat, lon)
    w = _weights_like(weights, xyz.shape[:-1])
    total = w.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("weights sum to zero: the mean is undefined")
    mean = (xyz * w[..., None]).sum(axis=-2) / total
    return xyz_to_latlon(mean, on_zero=on_zero, zero_tol=1e-9)


def _log_map(base: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Tangent vectors at each unit vector of ``base`` (``(n, 3)``) pointing to ``points`` (``(m, 3)``):
    shape ``(n, m, 3)``, length = angle (rad).

    The direction to an exact antipode is undefined; such points get a zero
    vector (they pull equally in every direction).
    """
    cos_angle = np.clip(base @ points.T, -1.0, 1.0)
    angle = np.arccos(cos_angle)
    perp = points[None, :, :] - cos_angle[:, :, None] * base[:, None, :]
    perp_len = np.linalg.norm(perp, axis=2)
    scale = np.divide(angle, perp_len, out=np.zeros_like(angle), where=perp_len > 1e-15)
    return perp * scale[:, :, None]


def _exp_map(base: np.ndarray, tangent: np.ndarray) -> np.ndarray:
    """Points reached from the unit vectors ``base`` (``(n, 3)``) along the great circles of ``tangent``."""
    length = np.linalg.norm(tangent, axis=1, keepdims=True)
    moving = length[:, 0] >= 1e-15
    safe = np.where(moving[:, None], length, 1.0)
    point = np.cos(length) * base + np.sin(length) * tangent / safe
    point = point / np.linalg.norm(point, axis=1, keepdims=True)
    return np.where(moving[:, None], point, base)


def _unique_points(lat, lon, weights) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of the distinct points and their summed weights.

    Music-geography targets repeat a few hundred coordinates many times, so
    merging duplicates makes every later step cost O(distinct points).
    """
    lat, lon = np.broadcast_arrays(_as_float(lat).ravel(), _as_float(lon).ravel())
    w = _weights_like(weights, lat.shape).ravel()
    if lat.size == 0:
        raise ValueError("geometric_median needs at least one point")
    if not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon))):
        raise ValueError("latitude/longitude contain NaN or infinite values")
    keep = w > 0
    if not np.any(keep):
        raise ValueError("weights sum to zero: the median is undefined")
    pairs, inverse = np.unique(np.column_stack([lat[keep], lon[keep]]), axis=0, return_inverse=True)
    return latlon_to_xyz(pairs[:, 0], pairs[:, 1]), np.bincount(inverse.ravel(), weights=w[keep])


def _start_points(xyz: np.ndarray, w: np.ndarray, max_candidates: int = 2000) -> np.ndarray:
    """Where the Weiszfeld iterations start for each row of ``w`` (``(n, m)`` weights of the points ``xyz``).

    Whichever of the row's spherical mean direction and its data points of
    positive weight has the least weighted total distance; ties go to the
    mean, then to the heavier point. The candidate points are the
    ``max_candidates`` heaviest over all rows (every point when there are no
    more; for one row, its heaviest ones).
    """
    rows = np.arange(len(w))
    chosen = np.argsort(-w.sum(axis=0), kind="stable")[:max_candidates]
    cost = w @ np.arccos(np.clip(xyz[chosen] @ xyz.T, -1.0, 1.0)).T  # (n, candidates)
    weight = w[:, chosen]
    cost = np.where(weight > 0, cost, np.inf)
    order = np.argsort(-weight, axis=1, kind="stable")  # heaviest first, so a tie goes to the heavier point
    best = order[rows, np.argmin(np.take_along_axis(cost, order, axis=1), axis=1)]
    start = xyz[chosen[best]]
    mean = w @ xyz
    mean_len = np.linalg.norm(mean, axis=1)
    use_mean = mean_len > 1e-9
    mean_dir = mean / np.where(use_mean, mean_len, 1.0)[:, None]
    mean_cost = (np.arccos(np.clip(mean_dir @ xyz.T, -1.0, 1.0)) * w).sum(axis=1)
    use_mean &= mean_cost <= cost[rows, best]
    return np.where(use_mean[:, None], mean_dir, start)


def _weiszfeld_step(y: np.ndarray, xyz: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tangent steps of one Weiszfeld iteration at each row of ``y`` (``(n, 3)``), the points ``xyz``
    weighted by the rows of ``w`` (``(n, m)``) -> ``(step, optimal)``.

    Where a row of ``y`` coincides with a point of positive weight, the Vardi
    & Zhang (2000) rule applies: ``y`` is the minimiser (``optimal``, step 0)
    when the pull of the other points does not exceed that point's weight.
    """
    tangents = _log_map(y, xyz)
    dist = np.linalg.norm(tangents, axis=2)
    near = dist < 1e-12
    at_point = near & (w > 0)
    inv = np.divide(w, dist, out=np.zeros_like(dist), where=~near)
    pull = (tangents * inv[:, :, None]).sum(axis=1)
    pull_len = np.linalg.norm(pull, axis=1)
    held = (w * at_point).sum(axis=1)
    on_point = at_point.any(axis=1)
    optimal = on_point & (pull_len <= held)
    total = inv.sum(axis=1)
    shrink = np.where(on_point & ~optimal, 1.0 - held / np.where(pull_len > 0, pull_len, 1.0), 1.0)
    step = pull / np.where(total > 0, total, 1.0)[:, None] * shrink[:, None]
    return np.where(optimal[:, None], 0.0, step), optimal


def _weiszfeld(y: np.ndarray, xyz: np.ndarray, w: np.ndarray, tol_rad: float, max_iter: int) -> np.ndarray:
    """Spherical Weiszfeld iterations from the starts ``y`` (``(n, 3)``), row ``i`` weighted by ``w[i]``.

    Each row stops on its own: when it is optimal or its step is shorter than ``tol_rad``.
    """
    y = y.copy()
    active = np.arange(len(y))
    for _ in range(max_iter):
        if active.size == 0:
            break
        step, optimal = _weiszfeld_step(y[active], xyz, w[active])
        y[active] = _exp_map(y[active], step)
        active = active[~(optimal | (np.linalg.norm(step, axis=1) < tol_rad))]
    return y


def geometric_median(lat, lon, weights=None, tol_km: float = 0.01, max_iter: int = 500):
    """Point (degrees) minimising the weighted sum of great-circle distances.

    The spherical Weiszfeld algorithm (Fletcher, Venkatasubramanian & Joshi,
    NeuroImage 2009): each step is the classic Weiszfeld average taken in the
    tangent plane at the current estimate (logarithmic map) and mapped back
    onto the sphere (exponential map), with the Vardi-Zhang rule where the
    estimate sits on a data point (so a point holding at least half the weight
    is returned exactly). Duplicate coordinates are merged first. It starts
    from whichever of the spherical mean and the heaviest data points has the
    smallest total distance, and stops when a step is shorter than ``tol_km``
    or after ``max_iter`` steps. The cost is convex, so the minimum is global,
    when the points lie within an open hemisphere; for points spread over the
    whole globe the result is a local minimum from that start. Returns
    ``(lat, lon)`` as floats.
    """
    xyz, w = _unique_points(lat, lon, weights)
    y = _weiszfeld(_start_points(xyz, w[None, :]), xyz, w[None, :], tol_km / EARTH_RADIUS_KM, max_iter)
    return xyz_to_latlon(y[0])


def _geometric_medians(lat, lon, weights: np.ndarray, tol_km: float = 0.01, max_iter: int = 500):
    """:func:`geometric_median` of the same points under each row of ``weights`` (``(n, points)``), at once.

    The same start rule and iterations, vectorised over the rows (the region
    decoding of thousands of clips); returns ``(lat, lon)`` arrays.
    """
    lat, lon = check_latlon(lat, lon)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != lat.size:
        raise ValueError(f"weights must have shape (n, {lat.size}), got {w.shape}")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    if len(w) and not np.all(w.sum(axis=1) > 0):
        raise ValueError(f"{int(np.sum(~(w.sum(axis=1) > 0)))} row(s) of weights sum to zero: the median is undefined")
    pairs, inverse = np.unique(np.column_stack([lat, lon]), axis=0, return_inverse=True)
    xyz = latlon_to_xyz(pairs[:, 0], pairs[:, 1])
    merged = np.zeros((len(w), len(pairs)))
    np.add.at(merged.T, inverse.ravel(), w.T)
    y = _weiszfeld(_start_points(xyz, merged), xyz, merged, tol_km / EARTH_RADIUS_KM, max_iter)
    lat_out, lon_out = xyz_to_latlon(y) if len(y) else (np.empty(0), np.empty(0))
    return np.atleast_1d(lat_out), np.atleast_1d(lon_out)


def medoid_index(lat, lon, weights=None, chunk: int = 2048) -> int:
    """Index of the medoid: the given point with least weighted total great-circle km to all points.

    Unlike :func:`spherical_mean` and :func:`geometric_median`, the answer is
    one of the input points, so a region's medoid is a place its music comes
    from (never a sea between its members). ``weights`` (e.g. tunes per
    place, default 1) weight each point as a destination. Ties (total
    distances within 1e-6 km) go to the heaviest point, then to the smallest
    latitude, then longitude, then index: deterministic whatever the order of
    equal points. Cost O(n^2), computed in chunks of ``chunk`` rows.
    """
    lat, lon = check_latlon(lat, lon)
    if lat.size == 0:
        raise ValueError("medoid_index needs at least one point")
    w = _weights_like(weights, lat.shape)
    if not np.any(w > 0):
        raise ValueError("weights sum to zero: the medoid is undefined")
    xyz = latlon_to_xyz(lat, lon)
    cost = np.empty(len(lat))
    for start in range(0, len(lat), chunk):
        angle = np.arccos(np.clip(xyz[start:start + chunk] @ xyz.T, -1.0, 1.0))
        cost[start:start + chunk] = angle @ w * EARTH_RADIUS_KM
    tied = np.flatnonzero(cost <= cost.min() + 1e-6)
    order = np.lexsort((tied, lon[tied], lat[tied], -w[tied]))
    return int(tied[order[0]])


def coordinate_labels(lat, lon, decimals: int = 4) -> np.ndarray:
    """One label per point, ``"lat,lon"`` rounded to ``decimals`` places (degrees).

    Points with identical (rounded) coordinates share a label: the region
    labels of datasets that give one coordinate per country or region.
    """
    lat = np.round(_as_float(lat), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    lon = np.round(_as_float(lon), decimals) + 0.0
    return np.array([f"{a:.{decimals}f},{b:.{decimals}f}" for a, b in zip(lat.ravel(), lon.ravel())])


def nearest_point_index(lat, lon, ref_lat, ref_lon, chunk: int = 4096) -> np.ndarray:
    """Index of the nearest reference point (great-circle) for each query point.

    Uses the largest dot product of unit vectors, which orders points exactly
    as the great-circle distance does, in chunks of ``chunk`` queries to bound
    memory.
    """
    query = latlon_to_xyz(np.ravel(lat), np.ravel(lon))
    ref = latlon_to_xyz(np.ravel(ref_lat), np.ravel(ref_lon))
    if len(ref) == 0:
        raise ValueError("no reference points to compare with")
    out = np.empty(len(query), dtype=np.intp)
    for start in range(0, len(query), chunk):
        out[start:start + chunk] = np.argmax(query[start:start + chunk] @ ref.T, axis=1)
    return out


#: How region probabilities become a place (see :func:`decode_region_probabilities`).
REGION_DECODINGS = ("top", "weighted", "median")


def decode_region_probabilities(proba, centroid_lat, centroid_lon, decoding: str = "top"):
    """Turn region probabilities into a place on the sphere, degrees.

    ``proba``: (n, n_regions) probabilities whose columns follow the centroid
    order. ``decoding="top"``: the most probable region's centroid;
    ``"weighted"``: the probability-weighted spherical mean of all centroids
    (falls back to the top region where the weighted vectors cancel out);
    ``"median"``: the probability-weighted geometric median of the centroids
    (:func:`geometric_median`), the point with the smallest expected
    great-circle distance to the origin if the probabilities are right. Unlike
    the mean it does not land halfway between two far-apart regions: a region
    holding at least half the probability is the answer, and a group of nearby
    regions that does keeps the answer among them. Returns ``(lat, lon)``
    arrays.
    """
    if decoding not in REGION_DECODINGS:
        raise ValueError(f"decoding must be one of {REGION_DECODINGS}, not {decoding!r}")
    proba = np.atleast_2d(np.asarray(proba, dtype=float))
    if decoding == "median":
        return _geometric_medians(centroid_lat, centroid_lon, proba)
    centroids = latlon_to_xyz(centroid_lat, centroid_lon)
    top = centroids[np.argmax(proba, axis=1)]
    if decoding == "top":
        xyz = top
    else:
        xyz = proba @ centroids
        cancelled = np.linalg.norm(xyz, axis=1) <= 1e-9
        xyz[cancelled] = top[cancelled]
    lat, lon = xyz_to_latlon(xyz)
    return np.atleast_1d(lat), np.atleast_1d(lon)


# --------------------------------------------------------------------------- inputs, longitudes, land


def check_latlon(lat, lon, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes as flat float arrays, checked: degrees, finite, ``n`` of each if given."""
    lat, lon = np.asarray(lat, dtype=float).ravel(), np.asarray(lon, dtype=float).ravel()
    if lat.shape != lon.shape or (n is not None and len(lat) != n):
        raise ValueError(f"need {n if n is not None else len(lat)} latitudes and longitudes, "
                         f"got {len(lat)} and {len(lon)}")
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 360) or not np.all(np.isfinite(lat + lon)):
        raise ValueError("latitudes must lie in [-90, 90] and longitudes in [-360, 360] degrees")
    return lat, lon


def wrap_longitude(lon) -> np.ndarray:
    """Longitudes, degrees, wrapped into [-180, 180)."""
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


#: The package's simplified country basemap (GeoJSON, without Antarctica), for maps and land tests.
BASEMAP_PATH = PACKAGE_DATA / "countries.geojson"


@functools.lru_cache(maxsize=1)
def country_rings() -> tuple[np.ndarray, ...]:
    """Outer rings of the basemap's countries, each an array of (lon, lat) rows in degrees."""
    geojson = json.loads(BASEMAP_PATH.read_text())
    rings = []
    for feature in geojson["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings.extend(np.asarray(polygon[0]) for polygon in polygons)
    return tuple(rings)


@functools.lru_cache(maxsize=1)
def _land_paths():
    from matplotlib.path import Path as PolygonPath

    return [PolygonPath(ring[:, :2]) for ring in country_rings()]


def on_land(lat, lon) -> np.ndarray:
    """True where a point (degrees) lies inside a country of the package's basemap.

    Uses the outer rings of ``countries.geojson`` (the simplified basemap of
    the maps, without Antarctica), so lakes count as land and points within a
    few km of a coast can fall on either side; good enough to tell whether a
    prediction lands in a country or in a sea such as the Caspian.
    """
    lat, lon = check_latlon(lat, lon)
    points = np.column_stack([wrap_longitude(lon), lat])
    inside = np.zeros(len(points), dtype=bool)
    for path in _land_paths():
        inside |= path.contains_points(points)
    return inside


def nearest_distance_km(lat, lon, ref_lat, ref_lon) -> np.ndarray:
    """Great-circle km from each point to the nearest reference point (degrees in)."""
    lat, lon = check_latlon(lat, lon)
    ref_lat, ref_lon = check_latlon(ref_lat, ref_lon)
    idx = nearest_point_index(lat, lon, ref_lat, ref_lon)
    return np.atleast_1d(great_circle_km(lat, lon, ref_lat[idx], ref_lon[idx]))
