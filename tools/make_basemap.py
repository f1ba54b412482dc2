"""Generate ``musicgeo_utils/data/countries.geojson``, the offline country basemap.

Run once (its output is committed)::

    python tools/make_basemap.py [--step 0.2] [--min-area 0.3]

Source: the per-country GeoJSON boundaries inside the ``countryinfo`` wheel
(173 countries; see ``musicgeo_utils/data/countries.SOURCE.md``). The script
keeps only what a world overview map needs, so that the file stays well under
300 KB and a notebook that embeds it stays small:

- Antarctica is dropped (it fills the bottom of a Web Mercator map);
- coordinates are snapped to a grid of ``step`` degrees and repeated points
  removed (0.2 degrees is ~22 km, below what a world map at zoom 2-4 shows);
- polygons smaller than ``min_area`` square degrees are dropped, except the
  largest polygon of each country, so small countries (Luxembourg) stay
  (one that would collapse on the grid, Bermuda, is snapped 10x finer);
- longitudes are unwrapped at +-180 degrees: each ring is made continuous, and
  a country's polygons are shifted by 360 degrees to lie beside its largest
  one (Russia's Chukotka, Fiji), so no country is split across the map.

The output is deterministic: features sorted by ISO code, keys sorted.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import countryinfo

SOURCE_DIR = Path(countryinfo.__file__).resolve().parent / "data"
OUT_PATH = Path(__file__).resolve().parents[1] / "musicgeo_utils" / "data" / "countries.geojson"
DROPPED_COUNTRIES = {"ATA"}  # Antarctica


def ring_area(ring: list[list[float]]) -> float:
    """Unsigned planar area of a closed ring, square degrees (shoelace)."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2.0


def unwrap_ring(ring: list[list[float]]) -> list[list[float]]:
    """Make a ring's longitudes continuous (no jump over 180 degrees)."""
    out = [list(ring[0])]
    for lon, lat in ring[1:]:
        prev = out[-1][0]
        while lon - prev > 180:
            lon -= 360
        while lon - prev < -180:
            lon += 360
        out.append([lon, lat])
    return out


def snap_ring(ring: list[list[float]], step: float) -> list[list[float]] | None:
    """Snap a ring to a ``step``-degree grid; ``None`` if it collapses."""
    snapped: list[list[float]] = []
    for lon, lat in ring:
        point = [round(round(lon / step) * step, 2), round(round(lat / step) * step, 2)]
        if not snapped or point != snapped[-1]:
            snapped.append(point)
    if snapped[0] != snapped[-1]:
        snapped.append(list(snapped[0]))
    # A ring needs three distinct corners plus the closing point.
    return snapped if len(snapped) >= 4 and ring_area(snapped) > 0 else None


def polygons_of(geometry: dict) -> list[list[list[list[float]]]]:
    """The polygons of a Polygon or MultiPolygon geometry, as a list."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"unsupported geometry type {geometry['type']!r}")


def mean_lon(polygon: list) -> float:
    """Mean longitude of a polygon's outer ring, degrees."""
    outer = polygon[0]
    return sum(lon for lon, _ in outer) / len(outer)


def shift_polygon(polygon: list, degrees: float) -> list:
    """Shift every longitude of a polygon by ``degrees``."""
    return [[[lon + degrees, lat] for lon, lat in ring] for ring in polygon]


def simplify_country(geometry: dict, step: float, min_area: float) -> dict | None:
    """Unwrapped, snapped and filtered geometry of one country, or ``None``."""
    polygons = [[unwrap_ring(ring) for ring in poly] for poly in polygons_of(geometry)]
    polygons.sort(key=lambda poly: ring_area(poly[0]), reverse=True)
    anchor = mean_lon(polygons[0])
    kept = []
    for rank, poly in enumerate(polygons):
        if rank > 0 and ring_area(poly[0]) < min_area:
            continue
        offset = 360.0 * round((anchor - mean_lon(poly)) / 360.0)
        shifted = shift_polygon(poly, offset)
        rings = [snap_ring(ring, step) for ring in shifted]
        if rings[0] is None and rank == 0:
            # Keep every country: a tiny one (Bermuda) gets a finer grid.
            rings[0] = snap_ring(shifted[0], step / 10)
        if rings[0] is None:
            continue
        kept.append([rings[0]] + [ring for ring in rings[1:] if ring is not None])
    if not kept:
        return None
    return {"type": "MultiPolygon", "coordinates": kept}


def load_features() -> list[dict]:
    """Every country feature with a geometry in the countryinfo wheel."""
    features = []
    for path in sorted(SOURCE_DIR.glob("*.json")):
        info = json.loads(path.read_text(encoding="utf-8"))
        for feature in (info.get("geoJSON") or {}).get("features", []):
            if feature.get("geometry"):
                features.append(feature)
    return features


def build_basemap(step: float, min_area: float) -> dict:
    """The simplified FeatureCollection (properties: ``iso3``, ``name``)."""
    out = []
    for feature in load_features():
        iso3 = feature.get("id")
        if iso3 in DROPPED_COUNTRIES:
            continue
        geometry = simplify_country(feature["geometry"], step, min_area)
        if geometry is not None:
            name = feature.get("properties", {}).get("name", iso3)
            out.append({"type": "Feature", "properties": {"iso3": iso3, "name": name},
                        "geometry": geometry})
    out.sort(key=lambda f: f["properties"]["iso3"])
    return {"type": "FeatureCollection", "features": out}


def main(argv: list[str] | None = None) -> None:
    """Write the basemap and print its size and feature count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=0.2, help="grid step, degrees")
    parser.add_argument("--min-area", type=float, default=0.3,
                        help="smallest island kept, square degrees")
    parser.add_argument("--out", type=Path, default=OUT_PATH)
    args = parser.parse_args(argv)
    collection = build_basemap(args.step, args.min_area)
    text = json.dumps(collection, separators=(",", ":"), sort_keys=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(args.out)
    n_points = text.count("],[") + len(collection["features"])
    print(f"{args.out}: {len(collection['features'])} countries, ~{n_points} points, "
          f"{len(text.encode()) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
