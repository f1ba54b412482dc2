"""The interactive map of music: clips placed by their embeddings on an offline Leaflet page.

:func:`music_map` draws one point per clip on a non-geographic plane
(``crs="Simple"``), coloured by style with a legend, one layer per layout
(PCA, t-SNE, UMAP ...) and a layer control to switch between them (radio
buttons: one layout at a time). Hovering shows title, origin and style;
clicking opens a popup with an ``<audio>`` player for that tune. A panel at
the bottom right searches the tunes (title, style, origin, tune id, whose first
part is the collection: Enter or a click on a result opens the tune), lists
the styles with their counts (click one to hide or show its points: the
legend is the filter) and exports the visible points of the shown layout as
CSV. The view (layout, zoom, centre, hidden styles, selected tune) is kept in
the URL's fragment (``#layer=1&zoom=3.00&x=50.00&y=40.00&hide=0.2&tune=...``),
so a copied link reopens it. Hovering over a point plays the first 3 s of its
excerpt; where the browser allows no sound before the page is first clicked
(Chromium's default), the panel says so instead. One sound plays at a time.
A popup can list the tune's nearest tunes in the embedding itself
(``neighbours``), each playable, with what they share.

Page size. Each clip's title, origin, id and audio file name are stored
once in a JSON table shared by all layouts; a layout adds only its x/y
values (two decimals in a 0..100 box), and tooltips and popups are built in
the browser when first shown. With 1,000 clips and three layouts the page is
about 0.4 MB, 250 KB of which is Leaflet and jQuery inlined.

Audio. Clips are NOT embedded in the page (base64 MP3 would add ~16 KB a
clip). :func:`write_audio_excerpts` writes a short excerpt of each clip
(default the first 6 s, MP3 at ~16 kbit/s, about 12 KB) to
``<out_dir>/audio/`` and the popups point at it with a RELATIVE ``src``:

- the standalone page ``reports/maps/music_map.html`` uses the default
  ``audio_prefix="audio/"`` and works opened from disk with no network;
- the HTML report (``reports/report.html``, the map inside an
  ``<iframe srcdoc>``, which resolves relative URLs against the report's
  own address) uses ``audio_prefix="maps/audio/"`` and the same files, so
  it plays when opened from ``reports/``; moved elsewhere, its players show
  an error while the page itself still works;
- ``audio="none"`` leaves players out and shows ``listen_note`` instead.

Everything from the data (titles, origins, styles, ids, layout names, the
page title) is escaped with :func:`maps.escape` before it reaches HTML;
audio file names are made of ``[A-Za-z0-9_.-]`` only.

A song of one's own goes on a saved map through :mod:`musicgeo_utils.songmap`. The panel's
HTML and script (search, legend filter, hover, URL fragment) are a Jinja template in
``data/music_map_explorer.html.j2``.

:func:`check_music_map` opens a saved page in headless Chromium, clicks the
first point, and reports whether a popup opened with an audio element that
the browser could load, and saves a screenshot.
"""
from __future__ import annotations

import html
import json
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import folium
import numpy as np
import pandas as pd
import soundfile as sf
from branca.element import Element, MacroElement
from jinja2 import Template

from . import config, map_html, maps, render, report
from .cache import content_key, write_bytes
from .colors import category_colors
from .embedding import cosine_nearest

#: Side of the square every layout is scaled into (map units).
BOX = 100.0
AUDIO_DIR = "audio"
DEFAULT_NOTE = "Open reports/maps/music_map.html to listen."
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_ABSOLUTE = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*:|/)")


# --------------------------------------------------------------------------- layouts

def scale_layout(Y, box: float = BOX) -> np.ndarray:
    """Scale a (n, 2) layout into ``[0, box]`` on its longer side, aspect ratio kept, centred.

    Embedding units are arbitrary (t-SNE spans ~±50, PCA a few z-scores), so
    every layout is put in the same box to share one view and zoom level.
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or Y.shape[1] != 2 or not np.isfinite(Y).all():
        raise ValueError(f"a layout must be a finite (n, 2) array, got shape {Y.shape}")
    low, span = Y.min(axis=0), np.ptp(Y, axis=0)
    scale = box / span.max() if span.max() > 0 else 1.0
    return (Y - low) * scale + (box - span * scale) / 2


def scaled_layouts(layouts: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Each layout checked to have ``n`` rows and scaled into the map's box (:func:`scale_layout`)."""
    if not layouts:
        raise ValueError("layouts is empty: give at least one {name: (n, 2) array}")
    scaled = {}
    for name, Y in layouts.items():
        if len(Y) != n:
            raise ValueError(f"layout {name!r} has {len(Y)} rows, the points table {n}")
        scaled[str(name)] = scale_layout(Y)
    return scaled


def sample_points(points: pd.DataFrame, max_points: int | None, seed: int,
                  style: str = "style") -> np.ndarray:
    """Row positions of at most ``max_points`` rows, the same share of each style, seeded.

    All rows (in order) when ``max_points`` is None or not below ``len(points)``.
    """
    n = len(points)
    if max_points is None or max_points >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(n)
    groups = pd.Series(points[style].astype(str).to_numpy()[shuffled])
    # Rank within style after shuffling, as a fraction: take the lowest fractions overall.
    fraction = (groups.groupby(groups).cumcount() + 1) / groups.map(groups.value_counts())
    keep = shuffled[np.argsort(fraction.to_numpy(), kind="stable")[:max_points]]
    return np.sort(keep)


def nearest_neighbours(X: np.ndarray, k: int = 5) -> np.ndarray:
    """``(n, k)`` row indices of each row's ``k`` nearest other rows of ``X`` (cosine, nearest first).

    For the popups' "nearest tunes": computed in the embedding itself (e.g. the
    CRNN's penultimate layer), not on the 2-D map
    (:func:`musicgeo_utils.embedding.cosine_nearest`; ties go to the lower row).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 2:
        raise ValueError(f"nearest_neighbours needs an (n >= 2, d) array, got shape {X.shape}")
    return cosine_nearest(X, X, k, exclude=np.arange(len(X)))[0]


# --------------------------------------------------------------------------- audio files

def audio_file_name(tune_id: object, extension: str = ".mp3", variant: object = "") -> str:
    """A file name for a tune's excerpt: its id made URL- and file-safe, plus a short hash.

    The hash (of the id and ``variant``, e.g. the excerpt settings) keeps ids
    that differ only in unsafe characters (``a/b``, ``a_b``) apart, and gives
    other settings other files instead of reusing stale ones.
    """
    safe = _SAFE.sub("_", str(tune_id)).strip("._")[:60] or "tune"
    return f"{safe}-{content_key(str(tune_id), variant, length=8)}{extension}"


def _excerpt(audio: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """The first ``seconds`` of a clip with a 50 ms fade-out, so the cut does not click."""
    excerpt = np.array(audio[: int(round(seconds * sample_rate))], dtype=np.float32)
    fade = min(len(excerpt), int(0.05 * sample_rate))
    if fade:
        excerpt[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return excerpt


def _write_excerpt(source: Path, target: Path, seconds: float, compression_level: float) -> str:
    """Encode one excerpt unless an up-to-date one exists; ``written`` or ``cached``."""
    if target.is_file() and target.stat().st_mtime_ns >= source.stat().st_mtime_ns:
        return "cached"
    audio, sample_rate = render.load_clip(source)
    if len(audio) < sample_rate * 0.1:
        raise ValueError(f"clip shorter than 0.1 s ({len(audio)} samples)")
    write_bytes(target, render.clip_to_mp3_bytes(_excerpt(audio, sample_rate, seconds),
                                                 sample_rate, compression_level))
    return "written"


def _excerpt_row(tune_id, source, folder: Path, extension: str, seconds: float,
                 compression_level: float) -> tuple:
    """(tune_id, file, bytes, status, reason) of one excerpt; errors become a skip."""
    name = audio_file_name(tune_id, extension, [seconds, compression_level])
    try:
        if source is None or pd.isna(source):
            raise FileNotFoundError("no audio path (tune not rendered)")
        status = _write_excerpt(Path(source), folder / name, seconds, compression_level)
        return tune_id, name, (folder / name).stat().st_size, status, ""
    except (OSError, RuntimeError, ValueError, sf.LibsndfileError) as err:
        return tune_id, None, 0, "skipped", f"{source}: {err}"


def write_audio_excerpts(audio_paths: pd.Series, out_dir: str | os.PathLike, seconds: float = 6.0,
                         compression_level: float = 0.8, n_jobs: int | None = None) -> pd.DataFrame:
    """Write a short compressed excerpt of each clip to ``<out_dir>/audio/``, atomically.

    ``audio_paths``: tune id -> audio file (FLAC/WAV, as ``render`` writes).
    ``seconds``: excerpt length (s), from the start of the clip.
    ``compression_level``: soundfile's MP3 setting; 0.8 gives ~16 kbit/s at
    12 kHz (about 2 KB a second, 12 KB for 6 s), 0.5 gives 32 kbit/s, 0.95
    8 kbit/s but cuts everything above ~3 kHz. OGG Vorbis is written where
    libsndfile lacks MP3. An excerpt newer than its source is reused.
    ``n_jobs``: worker processes (default ``config.n_jobs()``).
    Returns one row per tune: ``tune_id, file`` (name inside ``audio/``,
    None when skipped), ``bytes``, ``status`` (written, cached, skipped) and
    ``reason``. A missing or unreadable clip is skipped and reported, never fatal.
    """
    from joblib import Parallel, delayed

    fmt, _ = render.preview_format()
    extension = ".mp3" if fmt == "MP3" else ".ogg"
    folder = Path(out_dir) / AUDIO_DIR
    jobs = n_jobs or config.n_jobs()
    run = Parallel(n_jobs=jobs if len(audio_paths) > 50 else 1, batch_size=32)
    rows = run(delayed(_excerpt_row)(tune_id, source, folder, extension, seconds, compression_level)
               for tune_id, source in audio_paths.items())
    return pd.DataFrame(rows, columns=["tune_id", "file", "bytes", "status", "reason"])


def _audio_column(points: pd.DataFrame, audio_paths, out_dir, audio: str,
                  seconds: float, compression_level: float) -> list[str]:
    """Audio file name per point ('' = no player), writing excerpts when needed."""
    if audio == "none" or audio_paths is None:
        return [""] * len(points)
    if out_dir is None:
        raise ValueError("audio='relative' with audio_paths needs out_dir (where audio/ is written)")
    paths = pd.Series(audio_paths)
    wanted = paths.reindex(points["tune_id"].to_numpy())
    table = write_audio_excerpts(wanted, out_dir, seconds, compression_level)
    skipped = table[table.status == "skipped"]
    if len(skipped):
        warnings.warn(f"music_map: no audio for {len(skipped)} of {len(table)} tunes, e.g. "
                      f"{skipped.reason.head(3).tolist()}; see write_audio_excerpts()", stacklevel=3)
    return table["file"].fillna("").tolist()


# --------------------------------------------------------------------------- Leaflet layers

class _PointTable(MacroElement):
    """The clips' escaped texts, once per page, and the tooltip/popup builders that use them."""

    _template = Template("""
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = (function () {
  var d = {{ this.data }};
  function row(name, value) { return "<tr><th>" + name + "</th><td>" + value + "</td></tr>"; }
  return {
    d: d,
    layers: [],  // one {group, markers, xy} per layout, in the layer control's order
    tooltip: function (i) {
      return "<b>" + d.title[i] + "</b><br>" + d.origin[i] + " &middot; " + d.styles[d.style[i]];
    },
    popup: function (i) {
      var player = d.audio[i]
        ? '<audio controls preload="metadata" style="width:250px" src="'
          + d.prefix + d.audio[i] + '"></audio>'
        : '<div class="mg-note">' + d.note + '</div>';
      return '<div class="mg-music"><div style="font-weight:bold;margin-bottom:4px">' + d.title[i]
        + "</div><table class='mg-popup'>" + row("origin", d.origin[i])
        + row("style", d.styles[d.style[i]]) + row("tune", d.id[i]) + "</table>" + player
        + this.near(i) + "</div>";
    },
    why: function (i, j) {  // what a neighbour shares with the tune
      var same = [];
      if (d.style[i] === d.style[j]) { same.push("style"); }
      if (d.origin[i] === d.origin[j]) { same.push("origin"); }
      if (d.key && d.key[i] && d.key[i] === d.key[j]) { same.push("key " + d.key[i]); }
      if (d.meter && d.meter[i] && d.meter[i] === d.meter[j]) { same.push("metre " + d.meter[i]); }
      return same.length ? "same " + same.join(", ") : "near in sound only";
    },
    near: function (i) {
      var nn = d.nn[i] || [], self = this;
      if (!nn.length) { return ""; }
      return '<div class="mg-near" style="margin-top:6px;font-size:12px"><b>Nearest tunes</b> '
        + '<span style="color:#777">(in the network&#39;s embedding)</span>'
        + nn.map(function (j) {
          var play = d.audio[j] ? '<button type="button" data-mg-play="' + j + '" title="play">&#9654;</button> ' : "";
          return '<div style="margin:2px 0">' + play + '<a href="#" data-mg-open="' + j + '">' + d.title[j]
            + '</a> <span style="color:#777">' + d.styles[d.style[j]] + "; " + self.why(i, j) + "</span></div>";
        }).join("") + "</div>";
    }
  };
})();
{% endmacro %}""")

    def __init__(self, data: dict):
        super().__init__()
        self._name = "MusicPoints"
        self.data = maps._script_json(data)


class _LayoutLayer(MacroElement):
    """One layout's circle markers, drawn from its x/y columns and the shared point table."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function () {
  var T = {{ this.table }}, xy = {{ this.xy }}, layer = {{ this._parent.get_name() }}, markers = [];
  for (let i = 0; i < xy.x.length; i++) {
    var c = T.d.palette[T.d.style[i]];
    markers.push(L.circleMarker([xy.y[i], xy.x[i]], {radius: {{ this.radius }}, color: c, fillColor: c,
                                                      weight: 1, opacity: 0.9, fillOpacity: 0.75})
      .bindTooltip(function () { return T.tooltip(i); }, {sticky: true})
      .bindPopup(function () { return T.popup(i); }, {maxWidth: 320, minWidth: 260})
      .addTo(layer));
  }
  T.layers.push({group: layer, markers: markers, xy: xy});
})();
{% endmacro %}""")

    def __init__(self, table: _PointTable, Y: np.ndarray, radius: float):
        super().__init__()
        self._name = "MusicLayout"
        self.table = table.get_name()
        self.xy = maps._script_json({"x": np.round(Y[:, 0], 2).tolist(),
                                     "y": np.round(Y[:, 1], 2).tolist()})
        self.radius = float(radius)


class _Explorer(MacroElement):
    """Search, the style filter (the legend: counts, click to hide or show), CSV export of the
    visible points, and the view kept in the URL's fragment; ``window.musicMapExplorer`` for tests."""

    _template = Template((config.PACKAGE_DIR / "data" / "music_map_explorer.html.j2").read_text(encoding="utf-8"))

    def __init__(self, table: _PointTable, legend_title: str, preview_seconds: float = 3.0,
                 select: str | None = None):
        super().__init__()
        self._name = "MusicExplorer"
        self.select = maps._script_json(None if select is None else str(select))
        self.table = table.get_name()
        self.legend_title = maps.escape(legend_title)
        self.preview_seconds = float(preview_seconds)
        self.preview_ms = int(round(1000 * preview_seconds))


def _point_data(points: pd.DataFrame, origin: str, style: str, audio_files: list[str],
                colors: dict[str, str], audio_prefix: str, listen_note: str,
                neighbours: list[list[int]] | None = None) -> dict:
    """The JSON table of :class:`_PointTable`: every text escaped, styles as palette indices;
    ``nn`` the neighbours' row indices, ``key``/``meter`` (when ``points`` has them) say why."""
    labels = list(colors)
    lookup = {label: i for i, label in enumerate(labels)}
    extra = {column: [maps.escape(v) for v in points[column].fillna("")]
             for column in ("key", "meter") if column in points.columns}
    return {
        "nn": neighbours or [], **extra,
        "id": [maps.escape(v) for v in points["tune_id"]],
        "title": [maps.escape(v) for v in points["title"].fillna("(untitled)")],
        "origin": [maps.escape(v) for v in points[origin].fillna("unknown")],
        "style": [lookup[str(v)] for v in points[style]],
        "styles": [maps.escape(v) for v in labels],
        "palette": [maps._check_color(colors[v]) for v in labels],
        "audio": audio_files, "prefix": maps.escape(audio_prefix), "note": maps.escape(listen_note),
    }


def _check_prefix(prefix: str) -> str:
    """An audio prefix must be a relative folder (no scheme, no leading slash): the page stays offline."""
    if _ABSOLUTE.match(prefix) or prefix.startswith("//"):
        raise ValueError(f"audio_prefix must be a relative path like 'audio/', not {prefix!r}")
    return prefix if prefix.endswith("/") or not prefix else prefix + "/"


def _add_title(m: folium.Map, title: str, n: int) -> None:
    """Page ``<title>`` and a caption box over the map, both escaped."""
    m.get_root().title = maps.escape(title)
    caption = (f"<div style='position:fixed;top:10px;left:50px;z-index:1000;"
               "background:rgba(255,255,255,0.9);border:1px solid #bbb;border-radius:4px;"
               f"padding:4px 8px;font:14px sans-serif'><b>{maps.escape(title)}</b>"
               f" <span style='color:#555'>({n:,} clips; click a point to listen)</span></div>")
    m.get_root().html.add_child(Element(caption), name="music_map_title")


def require_columns(points: pd.DataFrame, columns: list[str]) -> None:
    """A clear error when ``points`` lacks one of ``columns`` or repeats a ``tune_id``."""
    missing = [c for c in columns if c not in points.columns]
    if missing:
        raise KeyError(f"points lacks columns {missing} (has {list(points.columns)})")
    duplicated = points["tune_id"][points["tune_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"points: duplicate tune_id, e.g. {duplicated.head(3).tolist()}")


def _kept_neighbours(neighbours, keep: np.ndarray, n: int) -> list[list[int]] | None:
    """Neighbour indices (one row of indices per point, rows may differ in length) renumbered to the
    kept rows (those of dropped rows left out)."""
    if neighbours is None:
        return None
    rows = [np.asarray(row, dtype=int).ravel() for row in neighbours]
    if len(rows) != n:
        raise ValueError(f"neighbours must have one row of row indices per point ({n}), got {len(rows)}")
    if any(row.size and (row.min() < 0 or row.max() >= n) for row in rows):
        raise ValueError(f"neighbours must be row indices in 0..{n - 1}")
    new = np.full(n, -1)
    new[keep] = np.arange(len(keep))
    return [[int(new[j]) for j in rows[i] if new[j] >= 0] for i in keep]


def music_map(points: pd.DataFrame, layouts: Mapping[str, np.ndarray], audio_paths=None,
              out_dir: str | os.PathLike | None = None, title: str = "A map of music", seed: int = 0,
              audio: str = "relative", audio_prefix: str = "audio/", origin: str = "country",
              style: str = "style", max_points: int | None = None, clip_seconds: float = 6.0,
              listen_note: str = DEFAULT_NOTE, radius: float = 5.0,
              audio_compression: float = 0.8, neighbours: np.ndarray | None = None,
              select: str | None = None) -> folium.Map:
    """An offline Leaflet map of clips, one switchable layer per layout, with audio popups.

    - ``points``: one row per clip with ``tune_id`` (unique), ``title``,
      ``origin`` (column name, default ``country``) and ``style``;
    - ``layouts``: ``{name: (n, 2) array}`` aligned with ``points``' rows,
      each scaled to a 0..100 box (:func:`scale_layout`); the first is shown
      at start, the layer control switches between them;
    - ``audio_paths``: tune id -> clip file, or None; with ``audio='relative'``
      excerpts are written under ``out_dir/audio/`` (:func:`write_audio_excerpts`,
      ``clip_seconds`` long, ``audio_compression`` its ``compression_level``)
      and players use ``audio_prefix + file``;
      ``audio='none'`` shows ``listen_note`` instead (see module docstring);
    - ``max_points``: draw a style-stratified sample of that many, chosen with ``seed``;
    - ``neighbours``: ``(n, k)`` row indices (or one list per clip) of each clip's nearest clips in the
      embedding (:func:`nearest_neighbours`), listed in its popup, playable,
      with what they share (style, origin, and ``key`` / ``meter`` when
      ``points`` has those columns); neighbours left out by sampling are dropped;
    - ``select``: a tune id whose popup is open when the page opens (unless
      the link's fragment names another).

    Save with :func:`save_music_map`; in a notebook show with ``map_html.notebook_map``.
    """
    if audio not in ("relative", "none"):
        raise ValueError(f"audio must be 'relative' or 'none', not {audio!r}")
    require_columns(points, ["tune_id", "title", origin, style])
    scaled = scaled_layouts(layouts, len(points))
    keep = sample_points(points, max_points, seed, style)
    near = _kept_neighbours(neighbours, keep, len(points))
    points = points.iloc[keep].reset_index(drop=True)
    colors = category_colors(points[style])
    files = _audio_column(points, audio_paths, out_dir, audio, clip_seconds, audio_compression)
    m = maps.base_map(location=(BOX / 2, BOX / 2), zoom_start=2, crs="Simple", zoom_snap=0.25)
    table = _PointTable(_point_data(points, origin, style, files, colors,
                                    _check_prefix(audio_prefix), listen_note, near))
    table.add_to(m)
    for i, (name, Y) in enumerate(scaled.items()):
        group = folium.FeatureGroup(name=maps.escape(name), overlay=False, show=i == 0)
        _LayoutLayer(table, Y[keep], radius).add_to(group)
        group.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if select is not None and str(select) not in set(points["tune_id"].astype(str)):
        raise ValueError(f"select: no point has tune_id {select!r}")
    _Explorer(table, "Style", select=select).add_to(m)  # the legend, as a filter with counts
    _add_title(m, title, len(points))
    pad = BOX * 0.03
    # Not animated: Leaflet drops a setView made during a zoom animation, and the explorer's
    # restore (a shared link's zoom and centre) runs just after this fit.
    fit = folium.FitBounds([[-pad, -pad], [BOX + pad, BOX + pad]])
    fit.options["animate"] = False
    m.add_child(fit)
    return m


def save_music_map(m: folium.Map, path: str | os.PathLike) -> Path:
    """Write the standalone page (Leaflet and jQuery inline, no external URL), atomically."""
    return map_html.save_offline(m, path)


# --------------------------------------------------------------------------- headless check

_CHECK_ID = "music-map-check"
_CHECK_JS = """
<script>
(function () {
  function report(out) {
    var pre = document.getElementById("__CHECK_ID__") || document.createElement("pre");
    pre.id = "__CHECK_ID__"; pre.style.display = "none";
    pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
  }
  function theMap() {
    for (var k in window) {
      try { if (window[k] instanceof L.Map) { return window[k]; } } catch (e) {}
    }
    return null;
  }
  window.addEventListener("load", function () { setTimeout(function () {
    var out = {stage: "start"}, map = theMap(), markers = [];
    if (!map) { out.stage = "no Leaflet map found"; report(out); return; }
    var radios = document.querySelectorAll(".leaflet-control-layers-base input");
    if (radios.length > __LAYER__) { radios[__LAYER__].click(); }  // as a user switches layouts
    map.eachLayer(function (l) { if (l instanceof L.CircleMarker) { markers.push(l); } });
    out.markers_visible = markers.length;
    out.layers = Array.prototype.map.call(
      document.querySelectorAll(".leaflet-control-layers-base label"),
      function (s) { return s.textContent.trim(); });
    if (!markers.length) { out.stage = "no markers"; report(out); return; }
    var first = markers[0];
    // Click the way a user does, on the marker's SVG path; fall back to Leaflet's event.
    if (first._path) {
      first._path.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, view: window}));
    } else { first.fire("click"); }
    first.closeTooltip();  // the click also opens the hover tooltip, which would cover the popup
    var content = document.querySelector(".leaflet-popup-content");
    out.popup_open = !!content;
    out.popup_text = content ? content.textContent.slice(0, 300) : "";
    var a = content ? content.querySelector("audio") : null;
    out.audio_element = !!a;
    if (!a) { out.stage = "done"; report(out); return; }
    out.audio_src = a.getAttribute("src");
    out.can_play_mpeg = a.canPlayType("audio/mpeg");
    out.can_play_ogg = a.canPlayType("audio/ogg");
    function finish(event) {
      out.audio_event = event; out.ready_state = a.readyState;
      out.duration_s = isFinite(a.duration) ? a.duration : null;
      out.audio_error = a.error ? a.error.code : null; out.wait_polls = polls;
      out.stage = "done"; report(out);
    }
    a.addEventListener("loadedmetadata", function () { finish("loadedmetadata"); });
    a.addEventListener("error", function () { finish("error"); });
    report(out);
    a.preload = "auto"; a.load();
    // Virtual time (--virtual-time-budget) runs ahead of the media thread that reads
    // the file; burning a few ms of real time per virtual tick lets the load finish.
    var polls = 0;
    (function wait() {
      if (out.audio_event) { return; }
      if (polls++ > 300) { finish("timeout"); return; }
      for (var j = 0, x = 0; j < 2e6; j++) { x += j % 7; }
      setTimeout(wait, 10);
    })();
  }, 200); });
})();
</script>
"""


def _page_with_check(html_path: Path, layer: int) -> Path:
    """A copy of the page, beside it (so relative audio resolves), with the check script."""
    text = html_path.read_text(encoding="utf-8")
    script = _CHECK_JS.replace("__CHECK_ID__", _CHECK_ID).replace("__LAYER__", str(int(layer)))
    if "</body>" not in text:
        raise ValueError(f"{html_path}: no </body>; not a saved map page")
    probe = html_path.with_name(f".check-{html_path.name}")
    write_bytes(probe, text.replace("</body>", script + "</body>", 1).encode("utf-8"))
    return probe


def _decodes(html_path: Path, src: str | None) -> dict:
    """Does the popup's audio ``src`` name a file beside the page that soundfile decodes?"""
    if not src:
        return {"audio_file_exists": False}
    path = html_path.parent / html.unescape(src)
    if not path.is_file():
        return {"audio_file_exists": False}
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError) as err:
        return {"audio_file_exists": True, "audio_file_decodes": False, "audio_file_error": str(err)}
    return {"audio_file_exists": True, "audio_file_decodes": True,
            "audio_file_seconds": round(info.frames / info.samplerate, 2),
            "audio_file_bytes": path.stat().st_size}


def check_music_map(html_path: str | os.PathLike, png_path: str | os.PathLike,
                    width: int = 1100, height: int = 760, budget_ms: int = 8000,
                    layer: int = 0) -> dict:
    """Open a saved music map in headless Chromium, click the first point, report and screenshot.

    Returns what the browser found: ``markers_visible`` (points of the layer
    shown at start), ``layers`` (names in the layer control), ``popup_open``,
    ``popup_text``, ``audio_element``, ``audio_src``, ``can_play_mpeg``,
    ``audio_event`` (``loadedmetadata`` when the file loaded, ``error`` if
    not), ``ready_state``, ``duration_s``, ``audio_error`` (a MediaError code
    or None); plus, checked in Python, whether that ``src`` is a file beside
    the page that soundfile decodes, and ``png`` (a ``width`` x ``height``
    pixel screenshot with the popup open). ``layer``: which layout (0 = first)
    to switch to first, through the layer control. ``budget_ms``: virtual time
    for scripts. Raises ``FileNotFoundError`` without Chromium.
    """
    html_path = Path(html_path).resolve()
    probe = _page_with_check(html_path, layer)
    try:
        dom = report.dom_dump(probe, budget_ms=budget_ms)
        report.screenshot(probe, png_path, width=width, height=height, budget_ms=budget_ms)
    finally:
        probe.unlink(missing_ok=True)
    found = re.search(rf'<pre id="{_CHECK_ID}"[^>]*>(.*?)</pre>', dom, flags=re.S)
    result = json.loads(html.unescape(found.group(1))) if found else {"stage": "check did not run"}
    result.update(_decodes(html_path, result.get("audio_src")))
    result["png"] = str(png_path)
    return result
