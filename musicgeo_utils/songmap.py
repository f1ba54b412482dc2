"""Your own song on the map of music (``musicgeo-predict song.wav --music-map out.html``).

Notebook 05 saves a **reference** beside the prediction bundle
(:func:`save_map_reference`: the map's tunes, each layout's coordinates and
the embedding the layouts were made from, as plain arrays). :func:`song_map`
places a new clip among the tunes nearest to it in that embedding
(:func:`place_on_layouts`) and writes a map page (:func:`musicgeo_utils.musicmap.music_map`)
that opens on the song's popup with those tunes listed.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import read_npz, write_npz
from .embedding import cosine_nearest
from .musicmap import music_map, require_columns, save_music_map, scaled_layouts

#: The reference file's name, beside the prediction bundle (notebook 05 writes it).
REFERENCE_NAME = "music-map.npz"
#: Columns of the map's points that :func:`save_map_reference` keeps (those present).
REFERENCE_COLUMNS = ("tune_id", "title", "country", "style", "key", "meter")
SONG_STYLE = "your song"


def save_map_reference(path: str | os.PathLike, points: pd.DataFrame, layouts: Mapping[str, np.ndarray],
                       embedding: np.ndarray) -> Path:
    """What ``musicgeo-predict --music-map`` needs to place a song among the map's tunes, as one ``.npz``.

    The points' texts (:data:`REFERENCE_COLUMNS`), each layout's 2-D
    coordinates (as drawn) and the embedding the layouts were made from
    (e.g. the best CRNN's penultimate layer); plain arrays, never pickled.
    """
    require_columns(points, ["tune_id", "title", "country", "style"])
    embedding = np.asarray(embedding, dtype=np.float32)
    if len(embedding) != len(points):
        raise ValueError(f"embedding has {len(embedding)} rows, the points table {len(points)}")
    scaled = scaled_layouts(layouts, len(points))
    texts = {c: np.array(points[c].fillna("").astype(str).tolist(), dtype=str)  # unicode arrays, not objects
             for c in REFERENCE_COLUMNS if c in points.columns}
    return write_npz(path, **texts, embedding=embedding, layout_names=np.array(list(scaled)),
                           layouts=np.stack(list(scaled.values())).astype(np.float32))


def read_map_reference(path: str | os.PathLike) -> dict:
    """A reference written by :func:`save_map_reference`: ``points``, ``layouts`` ({name: (n, 2)}), ``embedding``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no map of music reference (notebook 05 writes it)")
    try:
        data = read_npz(path)
        points = pd.DataFrame({c: data[c] for c in REFERENCE_COLUMNS if c in data})
        layouts = dict(zip(data["layout_names"].tolist(), data["layouts"]))
        embedding = data["embedding"]
    except (KeyError, ValueError, OSError) as err:
        raise ValueError(f"{path}: not a map of music reference ({err})") from None
    return {"points": points, "layouts": layouts, "embedding": embedding}


def place_on_layouts(reference: dict, vector: np.ndarray, k: int = 5) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Where a new clip goes: its ``k`` nearest reference tunes (cosine, in the embedding) and, on
    every layout, the mean of their positions weighted by ``1 / distance``.

    One rule for PCA, t-SNE and UMAP: t-SNE has no transform for new points
    at all, and UMAP's fitted model can only be saved by pickling, which this
    project never loads; the weighted mean of neighbours lies among them on
    each layout, so the song sits with the tunes that sound like it.
    """
    E = np.asarray(reference["embedding"], dtype=np.float64)
    v = np.asarray(vector, dtype=np.float64).ravel()
    if v.shape[0] != E.shape[1]:
        raise ValueError(f"the clip's embedding has {v.shape[0]} dimensions, the map's {E.shape[1]}")
    near, similarity = cosine_nearest(E, v, k)
    near, distance = near[0], 1.0 - similarity[0]
    weights = 1.0 / np.maximum(distance, 1e-9)
    weights /= weights.sum()
    return near, {name: weights @ Y[near] for name, Y in reference["layouts"].items()}


def song_map(reference: dict, name: str, vector: np.ndarray, out_path: str | os.PathLike, k: int = 5,
             title: str = "Your song on the map of music") -> tuple[Path, pd.DataFrame]:
    """A standalone map page: the reference tunes and the song (style :data:`SONG_STYLE`, popup open,
    its ``k`` nearest tunes listed); returns the page and the nearest tunes (``tune_id, title, style``)."""
    near, places = place_on_layouts(reference, vector, k)
    points = reference["points"]
    song_id = f"{SONG_STYLE}: {name}"
    song = pd.DataFrame([{"tune_id": song_id, "title": name, "country": "?", "style": SONG_STYLE}])
    table = pd.concat([points, song], ignore_index=True)
    layouts = {n: np.vstack([Y, places[n][None, :]]) for n, Y in reference["layouts"].items()}
    neighbours = [[] for _ in range(len(points))] + [[int(j) for j in near]]  # only the song lists them
    m = music_map(table, layouts, audio="none", title=title, select=song_id, neighbours=neighbours)
    nearest = points.iloc[near][["tune_id", "title", "style"]].reset_index(drop=True)
    return save_music_map(m, out_path), nearest
