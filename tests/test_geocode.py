"""Geocoding of real O: lines from the Essen collection and the collection fallbacks."""
import math
import re

import pandas as pd
import pytest

from musicgeo_utils import corpus, geocode


def _real_origin(file: str, pattern: str) -> str:
    """The first O: line of a corpus file that matches ``pattern``."""
    text = corpus.decode_abc((corpus.corpus_root() / file).read_bytes())
    return next(o for o in re.findall(r"^O:(.*)$", text, flags=re.M) if re.search(pattern, o)).strip()


def test_chinese_origin_resolves_inside_its_province():
    origin = _real_origin("essenFolksong/han1.abc", r"^ *China, Shaanxi, Zizhou")
    g = geocode.geocode_origin(origin, "essenFolksong")
    assert g.level in ("province", "city")
    assert (g.region, g.country, g.country_code) == ("Shaanxi", "China", "CN")
    assert 31 < g.lat < 40 and 105 < g.lon < 111  # Shaanxi spans about 31.7-39.6 N, 105.5-111.2 E


def test_chinese_province_with_town_in_one_part():
    g = geocode.geocode_origin("China, Jiangsu, Suzhou", "essenFolksong")
    assert (g.level, g.place, g.region) == ("city", "Suzhou", "Jiangsu")
    assert geocode.great_circle_km(g.lat, g.lon, 31.30, 120.62) < 30  # Suzhou, Jiangsu


def test_westfalen_resolves_to_region_in_germany():
    origin = _real_origin("essenFolksong/erk10.abc", r"Deutschland, Westfalen$")
    g = geocode.geocode_origin(origin, "essenFolksong")
    assert (g.level, g.region, g.country, g.country_code) == ("region", "Westfalen", "Germany", "DE")
    assert geocode.great_circle_km(g.lat, g.lon, 51.96, 7.63) < 5  # Münster, its capital


def test_german_country_names_map_to_english():
    for german, english, code in [("Europa, Mitteleuropa, Oesterreich", "Austria", "AT"),
                                  ("Osteuropa, Ungarn", "Hungary", "HU"),
                                  ("Mitteleuropa, Niederlande", "Netherlands", "NL"),
                                  ("Luxemburg", "Luxembourg", "LU")]:
        g = geocode.geocode_origin(german, "essenFolksong")
        assert (g.level, g.country, g.country_code) == ("country", english, code)


def test_historical_state_gives_the_modern_country_of_its_capital_and_finer_place_its_own():
    state = geocode.geocode_origin("Osteuropa, UdSSR", "essenFolksong")
    assert (state.level, state.place, state.country, state.country_code) == ("country", "Soviet Union", "Russia", "RU")
    assert geocode.great_circle_km(state.lat, state.lon, 55.75, 37.62) < 5  # Moscow
    for origin, country in [("Osteuropa, Tschechoslowakei", "Czech Republic"),  # Prague
                            ("Suedosteuropa, Jugoslawien", "Serbia")]:  # Belgrade
        g = geocode.geocode_origin(origin, "essenFolksong")
        assert (g.level, g.region, g.country) == ("country", country, country) and "today in" in g.source
    gottschee = geocode.geocode_origin("Suedosteuropa, Jugoslawien, Gottschee", "essenFolksong")
    assert (gottschee.level, gottschee.country, gottschee.country_code) == ("region", "Slovenia", "SI")
    assert geocode.modern_country_at(50.09, 14.42, ["CZ", "SK"]) == ("Czech Republic", "CZ")
    assert geocode.modern_country_at(48.15, 17.11, ["CZ", "SK"]) == ("Slovakia", "SK")  # Bratislava
    with pytest.raises(ValueError, match="XX"):
        geocode.modern_country_at(0.0, 0.0, ["XX"])


def _essen_origins(pattern: str) -> list[str]:
    """Distinct O: lines of the Essen files that match ``pattern``."""
    found = set()
    for path in sorted((corpus.corpus_root() / "essenFolksong").glob("*.abc")):
        text = corpus.decode_abc(path.read_bytes())
        found.update(o.strip() for o in re.findall(r"^O:(.*)$", text, flags=re.M) if re.search(pattern, o))
    return sorted(found)


def test_countries_are_todays_on_the_real_origins_and_tables():
    historical = set(geocode.country_names().query("kind == 'historical'")["country"])
    assert historical == {"Soviet Union", "Yugoslavia", "Czechoslovakia"}
    modern = set(geocode.country_names().query("kind == 'modern'")["country"])
    region_countries = set(geocode.historical_regions()["country"])
    assert not region_countries & historical
    assert all(geocode.country_area(c)[0] != "unknown area" for c in region_countries)  # countryinfo knows them
    origins = _essen_origins(r"UdSSR|Tschechoslowakei|Jugoslawien")
    assert len(origins) > 20
    countries = {o: geocode.geocode_origin(o, "essenFolksong").country for o in origins}
    assert not set(countries.values()) & historical, countries
    assert countries["Osteuropa, UdSSR, Ukraine"] == "Ukraine"
    assert countries["Osteuropa, Tschechoslowakei, Slowakei"] == "Slovakia"
    for german in geocode.country_names()["german"]:
        assert geocode.geocode_origin(german, "essenFolksong").country in modern, german
    for origin, country in [("Lothringen", "France"), ("Mitteleuropa, Deutschland / Frankreich, Elsass", "France"),
                            ("Europa, Mitteleuropa, Deutschland, Schlesien", "Poland"),
                            ("Europa, Mitteleuropa, Deutschland, Pommern", "Poland")]:
        assert origin in _essen_origins(re.escape(origin) + "$")
        assert geocode.geocode_origin(origin, "essenFolksong").country == country, origin


def test_geocoder_version_is_in_the_tables_key():
    key = geocode.tables_key()
    old = geocode.GEOCODER_VERSION
    try:
        geocode.GEOCODER_VERSION = old - 1
        assert geocode.tables_key() != key
    finally:
        geocode.GEOCODER_VERSION = old


def test_alternatives_pick_the_finest():
    g = geocode.geocode_origin("Mitteleuropa, Deutschland / Polen, Schlesien", "essenFolksong")
    assert (g.level, g.region, g.country) == ("region", "Schlesien", "Poland")


def test_town_far_from_its_region_is_refused():
    # a village called Spessart exists in Rheinland-Pfalz, 220 km from Lower Franconia
    g = geocode.geocode_origin("Europa, Mitteleuropa, Deutschland, Untermainfranken, Spessart",
                               "essenFolksong")
    assert (g.level, g.region) == ("region", "Unterfranken")


def test_unknown_origin_is_none_with_nan():
    g = geocode.geocode_origin("Atlantis, Xyzzy", "essenFolksong")
    assert g.level == "none" and math.isnan(g.lat) and math.isnan(g.lon)


def test_collection_fallbacks():
    oneill = geocode.geocode_origin("", "oneills1850", "oneills1850/0001-0050.abc")
    assert (oneill.level, oneill.country) == ("collection", "Ireland")
    ryan = geocode.geocode_origin("", "ryansMammoth", "ryansMammoth/BanjoReel.abc")
    assert ryan.place == "Boston" and "printed" in ryan.source
    assert geocode.great_circle_km(ryan.lat, ryan.lon, 42.36, -71.06) < 5
    scotch = geocode.geocode_origin("SCOTCH", "ryansMammoth", "ryansMammoth/x.abc")
    assert (scotch.level, scotch.region, scotch.country) == ("region", "Schottland", "United Kingdom")
    north = geocode.geocode_origin("", "miscFolk", "miscFolk/northumbrianminstrelsyopus.abc")
    assert (north.level, north.region) == ("collection", "Northumberland")


def test_vectorised_keys_equal_scalar_keys():
    names = geocode.cities()["name"].iloc[::97]
    assert geocode.place_keys(names).tolist() == [geocode.place_key(n) for n in names]
    assert geocode.place_key("Köln") == geocode.place_key("Koeln") == "koln"


def test_geocode_frame_adds_columns_and_level_counts():
    tunes = pd.DataFrame({"origin_raw": ["China, Hunan", "Luxemburg", "Atlantis", "China, Hunan"],
                          "collection": ["essenFolksong"] * 4, "file": ["f"] * 4})
    out = geocode.geocode_frame(tunes)
    assert list(out.geocode_level) == ["province", "country", "none", "province"]
    counts = geocode.level_counts(out).set_index("geocode_level")
    assert counts.loc["province", "tunes"] == 2 and counts.loc["province", "distinct_points"] == 1


@pytest.mark.parametrize("table", [geocode.REGIONS_CSV, geocode.COUNTRIES_CSV])
def test_every_table_row_has_a_source_and_a_point(table):
    frame = pd.read_csv(table, keep_default_na=False)
    assert (frame["source"].str.len() > 10).all()
    assert frame.lat.between(-90, 90).all() and frame.lon.between(-180, 180).all()


def test_region_points_match_their_gazetteer_town():
    """Each region's point is the rg_cities1000 town its `point` column names."""
    cities = geocode.cities()
    for row in geocode.historical_regions().itertuples():
        town, admin1, cc = re.match(r"rg_cities1000: (.+?) \((.+), (\w\w)\)", row.point).groups()
        same_name = cities.iloc[geocode._city_rows()[geocode.place_key(town)]]
        hit = same_name[(same_name.name == town) & (same_name.admin1 == admin1) & (same_name.cc == cc)]
        assert len(hit) and geocode.great_circle_km(row.lat, row.lon, hit.lat.iloc[0], hit.lon.iloc[0]) < 1, row.name


def tunes_table(spec):
    """Rows of (region, country, n_train, n_test)."""
    rows = []
    for region, country, n_train, n_test in spec:
        rows += [{"region": region, "country": country, "split": "train"}] * n_train
        rows += [{"region": region, "country": country, "split": "test"}] * n_test
    return pd.DataFrame(rows)



def test_classification_regions_merge_small_regions_upwards():
    tunes = tunes_table([
        ("Lothringen", "France", 20, 3),  # big enough: kept
        ("Elsass", "France", 5, 1),  # small: France, which is still small -> Western Europe
        ("Schlesien", "Poland", 16, 2),
        ("Pommern", "Poland", 4, 1),  # also a region name in Germany: disambiguated, then merged
        ("Pommern", "Germany", 12, 0),  # small -> Germany, which has 12 + 10 = 22
        ("Germany", "Germany", 10, 4),
        ("Sweden", "Sweden", 3, 1),  # -> Northern Europe -> Europe (other)
        ("Soviet Union", "Soviet Union", 2, 0),  # historical: Eastern Europe -> Europe
        ("Taiwan", "Taiwan", 2, 1),  # Eastern Asia -> Asia -> rest of world
    ])
    labels = geocode.classification_regions(tunes, min_train=15)
    by_place = pd.Series(labels.to_numpy(), index=tunes["region"] + "/" + tunes["country"]).groupby(level=0).first()
    assert by_place["Lothringen/France"] == "Lothringen"
    assert by_place["Schlesien/Poland"] == "Schlesien"
    assert by_place["Pommern/Germany"] == by_place["Germany/Germany"] == "Germany"
    assert by_place["Taiwan/Taiwan"] == "rest of world"
    # Elsass (5) + Pommern/Poland (4) + Sweden (3) + Soviet Union (2) = 14 < 15 -> pooled in Europe (other)
    assert by_place["Elsass/France"] == "rest of world"
    train_counts = labels[tunes["split"] == "train"].value_counts()
    assert (train_counts.drop("rest of world") >= 15).all()
    assert labels.name == "class_region" and labels.index.equals(tunes.index)



def test_classification_regions_keeps_subregion_buckets_when_large_enough():
    tunes = tunes_table([("Elsass", "France", 8, 1), ("Flandern", "Belgium", 9, 1), ("Big", "Germany", 30, 2)])
    labels = geocode.classification_regions(tunes, min_train=15)
    assert set(labels) == {"Western Europe (other)", "Big"}



def test_country_area_known_historical_and_unknown():
    assert geocode.country_area("Germany") == ("Western Europe", "Europe")
    assert geocode.country_area("Czechoslovakia") == ("Eastern Europe", "Europe")
    assert geocode.country_area("Atlantis") == ("unknown area", "unknown area")
