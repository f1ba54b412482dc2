"""Class regions: medoid centres on land, countries of pooled regions, what a decoding does."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import geo, geocode, geomethods, geoscores, regions

# Cities of a pooled "rest of world" region: its spherical mean lies in the Atlantic.
MEXICO_CITY, SAO_PAULO, DELHI, TOKYO = (19.43, -99.13), (-23.55, -46.63), (28.61, 77.21), (35.68, 139.69)
DUBLIN, BERLIN, KUNMING = (53.35, -6.26), (52.52, 13.40), (25.04, 102.71)


def pooled_training():
    """Training tunes: 'rest of world' (Mexico 1, Brazil 4, India 2, Japan 2) and 'Germany' (4)."""
    rows = ([(*MEXICO_CITY, "rest of world", "Mexico")] * 1 + [(*SAO_PAULO, "rest of world", "Brazil")] * 4
            + [(*DELHI, "rest of world", "India")] * 2 + [(*TOKYO, "rest of world", "Japan")] * 2
            + [(*BERLIN, "Germany", "Germany")] * 4)
    return pd.DataFrame(rows, columns=["lat", "lon", "region", "country"])


def test_medoid_is_the_point_with_least_total_distance_and_ties_are_deterministic():
    lat, lon = np.array([0.0, 0.0, 0.0, 10.0]), np.array([0.0, 1.0, 2.0, 1.0])
    i = geo.medoid_index(lat, lon)
    cost = [geo.great_circle_km(lat[j], lon[j], lat, lon).sum() for j in range(4)]
    assert i == int(np.argmin(cost)) == 1
    # two points, equal weights: a tie, broken by the smaller latitude whatever the order
    assert geo.medoid_index([10.0, 5.0], [0.0, 0.0]) == 1 and geo.medoid_index([5.0, 10.0], [0.0, 0.0]) == 0
    assert geo.medoid_index([5.0, 10.0], [0.0, 0.0], weights=[1, 3]) == 1  # the heavier wins
    with pytest.raises(ValueError, match="at least one point"):
        geo.medoid_index([], [])
    with pytest.raises(ValueError, match="weights"):
        geo.medoid_index([0.0], [0.0], weights=[0.0])


def test_pooled_region_centre_is_a_training_origin_on_land_not_the_sea_mean():
    train = pooled_training()
    centres = geocode.region_centroids(train["lat"], train["lon"], train["region"], train["country"])
    assert list(centres.columns[:4]) == ["region", "lat", "lon", "n"]
    rest = centres.set_index("region").loc["rest of world"]
    assert not geo.on_land(rest["mean_lat"], rest["mean_lon"])[0]  # the old centre: in a sea
    assert geo.on_land(centres["lat"], centres["lon"]).all()  # every centre now on land
    origins = set(zip(train["lat"], train["lon"]))
    assert all((a, b) in origins for a, b in zip(centres["lat"], centres["lon"]))
    # the medoid is the origin with the least tune-weighted km to the region's members
    members = train[train["region"] == "rest of world"]
    cost = {p: geo.great_circle_km(*p, members["lat"], members["lon"]).sum() for p in set(zip(members["lat"], members["lon"]))}
    assert (rest["lat"], rest["lon"]) == min(cost, key=cost.get)
    assert (rest["country"], rest["country_share"], bool(rest["pooled"])) == ("Brazil", 4 / 9, True)
    germany = centres.set_index("region").loc["Germany"]
    assert (germany["country"], germany["country_share"], bool(germany["pooled"])) == ("Germany", 1.0, False)


def test_country_of_a_point_is_that_of_the_nearest_training_origin():
    train = pooled_training()
    centres = geocode.region_centroids(train["lat"], train["lon"], train["region"], train["country"])
    points_lat, points_lon = [28.0, 34.0, 50.0, -20.0], [77.0, 135.0, 10.0, -45.0]  # India, Japan, Germany, Brazil
    expected = ["India", "Japan", "Germany", "Brazil"]
    assert geocode.country_of(points_lat, points_lon, centres).tolist() == expected
    origins = regions.training_origins(train["lat"], train["lon"], train["country"])
    assert regions.country_of(points_lat, points_lon, origins).tolist() == expected
    assert len(origins) == 5 and origins["n"].sum() == len(train)
    # a frame without the origins (e.g. read back from a file): the nearest row's country, as before,
    # which for Delhi is Berlin's region (the pooled region's centre is Sao Paulo)
    plain = pd.DataFrame(centres.to_dict("list"))
    assert plain.attrs == {} and regions.country_of([28.0], [77.0], plain).tolist() == ["Germany"]
    with pytest.raises(ValueError, match="country"):
        regions.country_of([0.0], [0.0], pd.DataFrame({"lat": [0.0], "lon": [0.0]}))


def test_scores_use_the_country_of_the_nearest_training_origin():
    train = pooled_training()
    centres = geocode.region_centroids(train["lat"], train["lon"], train["region"], train["country"])
    truth = pd.DataFrame({"lat": [DELHI[0], TOKYO[0]], "lon": [DELHI[1], TOKYO[1]], "country": ["India", "Japan"]})
    row = geoscores.evaluate_predictions("m", truth, [27.0, 36.0], [78.0, 138.0], centres, n_boot=0)
    assert row["country_accuracy"] == 1.0  # the pooled centre would have answered 'Brazil' for Japan
    own = geoscores.evaluate_predictions("m", truth, [27.0, 36.0], [78.0, 138.0], centres, n_boot=0,
                                         pred_country=["India", "Mexico"])
    assert own["country_accuracy"] == 0.5 and own["balanced_country_accuracy"] == 0.5
    with pytest.raises(ValueError, match="1 predicted countries for 2 tunes"):
        geoscores.evaluate_predictions("m", truth, [27.0, 36.0], [78.0, 138.0], centres, n_boot=0,
                                       pred_country=["India"])
    long = pd.concat([truth.assign(method="a", pred_lat=[27.0, 36.0], pred_lon=[78.0, 138.0], pred_country="Mexico"),
                      truth.assign(method="b", pred_lat=[27.0, 36.0], pred_lon=[78.0, 138.0], pred_country=None)])
    table = geoscores.methods_table(long, centres, n_boot=0).set_index("method")
    assert table.loc["a", "country_accuracy"] == 0.0 and table.loc["b", "country_accuracy"] == 1.0


def test_country_shares_and_country_probabilities_of_region_probabilities():
    train = pooled_training()
    shares = regions.region_country_shares(train["region"], train["country"])
    assert list(shares.index) == ["Germany", "rest of world"]
    assert list(shares.columns) == ["Brazil", "Germany", "India", "Japan", "Mexico"]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert shares.at["rest of world", "India"] == pytest.approx(2 / 9)
    proba = pd.DataFrame({"rest of world": [1.0, 0.4, 0.6], "Germany": [0.0, 0.6, 0.4]}, index=["x", "y", "z"])
    countries = regions.country_probabilities(proba, shares)
    assert list(countries.index) == ["x", "y", "z"]
    np.testing.assert_allclose(countries.sum(axis=1), 1.0)
    assert countries.at["z", "Brazil"] == pytest.approx(0.6 * 4 / 9)
    # 'z': the most probable region is 'rest of world' (0.6), but Germany (0.4) beats Brazil (0.27)
    assert regions.predicted_countries(proba, shares).tolist() == ["Brazil", "Germany", "Germany"]
    array_answer = regions.predicted_countries(proba.to_numpy(), shares, regions=list(proba.columns))
    assert array_answer.tolist() == ["Brazil", "Germany", "Germany"]
    with pytest.raises(ValueError, match="Atlantis"):
        regions.country_probabilities(proba.assign(Atlantis=0.0), shares)
    with pytest.raises(ValueError, match="regions"):
        regions.country_probabilities(proba.to_numpy(), shares)
    with pytest.raises(ValueError, match="non-negative"):
        regions.country_probabilities(-proba, shares)


def two_regions():
    return pd.DataFrame({"region": ["Ireland", "Yunnan", "Germany"], "lat": [DUBLIN[0], KUNMING[0], BERLIN[0]],
                         "lon": [DUBLIN[1], KUNMING[1], BERLIN[1]]})


def test_decoding_summary_reports_top_region_and_support():
    centres = two_regions()
    proba = pd.DataFrame({"Ireland": [0.5, 0.1], "Yunnan": [0.4, 0.1], "Germany": [0.1, 0.8]})
    summary = regions.decoding_summary(proba, centres, "weighted", radius_km=1000)
    assert summary["top_region"].tolist() == ["Ireland", "Germany"]
    np.testing.assert_allclose(summary["top_probability"], [0.5, 0.8])
    # the weighted mean of Dublin and Kunming lies thousands of km from both: little support
    assert summary.at[0, "support"] < 0.15 and summary.at[0, "nearest_region_km"] > 1000
    top = regions.decoding_summary(proba, centres, "top", radius_km=1000)
    # Berlin and Dublin are 1,320 km apart: each top point supports only itself within 1,000 km
    np.testing.assert_allclose(top["support"], [0.5, 0.8])
    assert regions.decoding_summary(proba, centres, "top", radius_km=1500)["support"].tolist() == pytest.approx([0.6, 0.9])
    decoder = geomethods.RegionDecoder.from_centroids(centres, proba.columns)
    described = decoder.describe(proba.to_numpy(), decoding="weighted")
    pd.testing.assert_frame_equal(described, summary)
    with pytest.raises(ValueError, match="radius_km"):
        regions.decoding_summary(proba, centres, radius_km=0)
    with pytest.raises(ValueError, match="Atlantis"):
        geomethods.RegionDecoder.from_centroids(centres, ["Atlantis"])


def test_two_region_sweep_shows_how_each_decoding_moves():
    sweep = regions.two_region_sweep(two_regions(), "Ireland", "Yunnan", shares=[0.0, 0.3, 0.5, 0.7, 1.0])
    assert list(sweep.columns) == ["share_b", "decoding", "lat", "lon", "km_from_a", "km_from_b", "on_land", "support"]
    by = {d: g.reset_index(drop=True) for d, g in sweep.groupby("decoding")}
    apart = geo.great_circle_km(*DUBLIN, *KUNMING)
    # top and median stay at a region until the other holds the larger share, then jump
    for decoding in ("top", "median"):
        km = by[decoding]["km_from_a"].to_numpy()
        assert km[0] == pytest.approx(0, abs=1) and km[1] == pytest.approx(0, abs=1)
        assert km[3] == pytest.approx(apart, abs=1) and km[4] == pytest.approx(apart, abs=1)
    # the weighted mean glides across the land between, far from both at 50 %
    weighted = by["weighted"]
    assert np.all(np.diff(weighted["km_from_a"]) > 0)
    assert min(weighted.at[2, "km_from_a"], weighted.at[2, "km_from_b"]) > 3000
    assert weighted.at[2, "support"] == 0.0
    with pytest.raises(ValueError, match="Atlantis"):
        regions.two_region_sweep(two_regions(), "Ireland", "Atlantis")
    with pytest.raises(ValueError, match="shares"):
        regions.two_region_sweep(two_regions(), "Ireland", "Yunnan", shares=[1.5])


def test_region_classifier_centres_and_decoder():
    rng = np.random.default_rng(0)
    places = np.array([DUBLIN, BERLIN, KUNMING])
    labels = rng.integers(0, 3, 90)
    X = np.eye(3)[labels] + rng.normal(0, 0.1, (90, 3))
    lat, lon = places[labels, 0], places[labels, 1]
    model = geomethods.RegionClassifier("logreg", Cs=(1.0,), decodings=("median",)).fit(
        X, lat, lon, regions=np.array(["Ireland", "Germany", "Yunnan"])[labels])
    decoder = model.decoder()
    assert decoder.best_params_ == {"decoding": "median"} and list(decoder.regions) == list(model.classes_)
    np.testing.assert_allclose(np.column_stack(decoder.predict(model.predict_proba(X[:5]))),
                               np.column_stack(model.predict(X[:5])))
    described = decoder.describe(model.predict_proba(X[:5]))
    assert (described["top_region"].to_numpy() == np.array(["Ireland", "Germany", "Yunnan"])[labels[:5]]).all()


def test_region_classifiers_answer_the_likeliest_country_of_their_probabilities():
    # one pooled region of Mexico (6 tunes) and Brazil (4); the features say which country
    rng = np.random.default_rng(1)
    country = np.array(["Mexico"] * 6 + ["Brazil"] * 4 + ["Germany"] * 10)
    region = np.where(country == "Germany", "Germany", "rest of world")
    place = {"Mexico": MEXICO_CITY, "Brazil": SAO_PAULO, "Germany": BERLIN}
    y = pd.DataFrame({"lat": [place[c][0] for c in country], "lon": [place[c][1] for c in country],
                      "region": region, "country": country})
    X = np.column_stack([(country == "Germany").astype(float), (country == "Brazil").astype(float)])
    X = X + rng.normal(0, 0.05, X.shape)
    model = geomethods.RegionClassifier("logreg", Cs=(1.0,), decodings=("top",))
    shares = regions.region_country_shares(y["region"], y["country"])
    long = geomethods.method_predictions(
        [model.fit(X, y["lat"], y["lon"], regions=y["region"]), geomethods.ConstantGeometricMedian().fit(X, y["lat"], y["lon"])],
        X, np.arange(20), shares=shares)
    answers = long.groupby("method")["pred_country"].apply(list)
    assert answers[model.name] == ["Mexico"] * 10 + ["Germany"] * 10  # Brazil is never the likeliest
    assert all(c is None for c in answers["constant: geometric median"])

    class BerlinPointButProbabilities(geomethods.GeoMethod):
        """Always answers the point Berlin, but its region probabilities follow the features."""

        name = "Berlin point"
        classes_ = np.array(["Germany", "rest of world"])

        def _fit(self, X, lat, lon, regions):
            pass

        def _predict(self, X):
            return np.full(len(X), BERLIN[0]), np.full(len(X), BERLIN[1])

        def predict_proba(self, X):
            return np.column_stack([X[:, 0] > 0.5, X[:, 0] <= 0.5]).astype(float)

    table = geomethods.compare_methods(X, y, X, y, X, y, methods=[model, BerlinPointButProbabilities()],
                                       n_boot=0).set_index("method")
    for name in (model.name, "Berlin point"):  # the points alone would give the Berlin one 10 / 20
        assert table.loc[name, "country_accuracy"] == pytest.approx(16 / 20)
        assert table.loc[name, "balanced_country_accuracy"] == pytest.approx((1 + 1 + 0) / 3)


def test_sweep_pair_takes_east_asia_and_europe_or_the_largest_region_and_the_farthest():
    centres = two_regions().assign(n=[40, 20, 60])
    assert regions.sweep_pair(centres) == ("Yunnan", "Germany")  # most tunes east of 60 E, most west of 40 E
    # no region east of 60 E (FMA, Lakh MIDI): the largest and the one farthest from it
    america = pd.DataFrame({"region": ["Germany", "Ireland", "United States"], "lat": [52.5, 53.3, 45.5],
                            "lon": [13.4, -6.3, -122.7], "n": [30, 30, 10]})
    assert regions.sweep_pair(america) == ("Germany", "United States")
    with pytest.raises(ValueError, match="two"):
        regions.sweep_pair(america.head(1))
