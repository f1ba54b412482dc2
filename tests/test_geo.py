"""Great-circle geometry against known distances and exact answers."""
import numpy as np
import pytest
from scipy.optimize import minimize

from musicgeo_utils import geo

PARIS, BEIJING = (48.8566, 2.3522), (39.9042, 116.4074)
LONDON, NEW_YORK = (51.5074, -0.1278), (40.7128, -74.0060)
KM_PER_DEGREE = np.pi * geo.EARTH_RADIUS_KM / 180.0  # 111.195 km along a great circle


def test_radius_is_the_iugg_mean_radius():
    assert geo.EARTH_RADIUS_KM == 6371.0088


@pytest.mark.parametrize("a, b, expected_km, tol_km", [
    (PARIS, BEIJING, 8217.0, 10.0),      # published figures: 8,215-8,220 km
    (LONDON, NEW_YORK, 5570.0, 10.0),
    ((0.0, 0.0), (0.0, 180.0), 20015.1, 0.1),  # antipodes: half the circumference
    ((0.0, 179.5), (0.0, -179.5), 111.2, 0.1),  # across the date line, not around the world
    ((90.0, 0.0), (-90.0, 0.0), 20015.1, 0.1),  # pole to pole
    ((90.0, 0.0), (0.0, 37.0), 10007.6, 0.1),   # pole to equator, any longitude
])
def test_known_distances(a, b, expected_km, tol_km):
    assert geo.great_circle_km(*a, *b) == pytest.approx(expected_km, abs=tol_km)
    assert geo.great_circle_km(*b, *a) == pytest.approx(expected_km, abs=tol_km)


def test_distance_at_the_pole_ignores_longitude_and_is_zero_for_same_point():
    assert geo.great_circle_km(90.0, 0.0, 90.0, 120.0) == pytest.approx(0.0, abs=1e-6)
    assert geo.great_circle_km(*PARIS, *PARIS) == 0.0


def test_broadcasting_gives_a_distance_matrix():
    lat, lon = np.array([0.0, 10.0]), np.array([0.0, 0.0])
    matrix = geo.great_circle_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert matrix.shape == (2, 2)
    assert matrix[0, 1] == pytest.approx(10 * KM_PER_DEGREE)
    assert np.allclose(np.diag(matrix), 0.0)


def test_xyz_axes_and_round_trip():
    xyz = geo.latlon_to_xyz([0.0, 0.0, 90.0], [0.0, 90.0, 0.0])
    assert np.allclose(xyz, np.eye(3), atol=1e-15)
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(-89, 89, 500), rng.uniform(-180, 179.999, 500)
    back_lat, back_lon = geo.xyz_to_latlon(geo.latlon_to_xyz(lat, lon) * 7.5)  # any length
    assert np.allclose(back_lat, lat) and np.allclose(back_lon, lon)
    assert geo.latlon_to_xyz(10.0, 20.0).shape == (1, 3)


def test_xyz_to_latlon_at_poles_and_zero_vector():
    assert geo.xyz_to_latlon([0.0, 0.0, 2.0]) == (90.0, 0.0)
    assert geo.xyz_to_latlon([0.0, 0.0, -1.0]) == (-90.0, 0.0)
    with pytest.raises(ValueError, match="zero-length"):
        geo.xyz_to_latlon([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    lat, lon = geo.xyz_to_latlon([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], on_zero="nan")
    assert lat[0] == 0.0 and np.isnan(lat[1]) and np.isnan(lon[1])


def test_spherical_mean_across_the_date_line():
    lat, lon = geo.spherical_mean([0.0, 0.0], [179.5, -179.5])
    assert lat == pytest.approx(0.0, abs=1e-9)
    assert abs(lon) == pytest.approx(180.0)  # a naive average would give 0 (Greenwich)


def test_spherical_mean_weights_rows_and_antipodes():
    lat, _ = geo.spherical_mean([0.0, 90.0], [0.0, 0.0], weights=[1.0, 1.0])
    assert lat == pytest.approx(45.0)
    rows_lat, rows_lon = geo.spherical_mean(np.array([[0.0, 0.0], [10.0, 30.0]]),
                                            np.array([[0.0, 20.0], [5.0, 5.0]]))
    assert rows_lat == pytest.approx([0.0, 20.0], abs=0.5) and rows_lon[0] == pytest.approx(10.0)
    with pytest.raises(ValueError, match="no direction"):
        geo.spherical_mean([0.0, 0.0], [0.0, 180.0])


def test_geometric_median_on_a_great_circle_is_the_weighted_median():
    # Points along the equator: the sum of arc lengths is minimised at the 1-D median.
    assert geo.geometric_median([0.0, 0.0, 0.0], [-10.0, 0.0, 10.0]) == pytest.approx((0.0, 0.0), abs=1e-6)
    lat, lon = geo.geometric_median([0.0] * 5, [0.0, 10.0, 20.0, 30.0, 40.0], weights=[1, 1, 1, 1, 5])
    assert (lat, lon) == pytest.approx((0.0, 40.0), abs=1e-9)  # over half the weight on one point


def test_geometric_median_matches_a_numerical_minimiser():
    rng = np.random.default_rng(1)
    lat, lon = rng.normal(45, 10, 300), rng.normal(10, 20, 300)
    centre = geo.geometric_median(lat, lon, tol_km=1e-4)
    cost = np.sum(geo.great_circle_km(lat, lon, *centre))
    best = minimize(lambda p: np.sum(geo.great_circle_km(lat, lon, *p)), x0=[40.0, 0.0],
                    method="Nelder-Mead", options=dict(xatol=1e-9, fatol=1e-9, maxiter=5000))
    assert cost <= best.fun * (1 + 1e-8)
    assert geo.great_circle_km(*centre, *best.x) < 1.0
    # Robust to an outlier, unlike the mean.
    mean = geo.spherical_mean(np.r_[lat, [-60.0] * 30], np.r_[lon, [-60.0] * 30])
    median = geo.geometric_median(np.r_[lat, [-60.0] * 30], np.r_[lon, [-60.0] * 30])
    assert geo.great_circle_km(*median, *centre) < geo.great_circle_km(*mean, *centre)


def test_region_decodings():
    # Kunming and Westfalen: 51 % / 49 %.
    lat, lon, proba = [25.0, 51.9], [102.7, 7.6], np.array([[0.51, 0.49], [0.2, 0.8]])
    top = geo.decode_region_probabilities(proba, lat, lon, "top")
    mean = geo.decode_region_probabilities(proba, lat, lon, "weighted")
    median = geo.decode_region_probabilities(proba, lat, lon, "median")
    np.testing.assert_allclose(np.column_stack(top), [[25.0, 102.7], [51.9, 7.6]], atol=1e-9)
    # The mean of the two unit vectors lands between them, thousands of km from both ...
    assert geo.great_circle_km(mean[0][0], mean[1][0], lat, lon).min() > 2500
    # ... the median stays with the region holding over half the probability.
    np.testing.assert_allclose(np.column_stack(median), np.column_stack(top), atol=1e-6)


def test_median_decoding_has_the_least_expected_distance():
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-40, 65, 40), rng.uniform(-120, 140, 40)
    proba = rng.dirichlet(np.full(40, 0.2), size=60)
    expected_km = {}
    for decoding in geo.REGION_DECODINGS:
        d_lat, d_lon = geo.decode_region_probabilities(proba, lat, lon, decoding)
        assert d_lat.shape == d_lon.shape == (60,)
        distance = geo.great_circle_km(d_lat[:, None], d_lon[:, None], lat[None, :], lon[None, :])
        expected_km[decoding] = (proba * distance).sum(axis=1)
    assert np.all(expected_km["median"] <= np.minimum(expected_km["top"], expected_km["weighted"]) + 1e-6)
    assert expected_km["median"].mean() < expected_km["weighted"].mean() < expected_km["top"].mean()
    with pytest.raises(ValueError, match="decoding must be one of"):
        geo.decode_region_probabilities(proba, lat, lon, "mode")


def test_median_decoding_of_many_rows_is_each_rows_geometric_median():
    # The decoding runs every row at once; each row must be what geometric_median gives on its own,
    # with zero probabilities, a region listed twice and a row that puts all its mass on one region.
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(-50, 65, 12), rng.uniform(-170, 170, 12)
    lat[3], lon[3] = lat[2], lon[2]
    proba = rng.dirichlet(np.full(12, 0.3), size=40)
    proba[::5, :6] = 0.0
    proba[7] = np.eye(12)[9]
    d_lat, d_lon = geo.decode_region_probabilities(proba, lat, lon, "median")
    single = np.array([geo.geometric_median(lat, lon, weights=row) for row in proba])
    assert geo.great_circle_km(d_lat, d_lon, single[:, 0], single[:, 1]).max() < 1e-6
    assert (d_lat[7], d_lon[7]) == pytest.approx((lat[9], lon[9]), abs=1e-9)
    with pytest.raises(ValueError, match="sum to zero"):
        geo.decode_region_probabilities(np.zeros((2, 12)), lat, lon, "median")
    with pytest.raises(ValueError, match="finite and non-negative"):
        geo.decode_region_probabilities(np.full((1, 12), np.nan), lat, lon, "median")


def test_start_of_the_median_iterations_is_the_best_candidate_per_row():
    # one rule for geometric_median (one row) and the median decoding (many rows)
    lat, lon = np.array([0.0, 0.0, 0.0, 60.0]), np.array([0.0, 10.0, 20.0, 100.0])
    xyz = geo.latlon_to_xyz(lat, lon)
    w = np.array([[0.0, 0.1, 0.8, 0.1],    # a point holding most of the weight: the start is that point
                  [0.5, 0.0, 0.5, 0.0],    # two points alike: their mean direction (between them) is better
                  [0.0, 0.0, 0.0, 1.0]])   # all on one point: the mean coincides with it
    start = geo._start_points(xyz, w)
    np.testing.assert_allclose(start[0], xyz[2])
    np.testing.assert_allclose(geo.xyz_to_latlon(start[1]), (0.0, 10.0), atol=1e-9)
    np.testing.assert_allclose(start[2], xyz[3], atol=1e-12)
    # with fewer candidates than points, only the heaviest are tried (and the mean)
    row = np.array([0.3, 0.0, 0.3, 0.4])
    mean = row @ xyz / np.linalg.norm(row @ xyz)
    cost = lambda point: float((np.arccos(np.clip(xyz @ point, -1.0, 1.0)) * row).sum())  # noqa: E731
    expected = mean if cost(mean) <= cost(xyz[3]) else xyz[3]
    np.testing.assert_allclose(geo._start_points(xyz, row[None], max_candidates=1)[0], expected, atol=1e-12)
    assert np.all(np.isfinite(geo._start_points(xyz, np.zeros((0, 4)))))


def test_coordinate_labels_and_nearest_point():
    labels = geo.coordinate_labels([51.5, 51.50001, -0.0], [-0.12, -0.12, 10.0])
    assert labels[0] == labels[1] == "51.5000,-0.1200" and labels[2] == "0.0000,10.0000"
    idx = geo.nearest_point_index([0.0, 50.0], [179.0, 8.0], [0.0, 51.0], [-179.0, 10.0])
    assert idx.tolist() == [0, 1]


def test_on_land_cities_and_seas():
    # Paris, Beijing, Boston (inland); mid-Atlantic, Caspian Sea, Pacific
    lat = [48.86, 39.90, 42.36, 35.0, 42.0, 0.0]
    lon = [2.35, 116.40, -71.10, -40.0, 50.5, -150.0]
    assert geo.on_land(lat, lon).tolist() == [True, True, True, False, False, False]



def test_nearest_distance_km_paris_to_berlin_or_beijing():
    km = geo.nearest_distance_km([48.8566], [2.3522], [52.52, 39.9042], [13.405, 116.4074])
    assert km[0] == pytest.approx(878, abs=10)
