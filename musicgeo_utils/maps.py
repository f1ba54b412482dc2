"""Offline folium maps: a country basemap, points, true->predicted lines, legends.

folium 0.20 links Leaflet, jQuery, Bootstrap and font-awesome from CDNs and a
tile server for the background, so offline a default map is a blank box. The
maps built here need neither:

- :func:`base_map` has no tiles; land is a committed, simplified country
  GeoJSON (``data/countries.geojson``, made by ``tools/make_basemap.py``);
- points and lines are Leaflet ``circleMarker``/``polyline`` layers drawn from
  one compact JSON table per layer, so a notebook that shows thousands of
  tunes stays small: measured on the 13,849 MSD artist locations, 21 bytes a
  point, 37 with a tooltip, ~200 with a two-row popup table, against ~1.2 KB
  for one folium ``CircleMarker`` with a tooltip and popup;
- legends and colour bars are plain HTML/CSS, with no external asset;
- a map as HTML lives in :mod:`musicgeo_utils.map_html` (re-exported here):
  :func:`offline_html` / :func:`save_offline` put Leaflet and jQuery inline so
  a saved page renders with no network at all, :func:`notebook_map` shows a
  map in a notebook, :func:`external_urls` audits a page; ``report.py``
  inlines the assets when it builds ``report.html``.

Security: every label given as plain text (tooltips, legend entries, titles)
is escaped with :func:`escape`. ``popup_html`` is *trusted* HTML: build it from
escaped parts with :func:`escape` / :func:`popup_table`, never from raw titles.
"""
from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Mapping, Sequence

import folium
import numpy as np
import pandas as pd
from branca.element import Element, MacroElement
from jinja2 import Template

from .colors import category_colors
from .geo import BASEMAP_PATH
# Re-exports: the notebooks and older callers use ``maps.<name>`` for the HTML side too.
from .map_html import (NotebookMap, external_urls, inline_assets, inline_srcdoc_maps,  # noqa: F401
                       notebook_map, offline_html, save_offline, stable_ids)

#: Background ("sea") colour and country style of :func:`base_map`.
SEA_COLOR = "#dde3e8"
LAND_STYLE = {"color": "#9aa4ad", "weight": 0.6, "fillColor": "#fbfbf8", "fillOpacity": 1.0}

_CSS_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|rgba?\([0-9.,%\s]+\))$")


# --------------------------------------------------------------------------- escaping

def escape(text: object) -> str:
    """Escape ``text`` for HTML *and* for a JavaScript template literal.

    ``html.escape`` plus the three characters that matter inside the backtick
    strings folium writes into its scripts: a backtick would end the string,
    ``${`` would run code, a backslash would start an escape sequence.
    """
    out = html.escape(str(text), quote=True)
    return out.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def popup_table(fields: Mapping[str, object]) -> str:
    """A small two-column HTML table (``name: value``) with every cell escaped.

    The result is safe to pass as ``popup_html``.
    """
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in fields.items())
    return f"<table class='mg-popup'>{rows}</table>"  # styled once by base_map


def _check_color(color: str) -> str:
    """``color`` if it is a plain CSS colour; a ``ValueError`` otherwise (no CSS injection)."""
    if not isinstance(color, str) or not _CSS_COLOR.match(color.strip()):
        raise ValueError(f"not a CSS colour: {color!r} (use #rrggbb, a name or rgb(...))")
    return color.strip()


def _script_json(value: object) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # Only "</" and "<!" can end or confuse a script element; "<" alone is harmless
    # there, and escaping every "<" of popup HTML would cost 5 bytes each.
    return (text.replace("</", "\\u003c/").replace("<!", "\\u003c!")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# --------------------------------------------------------------------------- base map

@functools.lru_cache(maxsize=1)
def _basemap_text() -> str:
    if not BASEMAP_PATH.exists():
        raise FileNotFoundError(f"{BASEMAP_PATH}: missing; run tools/make_basemap.py")
    return BASEMAP_PATH.read_text(encoding="utf-8")


def load_basemap() -> dict:
    """The committed country basemap, a GeoJSON FeatureCollection (degrees, WGS84).

    Properties: ``iso3`` and ``name``. Antarctica is not included.
    """
    return json.loads(_basemap_text())


def _is_geographic(m: folium.Map) -> bool:
    return str(getattr(m, "crs", "EPSG3857")) != "Simple"


def base_map(location: Sequence[float] = (30, 20), zoom_start: int = 2, crs: str = "EPSG3857",
             basemap: bool = True, **kw) -> folium.Map:
    """An offline folium map: no tiles, a grey background and country outlines.

    ``location`` is (latitude, longitude) in degrees. With ``crs='Simple'``
    (a non-geographic plane, for the 2-D "map of music") no basemap is drawn
    and coordinates are plain x/y units. Other keywords go to ``folium.Map``
    (e.g. ``prefer_canvas=True`` for many thousands of points).
    """
    m = folium.Map(location=list(location), zoom_start=zoom_start, crs=crs, tiles=None, **kw)
    # The map div's own id beats leaflet.css's `.leaflet-container` grey.
    style = (f"<style>#{m.get_name()} {{ background: {SEA_COLOR}; }}"
             " .mg-popup { font-size: 12px; } .mg-popup th { text-align: left; padding-right: 6px; }"
             "</style>")
    m.get_root().header.add_child(Element(style), name="musicgeo_background")
    if basemap and crs != "Simple":
        folium.GeoJson(
            load_basemap(), name="countries", control=False, interactive=False,
            style_function=lambda _feature: dict(LAND_STYLE),
        ).add_to(m)
    return m


# --------------------------------------------------------------------------- colours

def _legend_html(title: str, body: str, position: str) -> str:
    """Shared frame of legends and colour bars; ``body`` is already escaped HTML."""
    corners = {"bottomright": "bottom:24px;right:10px", "bottomleft": "bottom:24px;left:10px",
               "topright": "top:10px;right:10px", "topleft": "top:80px;left:10px"}
    if position not in corners:
        raise ValueError(f"position must be one of {sorted(corners)}, not {position!r}")
    return (
        f"<div class='musicgeo-legend' style='position:fixed;{corners[position]};z-index:1000;"
        "background:rgba(255,255,255,0.9);border:1px solid #bbb;border-radius:4px;"
        "padding:6px 8px;font:12px/1.4 sans-serif;max-height:60%;overflow:auto'>"
        f"<div style='font-weight:bold;margin-bottom:3px'>{escape(title)}</div>{body}</div>"
    )


class _HtmlOverlay(MacroElement):
    """A fixed piece of trusted HTML laid over the map page (legends)."""

    _template = Template("{% macro html(this, kwargs) %}{{ this.markup }}{% endmacro %}")

    def __init__(self, markup: str):
        super().__init__()
        self._name = "HtmlOverlay"
        self.markup = markup


def add_legend(m: folium.Map, entries: Mapping[object, str], title: str,
               position: str = "bottomright") -> folium.Map:
    """Add a categorical legend (``{label: css_colour}``); labels and title are escaped."""
    rows = "".join(
        f"<div><span style='display:inline-block;width:11px;height:11px;border-radius:50%;"
        f"margin-right:5px;background:{_check_color(color)}'></span>{escape(label)}</div>"
        for label, color in entries.items()
    )
    _HtmlOverlay(_legend_html(title, rows, position)).add_to(m)
    return m


def add_colorbar(m: folium.Map, colormap, title: str, position: str = "bottomleft",
                 fmt: str = "{:,.0f}") -> folium.Map:
    """Add a horizontal colour bar for a branca ``LinearColormap``, in plain CSS.

    (branca's own legend loads d3 from a CDN, so it is not used.)
    """
    stops = ",".join(_check_color(colormap.rgb_hex_str(x))
                     for x in np.linspace(colormap.vmin, colormap.vmax, 7))
    gradient = f"linear-gradient(to right,{stops})"
    body = (f"<div style='width:180px;height:10px;background:{gradient}'></div>"
            f"<div style='display:flex;justify-content:space-between;width:180px'>"
            f"<span>{escape(fmt.format(colormap.vmin))}</span>"
            f"<span>{escape(fmt.format(colormap.vmax))}</span></div>")
    _HtmlOverlay(_legend_html(title, body, position)).add_to(m)
    return m


# --------------------------------------------------------------------------- points and lines

class _JsonLayer(MacroElement):
    """Leaflet vectors drawn in the browser from one column-wise JSON table.

    ``kind`` is ``points`` (``L.circleMarker`` at lat/lon) or ``lines``
    (``L.polyline`` from lat/lon to lat2/lon2). Tooltips are escaped text,
    popups trusted HTML; both are set with Leaflet's own bind methods.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var d = {{ this.data }}, style = {{ this.style }}, layer = {{ this._parent.get_name() }};
  for (var i = 0; i < d.lat.length; i++) {
    var c = d.palette[d.color[i]];
    var opts = Object.assign({}, style, {color: c, fillColor: c});
    var v = d.kind === "points"
      ? L.circleMarker([d.lat[i], d.lon[i]],
                       Object.assign(opts, {radius: d.radius.length ? d.radius[i] : d.radius}))
      : L.polyline([[d.lat[i], d.lon[i]], [d.lat2[i], d.lon2[i]]], opts);
    if (d.tooltip) { v.bindTooltip(d.tooltip[i], {sticky: true}); }
    if (d.popup) { v.bindPopup(d.popup[i], {maxWidth: 360}); }
    v.addTo(layer);
  }
})();
{% endmacro %}""")

    def __init__(self, data: dict, style: dict):
        super().__init__()
        self._name = "JsonLayer"
        self.data = _script_json(data)
        self.style = _script_json(style)


def _coordinates(frame: pd.DataFrame, lat: str, lon: str, geographic: bool) -> tuple[list, list]:
    """Latitudes and longitudes (degrees) as lists; a clear error on bad rows."""
    missing = [c for c in (lat, lon) if c not in frame.columns]
    if missing:
        raise KeyError(f"columns {missing} not in frame (has {list(frame.columns)})")
    y = pd.to_numeric(frame[lat], errors="coerce").to_numpy(float)
    x = pd.to_numeric(frame[lon], errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if geographic:
        bad |= (np.abs(y) > 90) | (np.abs(x) > 540)
    if bad.any():
        rows = list(frame.index[bad][:5])
        raise ValueError(f"{int(bad.sum())} rows have missing or out-of-range "
                         f"coordinates ({lat}, {lon}), e.g. index {rows}; drop them first")
    return np.round(y, 5).tolist(), np.round(x, 5).tolist()


def _colors(frame: pd.DataFrame, color: str,
            colors: Mapping[object, str] | None) -> tuple[list[str], list[int], dict]:
    """(palette, palette index per row, legend) for a CSS colour or a categorical column."""
    if color not in frame.columns:
        return [_check_color(color)], [0] * len(frame), {}
    labels = frame[color].astype(str)
    legend = {str(k): v for k, v in colors.items()} if colors else category_colors(labels)
    unknown = sorted(set(labels) - set(legend))
    if unknown:
        raise ValueError(f"no colour given for {color!r} values {unknown[:5]}")
    palette = [_check_color(c) for c in legend.values()]
    lookup = {label: i for i, label in enumerate(legend)}
    return palette, [lookup[v] for v in labels], legend


def _texts(frame: pd.DataFrame, column, escaped: bool) -> list[str] | None:
    """A text column as a list (escaped unless it is trusted HTML), or ``None``."""
    if column is None:
        return None
    values = frame[column].astype(str) if isinstance(column, str) else pd.Series(
        [column(row) for row in frame.itertuples(index=False)], dtype=object)
    # Trusted HTML goes in as is; _script_json keeps it from closing the script.
    return [escape(v) for v in values] if escaped else [str(v) for v in values]


def _feature_group(m: folium.Map, layer_name: str | None, default: str) -> folium.FeatureGroup:
    """A new layer on ``m``; only a named one is listed in a ``folium.LayerControl``.

    The name is escaped: Leaflet's layer control inserts layer names as HTML.
    """
    group = folium.FeatureGroup(name=escape(layer_name or default), control=layer_name is not None)
    group.add_to(m)
    return group


def add_points(m: folium.Map, frame: pd.DataFrame, lat: str = "lat", lon: str = "lon",
               color: str = "#1f77b4", radius: float | str = 4.0, tooltip=None,
               popup_html=None, layer_name: str | None = None, legend_title: str | None = None,
               colors: Mapping[object, str] | None = None,
               fill_opacity: float = 0.75, fit: bool | None = None) -> folium.FeatureGroup:
    """Draw one circle marker per row of ``frame`` and return their ``FeatureGroup``.

    - ``lat``/``lon``: columns in degrees (or y/x units on a ``crs='Simple'`` map);
      missing or out-of-range values raise a ``ValueError`` naming the rows.
    - ``color``: a CSS colour, or the name of a categorical column, coloured by
      ``colors`` (``{value: css_colour}``, to keep colours equal across maps)
      or else :func:`colors.category_colors`; with ``legend_title`` a legend is added.
    - ``radius``: pixels, a number or a column.
    - ``tooltip``: a column of plain text, escaped here, or a function of a
      row (a namedtuple from ``frame.itertuples(index=False)``) giving text.
    - ``popup_html``: a column or row function giving TRUSTED HTML, inserted
      as is: build it from :func:`escape`-d parts, e.g. with :func:`popup_table`.
    - ``fit``: zoom to the points (default: only on a ``crs='Simple'`` map).
    """
    y, x = _coordinates(frame, lat, lon, _is_geographic(m))
    palette, index, legend = _colors(frame, color, colors)
    radii = (pd.to_numeric(frame[radius]).round(2).tolist() if isinstance(radius, str)
             else float(radius))
    data = {"kind": "points", "lat": y, "lon": x, "color": index, "palette": palette,
            "radius": radii, "tooltip": _texts(frame, tooltip, True),
            "popup": _texts(frame, popup_html, False)}
    style = {"weight": 1, "opacity": 0.9, "fill": True, "fillOpacity": fill_opacity}
    group = _feature_group(m, layer_name, "points")
    _JsonLayer(data, style).add_to(group)
    if legend and legend_title is not None:
        add_legend(m, legend, legend_title)
    if (fit if fit is not None else not _is_geographic(m)) and len(frame):
        m.fit_bounds([[min(y), min(x)], [max(y), max(x)]])
    return group


def add_lines(m: folium.Map, pairs: pd.DataFrame, start: tuple[str, str] = ("lat", "lon"),
              end: tuple[str, str] = ("pred_lat", "pred_lon"), value: str | None = "error_km",
              colormap=None, color: str = "#d62728", tooltip=None, weight: float = 1.5,
              opacity: float = 0.6, layer_name: str | None = None,
              colorbar_title: str | None = None) -> folium.FeatureGroup:
    """Draw a segment per row from ``start`` to ``end`` (e.g. true -> predicted place).

    ``start``/``end`` name (latitude, longitude) columns in degrees. With
    ``value`` (e.g. ``error_km``), segments are coloured by a branca
    ``LinearColormap`` (default: green -> yellow -> red over the value's range)
    and ``colorbar_title`` adds a plain-CSS colour bar; with ``value=None``
    every segment is ``color``. ``tooltip`` is a column of text, escaped.
    Segments are straight in the map projection, not great-circle arcs.
    """
    y0, x0 = _coordinates(pairs, *start, _is_geographic(m))
    y1, x1 = _coordinates(pairs, *end, _is_geographic(m))
    if value is None:
        palette, index = [_check_color(color)], [0] * len(pairs)
    else:
        values = pd.to_numeric(pairs[value], errors="coerce").to_numpy(float)
        colormap = colormap if colormap is not None else value_colormap(values)
        palette, index = _value_palette(colormap, values)
        if colorbar_title is not None:
            add_colorbar(m, colormap, colorbar_title)
    data = {"kind": "lines", "lat": y0, "lon": x0, "lat2": y1, "lon2": x1, "color": index,
            "palette": palette, "tooltip": _texts(pairs, tooltip, True), "popup": None}
    group = _feature_group(m, layer_name, "lines")
    _JsonLayer(data, {"weight": weight, "opacity": opacity}).add_to(group)
    return group


# --------------------------------------------------------------------------- graded circles and switchable layers

#: Green (small) -> yellow -> red (large): the colours of error lines and error circles.
ERROR_COLORS = ("#1a9850", "#fee08b", "#d73027")
#: Light yellow -> dark red: the colours of probabilities.
PROBABILITY_COLORS = ("#ffffb2", "#fd8d3c", "#bd0026")


def value_colormap(values=None, colors: Sequence[str] = ERROR_COLORS, vmin: float | None = None,
                   vmax: float | None = None):
    """A branca ``LinearColormap`` from ``colors`` over ``[vmin, vmax]``.

    A bound left as ``None`` is taken from the finite ``values`` (e.g. km);
    with neither, the range is [0, 1] (probabilities).
    """
    import branca.colormap as cm

    finite = np.asarray([] if values is None else values, dtype=float)
    finite = finite[np.isfinite(finite)]
    lo = float(vmin) if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = float(vmax) if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    return cm.LinearColormap([_check_color(c) for c in colors], vmin=lo, vmax=max(hi, lo + 1e-9))


def _value_palette(colormap, values: np.ndarray) -> tuple[list[str], list[int]]:
    """(palette, palette index per value) of ``colormap``; values beyond its range take the
    end colours, missing ones grey."""
    clipped = np.clip(values, colormap.vmin, colormap.vmax)
    hexes = [colormap.rgb_hex_str(v) if np.isfinite(v) else "#7f7f7f" for v in clipped]
    palette = sorted(set(hexes))
    lookup = {h: i for i, h in enumerate(palette)}
    return [_check_color(h) for h in palette], [lookup[h] for h in hexes]


def add_switchable_layer(m: folium.Map, name: str, show: bool = False) -> folium.FeatureGroup:
    """A *base* layer: a ``folium.LayerControl`` offers these as radio buttons, one shown at a time.

    ``name`` is plain text, escaped here (Leaflet's layer control inserts
    layer names as HTML). Show exactly one such layer (``show=True``).
    """
    group = folium.FeatureGroup(name=escape(name), overlay=False, control=True, show=show)
    group.add_to(m)
    return group


def add_value_points(m: folium.Map, frame: pd.DataFrame, value: str, lat: str = "lat",
                     lon: str = "lon", colormap=None, radius: float | str = 6.0, tooltip=None,
                     tooltip_html=None, popup_html=None, layer_name: str | None = None,
                     colorbar_title: str | None = None, group: folium.FeatureGroup | None = None,
                     fill_opacity: float = 0.8, weight: float = 1.0,
                     fmt: str = "{:,.0f}") -> folium.FeatureGroup:
    """Circle markers coloured by a continuous column ``value`` (e.g. median error, km).

    ``colormap``: a branca ``LinearColormap`` (default :func:`value_colormap`
    of the column, green -> red); values outside its range take the end
    colours, missing ones grey. ``colorbar_title`` adds a plain-CSS colour bar
    (labels with ``fmt``). ``radius`` (pixels), ``tooltip`` (escaped text) and
    ``popup_html`` as in :func:`add_points`; ``tooltip_html`` is TRUSTED HTML
    for the tooltip (e.g. a :func:`popup_table`). Draws into ``group`` (e.g.
    from :func:`add_switchable_layer`) or a new layer named ``layer_name``.
    """
    y, x = _coordinates(frame, lat, lon, _is_geographic(m))
    values = pd.to_numeric(frame[value], errors="coerce").to_numpy(float)
    colormap = colormap if colormap is not None else value_colormap(values)
    palette, index = _value_palette(colormap, values)
    if tooltip is not None and tooltip_html is not None:
        raise ValueError("give tooltip (plain text) or tooltip_html (trusted HTML), not both")
    data = {"kind": "points", "lat": y, "lon": x, "color": index, "palette": palette,
            "radius": (pd.to_numeric(frame[radius]).round(2).tolist() if isinstance(radius, str)
                       else float(radius)),
            "tooltip": _texts(frame, tooltip, True) if tooltip is not None else _texts(frame, tooltip_html, False),
            "popup": _texts(frame, popup_html, False)}
    style = {"weight": weight, "opacity": 0.9, "fill": True, "fillOpacity": fill_opacity}
    group = group if group is not None else _feature_group(m, layer_name, "value points")
    _JsonLayer(data, style).add_to(group)
    if colorbar_title is not None:
        add_colorbar(m, colormap, colorbar_title, fmt=fmt)
    return group


def add_region_probabilities(m: folium.Map, probabilities: Mapping[str, float], centroids: pd.DataFrame,
                             true_lat: float, true_lon: float, name: str, true_label: str = "true origin",
                             colormap=None, min_probability: float = 0.01, max_radius: float = 30.0,
                             show: bool = False) -> folium.FeatureGroup:
    """One tune's class probabilities over regions as graded circles, in a switchable layer.

    ``probabilities``: ``{region: probability}`` (e.g. a row of a classifier's
    ``predict_proba`` as a Series); ``centroids``: ``region, lat, lon``
    (degrees) for every region, e.g. :func:`geocode.region_centroids`.
    Each region with probability >= ``min_probability`` gets a circle at its
    centroid, of area proportional to the probability (``max_radius`` pixels
    at 1) and coloured by ``colormap`` (default light yellow -> dark red over
    [0, 1]), with a tooltip ``region: p %``; the true place is a black ring
    (tooltip ``true_label``). All of it goes into one
    :func:`add_switchable_layer` named ``name``.
    """
    proba = pd.Series(probabilities, dtype=float)
    if not np.all(np.isfinite(proba)) or (proba < 0).any() or abs(proba.sum() - 1.0) > 1e-3:
        raise ValueError(f"{name}: probabilities must be >= 0 and sum to 1 (sum {proba.sum():.4f})")
    places = centroids.set_index("region")
    unknown = sorted(set(proba.index.astype(str)) - set(places.index.astype(str)))
    if unknown:
        raise KeyError(f"{name}: no centroid for region(s) {unknown[:5]}")
    shown = proba[proba >= min_probability].sort_values(ascending=False)
    circles = places.loc[shown.index, ["lat", "lon"]].assign(
        p=shown.to_numpy(), radius=np.maximum(max_radius * np.sqrt(shown.to_numpy()), 2.0),
        label=[f"{region}: {p:.0%}" for region, p in shown.items()])
    group = add_switchable_layer(m, name, show=show)
    colormap = colormap if colormap is not None else value_colormap(colors=PROBABILITY_COLORS, vmin=0, vmax=1)
    add_value_points(m, circles, "p", colormap=colormap, radius="radius", tooltip="label",
                     group=group, fill_opacity=0.6, weight=0.5)
    truth = pd.DataFrame({"lat": [true_lat], "lon": [true_lon], "label": [true_label]})
    y, x = _coordinates(truth, "lat", "lon", _is_geographic(m))
    data = {"kind": "points", "lat": y, "lon": x, "color": [0], "palette": ["#000000"], "radius": 9.0,
            "tooltip": _texts(truth, "label", True), "popup": None}
    _JsonLayer(data, {"weight": 3, "opacity": 1.0, "fill": False}).add_to(group)
    return group
