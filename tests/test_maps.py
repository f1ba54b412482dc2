"""Offline folium maps: escaping, no external URL, inlined Leaflet, basemap."""
from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import folium
import pandas as pd
import pytest
from branca.element import Element

from musicgeo_utils import geo, map_html, maps, report

ROOT = Path(__file__).resolve().parents[1]
XSS_TITLE = "<script>alert(1)</script>"
# An image whose onerror would mark <body> if the tooltip were parsed as HTML.
XSS_IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"


def tunes() -> pd.DataFrame:
    """Four tunes with true and predicted origins (degrees) and errors (km)."""
    return pd.DataFrame({
        "title": [XSS_TITLE, XSS_IMG, "Reel `${x}` \\ jig", "Xiaodiao"],
        "country": ["Ireland", "Germany", "Ireland", "China"],
        "lat": [53.35, 51.1, 52.0, 34.3], "lon": [-6.26, 10.4, -8.5, 108.9],
        "pred_lat": [51.5, 50.0, 53.0, 39.9], "pred_lon": [0.0, 8.7, -7.0, 116.4],
        "error_km": [430.0, 140.0, 150.0, 900.0],
    })


def demo_map() -> folium.Map:
    """A world map with escaped tooltips, trusted popups, a legend and error lines."""
    frame = tunes()
    m = maps.base_map()
    maps.add_lines(m, frame, tooltip="title", colorbar_title="error (km)")
    maps.add_points(m, frame, color="country", tooltip="title", legend_title="Country",
                    popup_html=lambda row: maps.popup_table({"title": row.title}))
    return m


def layer_data(page: str) -> list[dict]:
    """The JSON tables of every point/line layer in a rendered page."""
    return [json.loads(text) for text in re.findall(r"var d = (\{.*?\}), style =", page)]


def test_escape_is_html_and_template_literal_safe():
    text = "<b a=\"1\">'&`${alert(1)}`\\"
    escaped = maps.escape(text)
    assert not set("<>\"'`$\\") & set(escaped)
    assert html.unescape(escaped) == text


def test_standalone_map_escapes_titles_and_needs_no_network():
    page = map_html.offline_html(demo_map())
    assert "<script>alert(1)" not in page
    assert map_html.external_urls(page) == []
    assert "<script src=" not in page and "<link rel=\"stylesheet\"" not in page
    assert "Leaflet 1.9.3" in page and "jQuery v3.7.1" in page  # inlined, not linked
    assert "bootstrap" not in page.lower() and "font-awesome" not in page
    points, lines = [d for d in layer_data(page) if d["kind"] == "points"], \
        [d for d in layer_data(page) if d["kind"] == "lines"]
    assert len(points) == 1 and len(lines) == 1
    assert points[0]["tooltip"][0] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert [html.unescape(t) for t in points[0]["tooltip"]] == list(tunes().title)
    assert "&lt;img src=x" in points[0]["popup"][1]  # popup_table escaped the cell
    # Error lines: colour grows from green (small error) to red (large error).
    palette, index = lines[0]["palette"], lines[0]["color"]
    assert palette[index[1]] == "#1a9850" and palette[index[3]] == "#d73027"


def test_legend_escapes_labels_and_rejects_css_injection():
    m = maps.base_map(basemap=False)
    maps.add_legend(m, {"<i>jig</i>": "#ff7f0e", "reel": "rgb(10, 20, 30)"}, "Style <b>")
    page = m.get_root().render()
    assert "&lt;i&gt;jig&lt;/i&gt;" in page and "Style &lt;b&gt;" in page
    with pytest.raises(ValueError, match="not a CSS colour"):
        maps.add_legend(m, {"x": "red;background:url(http://evil.example/x.png)"}, "t")


def test_add_points_rejects_bad_coordinates_naming_rows():
    frame = pd.DataFrame({"lat": [10.0, float("nan"), 95.0], "lon": [0.0, 0.0, 0.0]},
                         index=["ok", "no-lat", "too-north"])
    with pytest.raises(ValueError, match=r"2 rows .*'no-lat', 'too-north'"):
        maps.add_points(maps.base_map(basemap=False), frame)
    with pytest.raises(KeyError, match="latitude"):
        maps.add_points(maps.base_map(basemap=False), frame, lat="latitude")


def test_simple_crs_map_has_no_basemap_and_fits_points():
    m = maps.base_map(location=(0, 0), zoom_start=0, crs="Simple")
    frame = pd.DataFrame({"x": [-3.0, 5.0], "y": [200.0, -1.0], "style": ["jig", "reel"]})
    maps.add_points(m, frame, lat="y", lon="x", color="style")  # y=200 is fine off the globe
    page = m.get_root().render()
    assert "L.CRS.Simple" in page and "geo_json" not in page
    assert "fitBounds" in page and "[-1.0, -3.0]" in page


def test_external_urls_counts_only_what_a_browser_fetches():
    inner = '<script src="https://cdn.example/a.js"></script><a href="https://docs.example">x</a>'
    page = f"""<html xmlns="http://www.w3.org/1999/xhtml"><head>
      <link rel="stylesheet" href="//cdn.example/b.css"/>
      <link rel="canonical" href="https://site.example/page"/>
      <style>.x {{ background: url('https://img.example/c.png') }} .y {{ background: url(data:image/png;base64,AAAA) }}</style>
      <script>var credit = "https://leafletjs.com"; import("https://esm.example/d.mjs");</script>
    </head><body style="background-image:url(http://img.example/e.png)">
      <img src="data:image/png;base64,iVBOR" srcset="https://img.example/f.png 1x, local.png 2x">
      <svg xmlns="http://www.w3.org/2000/svg"><image href="https://img.example/g.svg"/></svg>
      <a href="https://www.example/not-fetched">link</a> text https://plain.example
      <iframe srcdoc="{html.escape(inner, quote=True)}"></iframe>
    </body></html>"""
    assert map_html.external_urls(page) == [
        "//cdn.example/b.css", "https://img.example/c.png", "https://esm.example/d.mjs",
        "http://img.example/e.png", "https://img.example/f.png", "https://img.example/g.svg",
        "https://cdn.example/a.js",
    ]


def test_inline_assets_on_folium_page_and_notebook_iframe():
    m = demo_map()
    raw = m.get_root().render()
    assert len(map_html.external_urls(raw)) == 10  # folium 0.20's CDN scripts and styles
    assert map_html.external_urls(map_html.inline_assets(raw)) == []
    cell = map_html.notebook_map(m, height=300)._repr_html_()
    assert len(cell) < 250_000 and 'height:300px' in cell
    assert len(map_html.external_urls(cell)) == 10  # notebooks keep the small CDN form
    inlined = map_html.inline_srcdoc_maps(cell)
    assert map_html.external_urls(inlined) == []
    srcdoc = re.search(r'srcdoc="([^"]*)"', inlined).group(1)
    assert "L.map(" in html.unescape(srcdoc) and "Leaflet 1.9.3" in html.unescape(srcdoc)


def test_stable_ids_make_reruns_identical(tmp_path):
    first, second = map_html.offline_html(demo_map()), map_html.offline_html(demo_map())
    assert first == second
    assert not re.search(r"_[0-9a-f]{32}", first) and "map_1" in first
    path = map_html.save_offline(demo_map(), tmp_path / "maps" / "demo.html")
    assert path.read_text(encoding="utf-8") == first
    assert [p.name for p in path.parent.iterdir()] == ["demo.html"]  # no temp file left


def test_committed_basemap_is_small_and_regenerates_identically():
    text = geo.BASEMAP_PATH.read_text(encoding="utf-8")
    assert len(text.encode()) < 300_000
    basemap = maps.load_basemap()
    codes = {f["properties"]["iso3"] for f in basemap["features"]}
    assert {"DEU", "CHN", "IRL", "LUX", "USA", "RUS"} <= codes and "ATA" not in codes
    lons = [p[0] for f in basemap["features"] for poly in f["geometry"]["coordinates"]
            for ring in poly for p in ring]
    assert -180 <= min(lons) and max(lons) <= 200  # unwrapped: Chukotka east of 180
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_basemap
    finally:
        sys.path.remove(str(ROOT / "tools"))
    rebuilt = make_basemap.build_basemap(step=0.2, min_area=0.3)
    assert json.dumps(rebuilt, separators=(",", ":"), sort_keys=True) + "\n" == text


def _open_all_popups_and_tooltips(m: folium.Map) -> None:
    """Script run once the page loaded: open every tooltip, and a popup."""
    # On "load", because folium renders this element before the map's own script.
    m.get_root().script.add_child(Element(f"""
      window.addEventListener("load", function () {{
        {m.get_name()}.eachLayer(function (l) {{
          if (l.getTooltip && l.getTooltip()) {{ l.openTooltip(); }}
          if (l.getPopup && l.getPopup() && l.getLatLng) {{ l.openPopup(); }}
        }});
      }});"""))


@pytest.mark.slow
@pytest.mark.skipif(not report.chromium_available(),
                    reason="Debian chromium not installed (apt-get install chromium); CI installs it")
def test_standalone_map_renders_in_headless_chromium(tmp_path):
    from musicgeo_utils import report

    m = demo_map()
    _open_all_popups_and_tooltips(m)
    path = map_html.save_offline(m, tmp_path / "map.html")
    dom = report.dom_dump(path)
    assert dom.count('class="leaflet-pane') >= 6  # map, tile, overlay, shadow, ... panes
    # 4 points + 4 lines are interactive SVG paths; the basemap's countries are not.
    assert len(re.findall(r'<path class="leaflet-interactive"', dom)) == 8
    assert len(re.findall(r"<path [^>]*fill=\"#fbfbf8\"", dom)) > 150  # countries drawn
    tooltips = re.findall(r'<div class="leaflet-tooltip[^>]*>(.*?)</div>', dom, flags=re.S)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in "".join(tooltips)
    assert not re.search(r"<body[^>]*data-pwned", dom)  # the <img onerror> never ran
    assert "leaflet-popup-content" in dom  # jQuery-free popups opened fine


def test_maps_re_exports_the_html_side():
    """The notebooks call ``maps.notebook_map``, ``maps.save_offline`` ...; they live in map_html."""
    for name in ("NotebookMap", "external_urls", "inline_assets", "inline_srcdoc_maps", "notebook_map",
                 "offline_html", "save_offline", "stable_ids"):
        assert getattr(maps, name) is getattr(map_html, name), f"maps.{name}"
