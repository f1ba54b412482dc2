"""Static figures shared by the notebooks (matplotlib).

Every figure has axis labels with units; colours for styles are fixed so the
same style has the same colour in every notebook.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .colors import category_colors, distinct_colors
from .geo import country_rings


def world_axes(ax=None, extent=(-180, 180, -60, 85)):
    """An equirectangular lon/lat axes with country outlines (degrees)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    for ring in country_rings():
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


def mel_axes(ax, mel_db: np.ndarray, sample_rate: int, hop_length: int, title: str = "",
             fmin: float = 0.0, fmax: float | None = None):
    """A log-mel spectrogram (``librosa.display.specshow``): time in seconds, frequency in Hz
    on the mel scale (bands from ``fmin`` to ``fmax``, default Nyquist), colour in dB."""
    from librosa.display import specshow

    image = specshow(mel_db, sr=sample_rate, hop_length=hop_length, x_axis="s", y_axis="mel",
                     fmin=fmin, fmax=fmax if fmax is not None else sample_rate / 2, cmap="magma", ax=ax)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz, mel scale)")
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


def setup_notebook(dpi: int = 72) -> None:
    """Figure defaults for the notebooks: modest resolution keeps them small in git."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: rcParams alone
        shell = None
    else:
        shell = get_ipython()
    if shell is not None:
        # Activate the inline backend now, so that its own rc defaults are
        # applied before ours rather than over them at the first figure.
        shell.run_line_magic("matplotlib", "inline")
    plt.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "font.size": 9,
                         "axes.titlesize": 10, "figure.max_open_warning": 50})


def show(fig, format: str = "png", quality: int = 70) -> None:
    """Display a figure at the notebook resolution (``figure.dpi``) and close it.

    ``format='jpeg'`` suits spectrogram grids and dense scatter plots, whose
    lossless PNGs would cost megabytes in a committed notebook.
    """
    import io

    from IPython.display import Image, display

    buffer = io.BytesIO()
    options = {"pil_kwargs": {"quality": quality, "optimize": True}} if format == "jpeg" else {}
    fig.savefig(buffer, format=format, dpi=plt.rcParams["figure.dpi"], bbox_inches="tight", **options)
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format=format))


def chroma_axes(ax, chroma: np.ndarray, sample_rate: int, hop_length: int, title: str = ""):
    """A chromagram (``librosa.display.specshow``): time in seconds, pitch class (C at the bottom),
    colour = relative energy (0-1)."""
    from librosa.display import specshow

    image = specshow(chroma, sr=sample_rate, hop_length=hop_length, x_axis="s", y_axis="chroma",
                     cmap="viridis", vmin=0, vmax=1, ax=ax)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch class")
    ax.set_title(title, fontsize=9)
    return image


def group_boxes(ax, values: pd.Series, groups: pd.Series, xlabel: str, order=None, log=False):
    """Horizontal box plots of ``values`` per group (one box per category, n in the label).

    ``order``: the groups top to bottom (default: by median value).
    """
    frame = pd.DataFrame({"value": np.asarray(values, dtype=float), "group": np.asarray(groups).astype(str)})
    if order is None:
        order = frame.groupby("group")["value"].median().sort_values(ascending=False).index.tolist()
    data = [frame.loc[frame["group"] == g, "value"].to_numpy() for g in order]
    colors = category_colors(order)
    boxes = ax.boxplot(data, vert=False, patch_artist=True, showfliers=False, widths=0.6)
    for patch, group in zip(boxes["boxes"], order):
        patch.set_facecolor(colors[group])
        patch.set_alpha(0.6)
    ax.set_yticks(range(1, len(order) + 1), [f"{g} ({len(d)})" for g, d in zip(order, data)], fontsize=8)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    return ax


def embedding_scatter(ax, xy: np.ndarray, labels, title: str = "", axis_name: str = "t-SNE", size: float = 5):
    """A 2-D embedding coloured by category (fixed style colours), with a legend."""
    labels = np.asarray(labels).astype(str)
    colors = distinct_colors(labels)
    for label, color in colors.items():
        mask = labels == label
        ax.scatter(xy[mask, 0], xy[mask, 1], s=size, c=color, alpha=0.6, edgecolors="none",
                   label=f"{label} ({mask.sum()})")
    ax.set_xlabel(f"{axis_name} 1 (unitless)")
    ax.set_ylabel(f"{axis_name} 2 (unitless)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, markerscale=2, loc="best", frameon=False)
    return ax


def error_cdf(ax, errors: dict, log: bool = True, marks=(200, 750, 2500)):
    """Share of items with great-circle error <= x km, one curve per method.

    ``errors`` maps a method name to its per-item errors (km); dotted
    verticals mark the ``marks`` distances (km) of the "within" metrics.
    Errors below 1 km (a prediction exactly at the true region's centroid)
    are drawn at 1 km, so that a log scale can show them.
    """
    for name, err in errors.items():
        err = np.sort(np.asarray(err, dtype=float))
        share = np.arange(1, len(err) + 1) / len(err)
        ax.step(np.maximum(err, 1.0), share, where="post", label=name, linewidth=1.4)
    for mark in marks:
        ax.axvline(mark, color="#999999", linestyle=":", linewidth=0.8)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("great-circle error (km" + (", log scale)" if log else ")"))
    ax.set_ylabel("share of test tunes with error <= x")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    return ax


def confusion_heatmap(ax, table: pd.DataFrame, title: str = ""):
    """Row-normalised confusion matrix (share of each true row), counts written in the cells."""
    counts = table.to_numpy(dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (i, j), n in np.ndenumerate(counts):
        if n:
            ax.text(j, i, f"{int(n)}", ha="center", va="center", fontsize=6,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(table.shape[0]), table.index, fontsize=7)
    ax.set_xlabel(table.columns.name or "predicted")
    ax.set_ylabel(table.index.name or "true")
    ax.set_title(title, fontsize=10)
    return image
