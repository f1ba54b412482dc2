"""The UCI "Geographical Original of Music" dataset and its cross-validated evaluation.

Not redistributable from here (no internet): :func:`load_uci_gom` reads the
two files of the UCI release where a user has them, :func:`load_uci_gom_dataset`
wraps them as a :class:`~musicgeo_utils.dataset_base.Dataset`, and
:func:`evaluate_uci_gom` scores the geographic baselines against Zhou,
Claire & King (2014) (:data:`ZHOU_2014_MEAN_KM`). Coordinates are degrees.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .dataset_base import Dataset, default_root
from .geo import coordinate_labels
from .geomethods import GeoMethod, cross_validate

#: Feature columns in the two files of the UCI release.
UCI_GOM_FEATURE_COUNTS = (68, 116)
#: Zhou, Claire & King (ICDM 2014): best mean great-circle error, km (random
#: forest, 10-fold CV, 1,142 pieces in 73 areas, a superset of the UCI file).
ZHOU_2014_MEAN_KM = 3113.0


# --------------------------------------------------------------------------- UCI


def _parse_uci_line(path: Path, number: int, line: str, n_columns: int | None) -> list[float]:
    fields = line.split(",")
    if n_columns is None and len(fields) - 2 not in UCI_GOM_FEATURE_COUNTS:
        raise ValueError(f"{path}, line {number}: {len(fields)} columns; a UCI Geographical Original "
                         f"of Music file has {' or '.join(str(c + 2) for c in UCI_GOM_FEATURE_COUNTS)} "
                         "(68 or 116 features, then latitude and longitude)")
    if n_columns is not None and len(fields) != n_columns:
        raise ValueError(f"{path}, line {number}: {len(fields)} columns, but the file's first line "
                         f"has {n_columns}")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        bad = next(i for i, f in enumerate(fields, 1) if not _is_float(f))
        raise ValueError(f"{path}, line {number}, column {bad}: {fields[bad - 1]!r} is not a number") from None
    if not (abs(values[-2]) <= 90 and abs(values[-1]) <= 180 and np.all(np.isfinite(values))):
        raise ValueError(f"{path}, line {number}: latitude/longitude {values[-2]}, {values[-1]} "
                         "out of range, or a value is not finite")
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_uci_gom(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Read a UCI "Geographical Original of Music" file: features, latitude, longitude.

    The release has two comma-separated files without header, 1,059 tracks
    from 33 countries each: ``default_features_1059_tracks.txt`` (68 audio
    features per line) and ``default_plus_chromatic_features_1059_tracks.txt``
    (116), each followed by the latitude and longitude (degrees) of the
    country's capital. Returns ``(X, lat, lon)``: a DataFrame with columns
    ``feature_001`` ... and two float arrays. A line with a wrong column count,
    a non-number or an out-of-range coordinate raises ``ValueError`` naming
    the file, the line and the reason (a dataset file is all-or-nothing).
    """
    path = Path(path)
    rows, n_columns = [], None
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            rows.append(_parse_uci_line(path, number, line.strip(), n_columns))
            n_columns = len(rows[0])
    if not rows:
        raise ValueError(f"{path}: no data lines")
    data = np.asarray(rows)
    columns = [f"feature_{i:03d}" for i in range(1, data.shape[1] - 1)]
    X = pd.DataFrame(data[:, :-2], columns=columns)
    X.attrs["source"] = str(path)
    return X, data[:, -2].copy(), data[:, -1].copy()


def uci_gom_regions(lat, lon) -> np.ndarray:
    """Region label per track: tracks with identical coordinates (one capital) share one.

    Labels are the coordinates as text, ``"lat,lon"`` to 4 decimals (degrees).
    """
    return coordinate_labels(lat, lon)


def evaluate_uci_gom(path: str | Path, n_folds: int = 10, seed: int = 0,
                     methods: Sequence[GeoMethod] | None = None, n_boot: int = 1000,
                     val_fraction: float = 0.2, n_jobs: int | None = None) -> pd.DataFrame:
    """K-fold cross-validation of the geographic baselines on a UCI GOM file.

    :func:`geomethods.cross_validate` with each track's capital as its region
    and country, so a prediction's country is that of the nearest capital of
    the file. Extra columns: ``fold_mean_km_mean`` / ``fold_mean_km_std`` over
    folds and ``params`` (chosen per fold). Compare
    ``mean_km`` with Zhou, Claire & King's 3,113 km
    (:data:`ZHOU_2014_MEAN_KM`; their data has 1,142 pieces in 73 areas).
    """
    X_frame, lat, lon = load_uci_gom(path)
    regions = uci_gom_regions(lat, lon)
    targets = pd.DataFrame({"lat": lat, "lon": lon, "region": regions, "country": regions})
    return cross_validate(X_frame.to_numpy(), targets, n_folds=n_folds, seed=seed, methods=methods,
                          n_boot=n_boot, val_fraction=val_fraction, n_jobs=n_jobs)


#: File names of the UCI Geographical Original of Music release.
UCI_GOM_FILES = {False: "default_features_1059_tracks.txt",
                 True: "default_plus_chromatic_features_1059_tracks.txt"}


def load_uci_gom_dataset(root: str | Path | None = None, chroma: bool = False) -> Dataset:
    """UCI GOM as a :class:`Dataset`: ``tracks`` (lat/lon, degrees; ``region`` = capital) and ``features``.

    ``root`` is the release folder (or one of its two files directly);
    ``chroma`` picks the 116-feature file. Wraps :func:`load_uci_gom`, which
    raises on any malformed line (a dataset file is all-or-nothing).
    """
    root = Path(root) if root is not None else default_root("uci_gom")
    path = root if root.is_file() else root / UCI_GOM_FILES[bool(chroma)]
    X, lat, lon = load_uci_gom(path)
    ids = [f"uci-{i:04d}" for i in range(1, len(X) + 1)]
    tracks = pd.DataFrame({"track_id": ids, "title": ids, "artist": None, "lat": lat, "lon": lon,
                           "region": uci_gom_regions(lat, lon)})
    X.index = pd.Index(ids, name="track_id")
    return Dataset("uci_gom", root, tracks, features=X, info={"file": str(path)})

