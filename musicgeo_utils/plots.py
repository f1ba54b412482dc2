"""Static figures shared by the notebooks (matplotlib).

Every figure has axis labels with units; colours for styles are fixed so the
same style has the same colour in every notebook.
"""
from __future__ import annotations

import json
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .config import PACKAGE_DATA

#: One colour per style, the same in every figure and map.
STYLE_COLORS = {
    "Chinese folk": "#d62728",
    "German folk": "#1f77b4",
    "European folk": "#17becf",
    "Irish dance": "#2ca02c",
    "American fiddle": "#ff7f0e",
    "Scottish airs": "#9467bd",
    "Anglo-American folk": "#8c564b",
}
_EXTRA_COLORS = ["#e377c2", "#7f7f7f", "#bcbd22", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896"]


def category_colors(values) -> dict[str, str]:
    """A colour per category: the fixed style colours, then a cycle for others."""
    colors, extra = {}, iter(_EXTRA_COLORS * 10)
    for value in sorted(set(map(str, values))):
        colors[value] = STYLE_COLORS.get(value) or next(extra)
    return colors


@lru_cache(maxsize=1)
def _country_rings() -> list[np.ndarray]:
    """Outer rings (lon, lat) of the committed country basemap."""
    geojson = json.loads((PACKAGE_DATA / "countries.geojson").read_text())
    rings = []
    for feature in geojson["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings.extend(np.asarray(polygon[0]) for polygon in polygons)
    return rings


def world_axes(ax=None, extent=(-180, 180, -60, 85)):
    """An equirectangular lon/lat axes with country outlines (degrees)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    for ring in _country_rings():
        ax.fill(ring[:, 0], ring[:, 1], facecolor="#eeeeee", edgecolor="#999999", linewidth=0.3)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel("longitude (degrees)")
    ax.set_ylabel("latitude (degrees)")
    return ax


def origin_scatter(ax, lat, lon, sizes=None, color="#d62728", label=None):
    """Points on a :func:`world_axes`; ``sizes`` in points^2 (e.g. tune counts)."""
    ax.scatter(lon, lat, s=8 if sizes is None else sizes, c=color, alpha=0.5,
               edgecolors="none", label=label)
    return ax


def piano_roll(ax, notes: pd.DataFrame, title: str = "", color="#1f77b4"):
    """Notes as horizontal bars: onset/duration in quarter notes, pitch in MIDI."""
    ax.barh(notes["pitch"], notes["duration"], left=notes["onset"], height=0.8, color=color)
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title, fontsize=9)
    return ax


def matched_pair_figure(notes: pd.DataFrame, pairs: pd.DataFrame, titles: pd.Series, max_quarters=32):
    """Side-by-side piano rolls of matched tunes (one row per pair)."""
    fig, axes = plt.subplots(len(pairs), 2, figsize=(10, 1.9 * len(pairs)), squeeze=False)
    by_tune = dict(tuple(notes.groupby("tune_id")))
    for row, pair in enumerate(pairs.itertuples()):
        for col, tune_id in enumerate((pair.tune_a, pair.tune_b)):
            tune = by_tune[tune_id]
            tune = tune[tune["onset"] < max_quarters]
            piano_roll(axes[row, col], tune, f"{tune_id}: {titles.get(tune_id, '')}"[:70],
                       color="#1f77b4" if col == 0 else "#ff7f0e")
    fig.tight_layout()
    return fig


def mel_axes(ax, mel_db: np.ndarray, sample_rate: int, hop_length: int, title: str = ""):
    """A log-mel spectrogram image: time in seconds, mel band index, colour in dB."""
    seconds = mel_db.shape[1] * hop_length / sample_rate
    image = ax.imshow(mel_db, origin="lower", aspect="auto", cmap="magma",
                      extent=(0, seconds, 0, mel_db.shape[0]))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band")
    ax.set_title(title, fontsize=9)
    return image


def count_bars(counts: pd.Series, xlabel: str, title: str = "", ax=None, log=False):
    """Horizontal bar chart of counts, largest on top."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.28 * len(counts) + 1))
    counts.sort_values().plot.barh(ax=ax, color="#4c72b0", logx=log)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax
